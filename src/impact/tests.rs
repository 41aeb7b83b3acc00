#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};

use super::*;
use crate::charts::archive::ChartMeta;

fn chart(version: &str, values: &str, schema: Option<&str>) -> ChartFiles {
    ChartFiles {
        chart_yaml: ChartMeta {
            name: "web".into(),
            version: version.into(),
            kube_version: None,
            api_version: Some("v2".into()),
        },
        values_yaml: Some(values.into()),
        values_schema: schema.map(str::to_owned),
        ..ChartFiles::default()
    }
}

fn o(path: &str, value: Value, line: usize) -> Override {
    Override {
        path: KeyPath::parse_set(path).unwrap(),
        value: Some(value),
        file: "values/dev.yaml".into(),
        line,
        origin: Origin::ValuesFile,
        unresolved: None,
    }
}

fn policy() -> PolicySettings {
    crate::settings::Settings::load(None, &Default::default())
        .unwrap()
        .policy
}

const CURRENT: &str = "image:\n  repository: registry.example.com/web\n  tag: \"\"\nmetrics:\n  enabled: false\n  port: 9102\npodAnnotations: {}\nreplicas: 1\nlegacy:\n  mode: fast\n";
const TARGET: &str = "image:\n  repository: registry.example.com/web\n  tag: \"\"\nmonitoring:\n  enabled: false\n  port: 9102\npodAnnotations: {}\nreplicas: 1\n";

#[test]
fn each_override_path_is_kept_removed_renamed_or_unknown() {
    let overrides = [
        o("metrics.enabled", json!(true), 2),
        o("legacy.mode", json!("slow"), 3),
        o("podAnnotations.prometheus\\.io/scrape", json!("true"), 4),
        o("image.tag", json!("2.0"), 5),
        o("extraEnv", json!([]), 6),
    ];
    let impact = analyse(
        &chart("1.0.0", CURRENT, None),
        &chart("2.0.0", TARGET, None),
        &overrides,
        &policy(),
    );
    let removed: Vec<(String, usize, Option<String>)> = impact
        .removed
        .iter()
        .map(|r| {
            (
                r.path.to_string(),
                r.line,
                r.renamed_to.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        removed,
        vec![
            (
                "metrics.enabled".into(),
                2,
                Some("monitoring.enabled".into())
            ),
            ("legacy.mode".into(), 3, None),
        ]
    );
    let unknown: Vec<String> = impact.unknown.iter().map(|u| u.path.to_string()).collect();
    assert_eq!(unknown, ["extraEnv"]);
    assert!(impact.breaks_overrides());
    assert_eq!(impact.overrides, 5);
    let md = render::markdown(&impact, 60_000);
    assert!(
        md.contains("- `metrics.enabled` at `values/dev.yaml:2`, renamed to `monitoring.enabled`"),
        "{md}"
    );
    assert!(
        md.contains("2 of this repository's overrides need a change"),
        "{md}"
    );
}

#[test]
fn an_upgrade_without_impact_says_so_in_one_line() {
    let impact = analyse(
        &chart("1.0.0", TARGET, None),
        &chart("1.0.1", TARGET, None),
        &[o("replicas", json!(3), 1)],
        &policy(),
    );
    assert!(!impact.breaks_overrides());
    assert_eq!(
        render::markdown(&impact, 60_000),
        format!("{}\n\n{}\n", render::HEADING, render::NO_IMPACT)
    );
}

#[test]
fn schema_violations_point_at_overrides_and_only_those_break() {
    let schema = r#"{"type": "object", "properties": {"replicas": {"type": "integer"},
        "image": {"type": "object", "properties": {"tag": {"type": "string", "minLength": 1}}}}}"#;
    let impact = analyse(
        &chart("1.0.0", TARGET, None),
        &chart("2.0.0", TARGET, Some(schema)),
        &[o("replicas", json!("three"), 7)],
        &policy(),
    );
    let located: Vec<(String, Option<usize>)> = impact
        .violations
        .iter()
        .map(|v| (v.path.clone(), v.line))
        .collect();
    // The chart's own `tag: ""` fails its schema too: reported, not the
    // repository's to fix.
    assert_eq!(
        located,
        vec![("image.tag".into(), None), ("replicas".into(), Some(7))]
    );
    assert!(impact.breaks_overrides());
    let clean = analyse(
        &chart("1.0.0", TARGET, None),
        &chart("2.0.0", TARGET, Some(schema)),
        &[o("replicas", json!(3), 7), o("image.tag", json!("2.0"), 8)],
        &policy(),
    );
    assert!(clean.violations.is_empty(), "{:?}", clean.violations);
    assert!(!clean.breaks_overrides());
}

