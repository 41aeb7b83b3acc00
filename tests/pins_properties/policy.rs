//! The version choice over generated indexes and policies: a proposal is
//! always above the pin, `latest` is never below it, and a range under
//! `policy.ranges = "leave"` gets no proposal (under `"pin"`, one inside
//! the range).

use std::collections::HashMap;
use std::time::Duration;

use chartpilot::charts::constraint::Constraint;
use chartpilot::charts::version::Version;
use chartpilot::charts::Release;
use chartpilot::pins::{Pin, PinKind};
use chartpilot::settings::{RangePolicy, Settings, UpdateType};
use chartpilot::upgrade::source::choose;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

/// Ranges as people write them, from narrow to open.
const RANGES: &[&str] = &[
    "1.x",
    "^1.1.0",
    "~2.1",
    "*",
    ">=1.0.0 <2.0.0",
    "latest",
    "0.1 - 1.2",
    ">=2.0.0-0",
];

/// Ignore lists a policy may carry.
const IGNORES: &[&[&str]] = &[&[], &[">=2.0.0"], &["=1.1.1"], &["<1.0.0", "~2.2"]];

fn version() -> impl Strategy<Value = String> {
    (
        0u64..3,
        0u64..3,
        0u64..3,
        prop::option::of(0u8..3),
        any::<bool>(),
    )
        .prop_map(|(a, b, c, pre, v)| {
            let pre = pre.map(|n| format!("-rc.{n}")).unwrap_or_default();
            format!("{}{a}.{b}.{c}{pre}", if v { "v" } else { "" })
        })
}

fn release() -> impl Strategy<Value = Release> {
    (
        version(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0i64..30),
    )
        .prop_map(|(version, deprecated, prerelease, days)| Release {
            version,
            deprecated,
            // The annotation is rare in practice; one in two here.
            prerelease: prerelease && deprecated,
            created: days.map(|d| now() - chrono::Duration::days(d)),
            ..Release::default()
        })
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).single().unwrap()
}

fn settings(types: Vec<UpdateType>, ignore: usize, age_days: u64, ranges: RangePolicy) -> Settings {
    let mut s = Settings::load(None, &HashMap::new()).unwrap();
    s.policy.update_types = types;
    s.policy.ignore = IGNORES[ignore].iter().map(|r| (*r).to_owned()).collect();
    s.policy.min_release_age = Duration::from_secs(age_days * 86_400);
    s.policy.ranges = ranges;
    s
}

fn pin(version: Option<String>, constraint: Option<&str>) -> Pin {
    Pin {
        file: "environments/dev/app.yaml".into(),
        line: 9,
        kind: PinKind::Argocd,
        name: "app".into(),
        env: Some("dev".into()),
        repository: Some("https://charts.example.org".into()),
        chart: Some("app".into()),
        version,
        span: None,
        reason: None,
        constraint: constraint.map(str::to_owned),
        local_chart: false,
        address: None,
    }
}

fn policy_inputs() -> impl Strategy<Value = (Vec<UpdateType>, usize, u64)> {
    (
        prop::sample::subsequence(
            vec![UpdateType::Patch, UpdateType::Minor, UpdateType::Major],
            0..=3,
        ),
        0..IGNORES.len(),
        0u64..10,
    )
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn nothing_at_or_below_the_pin_is_ever_proposed(
        releases in prop::collection::vec(release(), 0..12),
        current in version(),
        (types, ignore, age) in policy_inputs(),
        ranges in prop::sample::select(vec![RangePolicy::Leave, RangePolicy::Pin]),
        local in any::<bool>(),
    ) {
        let s = settings(types, ignore, age, ranges);
        let mut p = pin(Some(current.clone()), None);
        p.local_chart = local;
        let c = choose(&s.policy, &p, &releases, now());
        let at = Version::parse(&current);
        if let Some((release, _)) = &c.target {
            prop_assert!(
                Version::parse(&release.version).cmp_precedence(&at).is_gt(),
                "proposed {} for {current}", release.version
            );
            prop_assert!(!release.deprecated);
        }
        if let Some(latest) = &c.latest {
            prop_assert!(
                !Version::parse(latest).cmp_precedence(&at).is_lt(),
                "latest {latest} below {current}"
            );
        }
        if local {
            prop_assert_eq!(c.latest, None);
            prop_assert!(c.target.is_none());
        }
    }

    #[test]
    fn a_range_is_left_alone_or_pinned_inside_itself(
        releases in prop::collection::vec(release(), 0..12),
        range in prop::sample::select(RANGES),
        (types, ignore, age) in policy_inputs(),
    ) {
        let leave = settings(types.clone(), ignore, age, RangePolicy::Leave);
        let p = pin(None, Some(range));
        let c = choose(&leave.policy, &p, &releases, now());
        prop_assert!(c.target.is_none(), "{range}: {:?}", c.target);

        let pin_it = settings(types, ignore, age, RangePolicy::Pin);
        let c = choose(&pin_it.policy, &p, &releases, now());
        let constraint = Constraint::parse(range).unwrap();
        if let Some((release, _)) = &c.target {
            let v = Version::parse(&release.version);
            prop_assert!(v.semver().is_some_and(|v| constraint.matches(v)));
            prop_assert_eq!(Some(&release.version), c.latest.as_ref());
            prop_assert!(!release.deprecated);
        }
    }
}
