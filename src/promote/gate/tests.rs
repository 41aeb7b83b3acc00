use std::time::Duration;

use chrono::TimeZone;

use super::*;

fn app(name: &str, sync: &str, health: &str, phase: Option<&str>, has_merge: bool) -> AppView {
    AppView {
        status: AppStatus {
            name: name.into(),
            sync: sync.into(),
            health: health.into(),
            revision: Some("0123456789abcdef0123".into()),
            operation_phase: phase.map(str::to_owned),
            ..AppStatus::default()
        },
        has_merge,
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
}

struct Case {
    name: &'static str,
    apps: Vec<AppView>,
    alerts: Vec<FiringAlert>,
    frozen: bool,
    /// The chart's versions in dev now.
    pinned: &'static [&'static str],
    /// Terraform only: no Argo CD app to expect.
    tier1: bool,
    unavailable: Option<&'static str>,
    /// Pinned apps Argo CD does not know.
    missing: &'static [&'static str],
    impossible: Option<&'static str>,
    now: DateTime<Utc>,
    want: Gate,
}

fn wait(r: &str) -> Gate {
    Gate::Wait {
        reason: r.into(),
        until: None,
    }
}

fn give_up(r: &str) -> Gate {
    Gate::GiveUp { reason: r.into() }
}

fn healthy() -> Vec<AppView> {
    vec![
        app("podinfo-dev", "Synced", "Healthy", Some("Succeeded"), true),
        app(
            "podinfo-dev-canary",
            "Synced",
            "Healthy",
            Some("Succeeded"),
            true,
        ),
    ]
}

#[test]
fn the_gate_promotes_only_when_every_condition_holds_and_says_why_not() {
    let freeze = Freeze {
        by: "alice".into(),
        reason: Some("release week".into()),
        at: None,
    };
    let cases = vec![
        Case {
            name: "all good after the soak",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: Gate::Promote,
        },
        Case {
            name: "next environment frozen",
            apps: healthy(),
            alerts: vec![],
            frozen: true,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: wait("staging is frozen by alice: release week"),
        },
        Case {
            name: "no app known yet",
            apps: vec![],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: wait("Argo CD has no application of podinfo in dev yet"),
        },
        Case {
            name: "merge not deployed yet",
            apps: vec![app("podinfo-dev", "Synced", "Healthy", None, false)],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 5),
            want: wait(
                "podinfo-dev runs 0123456789ab, which does not contain the merge 1a2b3c4 yet",
            ),
        },
        Case {
            name: "out of sync",
            apps: vec![app("podinfo-dev", "OutOfSync", "Healthy", None, true)],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 5),
            want: wait("podinfo-dev is OutOfSync"),
        },
        Case {
            name: "still progressing",
            apps: vec![app(
                "podinfo-dev",
                "Synced",
                "Progressing",
                Some("Running"),
                true,
            )],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 5),
            want: wait("podinfo-dev is Progressing"),
        },
        Case {
            name: "degraded after the merge",
            apps: vec![app(
                "podinfo-dev",
                "Synced",
                "Degraded",
                Some("Succeeded"),
                true,
            )],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 5),
            want: give_up("podinfo-dev is Degraded"),
        },
        Case {
            name: "sync failed",
            apps: vec![app(
                "podinfo-dev",
                "OutOfSync",
                "Healthy",
                Some("Failed"),
                true,
            )],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 5),
            want: give_up("the sync of podinfo-dev failed (Failed)"),
        },
        Case {
            name: "an alert is firing",
            apps: healthy(),
            alerts: vec![
                FiringAlert {
                    name: "KubePodCrashLooping".into(),
                    app: "podinfo-dev".into(),
                },
                FiringAlert {
                    name: "HighErrorRate".into(),
                    app: "podinfo-dev".into(),
                },
            ],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: wait("alert KubePodCrashLooping is firing for podinfo-dev (and 1 more)"),
        },
        Case {
            name: "still soaking",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(10, 20),
            want: Gate::Wait {
                reason: "soaking in dev: 20m of 1h".into(),
                until: Some(at(11, 0)),
            },
        },
        Case {
            name: "waiting past the deadline gives up",
            apps: vec![app("podinfo-dev", "OutOfSync", "Healthy", None, true)],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(23, 0),
            want: give_up("gave up waiting: podinfo-dev is OutOfSync"),
        },
        Case {
            name: "a firing alert at the deadline gives up with that reason",
            apps: healthy(),
            alerts: vec![FiringAlert {
                name: "HighErrorRate".into(),
                app: "podinfo-dev".into(),
            }],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(22, 0),
            want: give_up("gave up waiting: alert HighErrorRate is firing for podinfo-dev"),
        },
        Case {
            name: "Argo CD or Alertmanager did not answer",
            apps: vec![],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: Some("Alertmanager did not answer: connection refused"),
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: wait("Alertmanager did not answer: connection refused"),
        },
        Case {
            name: "reverted in dev since the merge, even while staging is frozen",
            apps: healthy(),
            alerts: vec![],
            frozen: true,
            pinned: &["6.4.1"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: give_up(
                "dev no longer pins podinfo at 6.5.0 (now 6.4.1): reverted since the merge 1a2b3c4",
            ),
        },
        Case {
            name: "dev moved on to a newer version",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0", "6.6.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: give_up(
                "dev now pins podinfo at 6.6.0, past 6.5.0; the newer version is promoted on its own",
            ),
        },
        Case {
            name: "a co-pin lagging behind on purpose does not stop it",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0", "v6.4.1"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: Gate::Promote,
        },
        Case {
            name: "chart removed from dev",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &[],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: give_up("dev no longer pins podinfo"),
        },
        Case {
            name: "a Terraform chart needs no Argo CD app",
            apps: vec![],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: true,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: Gate::Promote,
        },
        Case {
            name: "one of the apps is unknown to Argo CD",
            apps: healthy(),
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &["podinfo-dev-eu"],
            impossible: None,
            now: at(11, 30),
            want: wait("Argo CD has no application podinfo-dev-eu yet"),
        },
        Case {
            name: "a sync that failed before the merge is no verdict",
            apps: vec![AppView {
                status: AppStatus {
                    operation_finished_at: Some(at(9, 0)),
                    ..app("podinfo-dev", "Synced", "Healthy", Some("Failed"), true).status
                },
                has_merge: true,
            }],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: None,
            now: at(11, 30),
            want: Gate::Promote,
        },
        Case {
            name: "Argo CD cannot be asked at all",
            apps: vec![],
            alerts: vec![],
            frozen: false,
            pinned: &["6.5.0"],
            tier1: false,
            unavailable: None,
            missing: &[],
            impossible: Some("argocd.mode is \"none\""),
            now: at(10, 1),
            want: give_up("argocd.mode is \"none\""),
        },
    ];
    for c in cases {
        let missing: Vec<String> = c.missing.iter().map(|v| (*v).to_owned()).collect();
        let pinned: Vec<String> = c.pinned.iter().map(|v| (*v).to_owned()).collect();
        let input = GateInput {
            chart: "podinfo",
            from_env: "dev",
            to_env: "staging",
            version: "6.5.0",
            merge: "1a2b3c4",
            pinned: &pinned,
            expect_apps: !c.tier1,
            apps: &c.apps,
            alerts: &c.alerts,
            unavailable: c.unavailable,
            missing: &missing,
            impossible: c.impossible,
            freeze: c.frozen.then_some(&freeze),
            merged_at: at(10, 0),
            now: c.now,
            soak: Duration::from_secs(3600),
            deadline: at(22, 0),
        };
        assert_eq!(decide(&input), c.want, "{}", c.name);
    }
}
