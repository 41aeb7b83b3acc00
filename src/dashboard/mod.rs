//! The dashboard issue: one issue on the git host (a file beside the PR log
//! on the local host), found by a hidden marker, rewritten after every
//! upgrade pass when its content changed. It shows the version matrix,
//! what waits for promotion, what is held back and why, chartpilot's open
//! PRs, and a checkbox per pending upgrade: ticking one asks for that PR
//! now, as the chat `upgrade` verb would, authorized the same way.
//!
//! This module is pure: the body from the matrix, and the commands a
//! person's edit of the body asks for.

use std::fmt::Write as _;

use crate::git::PullRequest;
use crate::matrix::render::markdown;
use crate::matrix::{Drift, Matrix, NO_ENV};
use crate::text;

/// Finds the issue among others; never shown.
pub const MARKER: &str = "<!-- chartpilot:dashboard -->";

/// The label the issue carries, so the host lists it in one call.
pub const LABEL: &str = "chartpilot-dashboard";

pub const TITLE: &str = "chartpilot dashboard";

/// GitHub refuses issue bodies over 65 536 characters; the body stays
/// under it with room for the cut note.
pub const MAX_BODY_CHARS: usize = 60_000;

/// Checkboxes one edit may tick and be acted on (as many as commands in
/// one comment); more are answered with what was left out.
pub const MAX_TICKS_PER_EDIT: usize = crate::chat::reply::MAX_COMMANDS_PER_COMMENT;

/// Open PRs listed.
const MAX_PULLS: usize = 50;

const BOX_PREFIX: &str = "<!-- chartpilot:upgrade ";

/// One pending upgrade a person can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub chart: String,
    pub env: String,
    pub version: String,
}

impl Pending {
    /// The chat command a tick runs.
    pub fn command(&self) -> String {
        format!("upgrade {} to {} {}", self.chart, self.version, self.env)
    }

    fn marker(&self) -> String {
        format!(
            "{BOX_PREFIX}{} {} {} -->",
            self.chart, self.env, self.version
        )
    }

    /// The task list line of the box, as the body has it: the hidden
    /// marker says what a tick runs, the visible text says the same.
    fn line(&self, ticked: bool) -> String {
        format!(
            "- [{}] {} `{}` → `{}` in **{}**",
            if ticked { "x" } else { " " },
            self.marker(),
            text::inline(&self.chart, 100),
            text::inline(&self.version, 100),
            text::inline(&self.env, 50),
        )
    }
}

/// A chart, environment or version as a command word: what the chat
/// grammar takes, nothing that could end the hidden marker.
fn word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/'))
}

/// The upgrades a person may ask for now: a cell with a newer allowed
/// version and a named environment, not frozen, without an open PR (the
/// matrix's `pull`, see `matrix::attach_pulls`).
pub fn pending(m: &Matrix) -> Vec<Pending> {
    let mut out = Vec::new();
    for row in &m.rows {
        for (env, cell) in &row.cells {
            let (Some(latest), Some(_)) = (&cell.latest, cell.update) else {
                continue;
            };
            if env == NO_ENV || m.freezes.contains_key(env) {
                continue;
            }
            let p = Pending {
                chart: row.chart.clone(),
                env: env.clone(),
                version: latest.clone(),
            };
            // An open PR of the chart in the environment: the pass keeps
            // it at the newest version.
            if cell.pull.is_none() && word(&p.chart) && word(&p.env) && word(&p.version) {
                out.push(p);
            }
        }
    }
    out
}

/// The issue body. `open` are chartpilot's open PRs, newest first.
pub fn render(m: &Matrix, open: &[PullRequest]) -> String {
    let mut out = format!(
        "{MARKER}\nWhat chartpilot knows about the chart pins of this repository, \
         rewritten after every upgrade pass. Tick a box to ask for that upgrade PR now.\n\n"
    );
    let pending = pending(m);
    if !pending.is_empty() {
        out.push_str("## Pending upgrades\n\n");
        for p in &pending {
            let _ = writeln!(out, "{}", p.line(false));
        }
        out.push('\n');
    }
    let waiting: Vec<String> = m
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(move |(e, c)| (r, e, c)))
        .filter_map(|(r, env, c)| match &c.drift {
            Some(Drift::Behind { of, version }) => Some(format!(
                "- {} in {}: {} is in {}",
                text::inline(&r.chart, 100),
                text::inline(env, 50),
                text::inline(version, 100),
                text::inline(of, 50)
            )),
            _ => None,
        })
        .collect();
    if !waiting.is_empty() {
        out.push_str("## Awaiting promotion\n\n");
        out.push_str(&waiting.join("\n"));
        out.push_str("\n\n");
    }
    if !open.is_empty() {
        out.push_str("## Open chartpilot pull requests\n\n");
        for pr in open.iter().take(MAX_PULLS) {
            let _ = writeln!(out, "- #{} {}", pr.number, text::inline(&pr.title, 200));
        }
        out.push('\n');
    }
    // The matrix, with its held-back section and freezes.
    out.push_str(&markdown(m));
    if out.chars().count() > MAX_BODY_CHARS {
        // Whole lines only: a cut inside a hidden marker would hide the
        // note below it.
        let mut kept = String::new();
        for line in out.lines() {
            if kept.chars().count() + line.chars().count() + 1 > MAX_BODY_CHARS {
                break;
            }
            kept.push_str(line);
            kept.push('\n');
        }
        out = kept;
        out.push_str("\n_Cut to fit GitHub's limit: `chartpilot report` has all of it._\n");
    }
    out
}

/// The boxes `new` has ticked that `old` had not, as pending upgrades:
/// what a person's edit of the dashboard asks for. A box ticked twice, or
/// one chartpilot's own rewrite carries over, asks nothing new.
pub fn ticked(old: &str, new: &str) -> Vec<Pending> {
    let before = boxes(old);
    boxes(new)
        .into_iter()
        .filter(|(p, on)| *on && !before.iter().any(|(q, was)| q == p && *was))
        .map(|(p, _)| p)
        .fold(Vec::new(), |mut acc, p| {
            if !acc.contains(&p) {
                acc.push(p);
            }
            acc
        })
}

/// Every box of a body, ticked or not. A line is a box only when it is
/// exactly what [`render`] writes for it: a hidden marker that asks for
/// something else than the visible text says is no box.
fn boxes(body: &str) -> Vec<(Pending, bool)> {
    body.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix("- [")?;
            let (mark, rest) = rest.split_once("] ")?;
            let on = match mark {
                "x" | "X" => true,
                " " => false,
                _ => return None,
            };
            let inner = rest.strip_prefix(BOX_PREFIX)?.split_once(" -->")?.0;
            let mut words = inner.split(' ');
            let (chart, env, version) = (words.next()?, words.next()?, words.next()?);
            if words.next().is_some() || ![chart, env, version].into_iter().all(word) {
                return None;
            }
            let p = Pending {
                chart: chart.to_owned(),
                env: env.to_owned(),
                version: version.to_owned(),
            };
            // GitHub writes `[x]`; a person may type `[X]`.
            let as_written = line.trim_end().replacen("- [X]", "- [x]", 1);
            (as_written == p.line(on)).then_some((p, on))
        })
        .collect()
}

#[cfg(test)]
mod tests;
