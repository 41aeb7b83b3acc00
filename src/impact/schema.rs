//! The overrides, merged over the target's defaults as Helm merges them,
//! against the target's `values.schema.json`; each violation is placed at
//! the override that causes it.
//!
//! The schema comes from the chart archive: it is compiled without any
//! network or file access (a `$ref` outside the schema does not compile,
//! and says so), and the number of violations reported is capped.

use serde::Serialize;
use serde_json::Value;

use super::keypath::{KeyPath, Segment};
use super::overrides::Override;
use super::values;

/// Violations listed per release; past this the values are wrong in so
/// many places that more lines help nobody.
const MAX_VIOLATIONS: usize = 100;

/// Characters of one violation's message (it quotes the offending value).
const MAX_MESSAGE_CHARS: usize = 300;

/// `$ref` hops followed inside the schema when looking for open maps.
const MAX_REF_HOPS: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Where in the values, as a values path (`resources.limits`).
    pub path: String,
    pub message: String,
    /// The override that causes it; None when the chart's own defaults
    /// (or nothing the repository sets) violate the schema.
    pub file: Option<String>,
    pub line: Option<usize>,
}

pub struct Checker {
    schema: Value,
    validator: jsonschema::Validator,
}

impl Checker {
    /// None when the chart ships no schema, or (with a note) when it does
    /// not compile.
    pub fn new(text: Option<&str>, notes: &mut Vec<String>) -> Option<Checker> {
        let text = text?;
        let schema: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!(
                    "values.schema.json of the target is not JSON ({e}); not checked"
                ));
                return None;
            }
        };
        match jsonschema::options().build(&schema) {
            Ok(validator) => Some(Checker { schema, validator }),
            Err(e) => {
                notes.push(format!(
                    "values.schema.json of the target does not compile ({}); not checked",
                    crate::text::cut(&e.to_string(), MAX_MESSAGE_CHARS)
                ));
                None
            }
        }
    }

    /// Whether the schema lets the map at `path` take keys it does not
    /// list: `additionalProperties` written as `true` or a schema, or
    /// `patternProperties`. (Left out, JSON Schema takes any key too, but
    /// then the schema says nothing either way.)
    pub fn takes_any_key(&self, path: &KeyPath) -> bool {
        let mut node = self.resolve(&self.schema);
        for segment in &path.0 {
            let Segment::Key(key) = segment else {
                return false;
            };
            let next = node.get("properties").and_then(|p| p.get(key)).or_else(|| {
                match node.get("additionalProperties") {
                    Some(v @ Value::Object(_)) => Some(v),
                    _ => None,
                }
            });
            match next {
                Some(n) => node = self.resolve(n),
                None => return false,
            }
        }
        matches!(
            node.get("additionalProperties"),
            Some(Value::Bool(true) | Value::Object(_))
        ) || node.get("patternProperties").is_some()
    }

    /// A local `$ref` (`#/definitions/x`, `#/$defs/x`) followed.
    fn resolve<'s>(&'s self, mut node: &'s Value) -> &'s Value {
        for _ in 0..MAX_REF_HOPS {
            match node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| self.schema.pointer(pointer))
            {
                Some(target) => node = target,
                None => break,
            }
        }
        node
    }

    /// The violations of the target's defaults with `overrides` (known
    /// values only) merged over them.
    pub fn violations(&self, defaults: &Value, overrides: &[&Override]) -> Vec<Violation> {
        let mut merged = defaults.clone();
        let known: Vec<(&Override, String)> = overrides
            .iter()
            .filter_map(|o| o.value.clone().map(|v| (o, v)))
            .map(|(o, v)| {
                values::set(&mut merged, &o.path, v);
                (*o, pointer(&o.path))
            })
            .collect();
        self.validator
            .iter_errors(&merged)
            .take(MAX_VIOLATIONS)
            .map(|e| {
                let mut at = e.instance_path().to_string();
                if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                    e.kind()
                {
                    if let Some(first) = unexpected.first() {
                        at = format!("{at}/{}", escape(first));
                    }
                }
                let cause = locate(&known, &at);
                Violation {
                    path: path_of_pointer(&at),
                    message: crate::text::cut(&e.to_string(), MAX_MESSAGE_CHARS).into_owned(),
                    file: cause.map(|o| o.file.clone()),
                    line: cause.map(|o| o.line),
                }
            })
            .collect()
    }
}

