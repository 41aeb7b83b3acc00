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

fn row(p: &Pin, l: Option<&Latest>) -> [String; 10] {
    let dash = || "-".to_owned();
    [
        format!("{}:{}", p.file, p.line),
        kind_name(p.kind).to_owned(),
        p.name.clone(),
        p.env.clone().unwrap_or_else(dash),
        p.chart.clone().unwrap_or_else(dash),
        p.version.clone().unwrap_or_else(|| "?".into()),
        l.and_then(|l| l.latest.clone()).unwrap_or_else(dash),
        l.and_then(|l| l.update)
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(dash),
        p.repository.clone().unwrap_or_else(dash),
        p.reason.clone().unwrap_or_default(),
    ]
}

/// Columns padded to their widest cell, then one summary line: pins by kind
/// and by environment, and how many are unresolved. The LATEST and UPDATE
/// columns appear only when versions were looked up.
pub fn render(pins: &[Pin], latest: Option<&[Latest]>) -> String {
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
    if let Some(l) = latest {
        let behind = l.iter().filter(|l| l.update.is_some()).count();
        out.push_str(&format!("; {behind} behind"));
    }
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
