//! The rules of what a pin is, over generated inputs: ranges are never
//! versions (in Argo CD, Chart.yaml and Terraform alike), environments are
//! only the configured ones or their aliases wherever they were read, and
//! generators written to produce nothing give no pins.
//!
//! 128 cases per property by default; `PROPTEST_CASES=5000` for more.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;

use chartpilot::pins::{scan_files, DiscoverOptions, SourceFile};
use proptest::prelude::*;

const DEFAULT_CASES: u32 = 128;

fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(DEFAULT_CASES)
    }
}

/// One version part: a number or a wildcard.
fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..40).prop_map(|n| n.to_string()),
        1 => prop_oneof![Just("x"), Just("X"), Just("*")].prop_map(str::to_owned),
    ]
}

/// A version with one to three parts, maybe with `v`.
fn partial() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(part(), 1..=3))
        .prop_map(|(v, parts)| format!("{}{}", if v { "v" } else { "" }, parts.join(".")))
}

/// A full version with numbers only: what an exact pin looks like.
fn exact() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0u32..30,
        0u32..30,
        0u32..30,
        prop::option::of(prop_oneof![Just("rc.1"), Just("beta"), Just("alpha.2")]),
    )
        .prop_map(|(v, a, b, c, pre)| {
            let pre = pre.map(|p| format!("-{p}")).unwrap_or_default();
            format!("{}{a}.{b}.{c}{pre}", if v { "v" } else { "" })
        })
}

/// One comparator, spaced as people space them.
fn comparator() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just(""),
        Just("="),
        Just("!="),
        Just(">"),
        Just("<"),
        Just(">="),
        Just("<="),
        Just("~"),
        Just("~>"),
        Just("^"),
    ];
    (op, any::<bool>(), partial()).prop_map(|(op, space, v)| {
        let gap = if space && !op.is_empty() { " " } else { "" };
        format!("{op}{gap}{v}")
    })
}

/// A range as Helm, Argo CD and Terraform users write them. Never an exact
/// version: a bare full version is filtered out.
fn range() -> impl Strategy<Value = String> {
    let and = prop::collection::vec(comparator(), 1..=3)
        .prop_flat_map(|terms| {
            prop_oneof![Just(", "), Just(" "), Just(",")].prop_map(move |sep| terms.join(sep))
        })
        .boxed();
    let hyphen = (partial(), partial()).prop_map(|(a, b)| format!("{a} - {b}"));
    let alternatives = prop::collection::vec(and.clone(), 2..=3).prop_map(|a| a.join(" || "));
    prop_oneof![
        4 => and,
        1 => hyphen,
        1 => alternatives,
        1 => Just("latest".to_owned()),
        1 => Just("*".to_owned()),
    ]
    .prop_filter("an exact version is no range", |r| {
        !chartpilot::pins::range::is_exact(r)
    })
}

fn file(path: &str, text: String) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        text,
    }
}

/// A range or a version in each place a pin is written.
fn pinned_files(written: &str) -> Vec<SourceFile> {
    // YAML: single quotes keep `*`, `>` and `|` from meaning anything else.
    let quoted = written.replace('\'', "''");
    vec![
        file(
            "apps/app.yaml",
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app\nspec:\n  source:\n    repoURL: https://charts.example.com\n    chart: app\n    targetRevision: '{quoted}'\n"
            ),
        ),
        file(
            "charts/u/Chart.yaml",
            format!(
                "apiVersion: v2\nname: u\nversion: 0.1.0\ndependencies:\n  - name: dep\n    version: '{quoted}'\n    repository: https://charts.example.com\n"
            ),
        ),
        file(
            "tf/main.tf",
            format!(
                "resource \"helm_release\" \"r\" {{\n  name       = \"r\"\n  repository = \"https://charts.example.com\"\n  chart      = \"c\"\n  version    = \"{written}\"\n}}\n"
            ),
        ),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A range is reported as a constraint, never as a version, with its
    /// span on the text as written, in every kind of file.
    #[test]
    fn ranges_are_constraints_everywhere(written in range()) {
        let files = pinned_files(&written);
        let scan = scan_files(&files, &DiscoverOptions::default());
        prop_assert_eq!(scan.pins.len(), 3, "{:?}", scan.pins);
        for pin in &scan.pins {
            prop_assert_eq!(pin.version.as_deref(), None, "{:?}", pin);
            prop_assert_eq!(pin.constraint.as_deref(), Some(written.as_str()));
            let text = &files.iter().find(|f| f.path == pin.file).unwrap().text;
            let span = pin.span.clone().unwrap();
            prop_assert_eq!(&text[span], written.as_str());
        }
    }

    /// An exact version is a version, never a constraint.
    #[test]
    fn exact_versions_are_versions(written in exact()) {
        let scan = scan_files(&pinned_files(&written), &DiscoverOptions::default());
        prop_assert_eq!(scan.pins.len(), 3);
        for pin in &scan.pins {
            prop_assert_eq!(pin.version.as_deref(), Some(written.as_str()));
            prop_assert_eq!(pin.constraint.as_deref(), None);
        }
    }
}

