//! What a person reads: the upgrade PR's body and the commit message.
//! Text from chart indexes is untrusted; it is escaped for Markdown tables
//! and bounded so a chatty chart cannot blow GitHub's body limit. The
//! release notes are written by `notes`.

use std::fmt::Write;

use super::plan::{Group, PinChange, ANY_ENV};
use crate::text;

/// Source links shown; an index may list any number.
const MAX_SOURCE_LINKS: usize = 5;

/// The whole body stays under GitHub's 65,536-character limit whatever
/// the index holds (many pins, long names).
const MAX_BODY_CHARS: usize = 60_000;

/// Names, versions and paths in a table cell: the repository's and the
/// index's text, so it goes through the one sanitizer.
pub(super) const MAX_CELL_CHARS: usize = 300;

fn cell(s: &str) -> String {
    text::inline(s, MAX_CELL_CHARS)
}

/// The pull request body for `group`. `environments` is the promotion
/// order, for the line saying what happens after the merge.
pub fn pr_body(group: &Group, environments: &[String]) -> String {
    let mut b = String::new();
    let t = &group.target;
    let from: Vec<&str> = {
        let mut seen = std::collections::HashSet::new();
        group
            .changes
            .iter()
            .map(|c| c.from.as_str())
            .filter(|f| seen.insert(*f))
            .collect()
    };
    let where_ = if group.env == ANY_ENV {
        String::new()
    } else {
        format!(" in **{}**", group.env)
    };
    let ranges: Vec<&PinChange> = group
        .changes
        .iter()
        .filter(|c| c.range().is_some())
        .collect();
    if ranges.len() == group.changes.len() {
        let _ =
            writeln!(
            b,
            "Pins the Helm chart **{}** to {}{where_}: the range {} becomes an exact version.\n",
            group.chart,
            text::code_span(group.version()),
            from.iter().map(|f| text::code_span(f)).collect::<Vec<_>>().join(", "),
        );
    } else {
        let _ = writeln!(
            b,
            "Upgrades the Helm chart **{}** from {} to {}{where_}.\n",
            group.chart,
            from.iter()
                .map(|f| text::code_span(f))
                .collect::<Vec<_>>()
                .join(", "),
            text::code_span(group.version()),
        );
    }
    for c in &ranges {
        let _ = writeln!(
            b,
            "The range {} at {} becomes the pin {}, the newest release in it that the policy allows (`policy.ranges = \"pin\"`). Later releases then come as upgrade PRs like any pin's.\n",
            text::code_span(c.range().unwrap_or_default()),
            text::code_span(&format!("{}:{}", c.pin.file, c.pin.line)),
            text::code_span(group.version()),
        );
    }
    if let Some(why) = &group.promoted {
        let _ = writeln!(b, "{why}\n");
    }
    let _ = writeln!(b, "| Name | File | From → To | Update |");
    let _ = writeln!(b, "| --- | --- | --- | --- |");
    for c in &group.changes {
        let _ = writeln!(
            b,
            "| {} | {} | {} → {} | {} |",
            cell(&c.pin.name),
            text::code_span(&format!("{}:{}", c.pin.file, c.pin.line)),
            text::code_span(&c.from),
            text::code_span(group.version()),
            c.kind()
        );
    }
    b.push('\n');
    if let Some(repo) = &group.repository {
        let _ = writeln!(b, "Chart repository: {}", text::code_span(repo));
    }
    match (&t.from_app_version, &t.release.app_version) {
        (Some(a), Some(z)) if a != z => {
            let _ = writeln!(
                b,
                "App version: {} → {}",
                text::code_span(a),
                text::code_span(z)
            );
        }
        (None, Some(z)) => {
            let _ = writeln!(b, "App version: {}", text::code_span(z));
        }
        _ => {}
    }
    if group.update() == crate::settings::UpdateType::Major {
        let _ = writeln!(
            b,
            "\n> [!WARNING]\n> A major update: read the chart's upgrade notes before merging. chartpilot never merges it on its own."
        );
    }
    if let Some(impact) = &group.impact {
        let _ = writeln!(b, "\n{}", impact.markdown.trim_end());
    }
    super::notes::write(&mut b, t);
    let links: Vec<String> = t
        .release
        .home
        .iter()
        .map(|h| ("Home", h))
        .chain(
            t.release
                .sources
                .iter()
                .take(MAX_SOURCE_LINKS)
                .map(|s| ("Source", s)),
        )
        .filter_map(|(what, url)| text::link(url).map(|u| format!("- {what}: {u}")))
        .collect();
    if !links.is_empty() {
        let _ = writeln!(b, "\n### Links\n{}", links.join("\n"));
    }
    let _ = writeln!(b, "\n---");
    let next: Vec<&str> = environments
        .iter()
        .skip_while(|e| **e != group.env)
        .skip(1)
        .map(String::as_str)
        .collect();
    if next.is_empty() {
        let _ = writeln!(b, "Opened by chartpilot.");
    } else {
        let _ = writeln!(
            b,
            "Opened by chartpilot. After the merge, {} follow by promotion once {} is synced, healthy and quiet.",
            next.join(" and "),
            group.env
        );
    }
    if b.len() > MAX_BODY_CHARS {
        text::truncate_bytes(&mut b, MAX_BODY_CHARS);
        b.push_str("\n\n…(cut: the full list is in the commit)\n");
    }
    b
}

/// The commit's message: the PR title, then one line per pin.
pub fn commit_message(group: &Group) -> String {
    let mut m = format!("{}\n\n", group.title());
    for c in &group.changes {
        let _ = writeln!(
            m,
            "{}:{} {}: {} -> {} ({})",
            c.pin.file,
            c.pin.line,
            c.pin.name,
            c.from,
            group.version(),
            c.kind()
        );
    }
    m
}

#[cfg(test)]
mod tests;
