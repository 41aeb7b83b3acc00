//! Byte-level helpers for the YAML tree: character markers to byte
//! offsets, lines, document boundaries and the extent of scalar tokens.

use std::ops::Range;

/// Turns parser markers (1-based line, column in characters) into byte
/// offsets. yaml-rust2's own `index` cannot be used: inside block scalars
/// it advances by bytes while elsewhere it counts characters, so after a
/// `description: |` with an em dash every later offset was off. Its lines
/// are right everywhere, and a column only counts characters of one line
/// that holds no block scalar text before the marker.
pub(super) struct MarkerOffsets<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl<'a> MarkerOffsets<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            lines: LineIndex::new(text),
        }
    }

    /// Byte offset of the character at `col` of 1-based `line`, or the end
    /// of the text past it.
    pub fn byte_of(&self, line: usize, col: usize) -> usize {
        let Some(start) = self.lines.start_of(line) else {
            return self.text.len();
        };
        let rest = self.text.get(start..).unwrap_or("");
        start
            + rest
                .char_indices()
                .nth(col)
                .map_or(rest.len(), |(at, _)| at)
    }
}

pub(super) use super::super::LineIndex;

/// Lines with their byte offset, line breaks kept.
fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line))
    })
}

/// `---` at the start of a line, alone or followed by blanks: a document
/// start wherever it appears, even inside a quoted or block scalar.
fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line holds anything beyond blanks, comments and directives.
fn has_content(line: &str) -> bool {
    let body = if is_document_marker(line) {
        line.get(3..).unwrap_or("")
    } else if line.starts_with('%') {
        return false;
    } else {
        line
    };
    let body = body.trim_start();
    !(body.is_empty() || body.starts_with('#'))
}

/// Byte ranges of the documents of `text`, cut before each `---` line.
/// Leading comments and directives stay with the document they precede; a
/// byte-order mark is left out.
pub(super) fn split_documents(text: &str) -> Vec<Range<usize>> {
    let first = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let body = text.get(first..).unwrap_or("");
    let mut chunks = Vec::new();
    let mut start = first;
    let mut content = false;
    for (offset, line) in lines_with_offsets(body) {
        let at = first + offset;
        if is_document_marker(line) && content {
            chunks.push(start..at);
            start = at;
            content = false;
        }
        content |= has_content(line);
    }
    if content {
        chunks.push(start..text.len());
    }
    chunks
}

/// Byte offset of the first line that uses `{{ ... }}` outside quotes and
/// comments: a hint that a document failed to parse because it is a Go or
/// Helm template rather than YAML.
pub(super) fn template_line(chunk: &str) -> Option<usize> {
    lines_with_offsets(chunk)
        .find(|(_, line)| unquoted_template(line))
        .map(|(offset, _)| offset)
}

fn unquoted_template(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => return false,
            (None, '{') if chars.peek() == Some(&'{') => return true,
            (None, _) => {}
        }
        previous = c;
    }
    false
}

/// End of the plain scalar `value` written at `start`. A multi-line plain
/// scalar folds its line breaks and indentation into single spaces (or
/// newlines), so whitespace runs are matched as runs.
pub(super) fn plain_end(file: &str, start: usize, value: &str) -> Option<usize> {
    let is_blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let raw = file.get(start..)?;
    let mut written = raw.char_indices().peekable();
    let mut wanted = value.chars().peekable();
    let mut end = 0;
    while let Some(&want) = wanted.peek() {
        if is_blank(want) {
            while wanted.next_if(|c| is_blank(*c)).is_some() {}
            let mut skipped = false;
            while written.next_if(|(_, c)| is_blank(*c)).is_some() {
                skipped = true;
            }
            if !skipped {
                return None;
            }
        } else {
            let (at, got) = written.next()?;
            if got != want {
                return None;
            }
            wanted.next();
            end = at + got.len_utf8();
        }
    }
    Some(start + end)
}

/// The text between the quotes of a single-quoted scalar whose opening
/// quote is at `start` (`''` is an escaped quote).
pub(super) fn single_quoted(file: &str, start: usize) -> Option<Range<usize>> {
    let bytes = file.as_bytes();
    if bytes.get(start) != Some(&b'\'') {
        return None;
    }
    let mut at = start + 1;
    loop {
        match bytes.get(at)? {
            b'\'' if bytes.get(at + 1) == Some(&b'\'') => at += 2,
            b'\'' => return Some(start + 1..at),
            _ => at += 1,
        }
    }
}

/// The text between the quotes of a double-quoted scalar whose opening
/// quote is at `start`. Scanning bytes is safe: `"` and `\` never occur
/// inside a multi-byte UTF-8 sequence.
pub(super) fn double_quoted(file: &str, start: usize) -> Option<Range<usize>> {
    let bytes = file.as_bytes();
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut at = start + 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(start + 1..at),
            _ => at += 1,
        }
    }
}