const ENVS: [&str; 3] = ["dev", "staging", "prod"];
const ALIASES: [(&str, &str); 2] = [("prd", "prod"), ("development", "dev")];
/// Folder names that are no environment: apps, groups, regions.
const OTHERS: [&str; 6] = [
    "gitea",
    "extras",
    "base",
    "eu-west-1",
    "platform",
    "default",
];

fn options() -> DiscoverOptions {
    DiscoverOptions {
        env_aliases: ALIASES
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..DiscoverOptions::default()
    }
}

/// What a name is, for the expectation.
fn known(name: &str) -> Option<&'static str> {
    ENVS.iter()
        .find(|e| **e == name)
        .copied()
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, e)| *e))
}

fn segment() -> impl Strategy<Value = String> {
    let pick =
        |list: &'static [&'static str]| (0..list.len()).prop_map(move |i| list[i].to_owned());
    prop_oneof![
        pick(&ENVS),
        pick(&["prd", "development"]),
        pick(&OTHERS),
        pick(&["apps", "environments", "envs", "overlays", "cluster"]),
    ]
}

/// An Application in a generated folder, with or without an environment
/// label of any value.
fn app_in_folders(folders: &[String], label: Option<&str>) -> SourceFile {
    let labels = label
        .map(|l| format!("  labels:\n    environment: {l}\n"))
        .unwrap_or_default();
    let mut path = folders.join("/");
    path.push_str("/app.yaml");
    file(
        &path,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app\n{labels}spec:\n  source:\n    repoURL: https://charts.example.com\n    chart: app\n    targetRevision: 1.2.3\n"
        ),
    )
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the folders and labels say, `env` is a configured
    /// environment or nothing; a known label wins, aliases map to their
    /// environment, and a folder named after one is found at any depth.
    #[test]
    fn environments_are_only_configured_ones(
        folders in prop::collection::vec(segment(), 1..=5),
        label in prop::option::of(segment()),
    ) {
        let scan = scan_files(&[app_in_folders(&folders, label.as_deref())], &options());
        prop_assert_eq!(scan.pins.len(), 1);
        let env = scan.pins[0].env.as_deref();
        prop_assert!(env.is_none() || env.is_some_and(|e| ENVS.contains(&e)), "{:?}", env);
        let from_label = label.as_deref().and_then(known);
        let from_folder = folders.iter().rev().find_map(|f| known(f));
        if let Some(want) = from_label {
            prop_assert_eq!(env, Some(want));
        } else if from_folder.is_none() {
            prop_assert_eq!(env, None);
        } else {
            prop_assert!(env.is_some(), "{:?} in {:?}", env, folders);
        }
        // An unknown label is said once, never used.
        if let Some(l) = label.as_deref().filter(|l| known(l).is_none()) {
            let told = scan
                .warnings
                .iter()
                .filter(|w| w.message.contains(&format!("`{l}` is not one of policy.environments")))
                .count();
            prop_assert!(told >= 1, "{:?}", scan.warnings);
        }
    }

    /// A list generator gives one pin per element holding a version, and
    /// none at all when its elements are an empty list.
    #[test]
    fn list_generators_give_a_pin_per_element(
        versions in prop::collection::vec(exact(), 0..4),
        flow in any::<bool>(),
    ) {
        let elements = if versions.is_empty() {
            // Both spellings of an empty list, one with a comment beside it.
            if flow { "      elements: []\n".to_owned() } else { "      elements: [ ]  # none yet\n".to_owned() }
        } else {
            let mut e = "      elements:\n".to_owned();
            for (i, v) in versions.iter().enumerate() {
                e.push_str(&format!("        - cluster: c{i}\n          chartVersion: '{v}'\n"));
            }
            e
        };
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: set\nspec:\n  generators:\n  - list:\n{elements}  template:\n    metadata:\n      name: 'app-{{{{cluster}}}}'\n    spec:\n      source:\n        repoURL: https://charts.example.com\n        chart: app\n        targetRevision: '{{{{chartVersion}}}}'\n"
        );
        let scan = scan_files(&[file("sets/set.yaml", text)], &DiscoverOptions::default());
        let mut got: Vec<String> = scan.pins.iter().filter_map(|p| p.version.clone()).collect();
        let mut want = versions.clone();
        got.sort();
        want.sort();
        want.dedup();
        got.dedup();
        prop_assert_eq!(got, want);
        if versions.is_empty() {
            prop_assert!(scan.pins.is_empty(), "{:?}", scan.pins);
        }
    }
}
