//! Typed configuration: built-in defaults, then a TOML file, then
//! `CHARTPILOT__SECTION__KEY` environment variables.
//!
//! Loading never reads the environment at request time: [`Settings::load`]
//! takes the variables as a map so tests can pass their own.

mod checks;
mod cross;
mod durations;
mod errors;
pub mod explain;
mod load;
mod repositories;
pub mod schema;
mod secret;
mod server;
mod validate;

pub(crate) use durations::duration;
use durations::{duration_list, opt_duration};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use checks::{CheckSettings, RuleLevel};
pub use repositories::{Discovery, RepositoryEntry, RepositoryList};
pub use secret::Secret;
pub use server::{ServerSettings, StatusAuth};

/// The defaults shipped in the binary, so `chartpilot serve` runs from any
/// directory with nothing else present.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";

/// Keys whose values are secrets: redacted when shown, taken verbatim from
/// the environment, and loadable from `KEY_file`.
pub const SECRET_KEYS: [&str; 10] = [
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

/// Lists an environment variable may give as comma-separated values.
pub const ENV_LIST_KEYS: [&str; 10] = [
    "policy.environments",
    "policy.allowed_repositories",
    "policy.tier1_order",
    "queue.retry_delays",
    "pins.env_patterns",
    "policy.update_types",
    "policy.ignore",
    "upgrade.labels",
    "argocd.sync_options",
    "repositories.exclude",
];

/// `queue.url` → `CHARTPILOT__QUEUE__URL`.
fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{ENV_SEPARATOR}{}",
        key.replace('.', ENV_SEPARATOR).to_uppercase()
    )
}

