//! docs/configuration.md against the settings types, so the two cannot
//! drift: every key the types accept is documented and nothing else is,
//! each documented default is the one the code applies, and the documented
//! type and values match the schema derived from the types.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chartpilot::settings::{
    schema, ChartPolicy, ChatAllow, HelmCredential, HelmMirror, RepositoryEntry, RollbackRule,
    Settings, DEFAULT_TOML, ENV_LIST_KEYS, SECRET_KEYS,
};
use serde_json::Value;

/// One row of a key table.
#[derive(Debug)]
struct Row {
    key: String,
    kind: String,
    default: String,
}

/// Splits a Markdown table row on `|`, keeping escaped `\|` in cells.
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cell).trim().to_owned()),
            c => cell.push(c),
        }
    }
    out.push(cell.trim().to_owned());
    out
}

/// The spans between single backticks.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn configuration_md() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"))
        .unwrap()
}

/// The text from the line starting with `start` to the next blank line.
fn paragraph(text: &str, start: &str) -> String {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with(start))
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Dotted key names in code spans (`queue.url`), before `until`.
fn keys_in(text: &str, until: &str) -> BTreeSet<String> {
    let text = text.split(until).next().unwrap_or(text);
    code_spans(text)
        .into_iter()
        .filter(|s| s.contains('.') && !s.contains([' ', '=']))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_lists_of_secrets_env_lists_and_arrays_of_tables_are_the_codes() {
    let md = configuration_md();
    let secrets = md
        .split("Each of these keys is a secret:")
        .nth(1)
        .map(|rest| paragraph(rest.trim_start(), "- `"))
        .unwrap_or_default();
    let documented = keys_in(&secrets, "\n\n");
    let code: BTreeSet<String> = SECRET_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(documented, code, "## Secrets lists the secret keys");

    let lists = keys_in(&paragraph(&md, "- **Lists.**"), "For example");
    let code: BTreeSet<String> = ENV_LIST_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(lists, code, "**Lists.** names the comma-separated keys");

    let arrays = keys_in(&paragraph(&md, "- **Arrays of tables**"), "can only");
    let code: BTreeSet<String> = types_keys()
        .into_iter()
        .filter(|(_, p)| p["items"].get("properties").is_some())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        arrays, code,
        "**Arrays of tables** names every array of tables"
    );
}

/// Rows of the tables under `## Keys`, keys made absolute
/// (`chat.allow[].slack_groups` from "`allow[].slack_users` / `slack_groups`").
fn documented() -> Vec<Row> {
    let text = configuration_md();
    let mut rows = Vec::new();
    let mut in_keys = false;
    let mut section = String::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            in_keys = h.trim() == "Keys";
            continue;
        }
        if !in_keys {
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            let h = h.trim().trim_matches('`');
            // `[[repositories]]`: an array of tables at the top level.
            let array = h.starts_with("[[");
            section = h.trim_matches(['[', ']']).to_owned();
            if array {
                section.push_str("[]");
            }
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let c = cells(line);
        assert_eq!(c.len(), 6, "six columns: {line}");
        let names = code_spans(&c[0]);
        let first = names[0];
        let parent = first.rfind(['.']).map_or("", |i| &first[..=i]).to_owned();
        for (i, name) in names.iter().enumerate() {
            let name = if i == 0 || name.contains('.') {
                (*name).to_owned()
            } else {
                format!("{parent}{name}")
            };
            rows.push(Row {
                key: format!("{section}.{name}"),
                kind: c[1].clone(),
                default: c[2].clone(),
            });
        }
    }
    rows
}

/// Every key of the schema: `section.key`, and `section.key[].field` for
/// the fields of arrays of tables.
fn schema_keys(prefix: &str, schema: &Value, out: &mut BTreeMap<String, Value>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if prop.get("properties").is_some() {
            schema_keys(&key, prop, out);
            continue;
        }
        out.insert(key.clone(), prop.clone());
        if prop["items"].get("properties").is_some() {
            schema_keys(&format!("{key}[]"), &prop["items"], out);
        }
    }
}

