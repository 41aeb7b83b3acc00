//! Application pins; the helpers are shared with the ApplicationSet tests.

use super::*;

pub(super) fn scan_text(text: &str) -> Scan {
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

pub(super) type Row<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    usize,
);

/// (name, repository, chart, version, env, line) of each pin.
pub(super) fn rows(scan: &Scan) -> Vec<Row<'_>> {
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
