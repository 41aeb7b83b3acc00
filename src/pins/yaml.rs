//! A YAML document tree that remembers where every scalar is written.
//!
//! Pins are edited in place, so the scanners need the byte range of each
//! version in the file, which value-only loaders forget. The tree is built
//! from yaml-rust2's parser events; their markers count characters, so they
//! are turned into byte offsets here.
//!
//! A file is cut into documents at `---` lines before parsing: a broken or
//! templated document then costs only itself, not the documents after it.

use std::ops::Range;
use std::rc::Rc;

use super::{SourceFile, Warning};

mod build;
mod text;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;

use build::Builder;
use text::LineIndex;

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
