use super::*;
use crate::pins::PinKind;

fn pin(env: Option<&str>, version: &str) -> Pin {
    Pin::sample(PinKind::Argocd, env, "web", version)
}

fn ranged(constraint: &str) -> Pin {
    Pin {
        version: None,
        constraint: Some(constraint.into()),
        ..pin(Some("dev"), "0")
    }
}

fn bump(from: Option<Pin>, to: Pin) -> Change {
    Change {
        head: to,
        base: from,
    }
}

fn problem(said: Option<Said>) -> Option<String> {
    match said {
        Some(Said::Problem(m)) => Some(m),
        _ => None,
    }
}

#[test]
fn ranges_latest_and_missing_versions_are_problems_when_the_pull_request_makes_them() {
    let unresolved = Pin {
        version: None,
        reason: Some("var.v has no default".into()),
        ..pin(Some("dev"), "0")
    };
    let local = Pin {
        local_chart: true,
        ..ranged("1.x")
    };
    let cases: Vec<(Change, Option<&str>)> = vec![
        (
            bump(Some(pin(Some("dev"), "1.0.0")), ranged("1.x")),
            Some("the range `1.x`"),
        ),
        (bump(None, ranged("^2.0.0")), Some("the range `^2.0.0`")),
        (
            bump(Some(pin(Some("dev"), "1.0.0")), ranged("latest")),
            Some("`latest`"),
        ),
        (bump(None, pin(Some("dev"), "latest")), Some("`latest`")),
        (
            bump(None, unresolved.clone()),
            Some("no version (var.v has no default)"),
        ),
        // Exact versions are fine.
        (
            bump(Some(pin(Some("dev"), "1.0.0")), pin(Some("dev"), "1.1.0")),
            None,
        ),
        // A range the base had already is not this pull request's doing.
        (
            bump(
                Some(ranged("1.x")),
                Pin {
                    repository: Some("https://other".into()),
                    ..ranged("1.x")
                },
            ),
            None,
        ),
        // Local charts have no version to pin.
        (bump(None, local), None),
    ];
    for (change, want) in cases {
        let got = problem(ranges(&change, RangePolicy::Leave));
        match want {
            Some(w) => assert!(
                got.as_deref().is_some_and(|g| g.contains(w)),
                "{got:?} lacks {w}"
            ),
            None => assert_eq!(got, None, "{:?}", change.head),
        }
    }
    let leave = problem(ranges(&bump(None, ranged("1.x")), RangePolicy::Leave)).unwrap();
    let pin_it = problem(ranges(&bump(None, ranged("1.x")), RangePolicy::Pin)).unwrap();
    assert!(leave.contains("policy.ranges = \"leave\""), "{leave}");
    assert!(pin_it.contains("policy.ranges = \"pin\""), "{pin_it}");
}

#[test]
fn repositories_match_allowed_globs_in_http_and_oci_forms() {
    let allowed = Allowed::new(&[
        "https://charts.example.com/**".to_owned(),
        "oci://ghcr.io/acme/*".to_owned(),
    ])
    .unwrap();
    let with_repo = |repository: Option<&str>, chart: &str| Pin {
        repository: repository.map(str::to_owned),
        chart: Some(chart.to_owned()),
        ..pin(Some("dev"), "1.0.0")
    };
    let cases = [
        (with_repo(Some("https://charts.example.com"), "web"), true),
        (
            with_repo(Some("https://charts.example.com/stable/"), "web"),
            true,
        ),
        (with_repo(Some("HTTPS://Charts.Example.com/x"), "web"), true),
        (
            with_repo(Some("https://charts.example.com.evil.io"), "web"),
            false,
        ),
        (
            with_repo(Some("https://charts.bitnami.com/bitnami"), "web"),
            false,
        ),
        // Argo CD's scheme-less OCI form and Terraform's full reference.
        (with_repo(Some("ghcr.io/acme"), "web"), true),
        (with_repo(None, "oci://ghcr.io/acme/web"), true),
        (with_repo(Some("oci://ghcr.io/acme/team"), "web"), true),
        (
            with_repo(Some("oci://ghcr.io/acme/team/nested"), "web"),
            false,
        ),
        (with_repo(Some("oci://ghcr.io/other"), "web"), false),
        // A git repository is a repository too.
        (
            with_repo(Some("https://github.com/acme/charts.git"), "web"),
            false,
        ),
    ];
    for (p, ok) in cases {
        let got = allowed_repository(&bump(None, p.clone()), &allowed);
        assert_eq!(
            got.is_none(),
            ok,
            "{:?} {:?}: {got:?}",
            p.repository,
            p.chart
        );
    }
    let everything = Allowed::new(&[]).unwrap();
    assert!(allowed_repository(
        &bump(None, with_repo(Some("https://x.io"), "web")),
        &everything
    )
    .is_none());
    let local = Pin {
        local_chart: true,
        ..with_repo(Some("https://x.io"), "web")
    };
    assert!(allowed_repository(&bump(None, local), &allowed).is_none());
    assert!(Allowed::new(&["https://x/[".to_owned()])
        .unwrap_err()
        .starts_with("policy.allowed_repositories[0]"));
}

