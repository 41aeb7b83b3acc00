use super::*;

fn scan_text(text: &str) -> Scan {
    let scan = scan(&SourceFile {
        path: "apps/app.yaml".into(),
        text: text.into(),
    });
    for pin in &scan.pins {
        assert_eq!(pin.kind, PinKind::Argocd);
        match (&pin.span, &pin.version) {
            (Some(span), Some(version)) => assert_eq!(&text[span.clone()], version),
            (None, None) => assert!(pin.reason.is_some(), "{pin:?}"),
            other => panic!("span/version mismatch: {other:?}"),
        }
    }
    scan
}

type Row<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    usize,
);

/// (name, repository, chart, version, env, line) of each pin.
fn rows(scan: &Scan) -> Vec<Row<'_>> {
    scan.pins
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.repository.as_deref(),
                p.chart.as_deref(),
                p.version.as_deref(),
                p.env.as_deref(),
                p.line,
            )
        })
        .collect()
}

const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
  labels:
    environment: staging
spec:
  source:
    repoURL: https://stefanprodan.github.io/podinfo
    chart: podinfo
    targetRevision: 6.0.0 # pinned: see #123
";

#[test]
fn application_with_a_chart_source() {
    let scan = scan_text(APP);
    let row = (
        "podinfo",
        Some("https://stefanprodan.github.io/podinfo"),
        Some("podinfo"),
        Some("6.0.0"),
        Some("staging"),
        11,
    );
    assert_eq!(rows(&scan), [row]);
    assert!(scan.warnings.is_empty());
}

#[test]
fn quoting_styles_and_env_label() {
    for (written, version) in [
        ("'1.2.3'", "1.2.3"),
        ("\"v1.2.3\"", "v1.2.3"),
        ("1.2.3", "1.2.3"),
    ] {
        let text = APP
            .replace("6.0.0 # pinned: see #123", written)
            .replace("environment: staging", "env: prod");
        let scan = scan_text(&text);
        assert_eq!(scan.pins[0].version.as_deref(), Some(version));
        assert_eq!(scan.pins[0].env.as_deref(), Some("prod"));
    }
    let no_labels = APP.replace("  labels:\n    environment: staging\n", "");
    assert_eq!(scan_text(&no_labels).pins[0].env, None);
}

#[test]
fn crlf_and_non_ascii_before_the_version() {
    let text = APP
        .replace("name: podinfo", "name: \"pödïnfo – ✓\"")
        .replace('\n', "\r\n");
    let scan = scan_text(&text);
    assert_eq!(scan.pins[0].name, "pödïnfo – ✓");
    assert_eq!(scan.pins[0].version.as_deref(), Some("6.0.0"));
    assert_eq!(scan.pins[0].line, 11);
}

#[test]
fn git_sources_and_ref_sources_are_not_pins() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: mixed}
spec:
  sources:
    - repoURL: https://github.com/org/values.git
      targetRevision: main
      ref: values
    - repoURL: https://github.com/org/manifests.git
      path: apps/guestbook
      targetRevision: HEAD
    - {repoURL: public.ecr.aws/karpenter, chart: karpenter, targetRevision: 'v0.34.1'}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: git-only}
spec:
  source: {repoURL: https://github.com/org/x.git, path: ., targetRevision: HEAD}
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [(
            "mixed",
            Some("public.ecr.aws/karpenter"),
            Some("karpenter"),
            Some("v0.34.1"),
            None,
            12
        )]
    );
}

#[test]
fn sources_take_precedence_over_source() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: both}
spec:
  source: {repoURL: https://a.io, chart: ignored, targetRevision: 1.0.0}
  sources:
    - {repoURL: https://b.io, chart: used, targetRevision: 2.0.0}
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [(
            "both",
            Some("https://b.io"),
            Some("used"),
            Some("2.0.0"),
            None,
            7
        )]
    );
}

#[test]
fn helm_templated_values_are_unresolved_not_guessed() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: templated
spec:
  source:
    chart: {{ .Values.chart }}
    repoURL: {{ .Values.repoUrl}}
    targetRevision: {{ .Values.targetRevision }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: version-only
spec:
  source:
    chart: nginx
    repoURL: https://charts.example.com
    targetRevision: '{{ .Values.nginxVersion }}'
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [
            ("templated", None, None, None, None, 9),
            (
                "version-only",
                Some("https://charts.example.com"),
                Some("nginx"),
                None,
                None,
                19
            ),
        ]
    );
    let reasons: Vec<&str> = scan
        .pins
        .iter()
        .filter_map(|p| p.reason.as_deref())
        .collect();
    assert!(
        reasons[0].contains("chart `{{ .Values.chart }}`"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("{{ .Values.nginxVersion }}"),
        "{reasons:?}"
    );
}

#[test]
fn malformed_and_templated_documents_are_skipped_with_warnings() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source: null
---
{{- if .Values.enabled }}
apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source: {chart: hidden, repoURL: https://x.io, targetRevision: 1.0.0}
{{- end }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  sources: []
---
apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source: {chart: after, repoURL: https://x.io}
---
apiVersion: v1
kind: ConfigMap
data: {chart: not-argo, targetRevision: 1.0.0}
";
    let scan = scan_text(text);
    assert_eq!(
        rows(&scan),
        [("", Some("https://x.io"), Some("after"), None, None, 21)]
    );
    assert_eq!(
        scan.pins[0].reason.as_deref(),
        Some("source has a chart but no targetRevision")
    );
    let warnings: Vec<Option<usize>> = scan.warnings.iter().map(|w| w.line).collect();
    assert_eq!(warnings, [Some(6), Some(1), Some(13)]);
    assert!(scan.warnings[0].message.contains("template"));
}

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
