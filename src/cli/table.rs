//! The aligned table `scan` prints for people.

use std::collections::BTreeMap;

use super::Latest;
use crate::pins::{Pin, PinKind};

/// The reason an unresolved pin has no version goes last, so a long one
/// does not widen the other columns.
const HEADERS: [&str; 10] = [
    "FILE:LINE",
    "KIND",
    "NAME",
    "ENV",
    "CHART",
    "VERSION",
    "LATEST",
    "UPDATE",
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

/// The VERSION cell: a range reads as itself with a mark, so it is not
/// taken for a version.
fn version_cell(p: &Pin) -> String {
    match (&p.version, &p.constraint) {
        (Some(v), _) => v.clone(),
        (None, Some(range)) => format!("{range} (range)"),
        (None, None) => "?".into(),
    }
}

/// The NOTE cell: why a version is unresolved, a local chart, a failed
/// lookup, or a deprecated pinned version.
fn note_cell(p: &Pin, l: Option<&Latest>) -> String {
    let mut notes: Vec<String> = Vec::new();
    if p.local_chart {
        notes.push("local chart".into());
    }
    notes.extend(p.reason.clone());
    if let Some(l) = l {
        if let Some(e) = &l.error {
            notes.push(format!("lookup failed: {e}"));
        }
        match (&l.note, l.deprecated) {
            (Some(n), true) => notes.push(format!("deprecated: {n}")),
            (Some(n), false) => notes.push(n.clone()),
            (None, true) => notes.push("deprecated".into()),
            (None, false) => {}
        }
    }
    notes.join("; ")
}

fn row(p: &Pin, l: Option<&Latest>) -> [String; 10] {
    let dash = || "-".to_owned();
    let latest = match l {
        Some(Latest { error: Some(_), .. }) => "?".to_owned(),
        _ => l.and_then(|l| l.latest.clone()).unwrap_or_else(dash),
    };
    [
        format!("{}:{}", p.file, p.line),
        kind_name(p.kind).to_owned(),
        p.name.clone(),
        p.env.clone().unwrap_or_else(dash),
        p.chart.clone().unwrap_or_else(dash),
        version_cell(p),
        latest,
        l.and_then(|l| l.update)
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(dash),
        p.repository.clone().unwrap_or_else(dash),
        note_cell(p, l),
    ]
}

/// What the summary counts beyond the listed pins.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Local charts in the repository, listed or not.
    pub local: usize,
    /// Whether they are among the listed pins (`--include-local`).
    pub local_listed: bool,
}

/// Columns padded to their widest cell, then one summary line: pins by kind
/// and by environment, and how many are unresolved. The LATEST and UPDATE
/// columns appear only when versions were looked up.
pub fn render(pins: &[Pin], latest: Option<&[Latest]>, counts: Counts) -> String {
    let keep = |i: usize| latest.is_some() || !matches!(i, 6 | 7);
    let rows: Vec<Vec<String>> = pins
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = row(p, latest.and_then(|l| l.get(i)));
            r.into_iter()
                .enumerate()
                .filter(|(c, _)| keep(*c))
                .map(|(_, v)| v)
                .collect()
        })
        .collect();
    let header: Vec<String> = HEADERS
        .iter()
        .enumerate()
        .filter(|(c, _)| keep(*c))
        .map(|(_, h)| (*h).to_owned())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths.iter().copied())
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&summary(pins));
    let ranges = pins
        .iter()
        .filter(|p| p.version.is_none() && p.constraint.is_some())
        .count();
    if ranges > 0 {
        out.push_str(&format!(", {}", plural(ranges, "range", "ranges")));
    }
    if counts.local > 0 {
        out.push_str(&format!(
            ", {}",
            plural(counts.local, "local chart", "local charts")
        ));
        if !counts.local_listed {
            out.push_str(" (listed with --include-local)");
        }
    }
    if let Some(l) = latest {
        let behind = l.iter().filter(|l| l.update.is_some()).count();
        out.push_str(&format!("; {behind} behind"));
        let failed = l.iter().filter(|l| l.error.is_some()).count();
        if failed > 0 {
            out.push_str(&format!(
                ", {}",
                plural(failed, "lookup failed", "lookups failed")
            ));
        }
    }
    out.push('\n');
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    // A range is written down, not unresolved: it is counted on its own.
    let unresolved = pins
        .iter()
        .filter(|p| p.version.is_none() && p.constraint.is_none())
        .count();
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

#[cfg(test)]
mod tests;
