//! Release notes in an upgrade PR: the first release of each major the
//! upgrade crosses (where charts announce breaking changes), then the
//! newest releases' notes. Chart authors' text is untrusted: every line
//! goes through `crate::text`, and every part is bounded so the body stays
//! under GitHub's limit whatever the index holds.

use std::fmt::Write;

use super::plan::{version_order, Target};
use crate::charts::version::{update_type, Version};
use crate::charts::Release;
use crate::settings::UpdateType;
use crate::text;

/// Release notes of at most this many versions are shown; a PR that skips
/// dozens of releases links to the chart's home for the rest.
const MAX_NOTE_VERSIONS: usize = 10;

/// GitHub refuses bodies over 65,536 characters; the newest releases'
/// notes are cut well before, leaving room for the table and the majors.
const MAX_NOTES_CHARS: usize = 20_000;

/// The majors section as a whole: with [`MAX_NOTES_CHARS`] and the table,
/// still under the body's own bound.
const MAX_MAJORS_CHARS: usize = 20_000;

/// One major's part: a chatty `x.0.0` must not crowd out the next major.
const MAX_MAJOR_CHARS: usize = 4_000;

/// Majors listed one by one; an upgrade across more (a `0.x` chart years
/// behind) names how many more there are.
const MAX_MAJORS: usize = 12;

/// One change note is cut here.
const MAX_NOTE_CHARS: usize = 1_000;

/// Lines of free-form notes read; the rest could only be cut later.
const MAX_NOTE_LINES: usize = 500;

/// Artifact Hub change kinds that can break an upgrade: what a person must
/// read first when crossing a major.
const BREAKING_KINDS: [&str; 3] = ["changed", "removed", "security"];

/// The first release of each major after `from` up to `to`, oldest first,
/// with its change notes when it has some. The first stable release of a
/// major counts; a major published only as pre-releases counts its first
/// one. Nothing when `from` and `to` share a major.
pub(super) fn majors_crossed(
    list: &[Release],
    from: &str,
    to: &str,
) -> Vec<(String, Option<String>)> {
    use std::cmp::Ordering::Greater;
    let mut between: Vec<(&Release, Version)> = list
        .iter()
        .filter(|r| {
            version_order(&r.version, from) == Greater && version_order(&r.version, to) != Greater
        })
        .map(|r| (r, Version::parse(&r.version)))
        .collect();
    between.sort_by(|a, b| a.1.cmp(&b.1));
    // Releases grouped by major, in order: a release starts a new group
    // when it is a major update from the group before (or from the pin).
    let mut groups: Vec<Vec<(&Release, Version)>> = Vec::new();
    let mut anchor = Version::parse(from);
    for (release, version) in between {
        if update_type(&anchor, &version) == Some(UpdateType::Major) {
            anchor = version.clone();
            groups.push(Vec::new());
        }
        if let Some(group) = groups.last_mut() {
            group.push((release, version));
        }
    }
    groups
        .into_iter()
        .filter_map(|group| {
            let stable = group
                .iter()
                .find(|(r, v)| !v.is_prerelease() && !r.prerelease);
            let (first, _) = stable.or(group.first())?;
            Some((first.version.clone(), first.changes.clone()))
        })
        .collect()
}

/// The majors crossed, then the newest releases' notes, each under its
/// heading; nothing for an upgrade without either.
pub(super) fn write(b: &mut String, target: &Target) {
    majors(b, &target.majors);
    newest(b, &target.notes);
}

