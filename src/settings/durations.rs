//! Durations in the config file: `serde(with)` helpers and their schema.

/// Durations written the way people write them: `90s`, `30m`, `2h`.
pub(crate) mod duration {
    use schemars::{json_schema, Schema, SchemaGenerator};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// What `humantime` reads: numbers with units, `500ms`, `30s`, `1h 30m`.
    pub const PATTERN: &str = "^ *([0-9]+ *[a-zA-Z]+ *)+$";

    pub fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PATTERN,
            "description": "A duration such as 500ms, 30s, 5m, 2h or 1h 30m."
        })
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration like 30s, 5m, 2h ({e})"))
        })
    }
}

pub(super) mod opt_duration {
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

pub(super) mod duration_list {
    use schemars::{json_schema, Schema, SchemaGenerator};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "array", "items": super::duration::schema(generator) })
    }

    pub fn serialize<S: Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter().map(|d| humantime::format_duration(*d).to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                humantime::parse_duration(text.trim()).map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`{text}` is not a duration like 30s, 5m, 2h ({e})"
                    ))
                })
            })
            .collect()
    }
}
