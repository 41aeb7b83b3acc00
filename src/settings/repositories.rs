//! `[[repositories]]`: the GitOps repositories chartpilot serves, each
//! with optional overrides of the sections that differ between them.
//!
//! Each entry becomes a whole [`Settings`] of its own (its context): the
//! top-level settings with the entry's repository as `[git]` and the
//! entry's tables merged key by key over the top-level sections, so what an
//! entry does not say it inherits. Contexts are validated as the top level
//! is, and their errors name the entry (`repositories[1].policy.soak`).
//! Without `[[repositories]]`, `[git]` is the one repository.
//!
//! `[repositories]` as a table with `discover = true` instead takes every
//! repository a GitHub App's installations can see that holds pins, each
//! with the top-level sections (see `crate::worker::discovery`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{GitProvider, Settings, SettingsError};

/// Keys of `[github]` an entry may override: its credentials, not the
/// webhook secret (one receiver checks every repository's webhooks).
const GITHUB_OVERRIDABLE: [&str; 5] = [
    "token",
    "token_file",
    "api_url",
    "app_id",
    "private_key_file",
];

/// `repositories`: a list of entries (`[[repositories]]`), or the table
/// `[repositories]` with `discover = true`.
#[derive(Debug, Clone, Default)]
pub struct RepositoryList {
    pub entries: Vec<RepositoryEntry>,
    /// Set by the table form.
    pub discovery: Option<Discovery>,
}

/// `[repositories]` with `discover = true`: the repositories of the GitHub
/// App's installations that hold pins, found at start and again every
/// `upgrade.interval`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    /// Take the installations' repositories (a GitHub App only).
    pub discover: bool,
    /// Repositories left out, as glob patterns over `owner/name` (case
    /// ignored): `["acme/sandbox-*"]`.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl RepositoryList {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.discovery.is_none()
    }

    /// `discover = true` is set.
    pub fn discovers(&self) -> bool {
        self.discovery.as_ref().is_some_and(|d| d.discover)
    }
}

impl<'de> Deserialize<'de> for RepositoryList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RepositoryList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "`[[repositories]]` entries, or `[repositories]` with `discover = true`",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                let entries = Vec::<RepositoryEntry>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(RepositoryList {
                    entries,
                    discovery: None,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let discovery =
                    Discovery::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RepositoryList {
                    entries: Vec::new(),
                    discovery: Some(discovery),
                })
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Serialize for RepositoryList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.discovery {
            Some(d) => d.serialize(s),
            None => self.entries.serialize(s),
        }
    }
}

impl JsonSchema for RepositoryList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RepositoryList".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let entries = g.subschema_for::<Vec<RepositoryEntry>>();
        let discovery = g.subschema_for::<Discovery>();
        schemars::json_schema!({
            "description": "`[[repositories]]` entries, or `[repositories]` with `discover = true`",
            "anyOf": [entries, discovery]
        })
    }
}

/// One `[[repositories]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryEntry {
    /// `github` (default) or `local`.
    #[serde(default = "github")]
    pub provider: GitProvider,
    /// `owner/name` on GitHub.
    #[serde(default)]
    pub repository: String,
    /// The repository on disk, for `provider = "local"`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The branch that deploys; `git.branch` when left out.
    #[serde(default)]
    pub branch: Option<String>,
    /// Where `provider = "local"` records pull requests.
    #[serde(default)]
    pub pulls_log: Option<PathBuf>,
    /// `[policy]` keys for this repository.
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub policy: Option<serde_json::Value>,
    /// `[rollback]` keys for this repository.
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub rollback: Option<serde_json::Value>,
    /// `[promotion]` keys for this repository.
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub promotion: Option<serde_json::Value>,
    /// `[argocd]` keys for this repository.
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub argocd: Option<serde_json::Value>,
    /// `[chat]` keys for this repository.
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub chat: Option<serde_json::Value>,
    /// `[github]` credentials for this repository (`token`, `token_file`,
    /// `api_url`, `app_id`, `private_key_file`).
    #[serde(default)]
    #[schemars(schema_with = "table")]
    pub github: Option<serde_json::Value>,
}

fn github() -> GitProvider {
    GitProvider::Github
}

fn table(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "Keys of the top-level section of the same name; those left out are inherited"
    })
}