fn majors(b: &mut String, majors: &[(String, Option<String>)]) {
    if majors.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        "\n### Majors crossed\n\nThe first release of each major this upgrade crosses, oldest first. Its changes of kind changed, removed and security come first, in bold: read them before merging."
    );
    let start = b.len();
    for (version, changes) in majors.iter().take(MAX_MAJORS) {
        let part = b.len();
        let _ = writeln!(b, "\n**{}**\n", cell(version));
        let Some(changes) = changes else {
            let _ = writeln!(
                b,
                "- No change notes published: read the chart's upgrade notes for {}.",
                cell(version)
            );
            continue;
        };
        // What may break first, its kind in bold; the rest after it, since
        // charts do not always file a breaking default under `changed`.
        let (breaking, rest): (Vec<Change>, Vec<Change>) = change_items(changes)
            .into_iter()
            .partition(Change::may_break);
        for c in &breaking {
            match &c.kind {
                Some(kind) => {
                    let _ = writeln!(b, "- **{}**: {}", quiet(kind), c.text);
                }
                None => {
                    let _ = writeln!(b, "- {}", c.text);
                }
            }
        }
        for c in &rest {
            let _ = writeln!(b, "- {}", c.line());
        }
        if b.len() - part > MAX_MAJOR_CHARS {
            text::truncate_bytes(b, part + MAX_MAJOR_CHARS);
            b.push_str("\n- …(cut)\n");
        }
        if b.len() - start > MAX_MAJORS_CHARS {
            text::truncate_bytes(b, start + MAX_MAJORS_CHARS);
            b.push_str("\n\n…(cut)\n");
            return;
        }
    }
    if majors.len() > MAX_MAJORS {
        let _ = writeln!(
            b,
            "\n…and {} later majors: see the chart's home for their notes.",
            majors.len() - MAX_MAJORS
        );
    }
}

fn newest(b: &mut String, notes: &[(String, String)]) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(b, "\n### Release notes");
    let start = b.len();
    for (version, changes) in notes.iter().take(MAX_NOTE_VERSIONS) {
        let _ = writeln!(b, "\n**{}**\n", cell(version));
        for c in change_items(changes) {
            let _ = writeln!(b, "- {}", c.line());
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

/// One change: its Artifact Hub `kind` when it has one, and its text
/// (description and links), already through the sanitizer.
struct Change {
    kind: Option<String>,
    text: String,
}

impl Change {
    /// Of a kind that can break an upgrade, or of no kind at all (free
    /// text, a plain list item): what cannot be told apart counts.
    fn may_break(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| {
            BREAKING_KINDS
                .iter()
                .any(|b| b.eq_ignore_ascii_case(k.trim()))
        })
    }

    /// `kind: text`, or the text alone.
    fn line(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{}: {}", quiet(kind), self.text),
            None => self.text.clone(),
        }
    }
}

/// One item per change. Artifact Hub's usual form is a YAML list of
/// `kind` + `description` (+ `links`): each item reads `kind: description`.
/// Any other text, and YAML refused by the bounded loader (aliases that
/// expand past its budget), is read line by line, as written.
fn change_items(notes: &str) -> Vec<Change> {
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
        .map(|l| Change {
            kind: None,
            text: quiet(l),
        })
        .collect()
}

fn change_item(item: &yaml_rust2::Yaml) -> Option<Change> {
    if let Some(s) = item.as_str() {
        return Some(Change {
            kind: None,
            text: quiet(s),
        });
    }
    let mut text = quiet(item["description"].as_str()?);
    let kind = item["kind"].as_str().map(str::to_owned);
    for l in item["links"].as_vec().into_iter().flatten() {
        if let (Some(name), Some(url)) =
            (l["name"].as_str(), l["url"].as_str().and_then(text::link))
        {
            let _ = write!(text, " ([{}]({url}))", quiet(name));
        }
    }
    Some(Change { kind, text })
}

/// Chart authors' text on one line, through the sanitizer: no HTML, no
/// Markdown structure, no mentions (a change note must not notify people
/// here) and no issue references ("Fixes #12" about the chart's own issue
/// must not close ours on merge).
fn quiet(s: &str) -> String {
    text::inline(s, MAX_NOTE_CHARS)
}

/// A version as the index spells it, escaped like a table cell.
fn cell(s: &str) -> String {
    text::inline(s, super::body::MAX_CELL_CHARS)
}

#[cfg(test)]
mod tests;
