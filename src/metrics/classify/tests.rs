use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::CommitSha;
use crate::promote::freeze::Freeze;
use crate::rollback::decide::{decide, AlertView, Decision, DecisionInput, PinChange};

#[test]
fn repository_labels_are_hosts_or_names() {
    for (written, want) in [
        (
            Some("https://charts.bitnami.com/bitnami"),
            "charts.bitnami.com",
        ),
        (
            Some("https://user:s3cret@charts.example.org/stable/"),
            "charts.example.org",
        ),
        (Some("oci://ghcr.io/stefanprodan/charts"), "ghcr.io"),
        (Some("http://127.0.0.1:8879/charts"), "127.0.0.1:8879"),
        (Some("@bitnami"), "@bitnami"),
        (Some("file:///srv/charts"), "file"),
        (Some("  "), "none"),
        (None, "none"),
    ] {
        assert_eq!(repository(written), want, "{written:?}");
    }
    let long = "x".repeat(500);
    assert_eq!(repository(Some(&long)).len(), MAX_LABEL_CHARS);
}

#[test]
fn chat_verbs_are_the_grammars_or_unknown() {
    for (text, want) in [
        ("/chartpilot status web prod", "status"),
        ("ROLLBACK web", "rollback"),
        ("  help", "help"),
        ("/chartpilot", "unknown"),
        ("", "unknown"),
        ("deploy everything", "unknown"),
        ("/chartpilot 1.2.3-would-be-a-version", "unknown"),
    ] {
        assert_eq!(chat_verb(text), want, "{text:?}");
    }
    assert!(chat_verbs().all(|v| v == "unknown" || chat_verb(v) == v));
    for d in ["allowed", "refused", "invalid", "error"] {
        assert_eq!(chat_outcome(d), d);
    }
    assert_eq!(
        chat_outcome("awaiting confirmation"),
        "awaiting_confirmation"
    );
    assert_eq!(chat_outcome("something new"), "other");
    assert!(CHAT_OUTCOMES.contains(&chat_outcome("something new")));
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
}

fn change(landed: DateTime<Utc>, is_revert: bool) -> PinChange {
    PinChange {
        sha: CommitSha::parse("0123456789abcdef0123456789abcdef01234567").unwrap(),
        // Outside text that would mislead a careless match.
        subject: "bump web; web is frozen by nobody (policy.cooldown)".into(),
        landed_at: landed,
        from: "1.0.0".into(),
        to: "1.1.0".into(),
        is_revert,
    }
}

fn alert(starts: DateTime<Utc>, firing: bool) -> AlertView {
    AlertView {
        name: "WebDown".into(),
        starts_at: starts,
        firing,
    }
}

