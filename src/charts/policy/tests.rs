use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::{select, EffectivePolicy, Reason};
use crate::charts::version::Version;
use crate::charts::Release;
use crate::settings::{ChartPolicy, PolicySettings, UpdateType};

use UpdateType::{Major, Minor, Patch};

const DAY: Duration = Duration::from_secs(86_400);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

/// Releases newest first, as indexes list them; `created` N days before now.
fn releases(spec: &[(&str, u64)]) -> Vec<Release> {
    spec.iter()
        .map(|(v, days)| Release {
            version: (*v).to_owned(),
            created: Some(now() - chrono::Duration::days(*days as i64)),
            ..Release::default()
        })
        .collect()
}

fn policy(types: &[UpdateType], ignore: &[&str], min_age: Duration) -> EffectivePolicy {
    let settings = settings(types, ignore, min_age, vec![]);
    EffectivePolicy::for_chart(&settings, "any").unwrap()
}

fn settings(
    types: &[UpdateType],
    ignore: &[&str],
    min_age: Duration,
    charts: Vec<ChartPolicy>,
) -> PolicySettings {
    PolicySettings {
        environments: vec!["dev".into()],
        dry_run: false,
        rollout_window: Duration::ZERO,
        cooldown: Duration::ZERO,
        soak: Duration::ZERO,
        update_types: types.to_vec(),
        ignore: ignore.iter().map(|s| (*s).to_owned()).collect(),
        min_release_age: min_age,
        charts,
    }
}

const STD: &[(&str, u64)] = &[
    ("2.1.0", 1),
    ("2.0.0", 10),
    ("1.5.0-rc.1", 12),
    ("1.4.3", 20),
    ("1.4.2", 30),
    ("1.3.9", 40),
    ("1.3.8", 50),
];

#[test]
fn selection_table() {
    let all = [Patch, Minor, Major];
    // (pin, update types, ignore, min age days, latest, update, held back)
    type Case<'a> = (
        &'a str,
        &'a [UpdateType],
        &'a [&'a str],
        u64,
        Option<&'a str>,
        Option<UpdateType>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        ("1.3.8", &all, &[], 0, Some("2.1.0"), Some(Major), None),
        ("2.1.0", &all, &[], 0, Some("2.1.0"), None, None),
        (
            "1.3.8",
            &[Patch],
            &[],
            0,
            Some("1.3.9"),
            Some(Patch),
            Some("2.1.0"),
        ),
        (
            "1.3.8",
            &[Patch, Minor],
            &[],
            0,
            Some("1.4.3"),
            Some(Minor),
            Some("2.1.0"),
        ),
        (
            "1.4.3",
            &[Patch, Minor],
            &[],
            0,
            Some("1.4.3"),
            None,
            Some("2.1.0"),
        ),
        (
            "1.3.8",
            &all,
            &[">=2.0.0"],
            0,
            Some("1.4.3"),
            Some(Minor),
            Some("2.1.0"),
        ),
        (
            "1.3.8",
            &all,
            &["=2.1.0"],
            0,
            Some("2.0.0"),
            Some(Major),
            Some("2.1.0"),
        ),
        (
            "1.3.8",
            &all,
            &[],
            5,
            Some("2.0.0"),
            Some(Major),
            Some("2.1.0"),
        ),
        ("1.3.8", &all, &[], 45, Some("1.3.8"), None, Some("2.1.0")),
        ("1.3.8", &all, &[], 100, None, None, Some("2.1.0")),
        ("1.4.2-rc.1", &all, &[], 0, Some("2.1.0"), Some(Major), None),
        (
            "1.4.9",
            &[Patch],
            &[],
            0,
            Some("1.4.3"),
            None,
            Some("2.1.0"),
        ),
        ("v1.3.8", &all, &[], 0, Some("2.1.0"), Some(Major), None),
        ("3.0.0", &all, &[], 0, Some("2.1.0"), None, None),
    ];
    for &(pin, types, ignore, age, latest, update, held) in cases {
        let rs = releases(STD);
        let p = policy(types, ignore, DAY * age as u32);
        let s = select(&Version::parse(pin), &rs, &p, now());
        let ctx = format!("{pin} {types:?} {ignore:?} {age}d");
        assert_eq!(s.latest.map(|r| r.version.as_str()), latest, "{ctx}");
        assert_eq!(s.update, update, "{ctx}");
        assert_eq!(
            s.held_back.as_ref().map(|h| h.release.version.as_str()),
            held,
            "{ctx}"
        );
    }
}

