//! `chartpilot report`: the version matrix for people (table, Markdown,
//! HTML) and for CI (JSON). Every view renders the one `matrix::Matrix`;
//! none recomputes it.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::matrix::{self, Cell, Drift, Matrix, Row, NO_ENV};
use crate::pins::{self, DiscoverOptions};
use crate::promote::freeze::{Freezes, FREEZE_FILE};
use crate::text;

use super::LookupFn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
    Html,
}

/// A cell's text is cut here in the table; JSON has it whole.
const MAX_CELL_CHARS: usize = 60;

/// The matrix of the repository at `root`, with lookups when given.
pub fn matrix_of(
    root: &Path,
    opts: &DiscoverOptions,
    lookup: Option<LookupFn<'_>>,
    err: &mut dyn Write,
) -> Result<Matrix, String> {
    let scan =
        pins::discover(root, opts).map_err(|e| format!("cannot scan {}: {e}", root.display()))?;
    for w in &scan.warnings {
        writeln!(err, "warning: {w}").map_err(|e| e.to_string())?;
    }
    let freezes = match std::fs::read_to_string(root.join(FREEZE_FILE)) {
        Ok(text) => Freezes::parse(&text).map_err(|e| format!("{}: {e}", root.display()))?,
        Err(_) => Freezes::default(),
    };
    let latest = lookup.map(|f| {
        let (latest, failures) = f(&scan.pins);
        for e in failures {
            let _ = writeln!(err, "warning: lookup failed: {e}");
        }
        latest
    });
    Ok(matrix::build(
        &scan.pins,
        latest.as_deref(),
        &opts.environments,
        &freezes,
    ))
}