/// The file [`Settings::load`] reads: `file` when given (it must exist),
/// else [`DEFAULT_CONFIG_PATH`] when present.
pub fn file_used(file: Option<&Path>) -> Option<PathBuf> {
    match file {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.exists()),
    }
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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[server]`: where the HTTP server listens and what a request may cost.
    pub server: ServerSettings,
    /// `[queue]`: the job queue, embedded or RabbitMQ, and its retries.
    pub queue: QueueSettings,
    /// `[log]`: log format and filter.
    pub log: LogSettings,
    /// `[telemetry]`: traces exported over OTLP.
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// `[github]`: webhook secret and API credentials.
    pub github: GithubSettings,
    /// `[alertmanager]`: alert webhooks and the API asked before promotions.
    pub alertmanager: AlertmanagerSettings,
    /// `[slack]`: slash commands, rollback notices and user groups.
    pub slack: SlackSettings,
    /// `[chat]`: the generic chat webhook and who may run which command.
    pub chat: ChatSettings,
    /// `[git]`: the repository whose pins are changed.
    pub git: GitSettings,
    /// `[argocd]`: how Argo CD Applications are synced and rolled back.
    pub argocd: ArgocdSettings,
    /// `[helm]`: chart repository mirrors, credentials and timeouts.
    pub helm: HelmSettings,
    /// `[pins]`: how a pin's environment is read from its path.
    pub pins: PinsSettings,
    /// `[policy]`: environments, rollout windows and what upgrades may propose.
    pub policy: PolicySettings,
    /// `[upgrade]`: the scheduled upgrade pass and its PRs.
    pub upgrade: UpgradeSettings,
    /// `[promotion]`: checks before a version goes to the next environment.
    pub promotion: PromotionSettings,
    /// `[rollback]`: which alerts roll a change back, and how.
    #[serde(default)]
    pub rollback: RollbackSettings,
    /// `[checks]`: the `chartpilot` check on pull requests that touch pins.
    #[serde(default)]
    pub checks: CheckSettings,
    /// `[[repositories]]`: the repositories served, when more than the one
    /// of `[git]`; or `[repositories]` with `discover = true`.
    #[serde(default, skip_serializing_if = "RepositoryList::is_empty")]
    pub repositories: RepositoryList,
    /// The settings of each repository (see [`Settings::contexts`]), built
    /// and validated at load.
    #[serde(skip)]
    #[schemars(skip)]
    contexts: Vec<Settings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    Embedded,
    Amqp,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// `embedded` (one process, `serve --role all`) or `amqp` (RabbitMQ).
    pub kind: QueueKind,
    /// May hold a password, so it is treated as a secret.
    pub url: Secret,
    /// File that holds `url`; replaces the built-in URL.
    #[serde(default, skip_serializing)]
    pub url_file: Option<PathBuf>,
    /// Directory of the embedded store.
    pub path: PathBuf,
    /// Attempts before a failing job is parked.
    pub max_attempts: u32,
    /// Name of the exchange and prefix of the queue names (amqp).
    pub prefix: String,
    /// Jobs a worker holds unacknowledged, and runs, at once.
    pub prefetch: u16,
    /// Delay before attempt n+1 is the n-th entry; the last repeats.
    #[serde(with = "duration_list")]
    #[schemars(schema_with = "duration_list::schema")]
    pub retry_delays: Vec<Duration>,
    /// How long a webhook waits for the broker: its publisher confirm, or a
    /// connection while the service reconnects to a node.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub confirm_timeout: Duration,
    /// Longest one run of a job may take before it is cancelled and
    /// counted as a failed attempt.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub job_timeout: Duration,
    /// Hand-outs without an outcome (the worker died on the job) before
    /// the job is parked; RabbitMQ's `x-delivery-limit` on each lane.
    pub max_deliveries: u32,
    /// Lane queues on RabbitMQ (`P.lane.0` …): jobs of one repository go
    /// to one lane, and a lane runs one job at a time on any number of
    /// workers. Every process of a deployment must use the same value.
    pub lanes: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Log format on stdout; `serve --log-format` overrides it.
    pub format: LogFormat,
    /// `tracing` filter directive (`info,chartpilot=debug`); a valid `RUST_LOG` wins.
    pub level: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// OTLP/HTTP collector (`http://tempo:4318`; `/v1/traces` is appended unless written); empty exports nothing.
    #[serde(default)]
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    /// HMAC secret of `X-Hub-Signature-256`; empty disables `/webhooks/github`.
    pub webhook_secret: Secret,
    /// File that holds `webhook_secret`.
    #[serde(default, skip_serializing)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Token for the GitHub API; or use `app_id` + `private_key_file`.
    pub token: Secret,
    /// File that holds `token`.
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    /// GitHub App id, with `private_key_file`.
    #[serde(default)]
    pub app_id: Option<u64>,
    /// GitHub App private key (RSA PEM), with `app_id`.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// API base URL, for GitHub Enterprise or tests.
    pub api_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// Bearer token Alertmanager sends; empty disables `/webhooks/alertmanager`.
    pub token: Secret,
    /// File that holds `token`.
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    /// Alertmanager API (`http://alertmanager:9093`), asked for firing alerts before a promotion.
    pub api_url: String,
    /// Accept alerts without a token, from loopback peers only.
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// Slack app signing secret; empty disables `/webhooks/slack`.
    pub signing_secret: Secret,
    /// File that holds `signing_secret`.
    #[serde(default, skip_serializing)]
    pub signing_secret_file: Option<PathBuf>,
    /// An incoming webhook (`https://hooks.slack.com/services/…`) that
    /// hears about automatic rollbacks; empty for none. A secret: whoever
    /// has it may post to the channel.
    #[serde(default)]
    pub webhook_url: Secret,
    /// File that holds `webhook_url`.
    #[serde(default, skip_serializing)]
    pub webhook_url_file: Option<PathBuf>,
    /// A bot token (`xoxb-…`, scope `usergroups:read`) for rules naming
    /// Slack user groups; empty: such rules match nobody.
    #[serde(default)]
    pub bot_token: Secret,
    /// File that holds `bot_token`.
    #[serde(default, skip_serializing)]
    pub bot_token_file: Option<PathBuf>,
    /// Slack's Web API, for tests and proxies.
    #[serde(default = "default_slack_api")]
    pub api_url: String,
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    /// HMAC secret of `/webhooks/chat`; empty disables the route.
    pub secret: Secret,
    /// File that holds `secret`.
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
    #[schemars(schema_with = "duration::schema")]
    pub confirm_within: Duration,
}

fn default_confirm_within() -> Duration {
    Duration::from_secs(300)
}

/// `[[chat.allow]]`: these verbs, in these environments, for these people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RepoPermission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    Local,
    Github,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitSettings {
    /// Where pins are changed: a repository on disk (`local`) or GitHub.
    pub provider: GitProvider,
    /// The local repository (`provider = "local"`), bare or checked out.
    pub path: PathBuf,
    /// `owner/name` on GitHub; required with `provider = "github"`.
    pub repository: String,
    /// The branch that deploys: passes read it, PRs target it.
    pub branch: String,
    /// Where `provider = "local"` records pull requests (JSON lines).
    #[serde(default)]
    pub pulls_log: Option<PathBuf>,
}

impl Settings {
    /// The settings of each repository served: one per `[[repositories]]`
    /// entry (the top level with the entry's `[git]` and overrides), or
    /// these settings alone when there are none.
    pub fn contexts(&self) -> Vec<Settings> {
        if self.contexts.is_empty() {
            vec![self.clone()]
        } else {
            self.contexts.clone()
        }
    }

    /// More than one repository is served (or may be: discovery).
    pub fn serves_many(&self) -> bool {
        self.contexts.len() > 1 || self.repositories.discovers()
    }

