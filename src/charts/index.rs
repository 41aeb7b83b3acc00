//! Helm `index.yaml`.
//!
//! Big repositories publish indexes of tens of megabytes, and loading one as
//! a YAML tree costs many times its size. This reads the parser's events
//! instead and keeps only the fields of [`Release`], for the charts asked
//! for: other charts pass as events borrowed from the input, with nothing
//! allocated per release.

mod release;

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput};

use super::ChartIndex;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index.yaml line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("index.yaml: {0}")]
    Shape(String),
}

/// Parses an index, keeping only charts for which `wanted(name)` is true.
///
/// Charts keep the order of their releases; a chart listed twice under
/// `entries` gets the releases of both. Releases without a `version` are
/// dropped, as Helm cannot install them either.
pub fn parse_index(bytes: &[u8], wanted: &dyn Fn(&str) -> bool) -> Result<ChartIndex, IndexError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        IndexError::Syntax {
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
            reason: "not UTF-8".into(),
        }
    })?;
    let mut events = Events::new(text);
    loop {
        match events.next()? {
            (Event::StreamStart | Event::DocumentStart(_), _) => continue,
            (Event::MappingStart(..), _) => break,
            (Event::StreamEnd, _) => return Err(IndexError::Shape("empty document".into())),
            (_, span) => return Err(events.error_at(span, "the top level is not a mapping")),
        }
    }
    let mut out = ChartIndex::new();
    let mut seen_entries = false;
    while let Some(key) = events.key()? {
        if key == "entries" {
            seen_entries = true;
            parse_entries(&mut events, wanted, &mut out)?;
        } else {
            events.skip_value()?;
        }
    }
    if !seen_entries {
        return Err(IndexError::Shape("no `entries` map".into()));
    }
    Ok(out)
}

fn parse_entries(
    events: &mut Events<'_>,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut ChartIndex,
) -> Result<(), IndexError> {
    match events.next()? {
        (Event::MappingStart(..), _) => {}
        (ev, _) if is_null(&ev) => return Ok(()),
        (_, span) => return Err(events.error_at(span, "`entries` is not a mapping")),
    }
    while let Some(name) = events.key()? {
        if !wanted(&name) {
            events.skip_value()?;
            continue;
        }
        let releases = release::parse_releases(events)?;
        out.entry(name.into_owned()).or_default().extend(releases);
    }
    Ok(())
}

/// The parser's events with line-numbered errors and the few moves the
/// index reader needs.
struct Events<'a> {
    parser: Parser<'a, StrInput<'a>>,
}

impl<'a> Events<'a> {
    fn new(text: &'a str) -> Self {
        Events {
            parser: Parser::new_from_str(text),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), IndexError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(syntax(&e)),
            None => Err(IndexError::Shape("unexpected end of input".into())),
        }
    }

    /// Inside a mapping: the next key, or `None` at the mapping's end. Keys
    /// that are not text (a rare complex key) are skipped with their values.
    fn key(&mut self) -> Result<Option<Cow<'a, str>>, IndexError> {
        loop {
            match self.next()? {
                (Event::MappingEnd, _) => return Ok(None),
                (Event::Scalar(text, ..), _) => return Ok(Some(text)),
                (ev, _) => {
                    self.skip_rest(&ev)?;
                    self.skip_value()?;
                }
            }
        }
    }

    /// Skips one whole node.
    fn skip_value(&mut self) -> Result<(), IndexError> {
        let (ev, _) = self.next()?;
        self.skip_rest(&ev)
    }

    /// Skips what is left of a node whose first event was `first`; counting
    /// depth instead of recursing keeps hostile nesting off the stack.
    fn skip_rest(&mut self, first: &Event<'a>) -> Result<(), IndexError> {
        let mut depth: usize = match first {
            Event::MappingStart(..) | Event::SequenceStart(..) => 1,
            Event::MappingEnd | Event::SequenceEnd | Event::StreamEnd => {
                return Err(IndexError::Shape("a value is missing".into()))
            }
            _ => 0,
        };
        while depth > 0 {
            match self.next()?.0 {
                Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
                Event::MappingEnd | Event::SequenceEnd => depth -= 1,
                Event::StreamEnd => {
                    return Err(IndexError::Shape("unexpected end of input".into()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A scalar value as text; `None` for null, aliases and collections
    /// (skipped), which no text field of an index should be.
    fn text(&mut self) -> Result<Option<Cow<'a, str>>, IndexError> {
        let (ev, _) = self.next()?;
        if is_null(&ev) {
            return Ok(None);
        }
        match ev {
            Event::Scalar(text, ..) => Ok(Some(text)),
            other => self.skip_rest(&other).map(|()| None),
        }
    }

    /// A sequence of text values; a lone scalar counts as a one-item list,
    /// other items are skipped.
    fn text_list(&mut self) -> Result<Vec<String>, IndexError> {
        let mut out = Vec::new();
        match self.next()? {
            (Event::SequenceStart(..), _) => {}
            (ev, _) if is_null(&ev) => return Ok(out),
            (Event::Scalar(text, ..), _) => return Ok(vec![text.into_owned()]),
            (ev, _) => return self.skip_rest(&ev).map(|()| out),
        }
        loop {
            match self.next()? {
                (Event::SequenceEnd, _) => return Ok(out),
                (ev, _) if is_null(&ev) => {}
                (Event::Scalar(text, ..), _) => out.push(text.into_owned()),
                (ev, _) => self.skip_rest(&ev)?,
            }
        }
    }

    fn error_at(&self, span: Span, what: &str) -> IndexError {
        IndexError::Syntax {
            line: span.start.line(),
            reason: what.to_owned(),
        }
    }
}

fn syntax(e: &ScanError) -> IndexError {
    IndexError::Syntax {
        line: e.marker().line(),
        reason: e.info().to_owned(),
    }
}

/// YAML's null: an empty or `~`/`null` plain scalar.
fn is_null(ev: &Event<'_>) -> bool {
    match ev {
        Event::Scalar(text, ScalarStyle::Plain, ..) => {
            matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