#[test]
fn promotion_order_needs_the_earlier_stage_to_have_had_the_version() {
    let earlier = |seen: &[&str]| Earlier {
        stage: "staging".into(),
        seen: seen.iter().map(|s| (*s).to_owned()).collect(),
        current: vec!["1.1.0".into()],
        history: "main".into(),
    };
    let prod = |from: &str, to: &str| bump(Some(pin(Some("prod"), from)), pin(Some("prod"), to));
    let cases = [
        (prod("1.0.0", "1.2.0"), earlier(&["1.1.0"]), true),
        (prod("1.0.0", "1.2.0"), earlier(&["1.1.0", "1.2.0"]), false),
        // The spelling does not matter.
        (prod("1.0.0", "v1.2.0"), earlier(&["1.2.0"]), false),
        // Unchanged version (a repository move): nothing moved.
        (prod("1.2.0", "1.2.0"), earlier(&[]), false),
        // A new pin at a version staging never had.
        (
            bump(None, pin(Some("prod"), "1.2.0")),
            earlier(&["1.1.0"]),
            true,
        ),
    ];
    for (change, e, fails) in cases {
        let got = problem(promotion_order(&change, "prod", &e));
        assert_eq!(got.is_some(), fails, "{change:?} {e:?}: {got:?}");
        if let Some(m) = got {
            assert!(m.starts_with("prod moves to"), "{m}");
            assert!(m.contains("staging neither pins (it pins 1.1.0)"), "{m}");
        }
    }
}

/// The change, the pull request, the target release, and the words the
/// problem must name (None: no problem).
type MajorCase<'a> = (
    &'a Change,
    PullFacts,
    Option<&'a Release>,
    Option<&'a [&'a str]>,
);

#[test]
fn a_major_update_needs_the_label_and_release_notes() {
    let major = bump(Some(pin(Some("dev"), "1.4.0")), pin(Some("dev"), "2.0.0"));
    let minor = bump(Some(pin(Some("dev"), "1.4.0")), pin(Some("dev"), "1.5.0"));
    let facts = |labels: &[&str], body: &str| PullFacts {
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        body: body.to_owned(),
    };
    let noted = Release {
        version: "2.0.0".into(),
        changes: Some("- kind: changed\n  description: x".into()),
        ..Release::default()
    };
    let bare = Release {
        version: "2.0.0".into(),
        ..Release::default()
    };
    let cases: Vec<MajorCase<'_>> = vec![
        (
            &major,
            facts(&[], ""),
            Some(&bare),
            Some(&["label", "release notes"]),
        ),
        (
            &major,
            facts(&["Major-Update"], ""),
            Some(&bare),
            Some(&["release notes"]),
        ),
        (
            &major,
            facts(&["major-update"], "See the CHANGELOG"),
            None,
            None,
        ),
        (&major, facts(&["major-update"], ""), Some(&noted), None),
        (
            &major,
            facts(&[], "Release notes: https://x/releases/2.0.0"),
            None,
            Some(&["label"]),
        ),
        (&minor, facts(&[], ""), Some(&bare), None),
    ];
    for (change, f, target, want) in cases {
        let got = problem(major_update(change, &f, "major-update", target));
        match want {
            None => assert_eq!(got, None, "{f:?}"),
            Some(words) => {
                let m = got.unwrap_or_default();
                assert!(m.starts_with("major update 1.4.0 → 2.0.0 without"), "{m}");
                for w in words {
                    assert!(m.contains(w), "{m} lacks {w}");
                }
                if words.len() == 1 && words[0] == "label" {
                    assert!(!m.contains("release notes"), "{m}");
                }
            }
        }
    }
}

/// What a lookup found.
type Looked = Option<Result<Vec<Release>, String>>;

#[test]
fn deprecated_and_unpublished_targets_are_problems_and_failed_lookups_notes() {
    let change = bump(Some(pin(Some("dev"), "1.0.0")), pin(Some("dev"), "1.1.0"));
    let release = |v: &str, deprecated: bool| Release {
        version: v.into(),
        deprecated,
        ..Release::default()
    };
    let cases: Vec<(Looked, Option<Said>)> = vec![
        (Some(Ok(vec![release("1.1.0", false)])), None),
        (
            Some(Ok(vec![release("v1.1.0", true)])),
            Some(Said::Problem(
                "1.1.0 is marked deprecated by its repository".into(),
            )),
        ),
        (
            Some(Ok(vec![release("1.0.0", false)])),
            Some(Said::Problem(
                "1.1.0 is not published in its repository".into(),
            )),
        ),
        (
            Some(Err("index unreachable".into())),
            Some(Said::Note(
                "could not look up 1.1.0: index unreachable".into(),
            )),
        ),
        (None, None),
    ];
    for (releases, want) in cases {
        assert_eq!(deprecated(&change, releases.as_ref()), want, "{releases:?}");
    }
}

