use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::{select, EffectivePolicy, Reason};
use crate::charts::version::Version;
use crate::charts::Release;
use crate::settings::{ChartPolicy, MajorSteps, PolicySettings, UpdateType};

use UpdateType::{Major, Minor, Patch};

mod major_steps;

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
        ranges: crate::settings::RangePolicy::Leave,
        major_steps: MajorSteps::Newest,
        allowed_repositories: Vec::new(),
        tier1_order: Vec::new(),
        kube_version: String::new(),
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
        // Nothing old enough above the pin: the pin stays `latest`.
        ("1.3.8", &all, &[], 100, Some("1.3.8"), None, Some("2.1.0")),
        ("1.4.2-rc.1", &all, &[], 0, Some("2.1.0"), Some(Major), None),
        (
            "1.4.9",
            &[Patch],
            &[],
            0,
            // Not lowered to 1.4.3, the newest patch release the index has.
            Some("1.4.9"),
            None,
            Some("2.1.0"),
        ),
        ("v1.3.8", &all, &[], 0, Some("2.1.0"), Some(Major), None),
        ("3.0.0", &all, &[], 0, Some("3.0.0"), None, None),
    ];
    for &(pin, types, ignore, age, latest, update, held) in cases {
        let rs = releases(STD);
        let p = policy(types, ignore, DAY * age as u32);
        let s = select(&Version::parse(pin), &rs, &p, now());
        let ctx = format!("{pin} {types:?} {ignore:?} {age}d");
        assert_eq!(Some(s.latest(pin)).as_deref(), latest, "{ctx}");
        assert_eq!(s.newer.is_some(), s.update.is_some(), "{ctx}");
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
    assert_eq!(s.latest("-"), "2.0.0-rc.2");
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
    assert_eq!(s.latest("-"), "1.1.0");
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
    assert_eq!(s.latest("-"), "1.1.0");
    let s = select(&pin, &rs, &policy(&[Major, Minor], &[], DAY), now());
    assert_eq!(s.newer, None);
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
    assert_eq!(s.latest("-"), "v1.2.0");
    let s = select(
        &Version::parse("1.2.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!((s.latest("-").as_str(), s.update), ("v1.2.0", None));
}

#[test]
fn ignored_release_range_covers_its_prereleases() {
    let rs = releases(&[("2.0.0-rc.1", 1), ("1.9.0", 2)]);
    let p = policy(&[Major, Minor, Patch], &["=2.0.0"], Duration::ZERO);
    let s = select(&Version::parse("1.9.0-rc.1"), &rs, &p, now());
    assert_eq!(s.latest("-"), "1.9.0");
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
        assert_eq!(s.latest("-"), "v3.1.0", "{pin}");
        assert_eq!(s.update, update, "{pin}");
    }
}

#[test]
fn a_deprecated_or_missing_pin_is_never_lowered_and_is_named() {
    let mut rs = releases(&[("1.3.0", 1), ("1.2.3", 2), ("1.2.0", 3)]);
    rs[1].deprecated = true;
    let s = select(
        &Version::parse("1.2.3"),
        &rs,
        &policy(&[Patch], &[], Duration::ZERO),
        now(),
    );
    assert_eq!((s.newer, s.update), (None, None));
    assert_eq!(s.latest("1.2.3"), "1.2.3");
    assert!(s.pinned.is_deprecated());
    assert_eq!(
        s.pinned.note("1.2.3").as_deref(),
        Some("1.2.3 is deprecated in the index")
    );

    let s = select(
        &Version::parse("1.2.5"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.latest("1.2.5"), "1.3.0");
    assert_eq!(
        s.pinned.note("1.2.5").as_deref(),
        Some("1.2.5 is not in the index")
    );
    let s = select(
        &Version::parse("1.4.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!((s.latest("1.4.0"), s.newer), ("1.4.0".to_owned(), None));
    assert_eq!(s.pinned, super::Pinned::Missing);

    let s = select(
        &Version::parse("1.3.0"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.pinned.note("1.3.0"), None);
    assert!(!s.pinned.is_deprecated());
}

#[test]
fn ranges_take_the_newest_allowed_release_inside_them() {
    use super::select_range;
    use crate::charts::constraint::Constraint;
    let mut rs = releases(&[
        ("9.0.0", 1),
        ("8.3.0-rc.1", 1),
        ("8.2.1", 2),
        ("8.2.0", 20),
        ("8.1.0", 30),
    ]);
    let any = EffectivePolicy::any();
    // (range, policy, latest, held back)
    let patch_only = policy(&[Patch], &[], Duration::ZERO);
    let aged = policy(&[Major], &[], DAY * 10);
    let ignoring = policy(&[Major], &["=8.2.1"], Duration::ZERO);
    let cases: &[(&str, &EffectivePolicy, Option<&str>, Option<&str>)] = &[
        ("8.x", &any, Some("8.2.1"), None),
        ("^8.1.0", &any, Some("8.2.1"), None),
        ("~8.1", &any, Some("8.1.0"), None),
        ("*", &any, Some("9.0.0"), None),
        ("latest", &any, Some("9.0.0"), None),
        (">=8.3.0-0 <9", &any, None, None),
        (">=8.3.0-0", &any, Some("9.0.0"), None),
        ("10.x", &any, None, None),
        // Update types do not apply: a range has nothing to move from.
        ("8.x", &patch_only, Some("8.2.1"), None),
        ("8.x", &aged, Some("8.2.0"), Some("8.2.1")),
        ("8.x", &ignoring, Some("8.2.0"), Some("8.2.1")),
    ];
    for &(range, p, latest, held) in cases {
        let c = Constraint::parse(range).unwrap();
        let s = select_range(&c, &rs, p, now());
        assert_eq!(s.latest.map(|r| r.version.as_str()), latest, "{range}");
        assert_eq!(
            s.held_back.map(|h| h.release.version.as_str()),
            held,
            "{range}"
        );
    }
    rs[2].deprecated = true;
    let c = Constraint::parse("~8.2").unwrap();
    let s = select_range(&c, &rs, &any, now());
    assert_eq!(s.latest.unwrap().version, "8.2.0");
    assert_eq!(s.held_back.unwrap().reason, Reason::Deprecated);
}
