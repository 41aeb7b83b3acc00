//! Secret values: never printed, never serialized in clear.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SettingsError;

/// What `check-config` and `Debug` show in place of a non-empty secret.
const REDACTED: &str = "[redacted]";

#[derive(Clone, Default)]
pub struct Secret(Option<SecretString>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        if value.is_empty() {
            Self(None)
        } else {
            Self(Some(SecretString::from(value)))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The clear value; call only where it is handed to a cryptographic or
    /// network API, never to a formatter.
    pub fn expose(&self) -> &str {
        self.0.as_ref().map(|s| s.expose_secret()).unwrap_or("")
    }

    /// Replaces the value with the content of `file` (trailing newline
    /// removed), as Kubernetes secret and Key Vault CSI mounts provide it.
    /// Giving both is an error unless the value is still the built-in
    /// `default` (the AMQP URL has one).
    pub(super) fn resolve_file(
        &mut self,
        key: &str,
        file: Option<&Path>,
        default: &str,
    ) -> Result<(), SettingsError> {
        let Some(path) = file else { return Ok(()) };
        if !self.is_empty() && self.expose() != default {
            return Err(SettingsError::invalid(
                key,
                format!("set both {key} and {key}_file; give only one"),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            SettingsError::invalid(
                &format!("{key}_file"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        *self = Secret::new(text.trim_end_matches(['\n', '\r']));
        Ok(())
    }
}

impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A secret: redacted when shown; may be given as <key>_file instead.",
            "writeOnly": true
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() { "\"\"" } else { REDACTED })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.is_empty() { "" } else { REDACTED })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret::new(String::deserialize(d)?))
    }
}
