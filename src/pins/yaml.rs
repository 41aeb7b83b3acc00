//! A YAML document tree that remembers where every scalar is written.
//!
//! Pins are edited in place, so the scanners need the byte range of each
//! version in the file, which value-only loaders forget. The tree is built
//! from yaml-rust2's parser events; their markers count characters, so they
//! are turned into byte offsets here.
//!
//! A file is cut into documents at `---` lines before parsing: a broken or
//! templated document then costs only itself, not the documents after it.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{SourceFile, Warning};

mod text;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;

use text::{CharCursor, LineIndex};

/// Deeper nesting than this is no hand-written configuration; refusing it
/// bounds the recursion of everything that walks the tree.
const MAX_DEPTH: usize = 128;

/// How many aliases a lookup follows before giving up. Aliases cannot form
/// cycles, so this only guards against absurdly long chains.
const MAX_ALIAS_HOPS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub value: String,
    pub style: Style,
    /// Bytes of the file holding the value: the token of a plain scalar,
    /// the text between the quotes of a quoted one. Empty (at the content)
    /// for block scalars and values the parser made up, such as a missing
    /// value.
    pub span: Range<usize>,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// Whether `file[span] == value`: only then can the value be replaced
    /// by rewriting the span (escapes, folded lines and `''` make the
    /// written text differ from the value).
    pub exact: bool,
}

