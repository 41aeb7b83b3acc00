//! From a published description's schema dialect (OpenAPI 3.0, Swagger 2.0)
//! to JSON Schema draft 4, which both are close to, and the two things the
//! fakes do with a schema: check a value, and complete a fake's answer with
//! the required fields it does not model.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// Which description a schema comes from: where its `$ref`s point and
/// which adaptations it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAPI 3.0: `#/components/schemas/X`, `nullable: true`.
    OpenApi3,
    /// Swagger 2.0 as grpc-gateway writes it: `#/definitions/X`, 64-bit
    /// integers typed as strings.
    Swagger2,
    /// A CRD's `openAPIV3Schema`: no `$ref`, `x-kubernetes-*` keywords
    /// that JSON Schema ignores, `nullable`.
    Crd,
}

/// How deep [`fill`] builds objects a fake left out: GitHub's schemas nest
/// repositories in pull requests in owners; past this depth a placeholder
/// would describe nothing any test reads.
const MAX_FILL_DEPTH: usize = 24;

/// The keywords whose values are schemas, or maps or lists of schemas; all
/// others (`description`, `example`, `enum`) are copied untouched.
const SCHEMA_KEYS: &[&str] = &["items", "not", "additionalProperties"];
const SCHEMA_MAP_KEYS: &[&str] = &["properties", "patternProperties"];
const SCHEMA_LIST_KEYS: &[&str] = &["allOf", "anyOf", "oneOf"];

impl Dialect {
    fn ref_name(self, reference: &str) -> Option<&str> {
        match self {
            Dialect::OpenApi3 => reference.strip_prefix("#/components/schemas/"),
            Dialect::Swagger2 => reference.strip_prefix("#/definitions/"),
            Dialect::Crd => None,
        }
    }
}

/// `schema` in draft 4, every `$ref` pointing at `#/definitions/X`; the
/// names it refers to are added to `refs`.
pub fn convert(schema: &Value, dialect: Dialect, refs: &mut BTreeSet<String>) -> Value {
    let Value::Object(fields) = schema else {
        return schema.clone();
    };
    if let Some(reference) = fields.get("$ref").and_then(Value::as_str) {
        return match dialect.ref_name(reference) {
            Some(name) => {
                refs.insert(name.to_owned());
                json!({ "$ref": format!("#/definitions/{name}") })
            }
            None => json!({ "$ref": reference }),
        };
    }
    let mut out = Map::new();
    for (key, value) in fields {
        let converted = if SCHEMA_KEYS.contains(&key.as_str()) && value.is_object() {
            convert(value, dialect, refs)
        } else if SCHEMA_MAP_KEYS.contains(&key.as_str()) {
            match value {
                Value::Object(map) => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), convert(v, dialect, refs)))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else if SCHEMA_LIST_KEYS.contains(&key.as_str()) {
            match value {
                Value::Array(list) => {
                    Value::Array(list.iter().map(|v| convert(v, dialect, refs)).collect())
                }
                other => other.clone(),
            }
        } else {
            value.clone()
        };
        out.insert(key.clone(), converted);
    }
    // grpc-gateway's Swagger types int64 fields as strings (protojson),
    // while Argo CD's server writes Kubernetes objects with encoding/json,
    // as numbers (`metadata.generation`, `history[].id`): both are seen.
    if dialect == Dialect::Swagger2
        && out.get("type") == Some(&json!("string"))
        && matches!(
            out.get("format").and_then(Value::as_str),
            Some("int64" | "uint64")
        )
    {
        out.insert("type".to_owned(), json!(["string", "integer"]));
    }
    // A Kubernetes int-or-string has no `type`, only this marker.
    if out.remove("x-kubernetes-int-or-string") == Some(json!(true)) {
        out.insert("type".to_owned(), json!(["integer", "string"]));
    }
    // OpenAPI 3.0's `nullable` is JSON Schema's "or null".
    if out.remove("nullable") == Some(json!(true)) {
        return json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] });
    }
    Value::Object(out)
}

/// A draft 4 validator for `schema`, whose `#/definitions/X` come from
/// `definitions` (already converted). Formats are not checked: GitHub marks
/// URL templates such as `…/issues{/number}` as `uri`, and real answers
/// would fail.
pub fn compile(schema: Value, definitions: Map<String, Value>) -> jsonschema::Validator {
    let root = json!({ "allOf": [schema], "definitions": definitions });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&root)
        .unwrap_or_else(|e| panic!("contract: schema does not compile: {e}"))
}