#[test]
fn kube_version_and_crds_show_without_breaking_overrides() {
    let mut target = chart("2.0.0", TARGET, None);
    target.chart_yaml.kube_version = Some(">=1.30.0-0".into());
    target.crds = vec![(
        "crds/x.yaml".into(),
        "kind: CustomResourceDefinition\nmetadata:\n  name: xs.example.com\n".into(),
    )];
    let mut p = policy();
    p.kube_version = "1.29.4".into();
    let impact = analyse(&chart("1.0.0", TARGET, None), &target, &[], &p);
    assert!(!impact.breaks_overrides());
    assert_eq!(
        impact.crds.added,
        ["CustomResourceDefinition/xs.example.com"]
    );
    let md = render::markdown(&impact, 60_000);
    assert!(md.contains(render::NO_IMPACT), "{md}");
    assert!(
        md.contains(
            "**kubeVersion** `>=1.30.0-0` of the new version excludes the cluster's `1.29.4`"
        ),
        "{md}"
    );
    assert!(
        md.contains("- added `CustomResourceDefinition/xs.example.com`"),
        "{md}"
    );
}

#[test]
fn long_lists_are_cut_and_counted_to_fit() {
    let current: String = (0..400).map(|i| format!("key{i}: value-{i}\n")).collect();
    let overrides: Vec<Override> = (0..400)
        .map(|i| o(&format!("key{i}"), json!(i), i + 1))
        .collect();
    let impact = analyse(
        &chart("1.0.0", &current, None),
        &chart("2.0.0", "other: 1\n", None),
        &overrides,
        &policy(),
    );
    assert_eq!(impact.removed.len(), 400);
    let whole = render::markdown(&impact, 1_000_000);
    assert!(!whole.contains("more\n"));
    assert!(whole.chars().count() > 15_000);
    for max in [2_000, 8_000, 15_000] {
        let md = render::markdown(&impact, max);
        assert!(md.chars().count() <= max, "{max}: {}", md.chars().count());
        assert!(md.contains("more\n"), "{max}: {md}");
        assert!(md.contains("`key0` at `values/dev.yaml:1`"), "{max}");
    }
}

/// Keys and values from a chart become code spans or escaped text: no
/// HTML, and mentions or issue references only inside code.
#[test]
fn untrusted_keys_and_values_stay_text() {
    use pulldown_cmark::{Event, Parser};
    let current = "\"<img src=x>\": 1\n\"@team #1\": \"`x` | y\"\n";
    let mut impact = analyse(
        &chart("1.0.0", current, None),
        &chart("2.0.0", "{}\n", None),
        &[o("<img src=x>", json!(2), 1)],
        &policy(),
    );
    impact
        .notes
        .push("<script>alert(1)</script> @admin #5".into());
    let md = render::markdown(&impact, 60_000);
    assert!(md.contains("`<img src=x>` at `values/dev.yaml:1`"), "{md}");
    for event in Parser::new(&md) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => {
                assert!(
                    h.starts_with("<details>")
                        || h.starts_with("</summary>")
                        || h.starts_with("</details>")
                        || h.starts_with("<summary>"),
                    "{h}"
                )
            }
            Event::Text(t) => {
                assert!(!t.contains("@admin") && !t.contains("@team"), "{t}");
                assert!(!t.contains("<script>"), "{t}");
            }
            _ => {}
        }
    }
}