/// Writes `m` in `format`.
pub fn render(m: &Matrix, format: ReportFormat, out: &mut dyn Write) -> Result<(), String> {
    let text = match format {
        ReportFormat::Json => serde_json::to_string_pretty(m).map_err(|e| e.to_string())? + "\n",
        ReportFormat::Table => table(m),
        ReportFormat::Markdown => markdown(m),
        ReportFormat::Html => html(m),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write output: {e}"))
}

/// What a cell says, in words: the pin, where the policy would take it,
/// how it stands against earlier environments, and anything to look at.
pub fn cell_text(cell: &Cell) -> String {
    let mut s = match (&cell.version, &cell.constraint) {
        (Some(v), _) => v.clone(),
        (None, Some(range)) => format!("{range} (range)"),
        (None, None) if cell.pins.len() > 1 => "mixed".to_owned(),
        (None, None) => "unresolved".to_owned(),
    };
    if let (Some(latest), Some(update)) = (&cell.latest, cell.update) {
        let _ = write!(s, " → {latest} ({update})");
    } else if let (Some(latest), Some(_)) = (&cell.latest, &cell.constraint) {
        let _ = write!(s, " = {latest}");
    }
    match &cell.drift {
        Some(Drift::Behind { of, version }) => {
            let _ = write!(s, "; behind {of} ({version})");
        }
        Some(Drift::Ahead { of, version }) => {
            let _ = write!(s, "; ahead of {of} ({version})");
        }
        None => {}
    }
    if cell.error.is_some() {
        s.push_str("; lookup failed");
    }
    if cell.deprecated {
        s.push_str("; deprecated");
    }
    if cell.held_back.is_some() {
        s.push_str("; held back");
    }
    s
}

fn header(m: &Matrix, env: &str) -> String {
    match (env, m.freezes.contains_key(env)) {
        (NO_ENV, _) => "no env".to_owned(),
        (e, true) => format!("{e} (frozen)"),
        (e, false) => e.to_owned(),
    }
}

fn summary_line(m: &Matrix) -> String {
    let s = &m.summary;
    let mut line = format!(
        "{} charts, {} pins; {} behind, {} drifting, {} ranges, {} unresolved, {} local charts",
        s.charts, s.pins, s.behind, s.drift, s.ranges, s.unresolved, s.local_charts
    );
    if s.looked_up {
        let _ = write!(line, ", {} lookups failed", s.lookups_failed);
    } else {
        line.push_str(" (offline: nothing looked up)");
    }
    line
}

fn table(m: &Matrix) -> String {
    let mut grid: Vec<Vec<String>> = vec![std::iter::once("CHART".to_owned())
        .chain(std::iter::once("TIER".to_owned()))
        .chain(m.environments.iter().map(|e| header(m, e).to_uppercase()))
        .collect()];
    for row in &m.rows {
        grid.push(
            [row.chart.clone(), row.tier.as_str().to_owned()]
                .into_iter()
                .chain(m.environments.iter().map(|e| {
                    row.cells
                        .get(e)
                        .map(|c| text::cut(&cell_text(c), MAX_CELL_CHARS).into_owned())
                        .unwrap_or_default()
                }))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|i| {
            grid.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &grid {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for (env, why) in &m.freezes {
        let _ = writeln!(out, "frozen: {env}: {why}");
    }
    out.push_str(&summary_line(m));
    out.push('\n');
    out
}

fn markdown(m: &Matrix) -> String {
    let mut out = String::from("## Chart versions\n\n");
    let heads: Vec<String> = m
        .environments
        .iter()
        .map(|e| text::inline(&header(m, e), 80))
        .collect();
    let _ = writeln!(out, "| Chart | Tier | {} |", heads.join(" | "));
    let _ = writeln!(out, "| --- | --- |{}", " --- |".repeat(heads.len()));
    for row in &m.rows {
        let cells: Vec<String> = m
            .environments
            .iter()
            .map(|e| {
                row.cells
                    .get(e)
                    .map(|c| text::inline(&cell_text(c), 200))
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            text::inline(&row.chart, 100),
            row.tier.as_str(),
            cells.join(" | ")
        );
    }
    let held: Vec<(&Row, &String, &Cell)> = m
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(move |(e, c)| (r, e, c)))
        .filter(|(_, _, c)| c.held_back.is_some())
        .collect();
    if !held.is_empty() {
        out.push_str("\n### Held back\n\n");
        for (row, env, cell) in held {
            let _ = writeln!(
                out,
                "- {} in {}: {}",
                text::inline(&row.chart, 100),
                text::inline(env, 50),
                text::inline(cell.held_back.as_deref().unwrap_or_default(), 300)
            );
        }
    }
    for (env, why) in &m.freezes {
        let _ = writeln!(
            out,
            "\n> {}: {}",
            text::inline(env, 50),
            text::inline(why, 300)
        );
    }
    let _ = writeln!(out, "\n{}", summary_line(m));
    out
}

fn html(m: &Matrix) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chartpilot: chart versions</title>\n\
         <style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>\n\
         </head><body>\n<h1>Chart versions</h1>\n<table id=\"matrix\">\n<tr><th>Chart</th><th>Tier</th>",
    );
    for env in &m.environments {
        let _ = write!(out, "<th>{}</th>", text::html(&header(m, env)));
    }
    out.push_str("</tr>\n");
    for row in &m.rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td>",
            text::html(&row.chart),
            row.tier.as_str()
        );
        for env in &m.environments {
            let cell = row.cells.get(env).map(cell_text).unwrap_or_default();
            let _ = write!(
                out,
                "<td data-env=\"{}\">{}</td>",
                text::html(env),
                text::html(&cell)
            );
        }
        out.push_str("</tr>\n");
    }
    let _ = write!(
        out,
        "</table>\n<p id=\"summary\">{}</p>\n</body></html>\n",
        text::html(&summary_line(m))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::{Pin, PinKind};
    use crate::settings::UpdateType;
    use crate::upgrade::source::Latest;

    fn matrix() -> Matrix {
        let pin = |env: &str, v: &str| Pin {
            file: format!("apps/{env}/app.yaml"),
            line: 9,
            kind: PinKind::Argocd,
            name: format!("app-{env}"),
            env: Some(env.into()),
            repository: Some("https://charts.example.com".into()),
            chart: Some("<script>app".into()),
            version: Some(v.into()),
            span: None,
            reason: None,
            constraint: None,
            local_chart: false,
            address: None,
        };
        let pins = [pin("dev", "1.1.0"), pin("prod", "1.0.0")];
        let latest = [
            Latest {
                latest: Some("1.1.0".into()),
                ..Latest::default()
            },
            Latest {
                latest: Some("1.1.0".into()),
                update: Some(UpdateType::Minor),
                held_back: Some("2.0.0 is a major update".into()),
                ..Latest::default()
            },
        ];
        let envs = ["dev", "prod"].map(str::to_owned);
        matrix::build(&pins, Some(&latest), &envs, &Freezes::default())
    }

    #[test]
    fn every_view_says_the_same_cells() {
        let m = matrix();
        let prod = "1.0.0 → 1.1.0 (minor); behind dev (1.1.0); held back";
        assert_eq!(cell_text(&m.rows[0].cells["prod"]), prod);
        let mut out = Vec::new();
        render(&m, ReportFormat::Table, &mut out).unwrap_or_default();
        let table = String::from_utf8_lossy(&out).into_owned();
        assert!(table.contains(prod), "{table}");
        assert!(table.ends_with("1 charts, 2 pins; 1 behind, 1 drifting, 0 ranges, 0 unresolved, 0 local charts, 0 lookups failed\n"), "{table}");
        let md = markdown(&m);
        assert!(
            md.contains("| &lt;script&gt;app | application | 1.1.0 |"),
            "{md}"
        );
        assert!(
            md.contains("- &lt;script&gt;app in prod: 2.0.0 is a major update"),
            "{md}"
        );
        let page = html(&m);
        assert!(
            page.contains(
                "<td data-env=\"prod\">1.0.0 → 1.1.0 (minor); behind dev (1.1.0); held back</td>"
            ),
            "{page}"
        );
        assert!(!page.contains("<script>app"), "{page}");
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&m).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(json["rows"][0]["cells"]["prod"]["drift"]["kind"], "behind");
        assert_eq!(json["rows"][0]["cells"]["prod"]["update"], "minor");
    }
}
