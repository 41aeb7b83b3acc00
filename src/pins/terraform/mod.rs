//! Terraform `helm_release` pins.
//!
//! A release's `version` is followed to the string literal(s) it comes from,
//! across the files of its module folder (variable defaults, locals,
//! var-files) and into the folders whose `module` calls pass it, so a pin
//! points at the bytes an upgrade has to change. Versions that are only
//! known when Terraform runs are reported with the reason instead.

mod index;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_input;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;
use hcl_edit::Span;

use super::{Pin, PinKind, Scan, SourceFile};
use index::{At, Index, Parsed};
use resolve::{Found, Resolver};

/// Scans every `*.tf`, `*.tofu`, `*.tfvars` and `*.auto.tfvars` file of the
/// repository at once, so module inputs and tfvars can be followed across
/// directories. Takes the files by reference: the walk hands over its own
/// files without copying their text.
pub fn scan<'a>(files: impl IntoIterator<Item = &'a SourceFile>) -> Scan {
    let files: Vec<&SourceFile> = files.into_iter().collect();
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
            if let ("resource", [kind, name]) = (block.ident.as_str(), block.labels.as_slice()) {
                if kind.as_str() == "helm_release" {
                    release_pins(&mut resolver, &parsed, i, name.as_str(), block, &mut pins);
                }
            }
        }
    }
    scan.pins = pins.list;
    scan
}

/// Pins in the order found, each once. Two routes into one module (or two
/// releases with one label) can reach the same literal; one pin for it is
/// enough. Hashes find an earlier equal pin without comparing with all.
#[derive(Default)]
struct Pins {
    list: Vec<Pin>,
    by_hash: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
}

impl Pins {
    fn push(&mut self, pin: Pin) {
        let same = self.by_hash.entry(self.hasher.hash_one(&pin)).or_default();
        same.push(self.list.len());
        self.list.push(pin);
    }

    /// Like `push`, unless an equal pin is already there.
    fn push_new(&mut self, pin: Pin) {
        let same = self.by_hash.entry(self.hasher.hash_one(&pin)).or_default();
        if same.iter().any(|&i| self.list.get(i) == Some(&pin)) {
            return;
        }
        same.push(self.list.len());
        self.list.push(pin);
    }
}

fn release_pins<'p>(
    resolver: &mut Resolver<'_, 'p>,
    files: &'p [Parsed<'p>],
    file: usize,
    name: &str,
    block: &'p Block,
    pins: &mut Pins,
) {
    let Some(here) = files.get(file) else {
        return;
    };
    let literal = |key: &str| {
        block
            .body
            .get_attribute(key)
            .and_then(|a| a.value.as_str())
            .map(str::to_owned)
    };
    // The Helm release name (the `name` attribute) is what alerts and
    // people call the release; the resource label is only Terraform's.
    let release = literal("name").unwrap_or_else(|| name.to_owned());
    let pin = |file: &str, line: usize| Pin {
        file: file.to_owned(),
        line,
        kind: PinKind::Terraform,
        name: release.clone(),
        env: None,
        repository: literal("repository"),
        chart: literal("chart"),
        version: None,
        span: None,
        reason: None,
        constraint: None,
        local_chart: false,
        address: None,
    };
    let block_line = here.line_of(block.span().map_or(0, |s| s.start));
    let Some(version) = block.body.get_attribute("version") else {
        pins.push(Pin {
            reason: Some(missing_version(here.text, block)),
            ..pin(here.path, block_line)
        });
        return;
    };
    let version_line = here.line_of(version.span().map_or(0, |s| s.start));
    let at = At {
        file,
        expr: &version.value,
    };
    for found in resolver.resolve(at) {
        let next = match found {
            Found::Literal { file, span, value } => {
                let Some(source) = files.get(file) else {
                    continue;
                };
                Pin {
                    version: Some(value),
                    span: Some(span.clone()),
                    ..pin(source.path, source.line_of(span.start))
                }
            }
            Found::Unresolved(reason) => Pin {
                reason: Some(reason),
                ..pin(here.path, version_line)
            },
        };
        pins.push_new(next);
    }
}

/// Why a release without `version` has no pin, in the words a user needs.
fn missing_version(text: &str, block: &Block) -> String {
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
