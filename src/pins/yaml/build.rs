//! Builds documents from yaml-rust2's parser events.

use std::collections::HashMap;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::text::{self, LineIndex, MarkerOffsets};
use super::{Document, Node, Scalar, Style};

/// Deeper nesting than this is no hand-written configuration; refusing it
/// bounds the recursion of everything that walks the tree.
pub(super) const MAX_DEPTH: usize = 128;

pub(super) struct Failure {
    pub line: usize,
    pub message: String,
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
pub(super) struct Builder<'a> {
    file: &'a str,
    chunk: &'a str,
    /// Byte offset of `chunk` in `file`.
    base: usize,
    marks: MarkerOffsets<'a>,
    lines: &'a LineIndex,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Rc<Node>>,
    root: Option<Node>,
    pub documents: Vec<Document>,
}

impl<'a> Builder<'a> {
    pub fn new(file: &'a str, base: usize, chunk: &'a str, lines: &'a LineIndex) -> Self {
        Self {
            file,
            chunk,
            base,
            marks: MarkerOffsets::new(chunk),
            lines,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            documents: Vec::new(),
        }
    }

    /// Pulls events one at a time rather than through `Parser::load`,
    /// which recurses once per nesting level.
    pub fn run(&mut self) -> Result<(), Failure> {
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
        self.base + self.marks.byte_of(mark.line(), mark.col())
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
