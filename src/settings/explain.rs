//! `chartpilot check-config`: the effective configuration, and with
//! `--explain` where each value came from (default, file, environment),
//! secrets redacted either way.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{file_used, Settings, SettingsError, ENV_PREFIX, ENV_SEPARATOR};

/// The last line `check-config` prints (on stderr, so stdout stays TOML)
/// when the configuration loads and validates.
pub const CONFIG_OK: &str = "configuration OK";

/// Where an effective value came from; the later layer wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    /// The variable's name, never its value.
    Env(String),
    /// A secret read from `path`, named by `<key>_file` from `via`.
    SecretFile {
        path: PathBuf,
        via: Box<Source>,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::SecretFile { path, via } => write!(f, "read from {} ({via})", path.display()),
        }
    }
}

/// What `check-config` prints on stdout: the effective configuration as
/// TOML, or with `explain` one `key = value  # source` line per key.
pub fn check_config(
    file: Option<&Path>,
    env: &HashMap<String, String>,
    explain: bool,
) -> Result<String, SettingsError> {
    let settings = Settings::load(file, env)?;
    if !explain {
        // A newline of its own, so `configuration OK` starts a line.
        let mut text = settings.redacted_toml()?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Ok(text);
    }
    let layers = Layers::read(file_used(file), env)?;
    let effective = toml::Value::try_from(&settings)
        .map_err(|e| SettingsError::Parse(format!("effective configuration: {e}")))?;
    let mut leaves = Vec::new();
    flatten("", &effective, &mut leaves);
    let mut out = String::new();
    for (key, value) in leaves {
        out.push_str(&format!("{key} = {value}  # {}\n", layers.source(&key)));
    }
    Ok(out)
}

/// The layers above the defaults as written, to tell which one set a key.
struct Layers {
    file: Option<(PathBuf, toml::Table)>,
    /// `queue.max_attempts` → (`CHARTPILOT__QUEUE__MAX_ATTEMPTS`, value).
    env: HashMap<String, (String, String)>,
}

impl Layers {
    fn read(file: Option<PathBuf>, env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let parse = |text: &str, name: &str| {
            toml::from_str::<toml::Table>(text).map_err(|e| SettingsError::File {
                path: name.to_owned(),
                reason: e.to_string(),
            })
        };
        let file = match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| SettingsError::File {
                    path: name.clone(),
                    reason: e.to_string(),
                })?;
                Some((path, parse(&text, &name)?))
            }
            None => None,
        };
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
        let mut vars: Vec<(&String, &String)> = env.iter().collect();
        // Deterministic when two spellings name one key.
        vars.sort();
        let mut keys = HashMap::new();
        for (var, value) in vars {
            if let Some(rest) = var.strip_prefix(&prefix) {
                let key = rest.to_lowercase().replace(ENV_SEPARATOR, ".");
                keys.entry(key)
                    .or_insert_with(|| (var.clone(), value.clone()));
            }
        }
        Ok(Self { file, env: keys })
    }

    /// The layer that set `key` (as printed, `helm.mirrors[0].to`): an
    /// array is replaced as a whole, so its entries share its source.
    fn source(&self, key: &str) -> Source {
        let key = key.split('[').next().unwrap_or(key);
        if let Some(secret) = self.secret_file(key) {
            return secret;
        }
        self.layer_of(key).unwrap_or(Source::Default)
    }

    fn layer_of(&self, key: &str) -> Option<Source> {
        if let Some((var, _)) = self.env.get(key) {
            return Some(Source::Env(var.clone()));
        }
        match &self.file {
            Some((path, table)) if lookup(table, key).is_some() => Some(Source::File(path.clone())),
            _ => None,
        }
    }

    /// A secret given as `<key>_file`: the file read, and who named it.
    fn secret_file(&self, key: &str) -> Option<Source> {
        let file_key = format!("{key}_file");
        if !super::SECRET_KEYS.contains(&key) {
            return None;
        }
        let via = self.layer_of(&file_key)?;
        let path = match &via {
            Source::Env(_) => self.env.get(&file_key).map(|(_, v)| PathBuf::from(v)),
            Source::File(_) => self
                .file
                .as_ref()
                .and_then(|(_, t)| lookup(t, &file_key))
                .and_then(|v| v.as_str().map(PathBuf::from)),
            _ => None,
        }?;
        Some(Source::SecretFile {
            path,
            via: Box::new(via),
        })
    }
}

fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// Leaves in key order: tables open up (`server.listen`), arrays of
/// tables by index (`helm.mirrors[0].to`), other arrays stay one value.
fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        toml::Value::Table(t) if !t.is_empty() || prefix.is_empty() => {
            for (k, v) in t {
                flatten(&join(k), v, out);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.is_table()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}