impl Scalar {
    /// YAML's null spellings, including a key with no value at all.
    pub fn is_null(&self) -> bool {
        self.style == Style::Plain
            && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// The span, when rewriting it rewrites exactly this value.
    pub fn exact_span(&self) -> Option<Range<usize>> {
        self.exact.then(|| self.span.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Scalar(Scalar),
    Sequence {
        items: Vec<Node>,
        line: usize,
    },
    /// Entries in file order.
    Mapping {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
    /// An alias shares its anchored node instead of copying it, so
    /// "billion laughs" files stay small.
    Alias(Rc<Node>),
}

impl Node {
    /// The node an alias stands for (the node itself otherwise).
    pub fn resolved(&self) -> &Node {
        let mut node = self;
        for _ in 0..MAX_ALIAS_HOPS {
            match node {
                Node::Alias(target) => node = target,
                _ => return node,
            }
        }
        node
    }

    pub fn line(&self) -> usize {
        match self.resolved() {
            Node::Scalar(s) => s.line,
            Node::Sequence { line, .. } | Node::Mapping { line, .. } => *line,
            Node::Alias(_) => 0,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self.resolved() {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that is not null.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar()
            .filter(|s| !s.is_null())
            .map(|s| s.value.as_str())
    }

    pub fn items(&self) -> &[Node] {
        match self.resolved() {
            Node::Sequence { items, .. } => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match self.resolved() {
            Node::Mapping { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self.resolved(), Node::Mapping { .. })
    }

    /// The value under `key`; when a key repeats the last one wins, as in
    /// most YAML loaders. Falls back to YAML merge keys (`<<: *base`).
    pub fn get(&self, key: &str) -> Option<&Node> {
        let entries = self.entries();
        let own = entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
            .map(|(_, v)| v);
        own.or_else(|| {
            entries
                .iter()
                .filter(|(k, _)| {
                    k.as_scalar()
                        .is_some_and(|s| s.style == Style::Plain && s.value == "<<")
                })
                .find_map(|(_, merged)| match merged.resolved() {
                    Node::Sequence { items, .. } => items.iter().find_map(|m| m.get_own(key)),
                    other => other.get_own(key),
                })
        })
    }

    /// Like `get`, without following merge keys (they do not nest).
    fn get_own(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .rev()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
            .map(|(_, v)| v)
    }

    /// `get` along a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document {
    pub root: Node,
    /// 1-based line where the document's content starts.
    pub line: usize,
}

/// The documents of a file that could be read, and why others could not.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub documents: Vec<Document>,
    pub warnings: Vec<Warning>,
}

/// Parses every document of `file`. Never fails: a document that is not
/// YAML (a Helm template, a syntax error) becomes a warning and is skipped.
pub(crate) fn parse(file: &SourceFile) -> Parsed {
    let text = file.text.as_str();
    let lines = LineIndex::new(text);
    let mut parsed = Parsed::default();
    for chunk in text::split_documents(text) {
        let Some(chunk_text) = text.get(chunk.clone()) else {
            continue;
        };
        let mut builder = Builder::new(text, chunk.start, chunk_text, &lines);
        match builder.run() {
            Ok(()) => parsed.documents.append(&mut builder.documents),
            Err(failure) => {
                // Documents the parser finished before the failure are sound.
                parsed.documents.append(&mut builder.documents);
                let (line, message) = match text::template_line(chunk_text) {
                    Some(template) => (
                        lines.line_of(chunk.start + template),
                        "skipped: Go/Helm template, not plain YAML".to_owned(),
                    ),
                    None => (
                        failure.line,
                        format!("skipped: invalid YAML: {}", failure.message),
                    ),
                };
                parsed.warnings.push(Warning {
                    file: file.path.clone(),
                    line: Some(line),
                    message,
                });
            }
        }
    }
    parsed
}

struct Failure {
    line: usize,
    message: String,
}

enum Frame {
    Sequence {
        anchor: usize,
        line: usize,
        items: Vec<Node>,
    },
    Mapping {
        anchor: usize,
        line: usize,
        start: usize,
        flow: bool,
        key: Option<Node>,
        entries: Vec<(Node, Node)>,
    },
}

/// Turns the events of one chunk of the file into documents.
struct Builder<'a> {
    file: &'a str,
    chunk: &'a str,
    /// Byte offset of `chunk` in `file`.
    base: usize,
    cursor: CharCursor<'a>,
    lines: &'a LineIndex,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Rc<Node>>,
    root: Option<Node>,
    documents: Vec<Document>,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, base: usize, chunk: &'a str, lines: &'a LineIndex) -> Self {
        Self {
            file,
            chunk,
            base,
            cursor: CharCursor::new(chunk),
            lines,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            documents: Vec::new(),
        }
    }

    /// Pulls events one at a time rather than through `Parser::load`,
    /// which recurses once per nesting level.
    fn run(&mut self) -> Result<(), Failure> {
        let mut parser = Parser::new_from_str(self.chunk);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| Failure {
                line: self.line_at(e.marker()),
                message: e.info().to_owned(),
            })?;
            if event == Event::StreamEnd {
                return Ok(());
            }
            self.on_event(event, mark)?;
        }
    }

    /// Byte offset in the file of a marker of this chunk.
    fn offset(&mut self, mark: &Marker) -> usize {
        self.base + self.cursor.byte_of(mark.index())
    }

    fn line_at(&mut self, mark: &Marker) -> usize {
        let offset = self.offset(mark);
        self.lines.line_of(offset)
    }

    fn on_event(&mut self, event: Event, mark: Marker) -> Result<(), Failure> {
        match event {
            Event::DocumentStart => {
                self.stack.clear();
                self.anchors.clear();
                self.root = None;
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take() {
                    let line = root.line();
                    self.documents.push(Document { root, line });
                }
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let start = self.offset(&mark);
                let scalar = self.scalar(value, style, start);
                self.finish(Node::Scalar(scalar), anchor);
            }
            Event::SequenceStart(anchor, _tag) => {
                self.check_depth(&mark)?;
                let line = self.line_at(&mark);
                self.stack.push(Frame::Sequence {
                    anchor,
                    line,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _tag) => {
                self.check_depth(&mark)?;
                let start = self.offset(&mark);
                let flow = self.file.as_bytes().get(start) == Some(&b'{');
                self.stack.push(Frame::Mapping {
                    anchor,
                    line: self.lines.line_of(start),
                    start,
                    flow,
                    key: None,
                    entries: Vec::new(),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Sequence {
                    anchor,
                    line,
                    items,
                }) = self.stack.pop()
                {
                    self.finish(Node::Sequence { items, line }, anchor);
                }
            }
            Event::MappingEnd => {
                let end = self.offset(&mark);
                if let Some(Frame::Mapping {
                    anchor,
                    line,
                    start,
                    flow,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    let node = match flow.then(|| self.template(start, end)).flatten() {
                        Some(template) => Node::Scalar(template),
                        None => {
                            // A block mapping's start marker sits after its
                            // first key; the key knows the real line.
                            let line = entries.first().map_or(line, |(k, _)| k.line());
                            Node::Mapping { entries, line }
                        }
                    };
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(target) => Node::Alias(Rc::clone(target)),
                    None => {
                        let start = self.offset(&mark);
                        Node::Scalar(self.scalar(String::new(), TScalarStyle::Plain, start))
                    }
                };
                self.finish(node, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn check_depth(&mut self, mark: &Marker) -> Result<(), Failure> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Failure {
                line: self.line_at(mark),
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    /// Unquoted `{{ .Values.x }}` reads as YAML as a flow mapping holding a
    /// flow mapping. It is a template expression, so it becomes a scalar
    /// of its text, which the scanners recognise and refuse to resolve.
    fn template(&self, start: usize, end: usize) -> Option<Scalar> {
        let span = start..end.checked_add(1)?;
        let raw = self.file.get(span.clone())?;
        (raw.starts_with("{{") && raw.ends_with("}}")).then(|| Scalar {
            value: raw.to_owned(),
            style: Style::Plain,
            line: self.lines.line_of(start),
            span,
            exact: true,
        })
    }

    fn scalar(&self, value: String, style: TScalarStyle, start: usize) -> Scalar {
        let style = match style {
            TScalarStyle::Plain => Style::Plain,
            TScalarStyle::SingleQuoted => Style::SingleQuoted,
            TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            TScalarStyle::Literal => Style::Literal,
            TScalarStyle::Folded => Style::Folded,
        };
        let span = match style {
            Style::Plain => text::plain_end(self.file, start, &value).map(|end| start..end),
            Style::SingleQuoted => text::single_quoted(self.file, start),
            Style::DoubleQuoted => text::double_quoted(self.file, start),
            Style::Literal | Style::Folded => None,
        }
        .unwrap_or(start..start);
        // The parser invents empty values (`key:` with nothing after it) at
        // the next token; such a span is no place to write a value.
        let exact = !value.is_empty() && self.file.get(span.clone()) == Some(value.as_str());
        Scalar {
            line: self.lines.line_of(span.start),
            value,
            style,
            span,
            exact,
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, Rc::new(node.clone()));
        }
        match self.stack.last_mut() {
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { key, entries, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => self.root = Some(node),
        }
    }
}
