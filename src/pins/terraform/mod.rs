//! Terraform `helm_release` pins.
//!
//! A release's `version` is followed to the string literal(s) it comes from,
//! across the files of its module folder (variable defaults, locals,
//! var-files) and into the folders whose `module` calls pass it, so a pin
//! points at the bytes an upgrade has to change. Versions that are only
//! known when Terraform runs are reported with the reason instead.

mod index;
mod json;
mod release;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_input;
#[cfg(test)]
mod tests_patterns;
#[cfg(test)]
mod tests_points;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;
use hcl_edit::Span;

use super::{Pin, PinKind, Scan, SourceFile};
use index::{Index, JSON_SUFFIX};
use release::Release;
use resolve::Resolver;

pub use json::wanted as wanted_json;

/// Scans every `*.tf`, `*.tofu`, `*.tfvars` and `*.auto.tfvars` file of the
/// repository at once, so module inputs and tfvars can be followed across
/// directories, with the `*.json` files they read through `jsondecode`
/// (others among `files` are ignored, see [`wanted_json`]). Takes the files
/// by reference: the walk hands over its own files without copying their
/// text.
pub fn scan<'a>(files: impl IntoIterator<Item = &'a SourceFile>) -> Scan {
    let (json, files): (Vec<&SourceFile>, Vec<&SourceFile>) = files
        .into_iter()
        .partition(|f| f.path.ends_with(JSON_SUFFIX));
    let wanted = json::wanted(files.iter().map(|f| (f.path.as_str(), f.text.as_str())));
    let files: Vec<&SourceFile> = files
        .into_iter()
        .chain(json.into_iter().filter(|f| wanted.contains(&f.path)))
        .collect();
    let mut scan = Scan::default();
    let parsed = index::parse(&files, &mut scan.warnings);
    let index = Index::build(&parsed, &files);
    let mut resolver = Resolver::new(&index);
    let mut pins = Pins::default();
    for (i, file) in parsed.iter().enumerate() {
        if file.is_var_file {
            continue;
        }
        for block in file.body.blocks() {
            if let ("resource", [kind, label]) = (block.ident.as_str(), block.labels.as_slice()) {
                if kind.as_str() == "helm_release" {
                    let release = Release {
                        index: &index,
                        file: i,
                        label: label.as_str(),
                        block,
                    };
                    release.pins(&mut resolver, &mut pins);
                }
            }
        }
    }
    scan.pins = pins.list;
    scan
}

/// Pins in the order found, each once. Two routes into one module (or two
/// releases with one label) can reach the same literal; one pin for it is
/// enough, under the address of the first route. Hashes find an earlier
/// equal pin without comparing with all.
#[derive(Default)]
struct Pins {
    list: Vec<Pin>,
    by_hash: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
}

impl Pins {
    /// Adds `pin` unless an equal one is there. A literal's pin is the
    /// same whatever module address led to it; an unresolved pin keeps its
    /// address, which tells the instances of a `for_each` apart.
    fn push_new(&mut self, pin: Pin) {
        let identity = |pin: &Pin| {
            let mut pin = pin.clone();
            if pin.span.is_some() {
                pin.address = None;
            }
            pin
        };
        let key = identity(&pin);
        let same = self.by_hash.entry(self.hasher.hash_one(&key)).or_default();
        if same
            .iter()
            .any(|&i| self.list.get(i).map(identity).as_ref() == Some(&key))
        {
            return;
        }
        same.push(self.list.len());
        self.list.push(pin);
    }
}

/// Why a release without `version` has no pin, in the words a user needs.
pub(super) fn missing_version(text: &str, block: &Block) -> String {
    match block.body.get_attribute("chart").map(|a| &a.value) {
        Some(Expression::String(chart))
            if chart.starts_with("./") || chart.starts_with("../") || chart.starts_with('/') =>
        {
            "no version attribute: the chart is a local path".to_owned()
        }
        Some(chart @ Expression::StringTemplate(_)) => {
            let written = chart
                .span()
                .and_then(|s| text.get(s))
                .unwrap_or("a template");
            format!("no version attribute: the chart is {written}, so any version is part of it")
        }
        _ => "no version attribute, so Helm installs the newest chart".to_owned(),
    }
}

/// One file's HCL body, refused (with the line) when brackets nest deeper
/// than the parser handles quickly; for readers of `helm_release` blocks
/// outside the scan (impact analysis).
pub(crate) fn parse_body(text: &str) -> Result<hcl_edit::structure::Body, String> {
    if let Some(line) = index::too_deep(text) {
        return Err(format!(
            "line {line}: brackets nest deeper than {} levels",
            index::MAX_NESTING
        ));
    }
    hcl_edit::parser::parse_body(text).map_err(|e| {
        format!(
            "line {}: cannot parse HCL: {}",
            e.location().line(),
            e.message()
        )
    })
}
