//! `chartpilot config-schema`: the settings types as a JSON Schema for the
//! config file, so editors (Taplo, Even Better TOML) complete and check
//! `chartpilot.toml`, and the Helm chart's values can reuse it.
//!
//! The schema describes a file as people write it: every section and key
//! may be left out (the built-in defaults fill it in), so only fields
//! required inside array entries (`[[helm.mirrors]]` `from`) are required.
//! Defaults come from `config/default.toml` and the serde defaults, the
//! same values `check-config` shows.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use super::{Settings, SettingsError, DEFAULT_TOML};

/// Where the schema says it lives, for editors that cache by id.
const SCHEMA_ID: &str = "https://chartpilot.dev/schemas/chartpilot.schema.json";

/// The schema as pretty JSON with a trailing newline, as
/// `config/chartpilot.schema.json` holds it.
pub fn json() -> Result<String, SettingsError> {
    let schema = value()?;
    serde_json::to_string_pretty(&schema)
        .map(|text| text + "\n")
        .map_err(|e| SettingsError::Parse(format!("schema: {e}")))
}

/// The schema as a JSON value.
pub fn value() -> Result<Value, SettingsError> {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Settings>().to_value();
    drop_null(&mut schema);
    let defaults = defaults()?;
    if let Value::Object(root) = &mut schema {
        root.insert("$id".into(), SCHEMA_ID.into());
        root.insert("title".into(), "chartpilot configuration".into());
        root.insert(
            "description".into(),
            "chartpilot.toml: built-in defaults, then this file, then \
             CHARTPILOT__SECTION__KEY environment variables (docs/configuration.md)."
                .into(),
        );
    }
    optional_sections(&mut schema, &defaults);
    Ok(schema)
}

/// The built-in defaults as JSON: `config/default.toml` as written (so
/// `24h` stays `24h` and the default AMQP URL is not `[redacted]`), over
/// the serialized built-in settings for keys only serde defaults.
fn defaults() -> Result<Value, SettingsError> {
    let builtin = Settings::builtin()?;
    let mut merged = serde_json::to_value(&builtin)
        .map_err(|e| SettingsError::Parse(format!("built-in defaults: {e}")))?;
    let written: toml::Table = toml::from_str(DEFAULT_TOML)
        .map_err(|e| SettingsError::Parse(format!("built-in defaults: {e}")))?;
    let written = serde_json::to_value(written)
        .map_err(|e| SettingsError::Parse(format!("built-in defaults: {e}")))?;
    overlay(&mut merged, written);
    Ok(merged)
}

fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            for (k, v) in top {
                match base.get_mut(&k) {
                    Some(b) => overlay(b, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// The root and each section: nothing required (defaults fill in), and
/// each key's default written next to it.
fn optional_sections(schema: &mut Value, defaults: &Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("required");
    // A section's own default (serde's, for a section left out) is never
    // used: the built-in file has every section; its keys say the rest.
    object.remove("default");
    let Some(Value::Object(properties)) = object.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let Some(default) = defaults.get(name).filter(|d| !d.is_null()) else {
            continue;
        };
        let is_section = property.get("properties").is_some();
        if is_section {
            optional_sections(property, default);
        } else if let Value::Object(p) = property {
            p.insert("default".into(), default.clone());
        }
    }
}

/// TOML has no null: `Option<T>` keys are simply left out, so the schema
/// drops schemars' `null` alternatives.
fn drop_null(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            for key in ["anyOf", "oneOf"] {
                unwrap_single(map, key);
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            for v in map.values_mut() {
                drop_null(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// `anyOf: [X, {type: null}]` → X merged into the holder.
fn unwrap_single(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(options)) = map.get_mut(key) else {
        return;
    };
    options.retain(|o| o.get("type") != Some(&Value::String("null".into())));
    if options.len() == 1 {
        if let Some(Value::Object(only)) = options.pop() {
            map.remove(key);
            for (k, v) in only {
                map.entry(k).or_insert(v);
            }
        }
    }
}
