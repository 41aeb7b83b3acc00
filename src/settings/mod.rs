//! Typed configuration: built-in defaults, then a TOML file, then
//! `CHARTPILOT__SECTION__KEY` environment variables.
//!
//! Loading never reads the environment at request time: [`Settings::load`]
//! takes the variables as a map so tests can pass their own.

mod errors;
mod secret;
mod server;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use secret::Secret;
pub use server::{ServerSettings, StatusAuth};

/// The defaults shipped in the binary, so `chartpilot serve` runs from any
/// directory with nothing else present.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";

/// Keys whose values are secrets: redacted when shown, taken verbatim from
/// the environment, and loadable from `KEY_file`.
const SECRET_KEYS: [&str; 10] = [
    "queue.url",
    "github.webhook_secret",
    "github.token",
    "alertmanager.token",
    "slack.signing_secret",
    "chat.secret",
    "argocd.token",
    "slack.webhook_url",
    "slack.bot_token",
    "server.status_auth",
];

/// `queue.url` → `CHARTPILOT__QUEUE__URL`.
fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{ENV_SEPARATOR}{}",
        key.replace('.', ENV_SEPARATOR).to_uppercase()
    )
}

/// Prefix and separator of environment overrides.
const ENV_PREFIX: &str = "CHARTPILOT";
const ENV_SEPARATOR: &str = "__";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("configuration: {0}")]
    Parse(String),
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl SettingsError {
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub queue: QueueSettings,
    pub log: LogSettings,
    pub github: GithubSettings,
    pub alertmanager: AlertmanagerSettings,
    pub slack: SlackSettings,
    pub chat: ChatSettings,
    pub git: GitSettings,
    pub argocd: ArgocdSettings,
    pub helm: HelmSettings,
    pub pins: PinsSettings,
    pub policy: PolicySettings,
    pub upgrade: UpgradeSettings,
    pub promotion: PromotionSettings,
    #[serde(default)]
    pub rollback: RollbackSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    Embedded,
    Amqp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    pub kind: QueueKind,
    /// May hold a password, so it is treated as a secret.
    pub url: Secret,
    #[serde(default, skip_serializing)]
    pub url_file: Option<PathBuf>,
    pub path: PathBuf,
    pub max_attempts: u32,
    pub prefix: String,
    pub prefetch: u16,
    #[serde(with = "duration_list")]
    pub retry_delays: Vec<Duration>,
    #[serde(with = "duration")]
    pub confirm_timeout: Duration,
    /// Longest one run of a job may take before it is cancelled and
    /// counted as a failed attempt.
    #[serde(with = "duration")]
    pub job_timeout: Duration,
    /// Hand-outs without an outcome (the worker died on the job) before
    /// the job is parked; RabbitMQ's `x-delivery-limit` on `P.jobs`.
    pub max_deliveries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    pub webhook_secret: Secret,
    #[serde(default, skip_serializing)]
    pub webhook_secret_file: Option<PathBuf>,
    pub token: Secret,
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub app_id: Option<u64>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    pub api_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    pub token: Secret,
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    pub api_url: String,
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub signing_secret: Secret,
    #[serde(default, skip_serializing)]
    pub signing_secret_file: Option<PathBuf>,
    /// An incoming webhook (`https://hooks.slack.com/services/…`) that
    /// hears about automatic rollbacks; empty for none. A secret: whoever
    /// has it may post to the channel.
    #[serde(default)]
    pub webhook_url: Secret,
    #[serde(default, skip_serializing)]
    pub webhook_url_file: Option<PathBuf>,
    /// A bot token (`xoxb-…`, scope `usergroups:read`) for rules naming
    /// Slack user groups; empty: such rules match nobody.
    #[serde(default)]
    pub bot_token: Secret,
    #[serde(default, skip_serializing)]
    pub bot_token_file: Option<PathBuf>,
    /// Slack's Web API, for tests and proxies.
    #[serde(default = "default_slack_api")]
    pub api_url: String,
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    pub secret: Secret,
    #[serde(default, skip_serializing)]
    pub secret_file: Option<PathBuf>,
    /// Who may run what. `help` and `status` are for everyone; everything
    /// else needs a rule that names the person (or a group they are in).
    #[serde(default)]
    pub allow: Vec<ChatAllow>,
    /// Environments where `rollback` and `promote` wait for `confirm`.
    #[serde(default)]
    pub protected: Vec<String>,
    /// How long a confirmation code stays good.
    #[serde(default = "default_confirm_within", with = "duration")]
    pub confirm_within: Duration,
}

fn default_confirm_within() -> Duration {
    Duration::from_secs(300)
}

