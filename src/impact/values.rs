//! Values trees as JSON values: a chart's defaults (bounded loading of
//! untrusted YAML), the repository's override files with the line of
//! every leaf, and the walks the analysis makes over both.
//!
//! A leaf is what Helm replaces whole when values are merged: a scalar, a
//! list, or an empty map. Scalars are typed as YAML 1.2 reads them (the
//! YAML library's rules for plain scalars, strings when quoted).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use yaml_rust2::Yaml;

use super::keypath::{KeyPath, Segment};
use crate::pins::yaml::{Node, Style};

/// Nodes converted from one override file before the rest is given up:
/// anchors shared by aliases would otherwise expand on conversion.
const MAX_OVERRIDE_NODES: usize = crate::yaml::MAX_NODES;

/// A chart's `values.yaml` as JSON; an empty file is an empty map.
pub fn load_defaults(text: &str, source: &str) -> Result<Value, String> {
    let docs = crate::yaml::load_bounded(text, source).map_err(|e| e.to_string())?;
    match docs.into_iter().next().map(|d| yaml_to_json(&d)) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(format!("{source}: not a mapping at the top")),
    }
}

pub fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (key_text(k), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// A mapping key as Helm sees it (Go's YAML turns them into strings).
fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

/// Whether `v` is a leaf of a values tree.
pub fn is_leaf(v: &Value) -> bool {
    !matches!(v, Value::Object(m) if !m.is_empty())
}

/// Every leaf of `v` by path.
pub fn flatten(v: &Value) -> BTreeMap<KeyPath, Value> {
    let mut out = BTreeMap::new();
    flatten_into(v, KeyPath::default(), &mut out);
    out
}

fn flatten_into(v: &Value, at: KeyPath, out: &mut BTreeMap<KeyPath, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                flatten_into(child, at.child(Segment::Key(k.clone())), out);
            }
        }
        _ => {
            if !at.is_empty() {
                out.insert(at, v.clone());
            }
        }
    }
}

/// Where a path ends in a values tree.
#[derive(Debug, PartialEq)]
pub enum Found<'v> {
    /// The path is there (down to its first list index).
    At(&'v Value),
    /// Not there; `depth` segments of it are, ending at `last`.
    Missing { depth: usize, last: &'v Value },
}

pub fn find<'v>(root: &'v Value, path: &KeyPath) -> Found<'v> {
    let path = path.to_list();
    let mut node = root;
    for (depth, segment) in path.0.iter().enumerate() {
        let next = match (node, segment) {
            (Value::Object(m), Segment::Key(k)) => m.get(k),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Found::Missing { depth, last: node },
        }
    }
    Found::At(node)
}

/// Sets `value` at `path` in `root` as Helm merges an override: maps are
/// created on the way, a null removes the key. Paths with list indexes
/// set the item when the list has it, else nothing (the list is the
/// chart's or the override's whole).
pub fn set(root: &mut Value, path: &KeyPath, value: Value) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    let mut node = root;
    for segment in parents {
        node = match (node, segment) {
            (Value::Object(m), Segment::Key(k)) => {
                let child = m
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !child.is_object() && !child.is_array() {
                    *child = Value::Object(Map::new());
                }
                child
            }
            (Value::Array(items), Segment::Index(i)) => match items.get_mut(*i) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    match (node, last) {
        (Value::Object(m), Segment::Key(k)) => {
            if value.is_null() {
                m.remove(k);
            } else {
                m.insert(k.clone(), value);
            }
        }
        (Value::Array(items), Segment::Index(i)) => {
            if let Some(item) = items.get_mut(*i) {
                *item = value;
            }
        }
        _ => {}
    }
}

/// A plain scalar typed as YAML 1.2 types it; quoted and block scalars
/// are strings.
pub(crate) fn scalar_value(value: &str, style: Style) -> Value {
    if style != Style::Plain {
        return Value::String(value.to_owned());
    }
    match Yaml::from_str(value) {
        Yaml::Null => Value::Null,
        y => yaml_to_json(&y),
    }
}

/// One leaf of an override tree and the line it is written on.
#[derive(Debug, Clone, PartialEq)]
pub struct LineLeaf {
    pub path: KeyPath,
    pub value: Value,
    /// 1-based line in the file the node was parsed from.
    pub line: usize,
}

/// The leaves below `node`, paths relative to `at`, lines shifted by
/// `line_offset` (for YAML embedded in another file).
pub(crate) fn node_leaves(node: &Node, at: &KeyPath, line_offset: usize) -> Vec<LineLeaf> {
    let mut out = Vec::new();
    let mut budget = MAX_OVERRIDE_NODES;
    leaves_into(node, at.clone(), line_offset, &mut budget, &mut out);
    out
}

fn leaves_into(
    node: &Node,
    at: KeyPath,
    offset: usize,
    budget: &mut usize,
    out: &mut Vec<LineLeaf>,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let entries = node.entries();
    if node.is_mapping() && !entries.is_empty() {
        for (k, v) in entries {
            let Some(key) = k.as_scalar() else { continue };
            if key.style == Style::Plain && key.value == "<<" {
                // Merge keys bring the anchored map's leaves in.
                for merged in std::iter::once(v.resolved()).chain(v.items()) {
                    if merged.is_mapping() {
                        leaves_into(merged, at.clone(), offset, budget, out);
                    }
                }
                continue;
            }
            let path = at.child(Segment::Key(key.value.clone()));
            leaves_into(v, path, offset, budget, out);
        }
        return;
    }
    if at.is_empty() {
        return;
    }
    out.push(LineLeaf {
        path: at,
        value: node_value(node, budget),
        line: node.line() + offset,
    });
}

/// The JSON value of a node, within `budget` nodes (past it, null).
pub(crate) fn node_value(node: &Node, budget: &mut usize) -> Value {
    if *budget == 0 {
        return Value::Null;
    }
    *budget -= 1;
    match node.resolved() {
        Node::Scalar(s) => scalar_value(&s.value, s.style),
        Node::Sequence { items, .. } => {
            Value::Array(items.iter().map(|i| node_value(i, budget)).collect())
        }
        Node::Mapping { entries, .. } => Value::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_scalar()?.value.clone(), node_value(v, budget))))
                .collect(),
        ),
        Node::Alias(_) => Value::Null,
    }
}

