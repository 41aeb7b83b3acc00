//! One chart's list of releases, field by field.

use chrono::{DateTime, Utc};
use saphyr_parser::Event;

use super::{is_null, Events, IndexError};
use crate::charts::Release;

/// Nesting rendered inside `artifacthub.io/changes` items (`links:` lists
/// of mappings need two); deeper values are dropped, so a hostile index
/// cannot make rendering recurse without bound.
const MAX_CHANGES_DEPTH: usize = 4;

pub(super) fn parse_releases(events: &mut Events<'_>) -> Result<Vec<Release>, IndexError> {
    let mut out = Vec::new();
    match events.next()? {
        (Event::SequenceStart(..), _) => {}
        (ev, _) => return events.skip_rest(&ev).map(|()| out),
    }
    loop {
        match events.next()? {
            (Event::SequenceEnd, _) => return Ok(out),
            (Event::MappingStart(..), _) => {
                if let Some(release) = parse_release(events)? {
                    out.push(release);
                }
            }
            (ev, _) => events.skip_rest(&ev)?,
        }
    }
}

/// After the release's `MappingStart`; `None` when it has no version.
fn parse_release(events: &mut Events<'_>) -> Result<Option<Release>, IndexError> {
    let mut r = Release::default();
    let mut version = None;
    while let Some(key) = events.key()? {
        match key.as_ref() {
            // Raw scalar text: `1.10` stays "1.10", never the number 1.1.
            "version" => version = events.text()?.map(|v| v.into_owned()),
            "appVersion" => r.app_version = events.text()?.map(|v| v.into_owned()),
            "created" => r.created = events.text()?.as_deref().and_then(parse_time),
            "deprecated" => r.deprecated = events.text()?.as_deref().is_some_and(is_true),
            "home" => r.home = events.text()?.map(|v| v.into_owned()),
            "sources" => r.sources = events.text_list()?,
            "urls" => r.urls = events.text_list()?,
            "annotations" => parse_annotations(events, &mut r)?,
            _ => events.skip_value()?,
        }
    }
    Ok(version.map(|version| Release { version, ..r }))
}

fn parse_annotations(events: &mut Events<'_>, r: &mut Release) -> Result<(), IndexError> {
    match events.next()? {
        (Event::MappingStart(..), _) => {}
        (ev, _) => return events.skip_rest(&ev),
    }
    while let Some(key) = events.key()? {
        match key.as_ref() {
            "artifacthub.io/prerelease" => {
                r.prerelease = events.text()?.as_deref().is_some_and(is_true);
            }
            "artifacthub.io/changes" => {
                let (ev, _) = events.next()?;
                let mut text = String::new();
                render_changes(events, ev, &mut text)?;
                r.changes = (!text.is_empty()).then_some(text);
            }
            _ => events.skip_value()?,
        }
    }
    Ok(())
}

/// `artifacthub.io/changes` is usually a block string holding a YAML list;
/// kept as written. Some charts write the list itself: each item becomes a
/// `- {"kind": "added", "description": "..."}` line, scalars quoted as JSON
/// strings, so the text is YAML again and readers parse both forms alike.
fn render_changes<'a>(
    events: &mut Events<'a>,
    first: Event<'a>,
    out: &mut String,
) -> Result<(), IndexError> {
    match first {
        Event::SequenceStart(..) => loop {
            let (ev, _) = events.next()?;
            if matches!(ev, Event::SequenceEnd) {
                return Ok(());
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str("- ");
            render_flow(events, ev, out, 1)?;
        },
        other if is_null(&other) => Ok(()),
        Event::Scalar(text, ..) => {
            out.push_str(text.trim_end());
            Ok(())
        }
        other => render_flow(events, other, out, 0),
    }
}

/// A JSON string is a YAML double-quoted scalar: whatever the text holds,
/// the line stays parseable.
fn push_quoted(out: &mut String, text: &str) {
    match serde_json::to_string(text) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

/// The rest of a mapping as `k: v, k: v`.
fn render_pairs(events: &mut Events<'_>, out: &mut String, depth: usize) -> Result<(), IndexError> {
    let mut first = true;
    while let Some(key) = events.key()? {
        if !first {
            out.push_str(", ");
        }
        first = false;
        push_quoted(out, key.trim());
        out.push_str(": ");
        let (ev, _) = events.next()?;
        render_flow(events, ev, out, depth + 1)?;
    }
    Ok(())
}

/// One node in compact flow style (`[a, b]`, `{k: v}`), on one line.
fn render_flow<'a>(
    events: &mut Events<'a>,
    first: Event<'a>,
    out: &mut String,
    depth: usize,
) -> Result<(), IndexError> {
    if depth > MAX_CHANGES_DEPTH {
        out.push('…');
        return events.skip_rest(&first);
    }
    match first {
        Event::Scalar(text, ..) => {
            // Multi-line descriptions stay on the item's line.
            let words: Vec<&str> = text.split_whitespace().collect();
            push_quoted(out, &words.join(" "));
        }
        Event::MappingStart(..) => {
            out.push('{');
            render_pairs(events, out, depth)?;
            out.push('}');
        }
        Event::SequenceStart(..) => {
            out.push('[');
            let mut first_item = true;
            loop {
                let (ev, _) = events.next()?;
                if matches!(ev, Event::SequenceEnd) {
                    break;
                }
                if !first_item {
                    out.push_str(", ");
                }
                first_item = false;
                render_flow(events, ev, out, depth + 1)?;
            }
            out.push(']');
        }
        // Aliases are not resolved: an index has no reason to use them.
        Event::Alias(_) => out.push('*'),
        other => events.skip_rest(&other)?,
    }
    Ok(())
}

/// RFC 3339 with any fraction and offset (Helm writes nanoseconds and `Z`
/// or `+00:00`); a lowercase `t`/`z` or a space separator also occurs.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| {
            let fixed = text.replacen(' ', "T", 1);
            DateTime::parse_from_rfc3339(&fixed).ok()
        })
        .map(|t| t.with_timezone(&Utc))
}

/// YAML 1.2 core schema booleans; quoted `"true"` counts too, as Artifact
/// Hub writes its annotation that way.
fn is_true(text: &str) -> bool {
    matches!(text, "true" | "True" | "TRUE")
}
