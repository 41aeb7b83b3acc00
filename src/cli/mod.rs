//! The `scan` and `bump` commands: pin discovery and edits for people and
//! scripts. Output goes to the given writers so tests can read it.

pub mod args;
pub mod docs;
pub mod impact;
pub mod jobs;
pub mod latest;
pub mod report;
mod table;
pub mod upgrade;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::charts::version::Version;
use crate::pins::{self, edit, DiscoverOptions, Pin};
use crate::settings::UpdateType;

pub use crate::upgrade::source::Latest;
pub use args::command;

/// Looks up every pin (same order) and says which repositories failed.
pub type LookupFn<'a> = &'a dyn Fn(&[Pin]) -> (Vec<Latest>, Vec<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts and CI.
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
    /// The range as written, null for an exact pin.
    constraint: Option<&'a str>,
    local_chart: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
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
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
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
            constraint: p.constraint.as_deref(),
            local_chart: p.local_chart,
            address: p.address.as_deref(),
            reason: p.reason.as_deref(),
            lookup: None,
        }
    }
}

impl<'a> From<&'a Latest> for LatestOut<'a> {
    fn from(l: &'a Latest) -> Self {
        Self {
            latest: l.latest.as_deref(),
            update: l.update.map(UpdateType::as_str),
            deprecated: l.deprecated,
            note: l.note.as_deref(),
            error: l.error.as_deref(),
        }
    }
}

fn io_err(e: std::io::Error) -> String {
    format!("cannot write output: {e}")
}

/// `chartpilot scan DIR`: every pin, with `latest` and `update` when
/// `lookup` is given; warnings on `err`. Local charts are listed only with
/// `include_local`. Fails, after printing everything, when a lookup failed.
pub fn scan(
    root: &Path,
    format: Format,
    include_local: bool,
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
    let local = scan.pins.iter().filter(|p| p.local_chart).count();
    let listed: Vec<Pin> = scan
        .pins
        .into_iter()
        .filter(|p| include_local || !p.local_chart)
        .collect();
    let latest = match lookup {
        Some(f) => {
            let (latest, failures) = f(&listed);
            for e in failures {
                writeln!(err, "warning: lookup failed: {e}").map_err(io_err)?;
            }
            Some(latest)
        }
        None => None,
    };
    match format {
        Format::Json => {
            let rows: Vec<PinOut<'_>> = listed
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut row = PinOut::from(p);
                    row.lookup = latest
                        .as_ref()
                        .map(|l| l.get(i).map(LatestOut::from).unwrap_or_else(no_lookup));
                    row
                })
                .collect();
            let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
            writeln!(out, "{text}").map_err(io_err)?;
        }
        Format::Table => {
            let counts = table::Counts {
                local,
                local_listed: include_local,
            };
            out.write_all(table::render(&listed, latest.as_deref(), counts).as_bytes())
                .map_err(io_err)?;
        }
    }
    let failed = latest
        .iter()
        .flatten()
        .filter(|l| l.error.is_some())
        .count();
    match failed {
        0 => Ok(()),
        1 => Err("1 lookup failed; its pin shows `error`".into()),
        n => Err(format!("{n} lookups failed; their pins show `error`")),
    }
}

fn no_lookup<'a>() -> LatestOut<'a> {
    LatestOut {
        latest: None,
        update: None,
        deprecated: false,
        note: None,
        error: None,
    }
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
/// prints `file:line old → new` per change. A range becomes the exact
/// version; a version lower than a pin's is refused unless
/// `allow_downgrade`, and then said to be a downgrade.
pub fn bump(
    root: &Path,
    filter: &BumpFilter,
    to: &str,
    allow_downgrade: bool,
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
        // Local charts have no version to bump: naming them would mislead.
        let mut charts: Vec<&str> = scan
            .pins
            .iter()
            .filter(|p| !p.local_chart)
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
    let new = Version::parse(to);
    let mut targets = Vec::new();
    let mut downgrades = Vec::new();
    for pin in matching {
        match (&pin.version, &pin.constraint) {
            _ if pin.local_chart => writeln!(
                err,
                "warning: {}:{}: `{}` skipped: a local chart has no published versions",
                pin.file, pin.line, pin.name
            )
            .map_err(io_err)?,
            (Some(v), _) if v == to => writeln!(
                err,
                "{}:{}: `{}` is already at {to}",
                pin.file, pin.line, pin.name
            )
            .map_err(io_err)?,
            (Some(v), _) => {
                if new.cmp_precedence(&Version::parse(v)) == std::cmp::Ordering::Less {
                    downgrades.push((pin.file.clone(), pin.line, pin.name.clone(), v.clone()));
                }
                targets.push(pin.clone());
            }
            // The range's text is what the span covers; it becomes `to`.
            (None, Some(range)) => {
                let mut pin = pin.clone();
                pin.version = Some(range.clone());
                targets.push(pin);
            }
            (None, None) => writeln!(
                err,
                "warning: {}:{}: `{}` skipped: {}",
                pin.file,
                pin.line,
                pin.name,
                pin.reason.as_deref().unwrap_or("version unresolved")
            )
            .map_err(io_err)?,
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let ranges: Vec<(String, usize)> = scan
        .pins
        .iter()
        .filter(|p| p.version.is_none() && p.constraint.is_some())
        .map(|p| (p.file.clone(), p.line))
        .collect();
    // Planned first, so a `to` that is no version at all says so.
    let (edited, changes) = edit::plan(&files, &targets, to, opts).map_err(|e| e.to_string())?;
    if let (Some((file, line, name, from)), false) = (downgrades.first(), allow_downgrade) {
        return Err(format!(
            "{file}:{line}: `{name}` is at {from}; {to} is lower, a downgrade: \
             pass --allow-downgrade to do it anyway"
        ));
    }
    edit::write(root, &files, &edited).map_err(|e| e.to_string())?;
    for c in changes {
        let at = (c.file.clone(), c.line);
        let what = if downgrades
            .iter()
            .any(|(f, l, _, _)| (f, *l) == (&at.0, at.1))
        {
            " (a downgrade)"
        } else if ranges.contains(&at) {
            " (the range becomes a pin)"
        } else {
            ""
        };
        writeln!(out, "{}:{} {} → {}{what}", c.file, c.line, c.old, c.new).map_err(io_err)?;
    }
    Ok(())
}