    /// `[repositories]` with `discover = true`.
    pub fn discovers(&self) -> bool {
        self.repositories.discovers()
    }

    /// The settings of a repository found by discovery: the top level with
    /// `owner/name` on GitHub, on its `branch`, as its `[git]`.
    pub fn discovered(&self, repository: &str, branch: &str) -> Result<Settings, SettingsError> {
        let mut s = self.clone();
        s.repositories = RepositoryList::default();
        s.contexts = Vec::new();
        s.git.provider = GitProvider::Github;
        s.git.repository = repository.to_owned();
        s.git.branch = branch.to_owned();
        s.git.pulls_log = None;
        s.validate().map_err(|e| match e {
            SettingsError::Invalid { key, reason } => SettingsError::Invalid {
                key: format!("{repository}: {key}"),
                reason,
            },
            other => other,
        })?;
        Ok(s)
    }
}

impl GitSettings {
    /// The name jobs carry for this repository, and the lane they run in:
    /// `owner/name` in lower case on GitHub (GitHub ignores case), the
    /// path as configured for a local repository.
    pub fn key(&self) -> String {
        match self.provider {
            GitProvider::Github => self.repository.to_ascii_lowercase(),
            GitProvider::Local => self.path.display().to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArgocdMode {
    None,
    Kube,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdSettings {
    /// `none` only logs; `kube` uses Application resources; `api` the Argo CD REST API.
    pub mode: ArgocdMode,
    /// Argo CD server, for `mode = "api"`.
    pub api_url: String,
    /// Argo CD API token, for `mode = "api"`.
    pub token: Secret,
    /// File that holds `token`.
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
    /// Namespace of the Application resources, for `mode = "kube"`.
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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelmSettings {
    /// Chart repository mirrors; the longest matching `from` wins.
    #[serde(default)]
    pub mirrors: Vec<HelmMirror>,
    /// Credentials per repository host, for HTTP indexes and OCI registries.
    #[serde(default)]
    pub credentials: Vec<HelmCredential>,
    /// Per request to a chart repository or registry.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub timeout: Duration,
    /// Public keys trusted to sign charts (`.prov` files), binary or
    /// ASCII-armored; unset or empty: provenance is not checked.
    #[serde(default)]
    pub keyring: Option<PathBuf>,
}

impl HelmSettings {
    /// `keyring` when set to a non-empty path.
    pub fn keyring_path(&self) -> Option<&std::path::Path> {
        self.keyring
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }
}

/// `[[helm.credentials]]`: basic (`username` + `password`) or bearer
/// (`token`) for one host; secrets also as `password_file` / `token_file`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelmCredential {
    /// Host with an optional port (`ghcr.io`, `127.0.0.1:5000`).
    pub host: String,
    /// User for Basic authentication, with `password`.
    #[serde(default)]
    pub username: String,
    /// Password for Basic authentication.
    #[serde(default)]
    pub password: Secret,
    /// File that holds `password`.
    #[serde(default, skip_serializing)]
    pub password_file: Option<PathBuf>,
    /// Bearer token, instead of `username` and `password`.
    #[serde(default)]
    pub token: Secret,
    /// File that holds `token`.
    #[serde(default, skip_serializing)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelmMirror {
    /// The repository as pins write it; without a scheme, `oci://`.
    pub from: String,
    /// Where to fetch it instead; without a scheme, `oci://`.
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Promotion order; upgrade PRs go to the first environment only.
    pub environments: Vec<String>,
    /// Decide and report, but change nothing.
    pub dry_run: bool,
    /// A commit is reverted for an alert only if it landed at most this long before.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub rollout_window: Duration,
    /// At most one rollback per app per this period.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub cooldown: Duration,
    /// How long a merged version must run synced, healthy and quiet before promotion.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub soak: Duration,
    /// Update types automatic upgrade PRs may make.
    pub update_types: Vec<UpdateType>,
    /// Versions never proposed, as semver ranges (`>=2.0.0`, `=1.4.2`).
    pub ignore: Vec<String>,
    /// A release younger than this is not proposed yet.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
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
    /// Chart repositories pins may use, as glob patterns over the
    /// repository URL (`https://charts.example.com/**`, `oci://ghcr.io/acme/**`);
    /// empty allows every repository.
    #[serde(default)]
    pub allowed_repositories: Vec<String>,
    /// Terraform folders (or files) in rollout order, for pins without an
    /// environment: a version reaches a later entry only after an earlier
    /// one pinned it. Empty: not checked.
    #[serde(default)]
    pub tier1_order: Vec<String>,
    /// The cluster's Kubernetes version (`1.29.4`), checked against a
    /// target chart's `kubeVersion`; empty: not checked.
    #[serde(default)]
    pub kube_version: String,
}

/// `policy.major_steps`: `newest` proposes the newest allowed release
/// however many majors it crosses; `one` proposes the newest allowed
/// release of the next major, so each major's breaking changes get a PR
/// of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MajorSteps {
    /// The newest allowed release, however many majors it crosses.
    #[default]
    Newest,
    /// The newest allowed release of the next major; later majors wait.
    One,
}

/// `policy.ranges`: a range already follows new releases on its own, so
/// upgrades leave it alone unless asked to turn it into an exact pin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RangePolicy {
    /// Report the version the range resolves to; propose nothing.
    #[default]
    Leave,
    /// Propose replacing the range with its newest allowed version.
    Pin,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartPolicy {
    /// Chart name the entry applies to.
    pub chart: String,
    /// Replaces `policy.update_types` for this chart.
    #[serde(default)]
    pub update_types: Option<Vec<UpdateType>>,
    /// Replaces `policy.ignore` for this chart.
    #[serde(default)]
    pub ignore: Option<Vec<String>>,
    /// Replaces `policy.min_release_age` for this chart.
    #[serde(default, with = "opt_duration")]
    #[schemars(schema_with = "duration::schema")]
    pub min_release_age: Option<Duration>,
}

/// `[upgrade]`: when the scheduled upgrade pass runs and how its PRs look.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeSettings {
    /// Between scheduled passes; `0s` turns the schedule off.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub interval: Duration,
    /// Up to this much is added to each interval, so replicas spread out.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub jitter: Duration,
    /// Labels on every upgrade PR; majors also get `major_label`.
    pub labels: Vec<String>,
    /// Extra label on a PR that is a major update.
    pub major_label: String,
    /// Extra label on a PR whose target version breaks one of the repository's overrides.
    pub values_label: String,
    /// Keep the dashboard issue current after every pass.
    #[serde(default = "yes")]
    pub dashboard: bool,
}

fn yes() -> bool {
    true
}

/// `[promotion]`: how long and how often a merged version is checked
/// before it goes to the next environment, and how alerts name apps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionSettings {
    /// After this long since the merge, a version that could not be
    /// promoted is given up on, with the reason on the merged PR.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub deadline: Duration,
    /// The first wait between checks; later waits grow with the time since
    /// the merge, up to 16 times this.
    #[serde(with = "duration")]
    #[schemars(schema_with = "duration::schema")]
    pub recheck: Duration,
    /// Alert labels whose value may be the app's name, any of them.
    pub app_labels: Vec<String>,
    /// Alert labels that name the environment; an alert naming another
    /// environment does not hold a promotion back.
    pub env_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackSettings {
    /// The first rule whose matchers all match an alert decides for it.
    #[serde(default)]
    pub rules: Vec<RollbackRule>,
    /// Labels on every revert PR.
    #[serde(default = "default_rollback_labels")]
    pub labels: Vec<String>,
}

/// A `[rollback]` left out: no rules, the usual labels (serde's default
/// for the section must agree with the keys' own).
impl Default for RollbackSettings {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            labels: default_rollback_labels(),
        }
    }
}

