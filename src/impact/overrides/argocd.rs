//! Overrides of an Argo CD source: `helm.valueFiles` (of `ref:` sources,
//! `$name/path`), `helm.values`, `helm.valuesObject`, `helm.parameters`
//! and `helm.fileParameters`, in the order Argo CD hands them to Helm.

use super::{join, parameter, set_value, yaml_overrides, Origin, Override, Repo};
use crate::pins::yaml::{self, Node, Style};
use crate::pins::{Pin, SourceFile};

pub(super) fn collect(repo: &Repo<'_>, pin: &Pin) -> Vec<Override> {
    let Some(text) = repo.text(&pin.file) else {
        return vec![Override::unresolved(
            &pin.file,
            pin.line,
            Origin::Values,
            "the pin's file could not be read".into(),
        )];
    };
    let parsed = yaml::parse(&SourceFile {
        path: pin.file.clone(),
        text: text.to_owned(),
    });
    let mut candidates: Vec<(&Node, Vec<&Node>)> = Vec::new();
    for doc in &parsed.documents {
        let root = &doc.root;
        let spec = match root.get("kind").and_then(Node::as_str) {
            Some("Application") => root.get("spec"),
            Some("ApplicationSet") => root.path(&["spec", "template", "spec"]),
            _ => None,
        };
        let Some(sources) = crate::pins::argocd::sources(spec) else {
            continue;
        };
        for source in &sources {
            if source.get("chart").and_then(Node::as_str).is_some() {
                candidates.push((source, sources.clone()));
            }
        }
    }
    let on_line = |s: &Node| {
        ["targetRevision", "chart"]
            .iter()
            .any(|k| s.get(k).is_some_and(|n| n.line() == pin.line))
    };
    let named = |s: &Node| {
        s.get("chart")
            .and_then(Node::as_str)
            .is_some_and(|c| Some(c) == pin.chart.as_deref() || c.contains("{{"))
    };
    let chosen = match candidates.iter().find(|(s, _)| on_line(s)) {
        Some(c) => Some(c),
        None => {
            let mut same = candidates.iter().filter(|(s, _)| named(s));
            match (same.next(), same.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        }
    };
    let Some((source, siblings)) = chosen else {
        return vec![Override::unresolved(
            &pin.file,
            pin.line,
            Origin::Values,
            "the pin's Argo CD source was not found again".into(),
        )];
    };
    let Some(helm) = source.get("helm") else {
        return Vec::new();
    };
    let file = pin.file.as_str();
    let mut out = Vec::new();
    for item in helm.get("valueFiles").map(Node::items).unwrap_or_default() {
        out.extend(value_file(repo, file, item, siblings));
    }
    if let Some(values) = helm.get("values") {
        out.extend(values_text(file, values));
    }
    if let Some(object) = helm.get("valuesObject") {
        out.extend(yaml_like(file, object, Origin::ValuesObject));
    }
    for p in helm.get("parameters").map(Node::items).unwrap_or_default() {
        let Some(name) = p.get("name").and_then(Node::as_scalar) else {
            continue;
        };
        let force = p
            .get("forceString")
            .and_then(Node::as_str)
            .is_some_and(|f| f == "true");
        let value = p
            .get("value")
            .and_then(Node::as_scalar)
            .map(|v| v.value.as_str())
            .filter(|v| !v.contains("{{"))
            .map(|v| set_value(v, force));
        out.push(parameter(
            &name.value,
            value,
            file,
            name.line,
            Origin::Parameter,
        ));
    }
    for p in helm
        .get("fileParameters")
        .map(Node::items)
        .unwrap_or_default()
    {
        if let Some(name) = p.get("name").and_then(Node::as_scalar) {
            out.push(parameter(
                &name.value,
                None,
                file,
                name.line,
                Origin::FileParameter,
            ));
        }
    }
    out
}

/// A mapping written in the Application (`valuesObject`, or `values`
/// written as a map): its leaves at their own lines.
fn yaml_like(file: &str, node: &Node, origin: Origin) -> Vec<Override> {
    super::node_leaves(node, &super::KeyPath::default(), 0)
        .into_iter()
        .map(|leaf| Override::known(leaf, file, origin))
        .collect()
}

/// `helm.values`: YAML in a string. A literal block (`|`) keeps its lines,
/// so each leaf gets its own; other styles put every leaf on the key's line.
fn values_text(file: &str, values: &Node) -> Vec<Override> {
    if values.is_mapping() {
        return yaml_like(file, values, Origin::Values);
    }
    let Some(scalar) = values.as_scalar().filter(|s| !s.is_null()) else {
        return Vec::new();
    };
    match scalar.style {
        Style::Literal => yaml_overrides(
            &scalar.value,
            file,
            scalar.line.saturating_sub(1),
            None,
            Origin::Values,
        ),
        _ => yaml_overrides(&scalar.value, file, 0, Some(scalar.line), Origin::Values),
    }
}

/// One `valueFiles` entry: `$ref/path` is read from this repository when a
/// `ref:` source of the same Application names it; a plain path is a file
/// of the chart package, not of this repository.
fn value_file(repo: &Repo<'_>, file: &str, item: &Node, siblings: &[&Node]) -> Vec<Override> {
    let Some(entry) = item.as_scalar() else {
        return Vec::new();
    };
    let line = entry.line;
    let unresolved = |why: String| vec![Override::unresolved(file, line, Origin::ValuesFile, why)];
    let written = entry.value.as_str();
    if written.contains("{{") {
        return unresolved(format!(
            "value file `{written}` is a template, known only when the ApplicationSet runs"
        ));
    }
    let Some(rest) = written.strip_prefix('$') else {
        return unresolved(format!(
            "value file `{written}` is read from the chart package, not from this repository"
        ));
    };
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(source) = siblings
        .iter()
        .find(|s| s.get("ref").and_then(Node::as_str) == Some(name))
    else {
        return unresolved(format!(
            "value file `{written}`: no source with `ref: {name}` in this Application"
        ));
    };
    let repo_url = source.get("repoURL").and_then(Node::as_str).unwrap_or("");
    let Some(rel) = join("", path) else {
        return unresolved(format!("value file `{written}` leaves the repository"));
    };
    match repo.read(&rel) {
        Ok(text) => yaml_overrides(&text, &rel, 0, None, Origin::ValuesFile),
        Err(e) => unresolved(format!(
            "value file `{written}`: {e} (the `{name}` source is {repo_url})"
        )),
    }
}
