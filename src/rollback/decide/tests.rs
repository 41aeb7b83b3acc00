use chrono::TimeZone;

use super::*;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
}

fn sha(c: char) -> CommitSha {
    CommitSha::parse(&c.to_string().repeat(40)).unwrap()
}

fn bump(c: char, landed: DateTime<Utc>, from: &str, to: &str) -> PinChange {
    PinChange {
        sha: sha(c),
        subject: format!("chore(deps): upgrade podinfo to {to} in prod"),
        landed_at: landed,
        from: from.into(),
        to: to.into(),
        is_revert: false,
    }
}

fn revert(c: char, landed: DateTime<Utc>, from: &str, to: &str) -> PinChange {
    PinChange {
        subject: format!("Revert \"chore(deps): upgrade podinfo to {from} in prod\""),
        is_revert: true,
        ..bump(c, landed, from, to)
    }
}

fn firing(name: &str, starts: DateTime<Utc>) -> AlertView {
    AlertView {
        name: name.into(),
        starts_at: starts,
        firing: true,
    }
}

fn resolved(name: &str, starts: DateTime<Utc>) -> AlertView {
    AlertView {
        firing: false,
        ..firing(name, starts)
    }
}

struct Case {
    name: &'static str,
    alerts: Vec<AlertView>,
    changes: Vec<PinChange>,
    existing: Option<&'static str>,
    still_firing: Option<bool>,
    frozen: bool,
    dry_run: bool,
    want: Decision,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        alerts: vec![firing("PodinfoDown", at(10, 20))],
        changes: vec![bump('a', at(10, 0), "6.5.0", "6.6.0")],
        existing: None,
        still_firing: None,
        frozen: false,
        dry_run: false,
        want: Decision::Revert {
            commit: sha('a'),
            reason: "aaaaaaaaaaaa (\"chore(deps): upgrade podinfo to 6.6.0 in prod\") moved podinfo in prod from 6.5.0 to 6.6.0 at 2026-11-25 10:00:00 UTC; PodinfoDown started firing 20m later".into(),
        },
    }
}

fn skip(reason: &str) -> Decision {
    Decision::Skip {
        reason: reason.into(),
    }
}

