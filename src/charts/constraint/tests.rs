use super::{is_exact_version, Constraint};

fn v(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap()
}

/// `(range, version, matches)`: Helm's answers (Masterminds semver v3).
const TABLE: &[(&str, &str, bool)] = &[
    // Wildcards and missing parts.
    ("8.x", "8.0.0", true),
    ("8.x", "8.9.1", true),
    ("8.x", "9.0.0", false),
    ("8.x", "7.9.9", false),
    ("8", "8.3.0", true),
    ("8", "9.0.0", false),
    ("2.7.*", "2.7.0", true),
    ("2.7.*", "2.7.14", true),
    ("2.7.*", "2.8.0", false),
    ("2.7", "2.7.3", true),
    ("2.7", "2.6.9", false),
    ("2.7.X", "2.7.3", true),
    ("*", "0.0.1", true),
    ("*", "99.1.0", true),
    ("*", "1.0.0-rc.1", false),
    ("x", "3.0.0", true),
    ("", "3.0.0", true),
    ("latest", "3.0.0", true),
    ("LATEST", "0.1.0", true),
    ("latest", "3.0.0-beta.1", false),
    // Exact and `=`.
    ("1.2.3", "1.2.3", true),
    ("=1.2.3", "1.2.3", true),
    ("= 1.2.3", "1.2.4", false),
    ("v1.2.3", "1.2.3", true),
    ("1.2.3+build.5", "1.2.3", true),
    ("1.2.3-rc.1", "1.2.3-rc.1", true),
    ("1.2.3-rc.1", "1.2.3", false),
    // Comparisons, with and without partial versions.
    (">1.2.3", "1.2.4", true),
    (">1.2.3", "1.2.3", false),
    (">1.2", "1.2.9", false),
    (">1.2", "1.3.0", true),
    (">1", "1.9.0", false),
    (">1", "2.0.0", true),
    (">=1.2", "1.2.0", true),
    (">=1.2", "1.1.9", false),
    ("=>1.2.0", "1.2.0", true),
    ("<1.2", "1.1.9", true),
    ("<1.2", "1.2.0", false),
    ("<1.2.3", "1.2.2", true),
    ("<=1.5", "1.5.9", true),
    ("<=1.5", "1.6.0", false),
    ("<=1.5.0", "1.5.1", false),
    ("=<1.5.0", "1.5.0", true),
    ("!=1.2.3", "1.2.4", true),
    ("!=1.2.3", "1.2.3", false),
    ("!=1.2.x", "1.2.7", false),
    ("!=1.2.x", "1.3.0", true),
    // AND by comma or whitespace.
    (">=1.0.0 <2.0.0", "1.9.9", true),
    (">=1.0.0 <2.0.0", "2.0.0", false),
    (">=1.0.0, <2.0.0", "0.9.0", false),
    (">= 1.0.0 , < 2.0.0", "1.0.0", true),
    (">=1.0.0,<2.0.0", "1.5.0", true),
    (">=1.0.0<2.0.0", "1.5.0", true),
    // Alternatives.
    ("1.x || >=3.0.0", "2.0.0", false),
    ("1.x || >=3.0.0", "1.4.0", true),
    ("1.x || >=3.0.0", "3.1.0", true),
    ("<1.0.0||>2.0.0", "2.0.1", true),
    // Hyphen ranges: a partial upper bound covers the whole partial.
    ("1.2 - 1.5", "1.2.0", true),
    ("1.2 - 1.5", "1.5.7", true),
    ("1.2 - 1.5", "1.6.0", false),
    ("1.2 - 1.5", "1.1.9", false),
    ("1.2.3 - 2.3.4", "2.3.4", true),
    ("1.2.3 - 2.3.4", "2.3.5", false),
    ("1.2.3 - 2", "2.9.0", true),
    ("1.2.3 - 2", "3.0.0", false),
    // Tilde, and `~>` which Helm reads as tilde.
    ("~1.2.3", "1.2.3", true),
    ("~1.2.3", "1.2.9", true),
    ("~1.2.3", "1.3.0", false),
    ("~1.2.3", "1.2.2", false),
    ("~1.4", "1.4.9", true),
    ("~1.4", "1.5.0", false),
    ("~1", "1.9.0", true),
    ("~1", "2.0.0", false),
    ("~1.x", "1.9.0", true),
    ("~> 5.51", "5.51.6", true),
    ("~> 5.51", "5.52.0", false),
    ("~>5.51.2", "5.51.1", false),
    ("~> 3.0", "3.9.0", false),
    ("~0.0.0", "4.0.0", true),
    // Caret.
    ("^1.4.0", "1.4.0", true),
    ("^1.4.0", "1.99.0", true),
    ("^1.4.0", "2.0.0", false),
    ("^1.4.0", "1.3.9", false),
    ("^0.2.3", "0.2.3", true),
    ("^0.2.3", "0.2.9", true),
    ("^0.2.3", "0.3.0", false),
    ("^0.0.3", "0.0.3", true),
    ("^0.0.3", "0.0.4", false),
    ("^0.0", "0.0.9", true),
    ("^0.0", "0.1.0", false),
    ("^0", "0.9.0", true),
    ("^0", "1.0.0", false),
    ("^1.2", "1.9.0", true),
    // `v` prefixes and upper-case V.
    ("^v1.4.0", "1.5.0", true),
    ("V2.x", "2.1.0", true),
    (">= v3.0", "3.0.0", true),
    // Pre-releases match only comparators that name one.
    (">=1.0.0-0", "1.5.0-rc.1", true),
    (">=1.0.0", "1.5.0-rc.1", false),
    ("^2.0.0-rc.1", "2.0.0-rc.2", true),
    ("^2.0.0-rc.1", "2.0.0", true),
    ("^2.0.0-rc.1", "3.0.0-rc.1", false),
    ("~1.2.3-beta.2", "1.2.3-beta.4", true),
    ("~1.2.3-beta.2", "1.2.3-beta.1", false),
    (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", false),
    ("<2.0.0", "2.0.0-rc.1", false),
    ("<=1.5", "1.6.0-rc.1", false),
];

#[test]
fn helm_table() {
    for &(range, version, want) in TABLE {
        let c = Constraint::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(c.matches(&v(version)), want, "{range} ∋ {version}");
    }
}

#[test]
fn bad_ranges_say_why() {
    let cases = [
        ("1.2.3.4", "more than three numbers"),
        ("a.b", "expected numbers"),
        (">>1", "unknown operator `>>`"),
        (">=", "an operator without a version"),
        ("1.0 | 2.0", "a single `|`"),
        ("1.x.3", "a number after a wildcard"),
        ("1.2.3-", "not a version"),
        ("99999999999999999999", "number too large"),
    ];
    for (range, want) in cases {
        let e = Constraint::parse(range).unwrap_err();
        assert!(e.contains(want), "{range}: {e}");
    }
    let long = "1".repeat(super::MAX_CONSTRAINT_LEN + 1);
    assert!(Constraint::parse(&long).is_err());
}

#[test]
fn keeps_the_spelling() {
    let c = Constraint::parse(" ~> 5.51").unwrap();
    assert_eq!(c.as_str(), " ~> 5.51");
    assert_eq!(c.to_string(), " ~> 5.51");
}

#[test]
fn exact_versions_are_full_semver() {
    let cases = [
        ("1.2.3", true),
        ("v1.2.3", true),
        ("1.2.3-rc.1+build.2", true),
        ("V23.9.1", true),
        ("1.2", false),
        ("8.x", false),
        ("^1.2.3", false),
        ("~> 5.51", false),
        (">= 3.0", false),
        ("latest", false),
        ("*", false),
        ("01.2.3", false),
        ("", false),
    ];
    for (text, want) in cases {
        assert_eq!(is_exact_version(text), want, "{text}");
    }
}
