use std::cmp::Ordering;

use proptest::prelude::*;

use super::{update_type, Version};
use crate::settings::UpdateType;

fn v(s: &str) -> Version {
    Version::parse(s)
}

#[test]
fn keeps_the_raw_spelling() {
    for raw in [
        "v1.13.2",
        "1.10",
        "V0.6",
        "4.0.0-beta.4.git.6831.habe06f4d",
        "latest",
        "",
    ] {
        assert_eq!(v(raw).as_str(), raw);
        assert_eq!(v(raw).to_string(), raw);
    }
}

#[test]
fn reads_prefixed_and_short_forms_as_semver() {
    let cases = [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("V1.2.3", "1.2.3"),
        ("1.2", "1.2.0"),
        ("1.10", "1.10.0"),
        ("v0.6", "0.6.0"),
        ("7", "7.0.0"),
        ("v0.6.0-fb64667", "0.6.0-fb64667"),
        ("1.2-rc.1", "1.2.0-rc.1"),
        ("1.2+build.5", "1.2.0+build.5"),
    ];
    for (raw, want) in cases {
        let got = v(raw);
        assert_eq!(
            got.semver().map(ToString::to_string).as_deref(),
            Some(want),
            "{raw}"
        );
    }
}

#[test]
fn other_spellings_are_lenient() {
    for raw in [
        "1.2.3.4",
        "latest",
        "2023-10-01_x",
        "1..2",
        "1.2.3-",
        "v",
        "01.2.3.4",
        "1.2.3+",
    ] {
        assert!(v(raw).semver().is_none(), "{raw}");
    }
}

#[test]
fn orders_by_semver_precedence() {
    let ordered = [
        "0.1.0",
        "0.6.0-fb64667",
        "v0.6",
        "0.10.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2",
        "1.9.0",
        "1.10",
        "v2.0.0",
        "10.1.1",
    ];
    for w in ordered.windows(2) {
        assert_eq!(
            v(w[0]).cmp_precedence(&v(w[1])),
            Ordering::Less,
            "{} < {}",
            w[0],
            w[1]
        );
        assert!(v(w[0]) < v(w[1]));
    }
}

#[test]
fn spelling_and_build_do_not_change_precedence_but_order_is_total() {
    let (a, b, c) = (v("1.2.0"), v("v1.2"), v("1.2.0+build.1"));
    assert_eq!(a.cmp_precedence(&b), Ordering::Equal);
    assert_eq!(a.cmp_precedence(&c), Ordering::Equal);
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_eq!(a, v("1.2.0"));
}

#[test]
fn lenient_versions_compare_by_runs_and_rank_below_semver() {
    assert!(v("1.2.3.4") < v("1.2.3.10"));
    assert!(v("1.2.3.4") < v("1.2.3.4.1"));
    assert!(v("1.2.3.99999999999999999999999") > v("1.2.3.4"));
    assert!(v("latest") < v("0.0.1"));
    assert!(v("1.2.3.4") < v("0.0.1"));
}

#[test]
fn prereleases() {
    let cases = [
        ("1.0.0", false),
        ("1.0.0-rc.1", true),
        ("v0.6.0-fb64667", true),
        ("4.0.0-beta.4.git.6831.habe06f4d", true),
        ("1.0.0+build", false),
        ("1.2.3.4", false),
        ("1.2.3.4-x", true),
    ];
    for (raw, want) in cases {
        assert_eq!(v(raw).is_prerelease(), want, "{raw}");
    }
}

#[test]
fn update_types() {
    use UpdateType::*;
    let cases = [
        ("1.2.3", "1.2.4", Some(Patch)),
        ("1.2.3", "1.3.0", Some(Minor)),
        ("1.2.3", "2.0.0", Some(Major)),
        ("v1.2.3", "v1.2.10", Some(Patch)),
        ("0.3.1", "0.4.0", Some(Minor)),
        ("0.0.1", "0.0.2", Some(Patch)),
        ("0.9.9", "1.0.0", Some(Major)),
        ("1.0.0-rc.1", "1.0.0", Some(Patch)),
        ("1.0.0-rc.1", "1.1.0", Some(Minor)),
        ("v0.6", "0.6.1", Some(Patch)),
        ("1.2.3", "1.2.3", None),
        ("1.2.3", "v1.2.3", None),
        ("1.2.3", "1.2.3+b", None),
        ("1.2.3", "1.2.2", None),
        ("2.0.0", "1.9.9", None),
        ("1.2.3.4", "1.2.3.5", Some(Patch)),
        ("1.2.3.4", "1.3", Some(Minor)),
        ("latest", "1.0.0", Some(Major)),
    ];
    for (from, to, want) in cases {
        assert_eq!(update_type(&v(from), &v(to)), want, "{from} -> {to}");
    }
}

proptest! {
    #[test]
    fn any_string_parses_and_orders_consistently(a in ".{0,24}", b in "[vV0-9.+_a-z-]{0,16}", c in "[0-9.a-z-]{0,12}") {
        let (a, b, c) = (v(&a), v(&b), v(&c));
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
        let _ = update_type(&a, &b);
        let _ = a.is_prerelease();
    }
}