/// `[[chat.allow]]`: these verbs, in these environments, for these people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatAllow {
    /// Verbs, or `"*"` for all.
    pub verbs: Vec<String>,
    /// Environments, or `"*"` for all (and for commands that name none).
    pub environments: Vec<String>,
    /// Slack user ids (`U…`).
    #[serde(default)]
    pub slack_users: Vec<String>,
    /// Slack user group ids (`S…`); members are asked of Slack with
    /// `slack.bot_token`.
    #[serde(default)]
    pub slack_groups: Vec<String>,
    /// GitHub logins.
    #[serde(default)]
    pub github_users: Vec<String>,
    /// GitHub teams as `org/team-slug`; membership is asked of GitHub.
    #[serde(default)]
    pub github_teams: Vec<String>,
    /// A minimum permission on the repository, asked of GitHub:
    /// `read`, `triage`, `write`, `maintain` or `admin`.
    #[serde(default)]
    pub github_permission: Option<RepoPermission>,
    /// User ids of the generic `/webhooks/chat` route.
    #[serde(default)]
    pub users: Vec<String>,
}

/// GitHub's repository roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoPermission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    Local,
    Github,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSettings {
    pub provider: GitProvider,
    pub path: PathBuf,
    pub repository: String,
    pub branch: String,
    #[serde(default)]
    pub pulls_log: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgocdMode {
    None,
    Kube,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgocdSettings {
    pub mode: ArgocdMode,
    pub api_url: String,
    pub token: Secret,
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    pub namespace: String,
    /// `syncOptions` sent with every sync (e.g. `CreateNamespace=true`).
    #[serde(default)]
    pub sync_options: Vec<String>,
    /// Sync apps with automated sync too (they get a refresh otherwise).
    #[serde(default)]
    pub sync_automated: bool,
    /// PEM bundle trusted for the Argo CD API server (`mode = "api"`), on
    /// top of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Kubeconfig for `mode = "kube"`; unset: `KUBECONFIG`, `~/.kube/config`
    /// or the in-cluster service account.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmSettings {
    #[serde(default)]
    pub mirrors: Vec<HelmMirror>,
    /// Credentials per repository host, for HTTP indexes and OCI registries.
    #[serde(default)]
    pub credentials: Vec<HelmCredential>,
    /// Per request to a chart repository or registry.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// `[[helm.credentials]]`: basic (`username` + `password`) or bearer
/// (`token`) for one host; secrets also as `password_file` / `token_file`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmCredential {
    pub host: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default, skip_serializing)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub token: Secret,
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmMirror {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinsSettings {
    /// Path patterns naming a pin's environment (see `docs/pins.md`).
    pub env_patterns: Vec<String>,
    /// Other names of `policy.environments` (`prd = "prod"`): a value read
    /// from a path, label or generator becomes an environment only when it
    /// is one of those names or one of these aliases.
    #[serde(default)]
    pub env_aliases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    pub environments: Vec<String>,
    pub dry_run: bool,
    #[serde(with = "duration")]
    pub rollout_window: Duration,
    #[serde(with = "duration")]
    pub cooldown: Duration,
    #[serde(with = "duration")]
    pub soak: Duration,
    /// Update types automatic upgrade PRs may make.
    pub update_types: Vec<UpdateType>,
    /// Versions never proposed, as semver ranges (`>=2.0.0`, `=1.4.2`).
    pub ignore: Vec<String>,
    /// A release younger than this is not proposed yet.
    #[serde(with = "duration")]
    pub min_release_age: Duration,
    /// Overrides per chart, matched by chart name.
    #[serde(default)]
    pub charts: Vec<ChartPolicy>,
    /// What upgrades do with pins written as ranges (`8.x`, `^1.4.0`).
    #[serde(default)]
    pub ranges: RangePolicy,
    /// How far one upgrade PR moves a pin across majors.
    #[serde(default)]
    pub major_steps: MajorSteps,
}

/// `policy.major_steps`: `newest` proposes the newest allowed release
/// however many majors it crosses; `one` proposes the newest allowed
/// release of the next major, so each major's breaking changes get a PR
/// of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MajorSteps {
    #[default]
    Newest,
    One,
}

impl<'de> Deserialize<'de> for MajorSteps {
    /// By hand, so a typo names the valid values.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "newest" => Ok(MajorSteps::Newest),
            "one" => Ok(MajorSteps::One),
            other => Err(serde::de::Error::custom(format!(
                "\"{other}\" is not one of newest, one"
            ))),
        }
    }
}

/// `policy.ranges`: a range already follows new releases on its own, so
/// upgrades leave it alone unless asked to turn it into an exact pin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RangePolicy {
    /// Report the version the range resolves to; propose nothing.
    #[default]
    Leave,
    /// Propose replacing the range with its newest allowed version.
    Pin,
}

