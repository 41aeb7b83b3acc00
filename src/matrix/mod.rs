//! The version matrix: which chart version is pinned where, what the
//! policy would take instead, and what stands out (drift between
//! environments, held-back releases, failed lookups, freezes). Computed
//! once here from a scan and its lookups; `report` and the other views
//! render it and never recompute it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::charts::version::Version;
use crate::pins::{Pin, PinKind};
use crate::promote::freeze::Freezes;
use crate::upgrade::source::Latest;

mod pulls;
pub mod render;

pub use pulls::{attach_pulls, closed as pull_closed, opened as pull_opened};
#[cfg(test)]
mod tests;

/// The column of pins that name no environment (a platform release that
/// serves every environment, an umbrella chart's dependency).
pub const NO_ENV: &str = "-";

/// Which tier a chart is pinned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Terraform `helm_release`: the cluster's own services.
    Platform,
    /// Argo CD Applications and ApplicationSets.
    Application,
    /// Chart.yaml dependencies of umbrella charts.
    Dependency,
}

impl Tier {
    fn of(kind: PinKind) -> Tier {
        match kind {
            PinKind::Terraform => Tier::Platform,
            PinKind::Argocd => Tier::Application,
            PinKind::ChartDependency => Tier::Dependency,
        }
    }

    /// The pin kind of the tier, as `scan` spells it.
    pub fn pin_kind(self) -> &'static str {
        match self {
            Tier::Platform => "terraform",
            Tier::Application => "argocd",
            Tier::Dependency => "chart-dependency",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Platform => "platform",
            Tier::Application => "application",
            Tier::Dependency => "dependency",
        }
    }
}

/// How a cell stands against the environments before it in
/// `policy.environments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Drift {
    /// Behind an earlier environment: a version waiting for promotion.
    Behind { of: String, version: String },
    /// Ahead of an earlier environment: "dev first" was skipped.
    Ahead { of: String, version: String },
}

/// One pin inside a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellPin {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub version: Option<String>,
    pub constraint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A chart in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The version every pin of the cell has, or None when they differ or
    /// none is exact.
    pub version: Option<String>,
    /// The range, when the cell's pins share one.
    pub constraint: Option<String>,
    /// The newest version the policy allows (with lookups).
    pub latest: Option<String>,
    /// `major`, `minor` or `patch` when `latest` is newer than the pin.
    pub update: Option<&'static str>,
    pub held_back: Option<String>,
    pub deprecated: bool,
    pub note: Option<String>,
    /// Why the chart could not be looked up.
    pub error: Option<String>,
    pub drift: Option<Drift>,
    /// chartpilot's open PR for this chart here, when the views know the
    /// host's PRs (an upgrade pass does; an offline report does not).
    pub pull: Option<CellPull>,
    pub pins: Vec<CellPin>,
}

/// An open upgrade or promotion PR of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellPull {
    pub number: u64,
    /// The version the PR moves the cell to.
    pub version: String,
    pub url: Option<String>,
}

/// A chart of one tier across the environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub tier: Tier,
    pub chart: String,
    pub repository: Option<String>,
    /// By environment name, or [`NO_ENV`].
    pub cells: BTreeMap<String, Cell>,
}

/// Counts for the summary line and for CI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub charts: usize,
    pub pins: usize,
    /// Cells with a newer allowed version.
    pub behind: usize,
    /// Cells ahead of or behind an earlier environment.
    pub drift: usize,
    pub ranges: usize,
    pub unresolved: usize,
    pub local_charts: usize,
    pub lookups_failed: usize,
    /// Whether versions were looked up at all.
    pub looked_up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// Columns in order: `policy.environments`, then any other environment
    /// pins name, then [`NO_ENV`] when pins without one exist.
    pub environments: Vec<String>,
    /// Frozen environments and why.
    pub freezes: BTreeMap<String, String>,
    pub rows: Vec<Row>,
    pub summary: Summary,
}

/// Tier, chart and repository: one row of the matrix.
type RowKey = (Tier, String, Option<String>);

