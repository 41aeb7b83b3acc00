//! YAML from outside (index annotations, freeze files, manifests) loaded
//! into values with bounded work.
//!
//! yaml-rust2's `YamlLoader` copies the anchored node for every alias, so
//! 826 bytes of nested aliases ("billion laughs") expand to gigabytes and
//! abort the process. Here each alias costs the size of what it copies,
//! against a node budget for the whole input, and nesting is capped; past
//! either the load fails with the source and line named.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::yaml::Hash;
use yaml_rust2::Yaml;

/// Nodes (scalars, sequences, mappings, aliases counted by what they copy)
/// one input may hold. Real annotations and freeze files have hundreds;
/// a manifest of a large umbrella chart a few tens of thousands.
pub const MAX_NODES: usize = 200_000;

/// Nesting deeper than this is no hand-written YAML; it also bounds the
/// recursion of whatever walks the values afterwards.
pub const MAX_DEPTH: usize = 64;

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub source: String,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: line {}: {}", self.source, self.line, self.reason)
    }
}

impl std::error::Error for YamlError {}

enum Frame {
    Seq(usize, Vec<Yaml>),
    Map(usize, Hash, Option<Yaml>),
}

struct Loader<'s> {
    source: &'s str,
    docs: Vec<Yaml>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size in nodes, for aliases.
    anchors: HashMap<usize, (Yaml, usize)>,
    /// Node counts of the frames being built, to size anchored ones.
    sizes: Vec<usize>,
    nodes: usize,
}

/// Every document of `text`, or why it is refused. `source` names the
/// input in the error (`index.yaml of https://…: annotations of x 1.2.3`).
pub fn load_bounded(text: &str, source: &str) -> Result<Vec<Yaml>, YamlError> {
    let mut loader = Loader {
        source,
        docs: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        sizes: Vec::new(),
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| loader.error(e.marker(), e.info()))?;
        match event {
            Event::StreamEnd => return Ok(loader.docs),
            event => loader.on(event, &mark)?,
        }
    }
}

impl Loader<'_> {
    fn error(&self, mark: &Marker, reason: impl Into<String>) -> YamlError {
        YamlError {
            source: self.source.to_owned(),
            line: mark.line(),
            reason: reason.into(),
        }
    }

    fn spend(&mut self, cost: usize, mark: &Marker) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(cost);
        if self.nodes > MAX_NODES {
            return Err(self.error(
                mark,
                format!("more than {MAX_NODES} nodes once aliases are expanded; refused"),
            ));
        }
        if let Some(size) = self.sizes.last_mut() {
            *size = size.saturating_add(cost);
        }
        Ok(())
    }

    fn on(&mut self, event: Event, mark: &Marker) -> Result<(), YamlError> {
        match event {
            Event::Scalar(value, style, anchor, _tag) => {
                self.spend(1, mark)?;
                let node = if style == TScalarStyle::Plain {
                    Yaml::from_str(&value)
                } else {
                    Yaml::String(value)
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node);
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.error(mark, "alias to an unknown anchor"));
                };
                self.spend(size, mark)?;
                self.push(node);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(self.error(
                        mark,
                        format!("nested deeper than {MAX_DEPTH} levels; refused"),
                    ));
                }
                // Counted into its own frame; the frame's total goes to
                // the parent when it ends.
                self.sizes.push(0);
                self.spend(1, mark)?;
                self.stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(anchor, Vec::new()),
                    _ => Frame::Map(anchor, Hash::new(), None),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let size = self.sizes.pop().unwrap_or(1);
                let (anchor, node) = match self.stack.pop() {
                    Some(Frame::Seq(anchor, items)) => (anchor, Yaml::Array(items)),
                    Some(Frame::Map(anchor, hash, _)) => (anchor, Yaml::Hash(hash)),
                    None => return Err(self.error(mark, "unbalanced collection")),
                };
                if let Some(parent) = self.sizes.last_mut() {
                    *parent = parent.saturating_add(size);
                }
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), size));
                }
                self.push(node);
            }
            Event::DocumentStart => self.anchors.clear(),
            Event::DocumentEnd | Event::StreamStart | Event::Nothing | Event::StreamEnd => {}
        }
        Ok(())
    }

    fn push(&mut self, node: Yaml) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, hash, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    hash.insert(k, node);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<Yaml>, YamlError> {
        load_bounded(text, "test input")
    }

    #[test]
    fn reads_what_the_loader_reads() {
        let text = "a: 1\nb: [x, 'y', true, ~]\nc:\n  - kind: fixed\n    description: crash\nd: &base {k: v}\ne: *base\n---\nsecond\n";
        let ours = load(text).unwrap_or_default();
        let theirs = yaml_rust2::YamlLoader::load_from_str(text).unwrap_or_default();
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 2);
    }

    #[test]
    fn billion_laughs_is_refused_quickly_naming_the_source() {
        let mut text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n".to_owned();
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        assert!(text.len() < 1_000, "{}", text.len());
        let err = load_bounded(&text, "index.yaml: annotations of c 1.0.0").unwrap_err();
        assert!(err.reason.contains("aliases are expanded"), "{err}");
        assert!(
            err.to_string()
                .starts_with("index.yaml: annotations of c 1.0.0: line "),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = load(&text).unwrap_err();
        assert!(err.reason.contains("nested deeper"), "{err}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(load(&ok).is_ok());
    }

    #[test]
    fn aliases_within_the_budget_are_expanded() {
        let text = "base: &b {x: 1, y: [1, 2, 3]}\none: *b\ntwo: *b\n";
        let docs = load(text).unwrap_or_default();
        assert_eq!(docs[0]["two"]["y"][2], Yaml::Integer(3));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = load("a: 1\nb: [unclosed\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }
}
