//! The aligned table `scan` prints for people.

use std::collections::BTreeMap;

use crate::pins::{Pin, PinKind};

/// The reason an unresolved pin has no version goes last, so a long one
/// does not widen the other columns.
const HEADERS: [&str; 8] = [
    "FILE:LINE",
    "KIND",
    "NAME",
    "ENV",
    "CHART",
    "VERSION",
    "REPOSITORY",
    "NOTE",
];

fn kind_name(k: PinKind) -> &'static str {
    match k {
        PinKind::Terraform => "terraform",
        PinKind::Argocd => "argocd",
        PinKind::ChartDependency => "chart-dependency",
    }
}

fn row(p: &Pin) -> [String; 8] {
    let dash = || "-".to_owned();
    [
        format!("{}:{}", p.file, p.line),
        kind_name(p.kind).to_owned(),
        p.name.clone(),
        p.env.clone().unwrap_or_else(dash),
        p.chart.clone().unwrap_or_else(dash),
        p.version.clone().unwrap_or_else(|| "?".into()),
        p.repository.clone().unwrap_or_else(dash),
        p.reason.clone().unwrap_or_default(),
    ]
}

/// Columns padded to their widest cell, then one summary line: pins by kind
/// and by environment, and how many are unresolved.
pub fn render(pins: &[Pin]) -> String {
    let rows: Vec<[String; 8]> = pins.iter().map(row).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADERS.map(str::to_owned);
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&summary(pins));
    out.push('\n');
    out
}

fn summary(pins: &[Pin]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut envs: BTreeMap<&str, usize> = BTreeMap::new();
    for p in pins {
        *kinds.entry(kind_name(p.kind)).or_default() += 1;
        *envs.entry(p.env.as_deref().unwrap_or("none")).or_default() += 1;
    }
    let list = |m: &BTreeMap<&str, usize>| {
        m.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unresolved = pins.iter().filter(|p| p.version.is_none()).count();
    format!(
        "{} pins ({}); by environment: {}; {unresolved} unresolved",
        pins.len(),
        if kinds.is_empty() {
            "none".into()
        } else {
            list(&kinds)
        },
        if envs.is_empty() {
            "none".into()
        } else {
            list(&envs)
        },
    )
}
