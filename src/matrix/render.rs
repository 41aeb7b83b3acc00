//! The matrix in words, for people: a terminal table, Markdown (the
//! report and the dashboard issue) and an HTML fragment (the report page
//! and the status page). Everything from the repository is escaped and
//! bounded through `text`.

use std::fmt::Write as _;

use super::{Cell, Drift, Matrix, Row, NO_ENV};
use crate::text;

/// A cell's text is cut here in the table; JSON has it whole.
const MAX_CELL_CHARS: usize = 60;

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
    if let Some(pull) = &cell.pull {
        let _ = write!(s, "; PR #{} ({})", pull.number, pull.version);
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

pub fn header(m: &Matrix, env: &str) -> String {
    match (env, m.freezes.contains_key(env)) {
        (NO_ENV, _) => "no env".to_owned(),
        (e, true) => format!("{e} (frozen)"),
        (e, false) => e.to_owned(),
    }
}

pub fn summary_line(m: &Matrix) -> String {
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

pub fn table(m: &Matrix) -> String {
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

/// A cell in Markdown: its words escaped, and its PR as a reference
/// GitHub links (the number is chartpilot's, not the repository's).
fn markdown_cell(c: &Cell) -> String {
    let Some(pull) = &c.pull else {
        return text::inline(&cell_text(c), 200);
    };
    let rest = Cell {
        pull: None,
        ..c.clone()
    };
    format!(
        "{}; PR #{} ({})",
        text::inline(&cell_text(&rest), 200),
        pull.number,
        text::inline(&pull.version, 50)
    )
}

pub fn markdown(m: &Matrix) -> String {
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
            .map(|e| row.cells.get(e).map(markdown_cell).unwrap_or_default())
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

/// The matrix as an HTML table and its summary line, escaped: a fragment
/// for the report page and the status page.
pub fn html_table(m: &Matrix) -> String {
    let mut out = String::from("<table id=\"matrix\">\n<tr><th>Chart</th><th>Tier</th>");
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
        "</table>\n<p id=\"summary\">{}</p>\n",
        text::html(&summary_line(m))
    );
    out
}