impl<'de> Deserialize<'de> for RangePolicy {
    /// By hand, so a typo reads `expected "leave" or "pin"` rather than
    /// serde's wording about variant constructors.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "leave" => Ok(RangePolicy::Leave),
            "pin" => Ok(RangePolicy::Pin),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a ranges policy: expected \"leave\" or \"pin\""
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateType {
    Patch,
    Minor,
    Major,
}

impl UpdateType {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Patch => "patch",
            UpdateType::Minor => "minor",
            UpdateType::Major => "major",
        }
    }
}

/// `[[policy.charts]]`: what differs from the global policy for one chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartPolicy {
    pub chart: String,
    #[serde(default)]
    pub update_types: Option<Vec<UpdateType>>,
    #[serde(default)]
    pub ignore: Option<Vec<String>>,
    #[serde(default, with = "opt_duration")]
    pub min_release_age: Option<Duration>,
}

/// `[upgrade]`: when the scheduled upgrade pass runs and how its PRs look.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeSettings {
    /// Between scheduled passes; `0s` turns the schedule off.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Up to this much is added to each interval, so replicas spread out.
    #[serde(with = "duration")]
    pub jitter: Duration,
    /// Labels on every upgrade PR; majors also get `major_label`.
    pub labels: Vec<String>,
    pub major_label: String,
    /// Keep the dashboard issue current after every pass.
    #[serde(default = "yes")]
    pub dashboard: bool,
}

fn yes() -> bool {
    true
}

/// `[promotion]`: how long and how often a merged version is checked
/// before it goes to the next environment, and how alerts name apps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionSettings {
    /// After this long since the merge, a version that could not be
    /// promoted is given up on, with the reason on the merged PR.
    #[serde(with = "duration")]
    pub deadline: Duration,
    /// The first wait between checks; later waits grow with the time since
    /// the merge, up to 16 times this.
    #[serde(with = "duration")]
    pub recheck: Duration,
    /// Alert labels whose value may be the app's name, any of them.
    pub app_labels: Vec<String>,
    /// Alert labels that name the environment; an alert naming another
    /// environment does not hold a promotion back.
    pub env_labels: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackSettings {
    #[serde(default)]
    pub rules: Vec<RollbackRule>,
    /// Labels on every revert PR.
    #[serde(default = "default_rollback_labels")]
    pub labels: Vec<String>,
}

fn default_rollback_labels() -> Vec<String> {
    vec!["chartpilot".into(), "rollback".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackAction {
    RevertPr,
    RevertPush,
    ArgocdRollback,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRule {
    /// Alertmanager matchers (`severity="critical"`, `alertname=~"Kube.*"`),
    /// all of which an alert must match.
    pub matchers: Vec<String>,
    /// Labels naming the app, tried in order; the first whose value is a
    /// known Application or `helm_release` name wins.
    pub app_labels: Vec<String>,
    /// Labels naming the environment, tried in order.
    #[serde(default)]
    pub env_labels: Vec<String>,
    /// Namespace → app, for alerts that carry only a `namespace` label.
    #[serde(default)]
    pub namespace_apps: BTreeMap<String, String>,
    /// Label value → environment (`production = "prod"`).
    #[serde(default)]
    pub env_values: BTreeMap<String, String>,
    #[serde(default = "default_rollback_action")]
    pub action: RollbackAction,
}

fn default_rollback_action() -> RollbackAction {
    RollbackAction::RevertPr
}

impl Settings {
    /// Loads defaults, then `file` (an explicit path must exist; the default
    /// path is used only when present), then the given environment.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        use config::{Config, Environment, File, FileFormat};

        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        let (path, explicit) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        if explicit || path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| SettingsError::File {
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
        builder = builder
            .add_source(
                environment()
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("policy.environments")
                    .with_list_parse_key("queue.retry_delays")
                    .with_list_parse_key("pins.env_patterns")
                    .with_list_parse_key("policy.update_types")
                    .with_list_parse_key("policy.ignore")
                    .with_list_parse_key("upgrade.labels")
                    .with_list_parse_key("argocd.sync_options")
                    .source(Some(plain_vars)),
            )
            .add_source(environment().source(Some(secret_vars)));
        let raw = builder
            .build()
            .map_err(|e| SettingsError::Parse(errors::explain(&e.to_string())))?;
        let mut settings: Settings = raw
            .try_deserialize()
            .map_err(|e| SettingsError::Parse(errors::explain(&e.to_string())))?;
        settings.resolve_secret_files()?;
        settings.validate()?;
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

    fn resolve_secret_files(&mut self) -> Result<(), SettingsError> {
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

/// Durations written the way people write them: `90s`, `30m`, `2h`.
pub(crate) mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

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

mod opt_duration {
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

mod duration_list {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

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

#[cfg(test)]
mod tests;
