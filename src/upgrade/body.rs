//! What a person reads: the upgrade PR's body and the commit message.
//! Text from chart indexes is untrusted; it is escaped for Markdown tables
//! and bounded so a chatty chart cannot blow GitHub's body limit.

use std::fmt::Write;

use super::plan::{Group, PinChange, ANY_ENV};
use crate::text;

/// GitHub refuses bodies over 65,536 characters; notes are cut well
/// before, leaving room for the table.
const MAX_NOTES_CHARS: usize = 20_000;

/// Release notes of at most this many versions are shown; a PR that skips
/// dozens of releases links to the chart's home for the rest.
const MAX_NOTE_VERSIONS: usize = 10;

/// One change note is cut here; a release's notes are bounded as a whole
/// by [`MAX_NOTES_CHARS`].
const MAX_NOTE_CHARS: usize = 1_000;

/// Lines of free-form notes read; the rest could only be cut later.
const MAX_NOTE_LINES: usize = 500;

/// Source links shown; an index may list any number.
const MAX_SOURCE_LINKS: usize = 5;

/// The whole body stays under GitHub's 65,536-character limit whatever
/// the index holds (many pins, long names).
const MAX_BODY_CHARS: usize = 60_000;

/// Names, versions and paths in a table cell: the repository's and the
/// index's text, so it goes through the one sanitizer.
const MAX_CELL_CHARS: usize = 300;

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
    notes(&mut b, group);
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

fn notes(b: &mut String, group: &Group) {
    let notes = &group.target.notes;
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(b, "\n### Release notes");
    let start = b.len();
    for (version, changes) in notes.iter().take(MAX_NOTE_VERSIONS) {
        let _ = writeln!(b, "\n**{}**\n", cell(version));
        for line in change_lines(changes) {
            let _ = writeln!(b, "- {line}");
        }
        if b.len() - start > MAX_NOTES_CHARS {
            text::truncate_bytes(b, start + MAX_NOTES_CHARS);
            b.push_str("\n\n…(cut)\n");
            return;
        }
    }
    if notes.len() > MAX_NOTE_VERSIONS {
        let _ = writeln!(
            b,
            "\n…and {} earlier releases.",
            notes.len() - MAX_NOTE_VERSIONS
        );
    }
}

/// One bullet per change. Artifact Hub's usual form is a YAML list of
/// `kind` + `description` (+ `links`): each item reads `kind: description`.
/// Any other text, and YAML refused by the bounded loader (aliases that
/// expand past its budget), is shown line by line, as written, bounded by
/// the notes' length.
fn change_lines(notes: &str) -> Vec<String> {
    use yaml_rust2::Yaml;
    if let Ok(docs) = crate::yaml::load_bounded(notes, "artifacthub.io/changes") {
        if let Some(Yaml::Array(items)) = docs.first() {
            return items.iter().filter_map(change_item).collect();
        }
    }
    notes
        .lines()
        .take(MAX_NOTE_LINES)
        .map(|l| l.trim().trim_start_matches("- ").trim())
        .filter(|l| !l.is_empty())
        .map(quiet)
        .collect()
}

fn change_item(item: &yaml_rust2::Yaml) -> Option<String> {
    if let Some(s) = item.as_str() {
        return Some(quiet(s));
    }
    let description = quiet(item["description"].as_str()?);
    let mut line = match item["kind"].as_str() {
        Some(kind) => format!("{}: {description}", quiet(kind)),
        None => description,
    };
    for l in item["links"].as_vec().into_iter().flatten() {
        if let (Some(name), Some(url)) =
            (l["name"].as_str(), l["url"].as_str().and_then(text::link))
        {
            let _ = write!(line, " ([{}]({url}))", quiet(name));
        }
    }
    Some(line)
}

/// Chart authors' text on one line, through the sanitizer: no HTML, no
/// Markdown structure, no mentions (a change note must not notify people
/// here) and no issue references ("Fixes #12" about the chart's own issue
/// must not close ours on merge).
fn quiet(s: &str) -> String {
    text::inline(s, MAX_NOTE_CHARS)
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
