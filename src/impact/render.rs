//! The impact for people: a Markdown section for PR bodies (every key,
//! value, path and message through [`crate::text`], the longest lists cut
//! and counted to fit) and plain lines for the terminal.

use super::overrides::Override;
use super::values::short;
use super::Impact;
use crate::text;

/// Characters of one key path or value inside a code span.
const MAX_ITEM_CHARS: usize = 200;

/// Characters of one violation or reason in prose.
const MAX_PROSE_CHARS: usize = 300;

/// The section's heading; the lead's PR body finds it by this text.
pub const HEADING: &str = "### Impact on this repository";

/// What an upgrade that needs nothing says.
pub const NO_IMPACT: &str = "No impact on this repository's overrides.";

fn code(s: &str) -> String {
    text::code(s, MAX_ITEM_CHARS)
}

fn at(file: &str, line: usize) -> String {
    code(&format!("{file}:{line}"))
}

/// A titled list, of which the first `shown` items are written.
struct List {
    title: String,
    items: Vec<String>,
    shown: usize,
    /// Inside the collapsed defaults block.
    defaults: bool,
}

impl List {
    fn new(title: String, items: Vec<String>, defaults: bool) -> Self {
        let shown = items.len();
        Self {
            title,
            items,
            shown,
            defaults,
        }
    }

    fn write(&self, out: &mut String) {
        if self.items.is_empty() {
            return;
        }
        out.push_str(&self.title);
        out.push_str("\n\n");
        for item in &self.items[..self.shown] {
            out.push_str("- ");
            out.push_str(item);
            out.push('\n');
        }
        let left = self.items.len() - self.shown;
        if left > 0 {
            out.push_str(&format!("- …and {left} more\n"));
        }
        out.push('\n');
    }
}

/// The "Impact on this repository" section, at most `max_chars`
/// characters: the longest lists are cut first, each saying how many
/// items it left out.
pub fn markdown(impact: &Impact, max_chars: usize) -> String {
    let (head, mut lists) = parts(impact);
    let defaults_total = impact.defaults.removed.len()
        + impact.defaults.renamed.len()
        + impact.defaults.changed.len()
        + impact.defaults.added.len();
    let summary = format!(
        "<details><summary>Default values of the chart: {} removed, {} renamed, {} changed, {} added</summary>\n\n",
        impact.defaults.removed.len(),
        impact.defaults.renamed.len(),
        impact.defaults.changed.len(),
        impact.defaults.added.len()
    );
    let render = |lists: &[List]| {
        let mut out = head.clone();
        for list in lists.iter().filter(|l| !l.defaults) {
            list.write(&mut out);
        }
        if defaults_total > 0 {
            out.push_str(&summary);
            for list in lists.iter().filter(|l| l.defaults) {
                list.write(&mut out);
            }
            out.push_str("</details>\n");
        }
        out
    };
    let mut out = render(&lists);
    while out.chars().count() > max_chars {
        let Some(longest) = lists
            .iter_mut()
            .filter(|l| l.shown > 0)
            .max_by_key(|l| l.shown)
        else {
            break;
        };
        longest.shown /= 2;
        out = render(&lists);
    }
    text::cut(&out, max_chars).into_owned()
}

