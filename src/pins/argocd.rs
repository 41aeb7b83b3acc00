//! Argo CD `Application` / `ApplicationSet` chart pins.
//!
//! A source is a pin when it names a `chart` (git path sources and
//! `ref:`-only sources are not). In an ApplicationSet the chart, repository
//! and version may be generator parameters; they are followed to the
//! literal that sets them when it is written in the same file, giving one
//! pin per literal, and reported unresolved (with a reason) otherwise.

mod generators;

#[cfg(test)]
mod appset_tests;
#[cfg(test)]
mod tests;

use super::yaml::{self, Node, Scalar};
use super::{Pin, PinKind, Scan, SourceFile, Warning};
use generators::{Resolved, Variant};

/// Scans one YAML file (possibly multi-document).
pub fn scan(file: &SourceFile) -> Scan {
    let parsed = yaml::parse(file);
    let mut scan = Scan {
        pins: Vec::new(),
        warnings: parsed.warnings,
    };
    for doc in &parsed.documents {
        let root = &doc.root;
        let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        if !api.starts_with("argoproj.io/") {
            continue;
        }
        let found = match root.get("kind").and_then(Node::as_str) {
            Some("Application") => application(file, root),
            Some("ApplicationSet") => application_set(file, root),
            _ => continue,
        };
        match found {
            Ok(pins) => scan.pins.extend(pins),
            Err(message) => scan.warnings.push(Warning {
                file: file.path.clone(),
                line: Some(doc.line),
                message: message.to_owned(),
            }),
        }
    }
    scan
}

fn application(file: &SourceFile, root: &Node) -> Result<Vec<Pin>, &'static str> {
    let sources = sources(root.get("spec"))
        .ok_or("Application without spec.source or spec.sources; skipped")?;
    let app = App {
        file,
        name: name(root),
        labels: root.path(&["metadata", "labels"]),
        variants: vec![Variant::default()],
    };
    Ok(sources.into_iter().flat_map(|s| app.pins(s)).collect())
}

fn application_set(file: &SourceFile, root: &Node) -> Result<Vec<Pin>, &'static str> {
    let template = root.path(&["spec", "template"]);
    let sources = sources(template.and_then(|t| t.get("spec")))
        .ok_or("ApplicationSet without spec.template.spec.source or sources; skipped")?;
    let app = App {
        file,
        name: name(root),
        labels: template.and_then(|t| t.path(&["metadata", "labels"])),
        variants: generators::variants(root.path(&["spec", "generators"])),
    };
    Ok(sources.into_iter().flat_map(|s| app.pins(s)).collect())
}

/// Kubernetes requires a name, but test fixtures and snippets omit it; the
/// pin is still worth reporting.
fn name(root: &Node) -> String {
    root.path(&["metadata", "name"])
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The sources Argo CD deploys: `sources` when it lists any (Argo CD then
/// ignores `source`), else `source`.
pub(crate) fn sources(spec: Option<&Node>) -> Option<Vec<&Node>> {
    let spec = spec?;
    let listed: Vec<&Node> = spec
        .get("sources")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .collect();
    let chosen = if listed.is_empty() {
        spec.get("source").into_iter().collect()
    } else {
        listed
    };
    let chosen: Vec<&Node> = chosen.into_iter().filter(|s| s.is_mapping()).collect();
    (!chosen.is_empty()).then_some(chosen)
}

/// What the sources of one Application or ApplicationSet share.
struct App<'f, 'a> {
    file: &'f SourceFile,
    name: String,
    labels: Option<&'a Node>,
    variants: Vec<Variant<'a>>,
}

impl<'a> App<'_, 'a> {
    /// One pin per distinct version literal (or unresolved reason) the
    /// generators produce for this source.
    fn pins(&self, source: &'a Node) -> Vec<Pin> {
        let Some(chart) = source
            .get("chart")
            .and_then(Node::as_scalar)
            .filter(|c| !c.is_null())
        else {
            return Vec::new();
        };
        let revision = source
            .get("targetRevision")
            .and_then(Node::as_scalar)
            .filter(|r| !r.is_null() && !r.value.trim().is_empty());
        let repo = source.get("repoURL").and_then(Node::as_str);
        let block_line = revision.map_or(chart.line, |r| r.line);
        let mut pins: Vec<Pin> = Vec::new();
        for variant in &self.variants {
            let pin = self.pin(chart, revision, repo, block_line, variant);
            let same = pins.iter_mut().find(|p| {
                (
                    &p.span,
                    p.line,
                    &p.version,
                    &p.chart,
                    &p.repository,
                    &p.reason,
                ) == (
                    &pin.span,
                    pin.line,
                    &pin.version,
                    &pin.chart,
                    &pin.repository,
                    &pin.reason,
                )
            });
            match same {
                // One literal read by sets for different environments
                // belongs to none of them alone.
                Some(seen) if seen.env != pin.env => seen.env = None,
                Some(_) => {}
                None => pins.push(pin),
            }
        }
        pins
    }

    fn pin(
        &self,
        chart: &Scalar,
        revision: Option<&'a Scalar>,
        repo: Option<&str>,
        block_line: usize,
        variant: &Variant<'a>,
    ) -> Pin {
        let mut pin = Pin {
            file: self.file.path.clone(),
            line: block_line,
            kind: PinKind::Argocd,
            name: self.name.clone(),
            env: variant.env.clone().or_else(|| self.label_env(variant)),
            repository: repo.and_then(|r| generators::text(r, variant)),
            chart: generators::text(&chart.value, variant),
            version: None,
            span: None,
            reason: None,
            constraint: None,
            local_chart: false,
            address: None,
        };
        if pin.chart.is_none() {
            pin.reason = Some(format!(
                "chart `{}` is a template with no literal value in this file",
                chart.value
            ));
            return pin;
        }
        let Some(revision) = revision else {
            pin.reason = Some("source has a chart but no targetRevision".to_owned());
            return pin;
        };
        match generators::literal("targetRevision", revision, variant) {
            Resolved::Literal(version) => {
                pin.line = version.line;
                pin.version = Some(version.value.clone());
                pin.span = version.exact_span();
            }
            Resolved::Unresolved(reason) => pin.reason = Some(reason),
        }
        pin
    }

    /// An `environment` or `env` label, when it is (or resolves to) a
    /// literal.
    fn label_env(&self, variant: &Variant<'a>) -> Option<String> {
        let labels = self.labels?;
        ["environment", "env"]
            .iter()
            .find_map(|k| labels.get(k).and_then(Node::as_str))
            .and_then(|raw| generators::text(raw, variant))
            .filter(|env| !env.trim().is_empty())
    }
}