#[test]
fn each_scenario_reverts_or_says_exactly_why_not() {
    let cases = vec![
        case("a fresh bump, then the alert: revert it"),
        Case {
            changes: vec![
                bump('b', at(10, 10), "6.6.0", "6.6.1"),
                bump('a', at(9, 30), "6.5.0", "6.6.0"),
            ],
            want: Decision::Revert {
                commit: sha('b'),
                reason: "bbbbbbbbbbbb (\"chore(deps): upgrade podinfo to 6.6.1 in prod\") moved podinfo in prod from 6.6.0 to 6.6.1 at 2026-11-25 10:10:00 UTC; PodinfoDown started firing 10m later".into(),
            },
            ..case("the newest of two changes")
        },
        Case {
            alerts: vec![firing("PodinfoDown", at(9, 50))],
            want: skip("PodinfoDown was already firing at 2026-11-25 09:50:00 UTC, before aaaaaaaaaaaa landed at 2026-11-25 10:00:00 UTC: that change did not cause it"),
            ..case("a flapping alert that fired before the change")
        },
        Case {
            changes: vec![],
            want: skip("no change to podinfo's pin reached the branch in the 2h (policy.rollout_window) before PodinfoDown started"),
            ..case("an unrelated app: nothing changed its pin")
        },
        Case {
            alerts: vec![firing("PodinfoDown", at(13, 0))],
            changes: vec![bump('a', at(10, 0), "6.5.0", "6.6.0")],
            want: skip("aaaaaaaaaaaa landed 3h before PodinfoDown started, longer ago than policy.rollout_window (2h)"),
            ..case("the alert came after the window")
        },
        Case {
            changes: vec![revert('c', at(10, 5), "6.6.0", "6.5.0"), bump('a', at(9, 0), "6.5.0", "6.6.0")],
            want: skip("the newest change to podinfo's pin, cccccccccccc (\"Revert \"chore(deps): upgrade podinfo to 6.6.0 in prod\"\"), is itself a revert; chartpilot never reverts a revert"),
            ..case("a revert of a revert")
        },
        Case {
            frozen: true,
            want: skip("prod is frozen by alice: release week"),
            ..case("a frozen environment")
        },
        Case {
            dry_run: true,
            want: Decision::WouldRevert {
                commit: sha('a'),
                reason: "aaaaaaaaaaaa (\"chore(deps): upgrade podinfo to 6.6.0 in prod\") moved podinfo in prod from 6.5.0 to 6.6.0 at 2026-11-25 10:00:00 UTC; PodinfoDown started firing 20m later".into(),
            },
            ..case("dry run: say it, do nothing")
        },
        Case {
            changes: vec![
                bump('d', at(10, 10), "6.5.0", "6.6.0"),
                revert('c', at(10, 5), "6.6.0", "6.5.0"),
                bump('a', at(9, 40), "6.5.0", "6.6.0"),
            ],
            want: skip("podinfo was rolled back 25m ago by cccccccccccc; one rollback per 30m (policy.cooldown)"),
            ..case("within the cooldown of the last rollback")
        },
        Case {
            existing: Some("revert PR #14"),
            want: skip("aaaaaaaaaaaa is already being reverted: revert PR #14"),
            ..case("a repeated notification finds its own revert")
        },
        Case {
            still_firing: Some(false),
            want: skip("PodinfoDown resolved before chartpilot acted: Alertmanager no longer reports it firing"),
            ..case("resolved before chartpilot acted")
        },
        Case {
            alerts: vec![resolved("PodinfoDown", at(10, 20)), resolved("PodinfoSlow", at(10, 21))],
            want: skip("every alert about podinfo in this notification is resolved"),
            ..case("a resolved notification acts on nothing")
        },
        Case {
            alerts: vec![
                firing("PodinfoSlow", at(8, 0)),
                firing("PodinfoDown", at(10, 20)),
            ],
            ..case("an old alert beside one the change caused still reverts")
        },
        Case {
            alerts: vec![firing("PodinfoDown", at(12, 0))],
            changes: vec![bump('a', at(10, 0), "6.5.0", "6.6.0")],
            want: Decision::Revert {
                commit: sha('a'),
                reason: "aaaaaaaaaaaa (\"chore(deps): upgrade podinfo to 6.6.0 in prod\") moved podinfo in prod from 6.5.0 to 6.6.0 at 2026-11-25 10:00:00 UTC; PodinfoDown started firing 2h later".into(),
            },
            ..case("exactly at the end of the window still counts")
        },
        Case {
            changes: vec![
                bump('d', at(10, 10), "6.5.0", "6.6.0"),
                revert('c', at(9, 59), "6.6.0", "6.5.0"),
            ],
            want: Decision::Revert {
                commit: sha('d'),
                reason: "dddddddddddd (\"chore(deps): upgrade podinfo to 6.6.0 in prod\") moved podinfo in prod from 6.5.0 to 6.6.0 at 2026-11-25 10:10:00 UTC; PodinfoDown started firing 10m later".into(),
            },
            ..case("a rollback just before the cooldown does not hold the next one")
        },
        Case {
            alerts: vec![
                resolved("PodinfoSlow", at(9, 0)),
                firing("PodinfoDown", at(10, 20)),
                firing("PodinfoErrors", at(10, 25)),
            ],
            want: Decision::Revert {
                commit: sha('a'),
                reason: "aaaaaaaaaaaa (\"chore(deps): upgrade podinfo to 6.6.0 in prod\") moved podinfo in prod from 6.5.0 to 6.6.0 at 2026-11-25 10:00:00 UTC; PodinfoDown started firing 20m later (and 1 more alert)".into(),
            },
            ..case("a mixed group acts on its firing alerts only")
        },
    ];
    let freeze = Freeze {
        by: "alice".into(),
        reason: Some("release week".into()),
        at: None,
    };
    for c in cases {
        let input = DecisionInput {
            app: "podinfo",
            env: Some("prod"),
            alerts: &c.alerts,
            changes: &c.changes,
            existing: c.existing,
            still_firing: c.still_firing,
            freeze: c.frozen.then_some(&freeze),
            now: at(10, 30),
            rollout_window: Duration::from_secs(2 * 3600),
            cooldown: Duration::from_secs(30 * 60),
            dry_run: c.dry_run,
        };
        assert_eq!(decide(&input), c.want, "{}", c.name);
    }
}

#[test]
fn reverts_are_recognised_by_subject_or_body() {
    assert!(is_revert_message(
        "Revert \"chore(deps): upgrade podinfo\"\n\nThis reverts commit abc."
    ));
    assert!(is_revert_message(
        "roll back podinfo\n\nThis reverts commit 0123456789abcdef."
    ));
    assert!(!is_revert_message("chore(deps): upgrade podinfo to 6.6.0"));
    assert!(!is_revert_message("Reverting the docs layout"));
    // A revert PR merged with a merge commit: GitHub's subject and body.
    assert!(is_revert_message(
        "Merge pull request #3 from acme/chartpilot/revert/0123abcd\n\nRevert \"chore(deps): upgrade podinfo\""
    ));
    assert!(is_revert_message(
        "Merge pull request #4 from acme/revert-3-bump-podinfo"
    ));
    assert!(is_revert_message(
        "Revert \"chore(deps): upgrade podinfo\" (#5)"
    ));
    assert!(!is_revert_message(
        "Merge pull request #6 from acme/chartpilot/upgrade/prod/podinfo-6.6.0\n\nchore(deps): upgrade podinfo"
    ));
    assert!(!is_revert_message(
        "Merge pull request #7 from acme/revert-docs"
    ));
}