/// The entries' schema of a top-level array of tables, in either form of
/// the key (see `types_keys`).
fn top_level_items(array: &str) -> Value {
    let schema = schema::value().unwrap();
    let s = &schema["properties"][array];
    match s["anyOf"].as_array() {
        Some(alternatives) => alternatives
            .iter()
            .find(|a| a.get("items").is_some())
            .map(|a| a["items"].clone())
            .unwrap_or(Value::Null),
        None => s["items"].clone(),
    }
}

fn types_keys() -> BTreeMap<String, Value> {
    let schema = schema::value().unwrap();
    let mut keys = BTreeMap::new();
    for (section, s) in schema["properties"].as_object().unwrap() {
        // `repositories`: an array of tables (`[[repositories]]`) or a
        // table (`[repositories]` with `discover`).
        let forms: Vec<&Value> = match s["anyOf"].as_array() {
            Some(alternatives) => alternatives.iter().collect(),
            None => vec![s],
        };
        for s in forms {
            if s["items"].get("properties").is_some() {
                // A top-level array of tables (`[[repositories]]`).
                schema_keys(&format!("{section}[]"), &s["items"], &mut keys);
            } else {
                schema_keys(section, s, &mut keys);
            }
        }
    }
    keys
}

fn get<'a>(value: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(value, |v, part| v.get(part))
}

/// A table entry of `array` with only its required fields, then
/// serialized back: what the types fill in for a field left out.
fn entry_defaults(array: &str, required: &[String]) -> toml::Value {
    let placeholder: String = required
        .iter()
        .map(|f| match f.as_str() {
            "matchers" | "verbs" | "environments" => format!("{f} = [\"x\"]\n"),
            _ => format!("{f} = \"x\"\n"),
        })
        .collect();
    fn back<T: serde::Serialize>(v: T) -> toml::Value {
        toml::Value::try_from(v).unwrap()
    }
    let p = placeholder.as_str();
    match array {
        "helm.mirrors" => back(toml::from_str::<HelmMirror>(p).unwrap()),
        "helm.credentials" => back(toml::from_str::<HelmCredential>(p).unwrap()),
        "policy.charts" => back(toml::from_str::<ChartPolicy>(p).unwrap()),
        "rollback.rules" => back(toml::from_str::<RollbackRule>(p).unwrap()),
        "chat.allow" => back(toml::from_str::<ChatAllow>(p).unwrap()),
        "repositories" => back(toml::from_str::<RepositoryEntry>(p).unwrap()),
        other => panic!("{other}: an array of tables this test does not know; add it"),
    }
}

fn duration(v: &toml::Value) -> Option<std::time::Duration> {
    humantime::parse_duration(v.as_str()?.trim()).ok()
}

/// Equal as the documented type means them: durations by length.
fn same(kind: &str, doc: &toml::Value, code: &toml::Value) -> bool {
    if kind.contains("duration") {
        return match (doc, code) {
            (toml::Value::Array(a), toml::Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| duration(x) == duration(y))
            }
            _ => duration(doc).is_some() && duration(doc) == duration(code),
        };
    }
    doc == code
}

#[test]
fn every_key_is_documented_and_every_documented_key_exists() {
    let docs: BTreeSet<String> = documented().into_iter().map(|r| r.key).collect();
    let types: BTreeSet<String> = types_keys().into_keys().collect();
    let undocumented: Vec<_> = types.difference(&docs).collect();
    let unknown: Vec<_> = docs.difference(&types).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "not in docs/configuration.md: {undocumented:?}\n\
         documented but not a key: {unknown:?}"
    );
    // config/default.toml names only keys the docs describe.
    let shipped: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
    for (section, table) in &shipped {
        for key in table.as_table().unwrap().keys() {
            let key = format!("{section}.{key}");
            assert!(
                docs.contains(&key),
                "{key} is in config/default.toml, not in the docs"
            );
        }
    }
}

