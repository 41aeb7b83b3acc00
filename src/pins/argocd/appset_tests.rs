//! ApplicationSet pins: templates resolved through generator parameters.

use super::tests::{rows, scan_text};

const MERGE_APPSET: &str = "---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: addons-cert-manager
spec:
  generators:
    - merge:
        mergeKeys: [server]
        generators:
          - clusters:
              values:
                addonChart: cert-manager
                # anything not staging or prod use this version
                addonChartVersion: v1.14.3
                addonChartRepository: https://charts.jetstack.io
              selector:
                matchExpressions:
                  - key: enable_cert_manager
                    operator: In
                    values: ['true']
          - clusters:
              selector:
                matchLabels:
                  environment: staging
              values:
                addonChartVersion: 'v1.14.2'
          - clusters:
              selector:
                matchExpressions:
                  - {key: environment, operator: In, values: [prod]}
              values:
                addonChartVersion: \"v1.14.1\"
  template:
    metadata:
      name: addon-{{name}}-{{values.addonChart}}
    spec:
      sources:
        - repoURL: '{{metadata.annotations.addons_repo_url}}'
          targetRevision: '{{metadata.annotations.addons_repo_revision}}'
          ref: values
        - chart: '{{values.addonChart}}'
          repoURL: '{{values.addonChartRepository}}'
          targetRevision: '{{values.addonChartVersion}}'
";

#[test]
fn merge_generators_give_one_pin_per_literal() {
    let scan = scan_text(MERGE_APPSET);
    let repo = Some("https://charts.jetstack.io");
    let chart = Some("cert-manager");
    assert_eq!(
        rows(&scan),
        [
            (
                "addons-cert-manager",
                repo,
                chart,
                Some("v1.14.3"),
                None,
                15
            ),
            (
                "addons-cert-manager",
                repo,
                chart,
                Some("v1.14.2"),
                Some("staging"),
                27
            ),
            (
                "addons-cert-manager",
                repo,
                chart,
                Some("v1.14.1"),
                Some("prod"),
                33
            ),
        ]
    );
}

#[test]
fn go_template_syntax_resolves_the_same() {
    let text = MERGE_APPSET
        .replace("{{values.", "{{.values.")
        .replace("{{metadata", "{{ .metadata");
    let go: Vec<_> = scan_text(&text)
        .pins
        .into_iter()
        .map(|p| (p.version, p.env, p.span))
        .collect();
    let plain: Vec<_> = scan_text(MERGE_APPSET)
        .pins
        .into_iter()
        .map(|p| (p.version, p.env, p.span))
        .collect();
    assert_eq!(go, plain);
}

#[test]
fn a_literal_shared_by_several_environments_has_none() {
    // The staging generator overrides a key the source does not read, so
    // its clusters get the base version too.
    let text = MERGE_APPSET.replace("addonChartVersion: 'v1.14.2'", "addonChartReleaseName: cm");
    let scan = scan_text(&text);
    let found: Vec<_> = rows(&scan).into_iter().map(|r| (r.3, r.4, r.5)).collect();
    assert_eq!(
        found,
        [
            (Some("v1.14.3"), None, 15),
            (Some("v1.14.1"), Some("prod"), 33)
        ]
    );
}

#[test]
fn versions_from_cluster_labels_are_unresolved() {
    let text = MERGE_APPSET
        .replace("v1.14.3", "'{{metadata.labels.cm_version}}'")
        .replace("'v1.14.2'", "'{{metadata.labels.cm_version}}'")
        .replace("\"v1.14.1\"", "'{{metadata.labels.cm_version}}'");
    let scan = scan_text(&text);
    assert_eq!(
        rows(&scan),
        [(
            "addons-cert-manager",
            Some("https://charts.jetstack.io"),
            Some("cert-manager"),
            None,
            None,
            44
        )]
    );
    let reason = scan.pins[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("{{metadata.labels.cm_version}}"),
        "{reason}"
    );
}