impl RepositoryEntry {
    /// How the entry is named in errors and logs.
    fn label(&self) -> String {
        match self.provider {
            GitProvider::Github => self.repository.clone(),
            GitProvider::Local => self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Merges `over` into `base` key by key; tables merge, anything else
/// replaces. Setting `x` drops an inherited `x_file` and the other way
/// round, so an entry's own secret is never "both a value and a file".
fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
    let (Some(base), Some(over)) = (base.as_object_mut(), over.as_object()) else {
        *base = over.clone();
        return;
    };
    for (k, v) in over {
        if let Some(plain) = k.strip_suffix("_file") {
            base.remove(plain);
        } else {
            base.remove(&format!("{k}_file"));
        }
        match base.get_mut(k) {
            Some(b) if b.is_object() && v.is_object() => merge(b, v),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Leaves out keys set to nothing (TOML has no null): they take their
/// defaults, as keys never written do.
fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Puts `repositories[i].` before the key an error names.
fn in_entry(i: usize, e: SettingsError) -> SettingsError {
    match e {
        SettingsError::Invalid { key, reason } => SettingsError::Invalid {
            // The entry's own keys are its `[git]`.
            key: format!(
                "repositories[{i}].{}",
                key.strip_prefix("git.").unwrap_or(&key)
            ),
            reason,
        },
        other => SettingsError::Invalid {
            key: format!("repositories[{i}]"),
            reason: other.to_string(),
        },
    }
}

/// The context of every entry of `settings.repositories`, from `tree`, the
/// merged configuration `settings` was read from.
pub(super) fn contexts(
    settings: &Settings,
    tree: &serde_json::Value,
) -> Result<Vec<Settings>, SettingsError> {
    let mut seen = std::collections::BTreeMap::new();
    let mut out = Vec::with_capacity(settings.repositories.entries.len());
    for (i, entry) in settings.repositories.entries.iter().enumerate() {
        let mut t = tree.clone();
        if let Some(obj) = t.as_object_mut() {
            obj.remove("repositories");
        }
        let git = serde_json::json!({
            "provider": entry.provider,
            "repository": entry.repository,
            "path": entry.path.clone().unwrap_or_else(|| settings.git.path.clone()),
            "branch": entry.branch.clone().unwrap_or_else(|| settings.git.branch.clone()),
            "pulls_log": entry.pulls_log,
        });
        t["git"] = git;
        let overrides = [
            ("policy", &entry.policy),
            ("rollback", &entry.rollback),
            ("promotion", &entry.promotion),
            ("argocd", &entry.argocd),
            ("chat", &entry.chat),
            ("github", &entry.github),
        ];
        for (section, over) in overrides {
            let Some(over) = over else { continue };
            if !over.is_object() {
                return Err(SettingsError::invalid(
                    &format!("repositories[{i}].{section}"),
                    "must be a table of keys of the top-level section",
                ));
            }
            if section == "github" {
                if let Some(k) = over
                    .as_object()
                    .and_then(|o| o.keys().find(|k| !GITHUB_OVERRIDABLE.contains(&k.as_str())))
                {
                    return Err(SettingsError::invalid(
                        &format!("repositories[{i}].github.{k}"),
                        format!(
                            "is the same for every repository; an entry may set only {}",
                            GITHUB_OVERRIDABLE.join(", ")
                        ),
                    ));
                }
            }
            merge(&mut t[section], over);
        }
        // Read back through `config`, as the top level was, so values are
        // taken the same way (a number written as a string, and so on).
        strip_nulls(&mut t);
        let text = toml::to_string(&t)
            .map_err(|e| SettingsError::invalid(&format!("repositories[{i}]"), e.to_string()))?;
        let mut context: Settings = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| in_entry(i, super::errors::explain(&e.to_string())))?;
        context.resolve_secret_files().map_err(|e| in_entry(i, e))?;
        context.validate().map_err(|e| in_entry(i, e))?;
        let key = context.git.key();
        if let Some(first) = seen.insert(key.clone(), i) {
            return Err(SettingsError::invalid(
                &format!("repositories[{i}]"),
                format!(
                    "`{}` is listed twice (also repositories[{first}])",
                    entry.label()
                ),
            ));
        }
        out.push(context);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_what_the_entry_leaves_out_and_swaps_values_and_files() {
        let cases = [
            (
                serde_json::json!({"soak": "1h", "dry_run": false}),
                serde_json::json!({"soak": "10m"}),
                serde_json::json!({"soak": "10m", "dry_run": false}),
            ),
            (
                serde_json::json!({"token": "t", "api_url": "a"}),
                serde_json::json!({"token_file": "/f"}),
                serde_json::json!({"token_file": "/f", "api_url": "a"}),
            ),
            (
                serde_json::json!({"token_file": "/f"}),
                serde_json::json!({"token": "t"}),
                serde_json::json!({"token": "t"}),
            ),
            (
                serde_json::json!({"a": {"b": 1, "c": 2}}),
                serde_json::json!({"a": {"c": 3}}),
                serde_json::json!({"a": {"b": 1, "c": 3}}),
            ),
            (
                serde_json::json!({"rules": [1, 2]}),
                serde_json::json!({"rules": [3]}),
                serde_json::json!({"rules": [3]}),
            ),
        ];
        for (mut base, over, want) in cases {
            merge(&mut base, &over);
            assert_eq!(base, want);
        }
    }
}