#[test]
fn provenance_fails_on_bad_notes_unsigned_and_says_nothing_without_a_verifier() {
    let change = bump(Some(pin(Some("dev"), "1.0.0")), pin(Some("dev"), "1.1.0"));
    let cases = [
        (None, None),
        (
            Some(ProvenanceVerdict::Verified { signer: "a".into() }),
            None,
        ),
        (
            Some(ProvenanceVerdict::Unsigned),
            Some(Said::Note(
                "1.1.0 is unsigned: its repository publishes no provenance file".into(),
            )),
        ),
        (
            Some(ProvenanceVerdict::Bad("digest mismatch".into())),
            Some(Said::Problem(
                "1.1.0 fails provenance verification: digest mismatch".into(),
            )),
        ),
    ];
    for (verdict, want) in cases {
        assert_eq!(provenance(&change, verdict.as_ref()), want, "{verdict:?}");
    }
}

#[test]
fn levels_weigh_problems_and_notes_stay_notices() {
    let p = pin(Some("dev"), "1.0.0");
    let mut settings = CheckSettings::default();
    let cases = [
        (
            RuleLevel::Error,
            Said::Problem("x".into()),
            Some(AnnotationLevel::Failure),
        ),
        (
            RuleLevel::Warning,
            Said::Problem("x".into()),
            Some(AnnotationLevel::Warning),
        ),
        (RuleLevel::Off, Said::Problem("x".into()), None),
        (
            RuleLevel::Error,
            Said::Note("x".into()),
            Some(AnnotationLevel::Notice),
        ),
        (RuleLevel::Off, Said::Note("x".into()), None),
    ];
    for (level, said, want) in cases {
        settings.deprecated = level;
        let got = Finding::new(Rule::Deprecated, &settings, &p, said.clone());
        assert_eq!(got.as_ref().map(|f| f.level), want, "{level:?} {said:?}");
        if let Some(f) = got {
            assert_eq!((f.file.as_str(), f.line), ("apps/dev/web.yaml", 1));
        }
    }
}

#[test]
fn the_conclusion_is_the_worst_level_and_notes_do_not_count() {
    use crate::git::check::Conclusion;
    let at = |level| Finding {
        rule: Rule::Ranges,
        level,
        file: "f".into(),
        line: 1,
        message: "m".into(),
    };
    let cases = [
        (vec![], Conclusion::Success),
        (vec![at(AnnotationLevel::Notice)], Conclusion::Success),
        (
            vec![at(AnnotationLevel::Notice), at(AnnotationLevel::Warning)],
            Conclusion::Neutral,
        ),
        (
            vec![at(AnnotationLevel::Warning), at(AnnotationLevel::Failure)],
            Conclusion::Failure,
        ),
    ];
    for (findings, want) in cases {
        assert_eq!(
            super::super::report::conclusion(&findings),
            want,
            "{findings:?}"
        );
    }
}

#[test]
fn values_names_broken_overrides_and_notes_an_analysis_that_could_not_run() {
    use crate::impact::{keypath::KeyPath, overrides::Origin, Impact, Removed};
    let change = bump(Some(pin(Some("dev"), "1.0.0")), pin(Some("dev"), "2.0.0"));
    let removed = |key: &str, renamed: Option<&str>, line| Removed {
        path: KeyPath::keys(key.split('.')),
        file: "environments/dev/web.yaml".into(),
        line,
        origin: Origin::Values,
        renamed_to: renamed.map(|r| KeyPath::keys(r.split('.'))),
    };
    let broken = Impact {
        removed: vec![
            removed("metrics.enabled", Some("monitoring.enabled"), 14),
            removed("legacy", None, 15),
        ],
        ..Impact::default()
    };
    assert_eq!(
        problem(values(&change, Some(&Ok(broken)))).as_deref(),
        Some(
            "2.0.0 breaks 2 of this release's overrides: `metrics.enabled` at environments/dev/web.yaml:14 (now `monitoring.enabled`); `legacy` at environments/dev/web.yaml:15 (gone)"
        )
    );
    let many = Impact {
        removed: (1..=8)
            .map(|i| removed(&format!("k{i}"), None, i))
            .collect(),
        ..Impact::default()
    };
    let said = problem(values(&change, Some(&Ok(many)))).unwrap();
    assert!(said.starts_with("2.0.0 breaks 8 of"), "{said}");
    assert!(said.ends_with("; and 3 more"), "{said}");
    assert_eq!(values(&change, Some(&Ok(Impact::default()))), None);
    assert!(matches!(
        values(&change, Some(&Err("no archive".into()))),
        Some(Said::Note(m)) if m.contains("not analysed: no archive")
    ));
    // Nothing to say without a new version or without an analysis.
    let same = bump(Some(pin(Some("dev"), "1.0.0")), pin(Some("dev"), "1.0.0"));
    assert_eq!(values(&same, Some(&Ok(Impact::default()))), None);
    assert_eq!(values(&change, None), None);
}
