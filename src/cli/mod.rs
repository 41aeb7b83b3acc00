//! The `scan` and `bump` commands: pin discovery and edits for people and
//! scripts. Output goes to the given writers so tests can read it.

pub mod latest;
mod table;
pub mod upgrade;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::pins::{self, edit, DiscoverOptions, Pin};
use crate::settings::UpdateType;

/// What a lookup found for one pin: the newest version the policy allows
/// (spelled as the repository publishes it) and its update type, or None
/// for both when nothing could be looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latest {
    pub latest: Option<String>,
    pub update: Option<UpdateType>,
}

/// Looks up every pin (same order) and says which repositories failed.
pub type LookupFn<'a> = &'a dyn Fn(&[Pin]) -> (Vec<Latest>, Vec<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A pin as `scan --format json` prints it (the contract in DESIGN.md).
#[derive(Serialize)]
struct PinOut<'a> {
    file: &'a str,
    line: usize,
    kind: pins::PinKind,
    name: &'a str,
    env: Option<&'a str>,
    repository: Option<&'a str>,
    chart: Option<&'a str>,
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// Present (possibly null) only when versions were looked up.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    lookup: Option<LatestOut<'a>>,
}

#[derive(Serialize)]
struct LatestOut<'a> {
    latest: Option<&'a str>,
    update: Option<&'static str>,
}

impl<'a> From<&'a Pin> for PinOut<'a> {
    fn from(p: &'a Pin) -> Self {
        Self {
            file: &p.file,
            line: p.line,
            kind: p.kind,
            name: &p.name,
            env: p.env.as_deref(),
            repository: p.repository.as_deref(),
            chart: p.chart.as_deref(),
            version: p.version.as_deref(),
            reason: p.reason.as_deref(),
            lookup: None,
        }
    }
}

fn io_err(e: std::io::Error) -> String {
    format!("cannot write output: {e}")
}

/// `chartpilot scan DIR`: every pin, with `latest` and `update` when
/// `lookup` is given; warnings on `err`.
pub fn scan(
    root: &Path,
    format: Format,
    opts: &DiscoverOptions,
    lookup: Option<LookupFn<'_>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let scan =
        pins::discover(root, opts).map_err(|e| format!("cannot scan {}: {e}", root.display()))?;
    for w in &scan.warnings {
        writeln!(err, "warning: {w}").map_err(io_err)?;
    }
    let latest = match lookup {
        Some(f) => {
            let (latest, failures) = f(&scan.pins);
            for e in failures {
                writeln!(err, "warning: lookup failed: {e}").map_err(io_err)?;
            }
            Some(latest)
        }
        None => None,
    };
    match format {
        Format::Json => {
            let rows: Vec<PinOut<'_>> = scan
                .pins
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut row = PinOut::from(p);
                    row.lookup = latest.as_ref().map(|l| {
                        let l = l.get(i);
                        LatestOut {
                            latest: l.and_then(|l| l.latest.as_deref()),
                            update: l.and_then(|l| l.update).map(UpdateType::as_str),
                        }
                    });
                    row
                })
                .collect();
            let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
            writeln!(out, "{text}").map_err(io_err)?;
        }
        Format::Table => {
            out.write_all(table::render(&scan.pins, latest.as_deref()).as_bytes())
                .map_err(io_err)?;
        }
    }
    Ok(())
}

/// Which pins `bump` changes.
#[derive(Debug, Clone, Default)]
pub struct BumpFilter {
    pub chart: String,
    pub env: Option<String>,
    pub name: Option<String>,
}

/// The chart's own name: `argo/argo-cd`, `oci://ghcr.io/x/argo-cd` and
/// `https://…/argo-cd-1.2.3.tgz` are all `argo-cd` to a person.
fn chart_matches(pin: &Pin, wanted: &str) -> bool {
    pin.chart.as_deref() == Some(wanted) || pin.chart_name() == Some(wanted)
}

/// `chartpilot bump DIR --chart NAME --to VERSION`: edits in place and
/// prints `file:line old → new` per change.
pub fn bump(
    root: &Path,
    filter: &BumpFilter,
    to: &str,
    opts: &DiscoverOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let (files, _) =
        pins::collect(root).map_err(|e| format!("cannot scan {}: {e}", root.display()))?;
    let scan = pins::scan_files(&files, opts);
    let matching: Vec<&Pin> = scan
        .pins
        .iter()
        .filter(|p| chart_matches(p, &filter.chart))
        .filter(|p| filter.env.is_none() || p.env == filter.env)
        .filter(|p| filter.name.is_none() || Some(&p.name) == filter.name.as_ref())
        .collect();
    if matching.is_empty() {
        let mut charts: Vec<&str> = scan
            .pins
            .iter()
            .filter_map(|p| p.chart.as_deref())
            .collect();
        charts.sort_unstable();
        charts.dedup();
        let scope = match (&filter.env, &filter.name) {
            (Some(e), _) => format!(" in environment `{e}`"),
            (None, Some(n)) => format!(" named `{n}`"),
            _ => String::new(),
        };
        return Err(format!(
            "no pin of chart `{}`{scope} under {}; charts found: {}",
            filter.chart,
            root.display(),
            if charts.is_empty() {
                "none".to_owned()
            } else {
                charts.join(", ")
            }
        ));
    }
    let mut targets = Vec::new();
    for pin in matching {
        match &pin.version {
            None => writeln!(
                err,
                "warning: {}:{}: `{}` skipped: {}",
                pin.file,
                pin.line,
                pin.name,
                pin.reason.as_deref().unwrap_or("version unresolved")
            )
            .map_err(io_err)?,
            Some(v) if v == to => writeln!(
                err,
                "{}:{}: `{}` is already at {to}",
                pin.file, pin.line, pin.name
            )
            .map_err(io_err)?,
            Some(_) => targets.push(pin.clone()),
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let (edited, changes) = edit::plan(&files, &targets, to, opts).map_err(|e| e.to_string())?;
    edit::write(root, &files, &edited).map_err(|e| e.to_string())?;
    for c in changes {
        writeln!(out, "{}:{} {} → {}", c.file, c.line, c.old, c.new).map_err(io_err)?;
    }
    Ok(())
}