/// The matrix of `pins`. `latest` holds the lookup of each pin (same
/// order) or is None for an offline view; `environments` is the promotion
/// order. Local charts are counted, not shown: there is nothing to pin.
pub fn build(
    pins: &[Pin],
    latest: Option<&[Latest]>,
    environments: &[String],
    freezes: &Freezes,
) -> Matrix {
    let mut summary = Summary {
        looked_up: latest.is_some(),
        ..Summary::default()
    };
    let mut rows: BTreeMap<RowKey, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    for (i, pin) in pins.iter().enumerate() {
        if pin.local_chart {
            summary.local_charts += 1;
            continue;
        }
        summary.pins += 1;
        let chart = pin
            .chart_name()
            .or(pin.chart.as_deref())
            .unwrap_or(&pin.name)
            .to_owned();
        let env = pin.env.clone().unwrap_or_else(|| NO_ENV.to_owned());
        rows.entry((Tier::of(pin.kind), chart, pin.repository.clone()))
            .or_default()
            .entry(env)
            .or_default()
            .push(i);
    }
    let mut columns: Vec<String> = environments.to_vec();
    let mut rows: Vec<Row> = rows
        .into_iter()
        .map(|((tier, chart, repository), by_env)| {
            let cells = by_env
                .into_iter()
                .map(|(env, indices)| {
                    if env != NO_ENV && !columns.contains(&env) {
                        columns.push(env.clone());
                    }
                    let cell = cell(pins, latest, &indices);
                    (env, cell)
                })
                .collect();
            Row {
                tier,
                chart,
                repository,
                cells,
            }
        })
        .collect();
    if rows.iter().any(|r| r.cells.contains_key(NO_ENV)) {
        columns.push(NO_ENV.to_owned());
    }
    // Drift is about the promotion order; other environments pins name
    // are shown, not compared.
    for row in &mut rows {
        mark_drift(row, environments);
    }
    summary.charts = rows.len();
    for cell in rows.iter().flat_map(|r| r.cells.values()) {
        summary.behind += usize::from(cell.update.is_some());
        summary.drift += usize::from(cell.drift.is_some());
        summary.lookups_failed += usize::from(cell.error.is_some());
        summary.ranges += cell.pins.iter().filter(|p| p.constraint.is_some()).count();
        summary.unresolved += cell.pins.iter().filter(|p| p.reason.is_some()).count();
    }
    let freezes = columns
        .iter()
        .filter_map(|env| Some((env.clone(), freezes.get(env)?.describe(env))))
        .collect();
    Matrix {
        environments: columns,
        freezes,
        rows,
        summary,
    }
}

/// One cell from the pins at `indices`: shared values where they agree.
fn cell(pins: &[Pin], latest: Option<&[Latest]>, indices: &[usize]) -> Cell {
    let found: Vec<(&Pin, Option<&Latest>)> = indices
        .iter()
        .filter_map(|&i| Some((pins.get(i)?, latest.and_then(|l| l.get(i)))))
        .collect();
    let shared = |f: &dyn Fn(&Pin, Option<&Latest>) -> Option<String>| {
        let mut values = found.iter().map(|(p, l)| f(p, *l));
        let first = values.next().flatten();
        values.all(|v| v == first).then_some(first).flatten()
    };
    let first_latest = found.iter().find_map(|(_, l)| *l);
    Cell {
        version: shared(&|p, _| p.version.clone()),
        constraint: shared(&|p, _| p.constraint.clone()),
        latest: shared(&|_, l| l.and_then(|l| l.latest.clone())),
        update: first_latest
            .and_then(|l| l.update)
            .map(crate::settings::UpdateType::as_str),
        held_back: found
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.held_back.clone())),
        deprecated: found.iter().any(|(_, l)| l.is_some_and(|l| l.deprecated)),
        note: found
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.note.clone())),
        error: found
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.error.clone())),
        drift: None,
        pull: None,
        pins: found
            .iter()
            .map(|(p, _)| CellPin {
                file: p.file.clone(),
                line: p.line,
                name: p.name.clone(),
                version: p.version.clone(),
                constraint: p.constraint.clone(),
                reason: p.reason.clone(),
            })
            .collect(),
    }
}

/// Each environment against the nearest earlier one with an exact version:
/// newer there means this one waits for promotion, older means it went
/// first.
fn mark_drift(row: &mut Row, order: &[String]) {
    let mut earlier: Option<(String, Version, String)> = None;
    for env in order {
        let Some(cell) = row.cells.get_mut(env) else {
            continue;
        };
        let Some(written) = cell.version.clone() else {
            continue;
        };
        let here = Version::parse(&written);
        if let Some((of, before, spelled)) = &earlier {
            cell.drift = match here.cmp(before) {
                std::cmp::Ordering::Less => Some(Drift::Behind {
                    of: of.clone(),
                    version: spelled.clone(),
                }),
                std::cmp::Ordering::Greater => Some(Drift::Ahead {
                    of: of.clone(),
                    version: spelled.clone(),
                }),
                std::cmp::Ordering::Equal => None,
            };
        }
        earlier = Some((env.clone(), here, written));
    }
}