fn parts(impact: &Impact) -> (String, Vec<List>) {
    let mut head = format!("{HEADING}\n\n");
    let chart = format!(
        "{} {} → {}",
        text::inline(&impact.chart, MAX_ITEM_CHARS),
        text::inline(&impact.from, MAX_ITEM_CHARS),
        text::inline(&impact.to, MAX_ITEM_CHARS)
    );
    let broken = impact.removed.len()
        + impact
            .violations
            .iter()
            .filter(|v| v.file.is_some())
            .count();
    if impact.breaks_overrides() {
        head.push_str(&format!(
            "**{chart}**: {broken} of this repository's overrides need a change.\n\n"
        ));
    } else {
        head.push_str(NO_IMPACT);
        head.push('\n');
        if !impact.is_quiet() {
            head.push('\n');
        }
    }
    if let Some(k) = &impact.kube_version {
        head.push_str(&format!(
            "**kubeVersion** {} of the new version excludes the cluster's {} (`policy.kube_version`).\n\n",
            code(&k.constraint),
            code(&k.kube_version)
        ));
    }
    let mut lists = Vec::new();
    lists.push(List::new(
        "**Overrides the new version no longer has**".into(),
        impact
            .removed
            .iter()
            .map(|r| {
                let renamed = r
                    .renamed_to
                    .as_ref()
                    .map(|to| format!(", renamed to {}", code(&to.to_string())))
                    .unwrap_or_default();
                format!(
                    "{} at {}{renamed}",
                    code(&r.path.to_string()),
                    at(&r.file, r.line)
                )
            })
            .collect(),
        false,
    ));
    lists.push(List::new(
        "**Overrides the new version's values.schema.json refuses**".into(),
        impact
            .violations
            .iter()
            .filter(|v| v.file.is_some())
            .map(|v| {
                format!(
                    "{} at {}: {}",
                    code(&v.path),
                    at(v.file.as_deref().unwrap_or_default(), v.line.unwrap_or(0)),
                    text::inline(&v.message, MAX_PROSE_CHARS)
                )
            })
            .collect(),
        false,
    ));
    lists.push(List::new(
        "**The new version's own defaults fail its values.schema.json**".into(),
        impact
            .violations
            .iter()
            .filter(|v| v.file.is_none())
            .map(|v| {
                format!(
                    "{}: {}",
                    code(&v.path),
                    text::inline(&v.message, MAX_PROSE_CHARS)
                )
            })
            .collect(),
        false,
    ));
    let crds = &impact.crds;
    lists.push(List::new(
        "**CRDs in `crds/`** (Helm does not upgrade them: apply them before the upgrade)".into(),
        crds.added
            .iter()
            .map(|c| format!("added {}", code(c)))
            .chain(crds.changed.iter().map(|c| format!("changed {}", code(c))))
            .chain(crds.removed.iter().map(|c| format!("removed {}", code(c))))
            .collect(),
        false,
    ));
    lists.push(List::new(
        "**Overrides not checked** (not known before the tool runs)".into(),
        impact.unresolved.iter().map(unresolved).collect(),
        false,
    ));
    lists.push(List::new(
        "**Notes**".into(),
        impact
            .notes
            .iter()
            .map(|n| text::inline(n, MAX_PROSE_CHARS))
            .collect(),
        false,
    ));
    let d = &impact.defaults;
    lists.push(List::new(
        "Renamed".into(),
        d.renamed
            .iter()
            .map(|r| {
                format!(
                    "{} → {}",
                    code(&r.from.to_string()),
                    code(&r.to.to_string())
                )
            })
            .collect(),
        true,
    ));
    lists.push(List::new(
        "Removed".into(),
        d.removed
            .iter()
            .map(|l| {
                format!(
                    "{} (was {})",
                    code(&l.path.to_string()),
                    code(&short(&l.value, 80))
                )
            })
            .collect(),
        true,
    ));
    lists.push(List::new(
        "Changed".into(),
        d.changed
            .iter()
            .map(|c| {
                format!(
                    "{}: {} → {}",
                    code(&c.path.to_string()),
                    code(&short(&c.from, 80)),
                    code(&short(&c.to, 80))
                )
            })
            .collect(),
        true,
    ));
    lists.push(List::new(
        "Added".into(),
        d.added
            .iter()
            .map(|l| {
                format!(
                    "{} = {}",
                    code(&l.path.to_string()),
                    code(&short(&l.value, 80))
                )
            })
            .collect(),
        true,
    ));
    (head, lists)
}

fn unresolved(o: &Override) -> String {
    let path = if o.path.is_empty() {
        String::new()
    } else {
        format!("{} ", code(&o.path.to_string()))
    };
    format!(
        "{path}at {}: {}",
        at(&o.file, o.line),
        text::inline(o.unresolved.as_deref().unwrap_or_default(), MAX_PROSE_CHARS)
    )
}

/// Plain lines for a terminal: what breaks first, then the rest.
pub fn table(impact: &Impact) -> String {
    let mut out = format!(
        "{} {} → {}: {} overrides read\n",
        impact.chart, impact.from, impact.to, impact.overrides
    );
    if !impact.breaks_overrides() {
        out.push_str(NO_IMPACT);
        out.push('\n');
    }
    for r in &impact.removed {
        let renamed = r
            .renamed_to
            .as_ref()
            .map(|to| format!(" (renamed to {to})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "REMOVED   {}:{}  {}{renamed}\n",
            r.file, r.line, r.path
        ));
    }
    for v in &impact.violations {
        let place = match (&v.file, v.line) {
            (Some(f), Some(l)) => format!("{f}:{l}"),
            _ => "(chart defaults)".to_owned(),
        };
        out.push_str(&format!("SCHEMA    {place}  {}: {}\n", v.path, v.message));
    }
    for u in &impact.unknown {
        out.push_str(&format!(
            "UNKNOWN   {}:{}  {} (in neither version's defaults)\n",
            u.file, u.line, u.path
        ));
    }
    for u in &impact.unresolved {
        out.push_str(&format!(
            "UNREAD    {}:{}  {}\n",
            u.file,
            u.line,
            u.unresolved.as_deref().unwrap_or_default()
        ));
    }
    let crds = &impact.crds;
    for (what, list) in [
        ("added", &crds.added),
        ("changed", &crds.changed),
        ("removed", &crds.removed),
    ] {
        for c in list {
            out.push_str(&format!("CRD       {what} {c}\n"));
        }
    }
    if let Some(k) = &impact.kube_version {
        out.push_str(&format!(
            "KUBE      kubeVersion {} excludes {}\n",
            k.constraint, k.kube_version
        ));
    }
    for n in &impact.notes {
        out.push_str(&format!("NOTE      {n}\n"));
    }
    let d = &impact.defaults;
    out.push_str(&format!(
        "defaults: {} removed, {} renamed, {} changed, {} added\n",
        d.removed.len(),
        d.renamed.len(),
        d.changed.len(),
        d.added.len()
    ));
    // Keys and messages come from the chart and the repository: no
    // terminal escape sequences from them.
    out.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}