#[test]
fn list_and_matrix_generators() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: podinfo
spec:
  goTemplate: true
  generators:
    - matrix:
        generators:
          - clusters:
              selector: {matchLabels: {env: dev}}
          - list:
              elements:
                - {component: a, chart: podinfo, version: \"6.3.2\", repoUrl: https://stefanprodan.github.io/podinfo}
                - {component: b, chart: podinfo, version: 6.3.3, repoUrl: ghcr.io/stefanprodan/charts}
    - list:
        elements:
          - component: c
            environment: prod
            chart: other
            version: 1.0.0
            repoUrl: https://charts.example.com
  template:
    metadata:
      name: '{{.component}}'
      labels: {environment: '{{.environment}}'}
    spec:
      source:
        chart: '{{.chart}}'
        repoURL: '{{.repoUrl}}'
        targetRevision: '{{.version}}'
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [
            (
                "podinfo",
                Some("https://stefanprodan.github.io/podinfo"),
                Some("podinfo"),
                Some("6.3.2"),
                Some("dev"),
                14
            ),
            (
                "podinfo",
                Some("ghcr.io/stefanprodan/charts"),
                Some("podinfo"),
                Some("6.3.3"),
                Some("dev"),
                15
            ),
            (
                "podinfo",
                Some("https://charts.example.com"),
                Some("other"),
                Some("1.0.0"),
                Some("prod"),
                21
            ),
        ]
    );
}

#[test]
fn appset_literal_version_with_template_labels() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: podinfo
spec:
  generators:
  - clusters: {}
  template:
    metadata:
      name: '{{name}}-podinfo'
      labels:
        env: qa
    spec:
      source:
        repoURL: https://stefanprodan.github.io/podinfo
        targetRevision: 6.0.0
        chart: podinfo
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [(
            "podinfo",
            Some("https://stefanprodan.github.io/podinfo"),
            Some("podinfo"),
            Some("6.0.0"),
            Some("qa"),
            16
        )]
    );
    let missing = text.replace("      source:", "      destination:");
    let scan = scan_text(&missing);
    assert!(scan.pins.is_empty());
    assert_eq!(scan.warnings.len(), 1);
}

#[test]
fn composite_chart_templates_resolve_from_parameters() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: ack}
spec:
  generators:
    - clusters:
        values: {ns: aws-controllers-k8s, chart: s3-chart, version: '1.0.9', repo: public.ecr.aws}
  template:
    spec:
      source:
        chart: '{{values.ns}}/{{values.chart}}'
        repoURL: '{{values.repo}}'
        targetRevision: 'v{{values.version}}'
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [(
            "ack",
            Some("public.ecr.aws"),
            Some("aws-controllers-k8s/s3-chart"),
            None,
            None,
            13
        )]
    );
    assert!(scan.pins[0].reason.is_some());
}

/// An ApplicationSet named `laughs` whose `spec.generators` is `generators`,
/// after the anchors in `anchors`, and whose version is `{{version}}`.
fn aliased_appset(anchors: &str, generators: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: laughs
x:
{anchors}spec:
  generators: {generators}
  template:
    spec:
      source:
        chart: c
        targetRevision: '{{{{version}}}}'
"
    )
}

/// `n` copies of the alias `*name`, as a flow list's items.
fn copies(name: &str, n: usize) -> String {
    vec![format!("*{name}"); n].join(", ")
}

#[test]
fn generators_named_again_and_again_by_aliases_are_read_within_a_budget() {
    // Each level merges 200 copies of the one below: 200^4 generators to
    // read from under 5 KB: minutes of work before the budget.
    let mut anchors = "  g0: &g0 {list: {elements: [{version: 1.0.0}]}}\n".to_owned();
    for level in 1..4 {
        let below = copies(&format!("g{}", level - 1), 200);
        anchors += &format!("  g{level}: &g{level} {{merge: {{generators: [{below}]}}}}\n");
    }
    let text = aliased_appset(&anchors, &format!("[{}]", copies("g3", 200)));
    assert!(text.len() < 5_000);
    let scan = scan_text(&text);
    let found: Vec<_> = rows(&scan).into_iter().map(|r| (r.3, r.5)).collect();
    assert_eq!(found, [(Some("1.0.0"), 6)]);
}

#[test]
fn parameters_named_again_and_again_by_aliases_are_read_within_a_budget() {
    // Maps of sixteen aliases of the map below, eight deep: 16^8 entries
    // to walk for one list element of a 1.5 KB file.
    let keys = "abcdefghijklmnop";
    let entries = |value: &str| {
        keys.chars()
            .map(|k| format!("{k}: {value}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut anchors = format!("  l0: &l0 {{{}}}\n", entries("v"));
    for level in 1..9 {
        let below = format!("*l{}", level - 1);
        anchors += &format!("  l{level}: &l{level} {{{}}}\n", entries(&below));
    }
    let generators = "\n    - list:\n        elements:\n          - {version: 1.2.3, deep: *l8}";
    let text = aliased_appset(&anchors, generators);
    let scan = scan_text(&text);
    let found: Vec<_> = rows(&scan).into_iter().map(|r| (r.3, r.5)).collect();
    assert_eq!(found, [(Some("1.2.3"), 19)]);
}