#[test]
fn prerelease_pin_may_move_to_a_newer_prerelease() {
    let rs = releases(&[("2.0.0-rc.2", 1), ("2.0.0-rc.1", 2), ("1.9.0", 3)]);
    let s = select(
        &Version::parse("2.0.0-rc.1"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.latest.unwrap().version, "2.0.0-rc.2");
    assert_eq!(s.update, Some(Patch));
}

#[test]
fn artifacthub_prerelease_and_deprecated_are_skipped() {
    let mut rs = releases(&[("1.3.0", 1), ("1.2.0", 2), ("1.1.0", 3)]);
    rs[0].prerelease = true;
    rs[1].deprecated = true;
    let s = select(
        &Version::parse("1.0.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.latest.unwrap().version, "1.1.0");
    // The artifacthub pre-release is quiet for a stable pin; the deprecated
    // one is the newest real reason.
    let held = s.held_back.unwrap();
    assert_eq!(held.release.version, "1.2.0");
    assert_eq!(held.reason, Reason::Deprecated);
}

#[test]
fn explanations_read_well() {
    let rs = releases(&[("2.0.0", 1), ("1.0.1", 3)]);
    let cases: &[(EffectivePolicy, &str)] = &[
        (
            policy(&[Minor, Patch], &[], Duration::ZERO),
            "2.0.0 is a major update; policy allows patch, minor",
        ),
        (
            policy(&[], &[], Duration::ZERO),
            "2.0.0 is a major update; policy allows no updates",
        ),
        (
            policy(&[Major], &[">= 2"], Duration::ZERO),
            "2.0.0 is ignored by policy (`>= 2`)",
        ),
        (
            policy(&[Major], &[], DAY * 3),
            "2.0.0 is 1day old; policy waits 3days",
        ),
    ];
    for (p, want) in cases {
        let s = select(&Version::parse("1.0.0"), &rs, p, now());
        assert_eq!(s.held_back.unwrap().to_string(), *want);
    }
}

#[test]
fn unknown_created_time_passes_only_without_minimum_age() {
    let rs = vec![Release {
        version: "1.1.0".into(),
        ..Release::default()
    }];
    let pin = Version::parse("1.0.0");
    let s = select(&pin, &rs, &EffectivePolicy::any(), now());
    assert_eq!(s.latest.unwrap().version, "1.1.0");
    let s = select(&pin, &rs, &policy(&[Major, Minor], &[], DAY), now());
    assert_eq!(s.latest, None);
    assert_eq!(s.held_back.unwrap().reason, Reason::NoCreatedTime);
}

#[test]
fn spelling_comes_from_the_repository() {
    let rs = releases(&[("v1.2.0", 1), ("v1.1.0", 2)]);
    let s = select(
        &Version::parse("1.1.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.latest.unwrap().version, "v1.2.0");
    let s = select(
        &Version::parse("1.2.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(
        (s.latest.unwrap().version.as_str(), s.update),
        ("v1.2.0", None)
    );
}

#[test]
fn ignored_release_range_covers_its_prereleases() {
    let rs = releases(&[("2.0.0-rc.1", 1), ("1.9.0", 2)]);
    let p = policy(&[Major, Minor, Patch], &["=2.0.0"], Duration::ZERO);
    let s = select(&Version::parse("1.9.0-rc.1"), &rs, &p, now());
    assert_eq!(s.latest.unwrap().version, "1.9.0");
}

#[test]
fn chart_overrides_apply_by_name_later_entries_win() {
    let over =
        |chart: &str, types: Option<Vec<UpdateType>>, ignore: Option<Vec<&str>>| ChartPolicy {
            chart: chart.into(),
            update_types: types,
            ignore: ignore.map(|v| v.into_iter().map(String::from).collect()),
            min_release_age: None,
        };
    let s = settings(
        &[Major, Patch, Minor, Patch],
        &[">=9"],
        DAY,
        vec![
            over("argo-cd", Some(vec![Minor]), None),
            over("loki", Some(vec![Patch]), Some(vec!["<1"])),
            over("argo-cd", Some(vec![Patch]), Some(vec!["=1.2.3"])),
        ],
    );
    let argo = EffectivePolicy::for_chart(&s, "argo-cd").unwrap();
    assert_eq!(argo.update_types, [Patch]);
    assert_eq!(argo.ignore.len(), 1);
    assert_eq!(argo.ignore[0].0, "=1.2.3");
    assert_eq!(argo.min_release_age, DAY);
    let other = EffectivePolicy::for_chart(&s, "grafana").unwrap();
    assert_eq!(other.update_types, [Patch, Minor, Major]);
    assert_eq!(other.ignore[0].0, ">=9");

    let bad = settings(
        &[Patch],
        &[],
        DAY,
        vec![over("x", None, Some(vec!["nope"]))],
    );
    let e = EffectivePolicy::for_chart(&bad, "x").unwrap_err();
    assert_eq!(e.key, "policy.charts[0].ignore[0]");
}

/// The benchmark's ground truth: `latest` is the newest stable version and
/// equals the pin when the pin is newest; `update` is null then.
#[test]
fn matches_the_fixture_ground_truth() {
    let versions = ["v3.1.0", "v3.0.1-rc.1", "v3.0.0", "v2.9.4", "v2.9.3"];
    let rs = releases(&versions.iter().map(|v| (*v, 1)).collect::<Vec<_>>());
    let cases = [
        ("v2.9.3", Some(Major)),
        ("v3.0.0", Some(Minor)),
        ("v3.1.0", None),
    ];
    for (pin, update) in cases {
        let s = select(&Version::parse(pin), &rs, &EffectivePolicy::any(), now());
        assert_eq!(s.latest.unwrap().version, "v3.1.0", "{pin}");
        assert_eq!(s.update, update, "{pin}");
    }
}
