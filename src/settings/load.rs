//! Loading: built-in defaults, then the file, then the environment, then
//! secret files and validation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{
    env_name, errors, file_used, Secret, Settings, SettingsError, DEFAULT_TOML, ENV_LIST_KEYS,
    ENV_PREFIX, ENV_SEPARATOR, SECRET_KEYS,
};

impl Settings {
    /// Loads defaults, then `file` (an explicit path must exist; the default
    /// path is used only when present), then the given environment.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        Self::from_layers(file_used(file).as_deref(), env)
    }

    /// The built-in defaults alone: no file, no environment.
    pub fn builtin() -> Result<Self, SettingsError> {
        Self::from_layers(None, &HashMap::new())
    }

    fn from_layers(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        use config::{Config, Environment, File, FileFormat};

        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            // Parse once here so a syntax error names the file, line and column.
            toml::from_str::<toml::Table>(&text).map_err(|e| SettingsError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        // Secrets are taken verbatim; everything else is parsed, so
        // `CHARTPILOT__QUEUE__MAX_ATTEMPTS=7` is a number and lists split
        // on commas. A secret like `0042` must not become the number 42.
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
        let (secret_vars, plain_vars): (config::Map<String, String>, config::Map<String, String>) =
            env.iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .partition(|(k, _)| SECRET_KEYS.iter().any(|s| env_name(s) == *k));
        let environment = || {
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator(ENV_SEPARATOR)
                .separator(ENV_SEPARATOR)
        };
        let lists = ENV_LIST_KEYS.iter().fold(
            environment().try_parsing(true).list_separator(","),
            |source, key| source.with_list_parse_key(key),
        );
        builder = builder
            .add_source(lists.source(Some(plain_vars)))
            .add_source(environment().source(Some(secret_vars)));
        let raw = builder
            .build()
            .map_err(|e| errors::explain(&e.to_string()))?;
        let tree: serde_json::Value = raw
            .clone()
            .try_deserialize()
            .map_err(|e| errors::explain(&e.to_string()))?;
        let mut settings: Settings = raw
            .try_deserialize()
            .map_err(|e| errors::explain(&e.to_string()))?;
        settings.resolve_secret_files()?;
        if settings.repositories.discovers() {
            // Repositories are found at run time; each discovered one is
            // the top level with its own `[git]` (`Settings::discovered`).
            settings.validate_shared()?;
            settings.validate_discovery()?;
        } else if settings.repositories.entries.is_empty() {
            settings.validate()?;
        } else {
            // The top level is what entries inherit, not a repository of
            // its own: its `[git]` need not name one.
            settings.validate_shared()?;
            settings.contexts = super::repositories::contexts(&settings, &tree)?;
        }
        Ok(settings)
    }

    /// The listen address, validated by [`Settings::load`].
    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server
            .listen
            .parse()
            .map_err(|_| SettingsError::invalid("server.listen", "expected host:port"))
    }

    /// Effective configuration as TOML with every secret redacted.
    pub fn redacted_toml(&self) -> Result<String, SettingsError> {
        toml::to_string_pretty(self).map_err(|e| SettingsError::Parse(e.to_string()))
    }

    pub(super) fn resolve_secret_files(&mut self) -> Result<(), SettingsError> {
        // Same order as SECRET_KEYS.
        let secrets: [(&mut Secret, &Option<PathBuf>); 10] = [
            (&mut self.queue.url, &self.queue.url_file),
            (
                &mut self.github.webhook_secret,
                &self.github.webhook_secret_file,
            ),
            (&mut self.github.token, &self.github.token_file),
            (&mut self.alertmanager.token, &self.alertmanager.token_file),
            (
                &mut self.slack.signing_secret,
                &self.slack.signing_secret_file,
            ),
            (&mut self.chat.secret, &self.chat.secret_file),
            (&mut self.argocd.token, &self.argocd.token_file),
            (&mut self.slack.webhook_url, &self.slack.webhook_url_file),
            (&mut self.slack.bot_token, &self.slack.bot_token_file),
            (&mut self.server.status_auth, &self.server.status_auth_file),
        ];
        let defaults: toml::Table = toml::from_str(DEFAULT_TOML)
            .map_err(|e| SettingsError::Parse(format!("built-in defaults: {e}")))?;
        for (key, (secret, file)) in SECRET_KEYS.iter().zip(secrets) {
            let default = key
                .split_once('.')
                .and_then(|(section, name)| defaults.get(section)?.get(name)?.as_str())
                .unwrap_or("");
            secret.resolve_file(key, file.as_deref(), default)?;
        }
        for (i, c) in self.helm.credentials.iter_mut().enumerate() {
            let key = format!("helm.credentials[{i}]");
            c.password
                .resolve_file(&format!("{key}.password"), c.password_file.as_deref(), "")?;
            c.token
                .resolve_file(&format!("{key}.token"), c.token_file.as_deref(), "")?;
        }
        Ok(())
    }
}