/// Every kind of skip `rollback::decide` gives, made by `decide` itself,
/// gets its own reason label; a new sentence kind shows up here as
/// `other`.
#[test]
fn every_skip_decide_makes_has_its_reason() {
    let freeze = Freeze {
        by: "alice".into(),
        reason: Some("a release (policy.cooldown) week".into()),
        at: None,
    };
    let recent = [change(at(10, 0), false)];
    let old = [change(at(6, 0), false)];
    let revert = [change(at(10, 0), true)];
    let reverted_lately = [change(at(10, 0), false), change(at(9, 50), true)];
    let firing = [alert(at(10, 5), true)];
    let resolved = [alert(at(10, 5), false)];
    let early = [alert(at(9, 0), true)];
    let base = DecisionInput {
        app: "web",
        env: Some("prod"),
        alerts: &firing,
        changes: &recent,
        existing: None,
        still_firing: None,
        freeze: None,
        now: at(10, 10),
        rollout_window: Duration::from_secs(3600),
        cooldown: Duration::from_secs(3600),
        dry_run: false,
    };
    let cases: [(&str, DecisionInput<'_>); 9] = [
        (
            "alert_resolved",
            DecisionInput {
                alerts: &resolved,
                ..base.clone()
            },
        ),
        (
            "alert_resolved",
            DecisionInput {
                still_firing: Some(false),
                ..base.clone()
            },
        ),
        (
            "frozen",
            DecisionInput {
                freeze: Some(&freeze),
                ..base.clone()
            },
        ),
        (
            "no_recent_change",
            DecisionInput {
                changes: &[],
                ..base.clone()
            },
        ),
        (
            "alert_before_change",
            DecisionInput {
                alerts: &early,
                ..base.clone()
            },
        ),
        (
            "outside_rollout_window",
            DecisionInput {
                changes: &old,
                ..base.clone()
            },
        ),
        (
            "revert_of_revert",
            DecisionInput {
                changes: &revert,
                ..base.clone()
            },
        ),
        (
            "cooldown",
            DecisionInput {
                changes: &reverted_lately,
                ..base.clone()
            },
        ),
        (
            "already_reverting",
            DecisionInput {
                existing: Some("revert PR #12"),
                ..base.clone()
            },
        ),
    ];
    for (want, input) in cases {
        let Decision::Skip { reason } = decide(&input) else {
            panic!("{want}: not a skip: {:?}", decide(&input));
        };
        let outcome = Outcome::Skipped {
            app: "web".into(),
            reason: reason.clone(),
        };
        assert_eq!(rollback(&outcome), ("skipped", want), "{reason}");
        assert!(ROLLBACK_DECISIONS.contains(&("skipped", want)));
    }
    assert!(matches!(decide(&base), Decision::Revert { .. }));
}

#[test]
fn skips_made_outside_decide_have_their_reason() {
    for (sentence, want) in [
        ("WebDown names no app (none of the rule's app labels is set)", "unknown_app"),
        (
            "WebDown names web, which the repository pins under no Application or helm_release of that name",
            "unknown_app",
        ),
        ("the alerts name no environment, and web is pinned in dev, prod", "ambiguous_environment"),
        ("web has no pin in prod", "no_pin"),
        ("0123456 is not among the changes read", "other"),
    ] {
        let o = Outcome::Skipped {
            app: "web".into(),
            reason: sentence.into(),
        };
        assert_eq!(rollback(&o), ("skipped", want), "{sentence}");
    }
    let sha = CommitSha::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    let actions = [
        (
            Outcome::Reverted {
                app: "web".into(),
                commit: sha.clone(),
                pull: Some(8),
                pushed: None,
            },
            "reverted",
        ),
        (
            Outcome::WouldRevert {
                app: "web".into(),
                commit: sha.clone(),
                reason: String::new(),
            },
            "would_revert",
        ),
        (
            Outcome::Conflict {
                app: "web".into(),
                commit: sha,
                reason: String::new(),
            },
            "conflict",
        ),
        (Outcome::NotedResolved { pull: 8 }, "noted_resolved"),
    ];
    for (o, want) in actions {
        let pair = rollback(&o);
        assert_eq!(pair.0, want);
        assert!(ROLLBACK_DECISIONS.contains(&pair), "{pair:?}");
    }
}

#[test]
fn promotion_checks_and_pr_actions_have_their_labels() {
    let opened = Action::Opened {
        number: 3,
        branch: "b".into(),
        title: "t".into(),
        url: None,
    };
    let would = Action::WouldOpen {
        branch: "b".into(),
        title: "t".into(),
    };
    let unchanged = Action::Unchanged {
        number: 3,
        branch: "b".into(),
    };
    let promoted = |actions: Vec<Action>| -> Result<Checked, ()> {
        Ok(Checked::Promoted(Report {
            actions,
            ..Report::default()
        }))
    };
    for (checked, want) in [
        (
            promoted(vec![unchanged.clone(), opened.clone()]),
            "promoted",
        ),
        (promoted(vec![would.clone()]), "would_promote"),
        (promoted(vec![unchanged.clone()]), "already_open"),
        (promoted(Vec::new()), "not_needed"),
        (
            Ok(Checked::Waiting {
                reason: "soaking".into(),
                retry_in: Duration::from_secs(60),
            }),
            "waiting",
        ),
        (Ok(Checked::GaveUp { reason: "x".into() }), "gave_up"),
        (Err(()), "failed"),
    ] {
        assert_eq!(promotion(&checked), want);
        assert!(PROMOTION_OUTCOMES.contains(&want));
    }
    let report = Report {
        actions: vec![opened, would, unchanged],
        errors: vec!["chartpilot/x: refused".into()],
        ..Report::default()
    };
    let got: Vec<&str> = pr_actions(&report).collect();
    assert_eq!(got, ["opened", "would_open", "unchanged", "failed"]);
    assert!(got.iter().all(|a| PR_ACTIONS.contains(a)));
}