/// Every violation of `validator` by `value`, one line each.
pub fn violations(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

/// `value` with every required field it lacks added as a placeholder of
/// the schema's type (null where the schema allows it), recursively; the
/// fields a fake did set are kept as they are, to be validated.
pub fn fill(schema: &Value, value: Option<&Value>, definitions: &Map<String, Value>) -> Value {
    fill_at(schema, value, definitions, 0)
}

fn resolve<'a>(schema: &'a Value, definitions: &'a Map<String, Value>) -> &'a Value {
    let mut schema = schema;
    for _ in 0..MAX_FILL_DEPTH {
        match schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/definitions/"))
        {
            Some(name) => schema = definitions.get(name).unwrap_or(&Value::Null),
            None => break,
        }
    }
    schema
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ => Vec::new(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn accepts(schema: &Value, value: &Value, definitions: &Map<String, Value>) -> bool {
    let schema = resolve(schema, definitions);
    let ts = types(schema);
    let t = json_type(value);
    ts.is_empty() || ts.contains(&t) || (t == "integer" && ts.contains(&"number"))
}

fn fill_at(
    schema: &Value,
    value: Option<&Value>,
    definitions: &Map<String, Value>,
    depth: usize,
) -> Value {
    let schema = resolve(schema, definitions);
    if depth > MAX_FILL_DEPTH {
        return value.cloned().unwrap_or(Value::Null);
    }
    if let Some(all) = schema["allOf"].as_array() {
        let mut v = value.cloned();
        for sub in all {
            v = Some(fill_at(sub, v.as_ref(), definitions, depth + 1));
        }
        return v.unwrap_or(Value::Null);
    }
    let choices = schema["anyOf"].as_array().or(schema["oneOf"].as_array());
    if let Some(choices) = choices {
        let pick = match value {
            Some(v) => choices.iter().find(|c| accepts(c, v, definitions)),
            None => choices
                .iter()
                .find(|c| types(resolve(c, definitions)) == ["null"])
                .or(choices.first()),
        };
        return match pick {
            Some(sub) => fill_at(sub, value, definitions, depth + 1),
            None => value.cloned().unwrap_or(Value::Null),
        };
    }
    let ts = types(schema);
    match value {
        Some(Value::Object(fields)) => {
            Value::Object(fill_object(schema, fields, definitions, depth))
        }
        Some(Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| fill_at(&schema["items"], Some(i), definitions, depth + 1))
                .collect(),
        ),
        Some(other) => other.clone(),
        None if ts.contains(&"null") => Value::Null,
        None => match (schema["enum"].as_array(), ts.first().copied()) {
            (Some(values), _) if !values.is_empty() => values[0].clone(),
            (_, Some("object")) => {
                Value::Object(fill_object(schema, &Map::new(), definitions, depth))
            }
            (_, Some("array")) => json!([]),
            (_, Some("string")) => json!(placeholder(schema["format"].as_str())),
            (_, Some("integer" | "number")) if schema["minimum"].is_number() => {
                schema["minimum"].clone()
            }
            (_, Some("integer" | "number")) => json!(1),
            (_, Some("boolean")) => json!(false),
            _ => Value::Null,
        },
    }
}

fn fill_object(
    schema: &Value,
    fields: &Map<String, Value>,
    definitions: &Map<String, Value>,
    depth: usize,
) -> Map<String, Value> {
    let mut out = fields.clone();
    let properties = schema["properties"].as_object();
    for (key, value) in fields {
        if let Some(sub) = properties.and_then(|p| p.get(key)) {
            out.insert(
                key.clone(),
                fill_at(sub, Some(value), definitions, depth + 1),
            );
        }
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        if !out.contains_key(key) {
            let sub = properties.and_then(|p| p.get(key)).unwrap_or(&Value::Null);
            out.insert(key.to_owned(), fill_at(sub, None, definitions, depth + 1));
        }
    }
    out
}

/// A string that any test can tell is not something the fake modelled.
fn placeholder(format: Option<&str>) -> &'static str {
    match format {
        Some("date-time") => "2024-01-01T00:00:00Z",
        Some("uri") => "https://github.example/placeholder",
        Some("email") => "placeholder@example.invalid",
        _ => "placeholder",
    }
}
