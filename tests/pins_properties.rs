//! Properties of the pin scanners and `edit::plan` over generated Terraform,
//! Argo CD and Chart.yaml files in random layouts: every generated pin is
//! found at its version token, an edit rewrites only those bytes (CRLF
//! included), a literal that several pins read changes for all of them or
//! none, and editing back restores the file byte for byte.
//!
//! 128 cases per property by default; `PROPTEST_CASES=5000 cargo test
//! --test pins_properties` for a longer run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "pins_properties/hcl.rs"]
mod hcl;
#[path = "pins_properties/input.rs"]
mod input;
#[path = "pins_properties/manifests.rs"]
mod manifests;
#[path = "pins_properties/policy.rs"]
mod policy;
#[path = "pins_properties/rules.rs"]
mod rules;
#[path = "pins_properties/terraform.rs"]
mod terraform;
#[path = "pins_properties/yaml.rs"]
mod yaml;

use std::ops::Range;

use chartpilot::pins::{edit, scan_files, DiscoverOptions, Pin, SourceFile};
use proptest::prelude::*;

use input::{Case, Dice, Expected, Input};

/// Enough to hit most layout combinations while the suite stays within a
/// few seconds; `PROPTEST_CASES` overrides it.
const DEFAULT_CASES: u32 = 128;

pub(crate) fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(DEFAULT_CASES)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn terraform_pins_are_found_and_edited_in_place(input in input::inputs()) {
        check(&terraform::repo(&input), &input)?;
    }

    #[test]
    fn argocd_pins_are_found_and_edited_in_place(input in input::inputs()) {
        check(&manifests::argocd_repo(&input), &input)?;
    }

    #[test]
    fn chart_dependency_pins_are_found_and_edited_in_place(input in input::inputs()) {
        check(&manifests::chart_repo(&input), &input)?;
    }
}

/// The files as they are, escapes visible, for failure messages.
fn show(files: &[SourceFile]) -> String {
    files
        .iter()
        .map(|f| format!("--- {}\n{:?}\n", f.path, f.text))
        .collect()
}

/// Scans `files` and checks that the pins are exactly `want`.
fn scan_exactly(files: &[SourceFile], want: &[Expected]) -> Result<Vec<Pin>, TestCaseError> {
    let scan = scan_files(files, &DiscoverOptions::default());
    prop_assert!(
        scan.warnings.is_empty(),
        "warnings {:#?}\n{}",
        scan.warnings,
        show(files)
    );
    let mut got = Vec::new();
    for pin in &scan.pins {
        let (Some(version), Some(span), None) = (&pin.version, &pin.span, &pin.reason) else {
            return Err(TestCaseError::fail(format!(
                "unresolved pin {pin:#?}\n{}",
                show(files)
            )));
        };
        got.push(Expected {
            file: pin.file.clone(),
            line: pin.line,
            name: pin.name.clone(),
            kind: pin.kind,
            chart: pin.chart.clone(),
            repository: pin.repository.clone(),
            version: version.clone(),
            span: span.clone(),
        });
    }
    got.sort_by_key(Expected::key);
    let mut want = want.to_vec();
    want.sort_by_key(Expected::key);
    prop_assert_eq!(got, want, "{}", show(files));
    Ok(scan.pins)
}