/// The override behind a violation at `at`: the one set exactly there,
/// else the deepest one above it (a whole map or list set at once), else
/// the first one below it (a `required` or type error of a map the
/// repository fills).
fn locate<'o>(known: &[(&'o Override, String)], at: &str) -> Option<&'o Override> {
    let exact = known.iter().rev().find(|(_, p)| p == at);
    let above = || {
        known
            .iter()
            .rev()
            .filter(|(_, p)| at.starts_with(&format!("{p}/")))
            .max_by_key(|(_, p)| p.len())
    };
    let below = || {
        known
            .iter()
            .find(|(_, p)| at.is_empty() || p.starts_with(&format!("{at}/")))
    };
    exact.or_else(above).or_else(below).map(|(o, _)| *o)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A values path as a JSON pointer (`/a/b~1c/0`).
fn pointer(path: &KeyPath) -> String {
    path.0
        .iter()
        .map(|s| match s {
            Segment::Key(k) => format!("/{}", escape(k)),
            Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// A JSON pointer as people read values paths; numbers become `[n]`.
fn path_of_pointer(pointer: &str) -> String {
    let segments = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .map(|s| match s.parse::<usize>() {
            Ok(i) => Segment::Index(i),
            Err(_) => Segment::Key(s),
        })
        .collect();
    let path = KeyPath(segments).to_string();
    if path.is_empty() {
        "(top level)".to_owned()
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::overrides::Origin;
    use serde_json::json;

    fn o(path: &str, value: Value, line: usize) -> Override {
        Override {
            path: KeyPath::parse_set(path).unwrap_or_default(),
            value: Some(value),
            file: "values/dev.yaml".into(),
            line,
            origin: Origin::ValuesFile,
            unresolved: None,
        }
    }

    const SCHEMA: &str = r##"{
      "type": "object",
      "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "image": {"type": "object", "additionalProperties": false,
                  "properties": {"tag": {"type": "string"}}},
        "labels": {"$ref": "#/definitions/labels"},
        "tolerations": {"type": "array", "items": {"type": "object", "required": ["key"]}}
      },
      "definitions": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}
    }"##;

    #[test]
    fn violations_land_on_the_override_that_causes_them() {
        let mut notes = Vec::new();
        let checker = Checker::new(Some(SCHEMA), &mut notes);
        let Some(checker) = checker else {
            panic!("schema compiles: {notes:?}");
        };
        let overrides = [
            o("replicas", json!("two"), 3),
            o("image.tag", json!("1.0"), 4),
            o("image.digest", json!("sha256:x"), 5),
            o("tolerations", json!([{"effect": "NoSchedule"}]), 6),
            o("labels.team", json!("a"), 7),
        ];
        let refs: Vec<&Override> = overrides.iter().collect();
        let mut got: Vec<(String, Option<usize>)> = checker
            .violations(&json!({"replicas": 1, "image": {"tag": "0.9"}}), &refs)
            .into_iter()
            .map(|v| (v.path, v.line))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("image.digest".to_owned(), Some(5)),
                ("replicas".to_owned(), Some(3)),
                ("tolerations[0]".to_owned(), Some(6)),
            ]
        );
        let defaults_only = checker.violations(&json!({"replicas": 0}), &[]);
        assert_eq!(defaults_only.len(), 1);
        assert_eq!(defaults_only[0].file, None, "the chart's own fault");
    }

    #[test]
    fn open_maps_by_schema() {
        let mut notes = Vec::new();
        let Some(checker) = Checker::new(Some(SCHEMA), &mut notes) else {
            panic!("{notes:?}");
        };
        assert!(checker.takes_any_key(&KeyPath::keys(["labels"])));
        assert!(!checker.takes_any_key(&KeyPath::keys(["image"])));
        assert!(!checker.takes_any_key(&KeyPath::keys(["missing"])));
    }

    /// Chart schemas name their draft; the meta-schemas are built in, so
    /// nothing is fetched.
    #[test]
    fn schemas_naming_their_draft_compile_offline() {
        for draft in [
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2020-12/schema",
        ] {
            let text = format!(r#"{{"$schema": "{draft}", "type": "object"}}"#);
            let mut notes = Vec::new();
            assert!(
                Checker::new(Some(&text), &mut notes).is_some(),
                "{draft}: {notes:?}"
            );
        }
    }

    #[test]
    fn broken_schemas_become_notes() {
        for (text, note) in [
            ("{not json", "is not JSON"),
            (
                r#"{"$ref": "https://example.com/x.json"}"#,
                "does not compile",
            ),
        ] {
            let mut notes = Vec::new();
            assert!(Checker::new(Some(text), &mut notes).is_none(), "{text}");
            assert!(notes.iter().any(|n| n.contains(note)), "{text}: {notes:?}");
        }
    }
}