#[test]
fn documented_defaults_types_and_values_are_the_codes() {
    let builtin = toml::Value::try_from(Settings::builtin().unwrap()).unwrap();
    let written = toml::Value::Table(toml::from_str(DEFAULT_TOML).unwrap());
    let types = types_keys();
    let mut wrong = Vec::new();
    for row in documented() {
        let Some(prop) = types.get(&row.key) else {
            continue; // reported by the test above
        };
        // Where the code's default lives: the settings, or an entry of an
        // array of tables with only its required fields.
        let (code, required) = match row.key.split_once("[].") {
            Some((array, field)) => {
                // A top-level array (`repositories`) is no key of its own.
                let items = match types.get(array) {
                    Some(t) => t["items"].clone(),
                    None => top_level_items(array),
                };
                let required: Vec<String> = items["required"]
                    .as_array()
                    .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default();
                let entry = entry_defaults(array, &required);
                (
                    entry.get(field).cloned(),
                    required.iter().any(|r| r == field),
                )
            }
            None => {
                let mut v = get(&builtin, &row.key).cloned();
                // Secrets print redacted; the shipped file has the value.
                if v.as_ref().and_then(|v| v.as_str()) == Some("[redacted]") {
                    v = get(&written, &row.key).cloned();
                }
                (v, false)
            }
        };
        let d = row.default.as_str();
        let ok = if d.starts_with("required") {
            required
        } else if d.starts_with("unset") {
            code.is_none() && !required
        } else if let Some(n) = d.strip_prefix("one rule") {
            let _ = n;
            code.as_ref()
                .and_then(|c| c.as_array())
                .is_some_and(|a| a.len() == 1)
        } else {
            let span = code_spans(d).first().copied().unwrap_or_default();
            match toml::from_str::<toml::Table>(&format!("v = {span}")) {
                Ok(t) => code.as_ref().is_some_and(|c| same(&row.kind, &t["v"], c)) && !required,
                Err(e) => {
                    wrong.push(format!("{}: default `{span}` is not TOML: {e}", row.key));
                    continue;
                }
            }
        };
        if !ok {
            wrong.push(format!(
                "{}: documented default {d:?}, the code has {} (required: {required})",
                row.key,
                code.map_or("nothing".to_owned(), |c| c.to_string())
            ));
        }
        if let Some(problem) = type_mismatch(&row, prop) {
            wrong.push(format!("{}: {problem}", row.key));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md disagrees with the code:\n{}",
        wrong.join("\n")
    );
}

/// The schema's spellings of an enum (`enum`, or `oneOf` of `const`s),
/// for a key or the items of a list.
fn enum_values(prop: &Value) -> Option<Vec<String>> {
    let of = |p: &Value| -> Option<Vec<String>> {
        if let Some(e) = p["enum"].as_array() {
            return Some(e.iter().map(|v| v.as_str().unwrap().to_owned()).collect());
        }
        let one = p["oneOf"].as_array()?;
        one.iter()
            .map(|v| v["const"].as_str().map(str::to_owned))
            .collect()
    };
    of(prop).or_else(|| of(&prop["items"]))
}

/// Whether the Type column says what the schema says.
fn type_mismatch(row: &Row, prop: &Value) -> Option<String> {
    let kind = row.kind.to_lowercase();
    let ty = prop["type"].as_str().unwrap_or("");
    let documented_values: Vec<String> = code_spans(&row.kind)
        .iter()
        .map(|s| s.trim_matches('"').to_owned())
        .collect();
    if let Some(values) = enum_values(prop) {
        return (documented_values != values)
            .then(|| format!("documented values {documented_values:?}, the type has {values:?}"));
    }
    let want = if kind.starts_with("list") || kind.starts_with("array") {
        "array"
    } else if kind.starts_with("table") {
        "object"
    } else if kind.starts_with("bool") {
        "boolean"
    } else if kind.starts_with("integer") {
        "integer"
    } else {
        "string"
    };
    if ty != want {
        return Some(format!("documented as {:?}, the type is {ty}", row.kind));
    }
    let is_duration = prop.get("pattern").is_some() || prop["items"].get("pattern").is_some();
    (kind.contains("duration") != is_duration).then(|| {
        format!(
            "documented as {:?}; a duration in the code: {is_duration}",
            row.kind
        )
    })
}