fn check(case: &Case, input: &Input) -> Result<(), TestCaseError> {
    let opts = DiscoverOptions::default();
    let pins = scan_exactly(&case.files, &case.pins)?;

    // Edit a subset of the pins chosen off the tape (all of them when it
    // is empty).
    let mut d = Dice::new(input);
    let mut targets: Vec<Pin> = pins.iter().filter(|_| d.below(3) != 2).cloned().collect();
    if targets.is_empty() {
        targets.push(pins[d.below(pins.len())].clone());
    }
    let to = input.new_versions[d.below(input.new_versions.len())].clone();
    // A literal that several pins read changes for all of them or none.
    let shared = |a: &Pin, b: &Pin| a.file == b.file && a.span == b.span;
    if let Some(one) = pins
        .iter()
        .find(|p| pins.iter().any(|q| q != *p && shared(p, q)))
    {
        if one.version.as_deref() != Some(to.as_str()) {
            let alone = edit::plan(&case.files, std::slice::from_ref(one), &to, &opts);
            prop_assert!(
                matches!(alone, Err(edit::EditError::Verify(_))),
                "{alone:?}"
            );
        }
    }
    let partners: Vec<Pin> = pins
        .iter()
        .filter(|p| !targets.contains(p) && targets.iter().any(|t| shared(p, t)))
        .cloned()
        .collect();
    targets.extend(partners);
    let mut groups: Vec<Vec<&Pin>> = Vec::new();
    for target in &targets {
        match groups.iter_mut().find(|g| shared(g[0], target)) {
            Some(group) => group.push(target),
            None => groups.push(vec![target]),
        }
    }
    let (edited, changes) = edit::plan(&case.files, &targets, &to, &opts)
        .map_err(|e| TestCaseError::fail(format!("plan: {e}\n{}", show(&case.files))))?;
    prop_assert_eq!(changes.len(), groups.len());

    let (want_files, want_pins) = replaced(case, &targets, &to);
    for (got, want) in edited.iter().zip(&want_files) {
        prop_assert_eq!(&got.path, &want.path);
        prop_assert_eq!(&got.text, &want.text, "{}", show(&case.files));
    }
    scan_exactly(&edited, &want_pins)?;

    // Back to the old versions, one literal at a time.
    let mut current = edited;
    for group in &groups {
        let scan = scan_files(&current, &opts);
        let mut moved = Vec::new();
        for target in group {
            let found = scan
                .pins
                .iter()
                .find(|p| p.file == target.file && p.line == target.line && p.name == target.name)
                .ok_or_else(|| TestCaseError::fail(format!("lost {target:?}")))?;
            moved.push(found.clone());
        }
        let old = group[0].version.clone().unwrap_or_default();
        let (restored, _) = edit::plan(&current, &moved, &old, &opts)
            .map_err(|e| TestCaseError::fail(format!("plan back: {e}\n{}", show(&current))))?;
        current = restored;
    }
    for (got, want) in current.iter().zip(&case.files) {
        prop_assert_eq!(&got.text, &want.text, "not restored");
    }
    Ok(())
}

/// The files with each target's span replaced by `to`, computed here
/// independently of `edit`, and the pins they should then hold.
fn replaced(case: &Case, targets: &[Pin], to: &str) -> (Vec<SourceFile>, Vec<Expected>) {
    let is_target = |e: &Expected| {
        targets
            .iter()
            .any(|t| t.file == e.file && t.span == Some(e.span.clone()))
    };
    let mut files = case.files.clone();
    let mut pins = Vec::new();
    for file in &mut files {
        let mut mine: Vec<&Expected> = case.pins.iter().filter(|e| e.file == file.path).collect();
        mine.sort_by_key(|e| e.span.start);
        let mut text = String::new();
        let mut copied = 0;
        // The last literal written: its old span, new span and version.
        let mut last: Option<(Range<usize>, Range<usize>, String)> = None;
        for pin in mine {
            let (span, version) = match &last {
                Some((old, new, version)) if *old == pin.span => (new.clone(), version.clone()),
                _ => {
                    text.push_str(&file.text[copied..pin.span.start]);
                    let start = text.len();
                    let version = if is_target(pin) { to } else { &pin.version };
                    text.push_str(version);
                    copied = pin.span.end;
                    let span = start..text.len();
                    last = Some((pin.span.clone(), span.clone(), version.to_owned()));
                    (span, version.to_owned())
                }
            };
            pins.push(Expected {
                version,
                span,
                ..pin.clone()
            });
        }
        text.push_str(&file.text[copied..]);
        file.text = text;
    }
    (files, pins)
}