fn default_rollback_labels() -> Vec<String> {
    vec!["chartpilot".into(), "rollback".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackAction {
    RevertPr,
    RevertPush,
    ArgocdRollback,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRule {
    /// Alertmanager matchers (`severity="critical"`, `alertname=~"Kube.*"`),
    /// all of which an alert must match.
    pub matchers: Vec<String>,
    /// Labels naming the app, tried in order; the first whose value is a
    /// known Application or `helm_release` name wins.
    #[serde(default = "default_app_labels")]
    pub app_labels: Vec<String>,
    /// Labels naming the environment, tried in order.
    #[serde(default = "default_env_labels")]
    pub env_labels: Vec<String>,
    /// Namespace → app, for alerts that carry only a `namespace` label.
    #[serde(default)]
    pub namespace_apps: BTreeMap<String, String>,
    /// Label value → environment (`production = "prod"`).
    #[serde(default)]
    pub env_values: BTreeMap<String, String>,
    /// `revert-pr`, `revert-push` (emergencies) or `argocd-rollback`.
    #[serde(default = "default_rollback_action")]
    pub action: RollbackAction,
}

/// The labels Prometheus rules and kube-state-metrics put an app's name
/// in, most specific first; `promotion.app_labels` ships the same list.
fn default_app_labels() -> Vec<String> {
    ["argocd_app", "name", "app", "release"]
        .map(String::from)
        .to_vec()
}

fn default_env_labels() -> Vec<String> {
    ["env", "environment"].map(String::from).to_vec()
}

fn default_rollback_action() -> RollbackAction {
    RollbackAction::RevertPr
}

#[cfg(test)]
mod tests;