/// A value for one line of a report: JSON, cut to `max` characters.
pub fn short(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    crate::text::cut(&text, max).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::SourceFile;

    fn parse(text: &str) -> Node {
        let file = SourceFile {
            path: "v.yaml".into(),
            text: text.into(),
        };
        let mut parsed = crate::pins::yaml::parse(&file);
        parsed.documents.remove(0).root
    }

    #[test]
    fn override_leaves_have_their_lines_and_types() {
        let node = parse(
            "image:\n  tag: \"1.2\"\n  pullPolicy: Always\nreplicas: 3\nannotations: {}\nargs:\n  - a\n  - b\nbase: &b\n  x: 1\nderived:\n  <<: *b\n  y: true\n",
        );
        let got: Vec<(String, Value, usize)> = node_leaves(&node, &KeyPath::default(), 0)
            .into_iter()
            .map(|l| (l.path.to_string(), l.value, l.line))
            .collect();
        let want = vec![
            ("image.tag".to_owned(), Value::from("1.2"), 2),
            ("image.pullPolicy".to_owned(), Value::from("Always"), 3),
            ("replicas".to_owned(), Value::from(3), 4),
            ("annotations".to_owned(), serde_json::json!({}), 5),
            ("args".to_owned(), serde_json::json!(["a", "b"]), 7),
            ("base.x".to_owned(), Value::from(1), 10),
            ("derived.x".to_owned(), Value::from(1), 10),
            ("derived.y".to_owned(), Value::from(true), 13),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn defaults_flatten_to_leaves_and_paths_are_found() {
        let v = load_defaults(
            "a:\n  b: 1\n  open: {}\nlist: [1, 2]\nempty:\n",
            "values.yaml",
        )
        .unwrap_or_default();
        let leaves: Vec<String> = flatten(&v).keys().map(ToString::to_string).collect();
        assert_eq!(leaves, ["a.b", "a.open", "empty", "list"]);
        let p = |s: &str| KeyPath::parse_set(s).unwrap_or_default();
        assert_eq!(find(&v, &p("a.b")), Found::At(&Value::from(1)));
        assert!(matches!(find(&v, &p("list[3].x")), Found::At(_)));
        assert!(matches!(
            find(&v, &p("a.open.x")),
            Found::Missing { depth: 2, last } if last == &serde_json::json!({})
        ));
        assert!(matches!(
            find(&v, &p("gone.x")),
            Found::Missing { depth: 0, .. }
        ));
        assert!(load_defaults("- 1\n", "values.yaml").is_err());
    }

    #[test]
    fn set_merges_as_helm_does() {
        let mut v = serde_json::json!({"a": {"b": 1, "c": 2}, "l": [{"x": 1}]});
        let p = |s: &str| KeyPath::parse_set(s).unwrap_or_default();
        set(&mut v, &p("a.b"), Value::from(5));
        set(&mut v, &p("a.c"), Value::Null);
        set(&mut v, &p("n.m"), Value::from("x"));
        set(&mut v, &p("l[0].x"), Value::from(2));
        set(&mut v, &p("l[4].x"), Value::from(2));
        assert_eq!(
            v,
            serde_json::json!({"a": {"b": 5}, "n": {"m": "x"}, "l": [{"x": 2}]})
        );
    }
}
