//! Helm chart dependencies: `dependencies:` of a `Chart.yaml` (apiVersion
//! v2, and v1 charts that Helm 3 reads the same way) or of a Helm 2
//! `requirements.yaml`.

use super::yaml::{self, Node};
use super::{Pin, PinKind, Scan, SourceFile, Warning};

/// Scans one `Chart.yaml` or `requirements.yaml`.
pub fn scan(file: &SourceFile) -> Scan {
    let parsed = yaml::parse(file);
    let mut scan = Scan {
        pins: Vec::new(),
        warnings: parsed.warnings,
    };
    for doc in &parsed.documents {
        let Some(dependencies) = doc.root.get("dependencies") else {
            continue;
        };
        for dep in dependencies.items() {
            match dependency(file, dep) {
                Ok(Some(pin)) => scan.pins.push(pin),
                Ok(None) => {}
                Err(message) => scan.warnings.push(Warning {
                    file: file.path.clone(),
                    line: Some(dep.line()),
                    message: message.to_owned(),
                }),
            }
        }
    }
    scan
}

/// The pin of one `dependencies[]` entry. A chart on disk (`file://`) is
/// one too, for the audit; the walk marks it local, and nothing looks it
/// up or upgrades it.
fn dependency(file: &SourceFile, dep: &Node) -> Result<Option<Pin>, &'static str> {
    if !dep.is_mapping() {
        return Err("dependency is not a mapping; skipped");
    }
    let name = dep
        .get("name")
        .and_then(Node::as_str)
        .ok_or("dependency without a name; skipped")?;
    let repository = dep
        .get("repository")
        .and_then(Node::as_str)
        .filter(|r| !r.trim().is_empty());
    // The parent chart knows the dependency by its alias: that is the name
    // its values and releases carry.
    let called = dep
        .get("alias")
        .and_then(Node::as_str)
        .filter(|a| !a.trim().is_empty())
        .unwrap_or(name);
    let mut pin = Pin {
        file: file.path.clone(),
        line: dep.line(),
        kind: PinKind::ChartDependency,
        name: called.to_owned(),
        env: None,
        repository: repository.map(str::to_owned),
        chart: Some(name.to_owned()),
        version: None,
        span: None,
        reason: None,
        constraint: None,
        local_chart: false,
        address: None,
    };
    let version = dep
        .get("version")
        .and_then(Node::as_scalar)
        .filter(|v| !v.is_null());
    match version {
        None => pin.reason = Some("dependency has no version".to_owned()),
        Some(v) if v.value.contains("{{") => {
            pin.line = v.line;
            pin.reason = Some(format!("version is the template `{}`", v.value));
        }
        Some(v) => {
            pin.line = v.line;
            pin.version = Some(v.value.clone());
            pin.span = v.exact_span();
        }
    }
    Ok(Some(pin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(path: &str, text: &str) -> Scan {
        let scan = scan(&SourceFile {
            path: path.into(),
            text: text.into(),
        });
        for pin in &scan.pins {
            if let (Some(span), Some(version)) = (&pin.span, &pin.version) {
                assert_eq!(&text[span.clone()], version);
            }
        }
        scan
    }

    /// (name, repository, version, line) of each pin.
    fn summary(scan: &Scan) -> Vec<(&str, Option<&str>, Option<&str>, usize)> {
        scan.pins
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.repository.as_deref(),
                    p.version.as_deref(),
                    p.line,
                )
            })
            .collect()
    }

    #[test]
    fn chart_v2_dependencies_in_every_quoting_style() {
        let text = "apiVersion: v2\nname: umbrella\nversion: 0.1.0 # the chart's own, not a pin\ndependencies:\n  - name: bare\n    version: 1.2.3\n    repository: https://charts.example.com\n  - name: single\n    version: '1.2.4'\n    repository: oci://registry.example.com/charts\n  - name: double\n    # comment above: version: 9.9.9\n    version: \"v1.2.5\" # next to it: 8.8.8\n    repository: \"https://charts.example.com\"\n";
        let scan = scan_text("Chart.yaml", text);
        assert_eq!(
            summary(&scan),
            [
                ("bare", Some("https://charts.example.com"), Some("1.2.3"), 6),
                (
                    "single",
                    Some("oci://registry.example.com/charts"),
                    Some("1.2.4"),
                    9
                ),
                (
                    "double",
                    Some("https://charts.example.com"),
                    Some("v1.2.5"),
                    13
                ),
            ]
        );
        let pin = &scan.pins[0];
        assert_eq!(
            (pin.kind, pin.chart.as_deref(), pin.env.as_deref()),
            (PinKind::ChartDependency, Some("bare"), None)
        );
        assert!(scan.warnings.is_empty());
    }

    #[test]
    fn local_charts_are_listed_and_aliases_name_the_dependency() {
        let text = "dependencies:\n- name: local\n  version: 1.0.0\n  repository: file://../local\n- name: vendored\n  version: v1.7.1\n- name: alias-style\n  alias: other\n  version: ~2.0.0\n  repository: '@stable'\n";
        let scan = scan_text("requirements.yaml", text);
        assert_eq!(
            summary(&scan),
            [
                ("local", Some("file://../local"), Some("1.0.0"), 3),
                ("vendored", None, Some("v1.7.1"), 6),
                ("other", Some("@stable"), Some("~2.0.0"), 9)
            ]
        );
        let charts: Vec<_> = scan.pins.iter().map(|p| p.chart.as_deref()).collect();
        assert_eq!(
            charts,
            [Some("local"), Some("vendored"), Some("alias-style")]
        );
    }

    #[test]
    fn flow_style_crlf_and_non_ascii() {
        let text = "description: \"Ünïcödé ✓ chart\"\r\ndependencies: [{name: a, version: \"1.0.0\", repository: https://x.io}, {name: b, version: 2.0.0}]\r\n";
        let scan = scan_text("Chart.yaml", text);
        assert_eq!(
            summary(&scan),
            [
                ("a", Some("https://x.io"), Some("1.0.0"), 2),
                ("b", None, Some("2.0.0"), 2)
            ]
        );
    }

    #[test]
    fn odd_entries_are_warnings_or_unresolved_pins() {
        let text = "dependencies:\n  - just-a-string\n  - version: 1.0.0\n  - name: noversion\n    repository: https://x.io\n  - name: templated\n    version: \"{{ .Values.v }}\"\n";
        let scan = scan_text("Chart.yaml", text);
        assert_eq!(
            summary(&scan),
            [
                ("noversion", Some("https://x.io"), None, 4),
                ("templated", None, None, 7)
            ]
        );
        assert!(scan
            .pins
            .iter()
            .all(|p| p.reason.is_some() && p.span.is_none()));
        let lines: Vec<Option<usize>> = scan.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [Some(2), Some(3)]);
    }

    #[test]
    fn broken_files_are_a_warning() {
        let scan = scan_text("Chart.yaml", "dependencies:\n  - name: a\n   version: [\n");
        assert!(scan.pins.is_empty());
        assert_eq!(scan.warnings.len(), 1);
        let scan = scan_text(
            "Chart.yaml",
            "{{- if .Values.x }}\ndependencies: []\n{{- end }}\n",
        );
        assert!(scan.warnings[0].message.contains("template"));
    }

    /// yaml-rust2 counts bytes, not characters, inside block scalars; an
    /// em dash in a description must not move the pins after it.
    #[test]
    fn multibyte_text_in_a_block_scalar_keeps_later_spans() {
        let text = "description: |\n  one \u{2014} two \u{2014} three\n  \u{1F680}\ndependencies:\n  # \u{2014} a comment\n  - name: c\n    version: '1.0.0'\n    repository: https://r\n  - name: d\n    version: \"2.0.0\"\n";
        let scan = scan_text("Chart.yaml", text);
        assert_eq!(
            summary(&scan),
            [
                ("c", Some("https://r"), Some("1.0.0"), 7),
                ("d", None, Some("2.0.0"), 10)
            ]
        );
        assert!(
            scan.pins.iter().all(|p| p.span.is_some()),
            "{:?}",
            scan.pins
        );
    }
}
