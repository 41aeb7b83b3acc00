use super::*;
use crate::settings::UpdateType;

fn pin(kind: PinKind, file: &str, chart: &str, env: Option<&str>, version: &str) -> Pin {
    Pin {
        file: file.into(),
        line: 3,
        ..Pin::sample(kind, env, chart, version)
    }
}

fn envs() -> Vec<String> {
    ["dev", "staging", "prod"].map(str::to_owned).to_vec()
}

fn app(env: &str, version: &str) -> Pin {
    pin(
        PinKind::Argocd,
        &format!("apps/{env}/podinfo.yaml"),
        "podinfo",
        Some(env),
        version,
    )
}

fn drift_of(m: &Matrix, env: &str) -> Option<Drift> {
    m.rows[0].cells.get(env).and_then(|c| c.drift.clone())
}

#[test]
fn drift_between_environments() {
    let behind = |of: &str, v: &str| {
        Some(Drift::Behind {
            of: of.into(),
            version: v.into(),
        })
    };
    let ahead = |of: &str, v: &str| {
        Some(Drift::Ahead {
            of: of.into(),
            version: v.into(),
        })
    };
    type Case = (&'static [(&'static str, &'static str)], [Option<Drift>; 3]);
    let cases: Vec<Case> = vec![
        // In step.
        (
            &[("dev", "1.0.0"), ("staging", "1.0.0"), ("prod", "1.0.0")],
            [None, None, None],
        ),
        // A new version in dev waits for staging, staging's for prod.
        (
            &[("dev", "1.2.0"), ("staging", "1.1.0"), ("prod", "1.0.0")],
            [None, behind("dev", "1.2.0"), behind("staging", "1.1.0")],
        ),
        // Prod went first.
        (
            &[("dev", "1.0.0"), ("staging", "1.0.0"), ("prod", "1.1.0")],
            [None, None, ahead("staging", "1.0.0")],
        ),
        // No staging: prod compares with dev; `v` spellings compare as versions.
        (
            &[("dev", "v1.2.0"), ("prod", "v1.10.0")],
            [None, None, ahead("dev", "v1.2.0")],
        ),
    ];
    for (cells, want) in cases {
        let pins: Vec<Pin> = cells.iter().map(|(e, v)| app(e, v)).collect();
        let m = build(&pins, None, &envs(), &Freezes::default());
        for (env, want) in ["dev", "staging", "prod"].iter().zip(want) {
            assert_eq!(drift_of(&m, env), want, "{cells:?} {env}");
        }
        assert_eq!(
            m.summary.drift,
            m.rows[0]
                .cells
                .values()
                .filter(|c| c.drift.is_some())
                .count()
        );
    }
}

#[test]
fn tiers_columns_lookups_and_freezes() {
    let mut pins = vec![
        app("dev", "6.6.0"),
        app("prod", "6.5.0"),
        pin(
            PinKind::Terraform,
            "platform/main.tf",
            "cert-manager",
            None,
            "v1.13.2",
        ),
        pin(
            PinKind::Argocd,
            "apps/qa/podinfo.yaml",
            "podinfo",
            Some("qa"),
            "6.6.0",
        ),
    ];
    let mut local = pin(
        PinKind::ChartDependency,
        "charts/u/Chart.yaml",
        "common",
        None,
        "1.0.0",
    );
    local.local_chart = true;
    pins.push(local);
    let mut range = app("staging", "x");
    range.version = None;
    range.constraint = Some("6.x".into());
    pins.push(range);
    let latest = vec![
        Latest {
            latest: Some("6.6.0".into()),
            ..Latest::default()
        },
        Latest {
            latest: Some("6.6.0".into()),
            update: Some(UpdateType::Minor),
            held_back: Some("7.0.0 is a major update; policy allows patch, minor".into()),
            ..Latest::default()
        },
        Latest {
            error: Some("index unreachable".into()),
            ..Latest::default()
        },
        Latest::default(),
        Latest::default(),
        Latest {
            latest: Some("6.6.0".into()),
            ..Latest::default()
        },
    ];
    let freezes =
        Freezes::parse("environments:\n  prod:\n    by: alice\n    reason: release week\n")
            .unwrap_or_default();
    let m = build(&pins, Some(&latest), &envs(), &freezes);
    assert_eq!(m.environments, ["dev", "staging", "prod", "qa", NO_ENV]);
    let tiers: Vec<(Tier, &str)> = m.rows.iter().map(|r| (r.tier, r.chart.as_str())).collect();
    assert_eq!(
        tiers,
        [
            (Tier::Platform, "cert-manager"),
            (Tier::Application, "podinfo")
        ]
    );
    let podinfo = &m.rows[1];
    let prod = &podinfo.cells["prod"];
    assert_eq!(prod.update, Some("minor"));
    assert!(prod
        .held_back
        .as_deref()
        .is_some_and(|h| h.starts_with("7.0.0")));
    assert_eq!(
        prod.drift,
        Some(Drift::Behind {
            of: "dev".into(),
            version: "6.6.0".into()
        }),
        "a range in staging is skipped: prod compares with dev"
    );
    assert_eq!(podinfo.cells["staging"].constraint.as_deref(), Some("6.x"));
    assert_eq!(
        m.rows[0].cells[NO_ENV].error.as_deref(),
        Some("index unreachable")
    );
    assert_eq!(m.freezes.keys().collect::<Vec<_>>(), ["prod"]);
    assert!(m.freezes["prod"].contains("release week"));
    assert_eq!(
        m.summary,
        Summary {
            charts: 2,
            pins: 5,
            behind: 1,
            drift: 1,
            ranges: 1,
            unresolved: 0,
            local_charts: 1,
            lookups_failed: 1,
            looked_up: true,
        }
    );
}

#[test]
fn pins_of_one_cell_agree_or_say_nothing() {
    let mut other = app("dev", "6.5.0");
    other.file = "apps/dev/podinfo-canary.yaml".into();
    let m = build(
        &[app("dev", "6.6.0"), other],
        None,
        &envs(),
        &Freezes::default(),
    );
    let cell = &m.rows[0].cells["dev"];
    assert_eq!(cell.version, None, "two versions in one cell");
    assert_eq!(cell.pins.len(), 2);
}
