//! Checks that serde cannot express; each error names the key.

use std::net::SocketAddr;
use std::time::Duration;

use super::{QueueKind, Settings, SettingsError};
use crate::charts::policy::parse_range;

/// Upper bound on `queue.max_attempts`: past this a failing job only burns
/// broker capacity; it belongs in the parking queue for a person to look at.
const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// Shortest `queue.job_timeout`: below a second, ordinary network calls of
/// a healthy job (a GitHub API round trip) would already count as hangs.
const MIN_JOB_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest `queue.job_timeout`: a job still running after a day is stuck,
/// and the bound exists to free the worker from such jobs.
const MAX_JOB_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Most lane queues chartpilot declares: each is a quorum queue on every
/// node, and a worker holds a consumer on each.
pub const MAX_LANES: u16 = 256;

impl Settings {
    /// Chart lookups and upgrade PRs: mistakes here would otherwise show
    /// only at the first pass, hours after start.
    fn validate_upgrades(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, reason: &str| SettingsError::invalid(key, reason);
        if self.helm.timeout.is_zero() {
            return Err(bad("helm.timeout", "must be above zero"));
        }
        for (i, c) in self.helm.credentials.iter().enumerate() {
            let key = format!("helm.credentials[{i}]");
            if c.host.trim().is_empty() || c.host.contains(['/', ' ']) {
                return Err(bad(
                    &format!("{key}.host"),
                    "must be a host name (with an optional :port), e.g. charts.example.org",
                ));
            }
            let basic = !c.username.is_empty() || !c.password.is_empty();
            match (basic, c.token.is_empty()) {
                (false, true) => {
                    return Err(bad(&key, "needs username + password, or token"));
                }
                (true, false) => {
                    return Err(bad(&key, "give username + password or token, not both"));
                }
                _ => {}
            }
        }
        if let Some(path) = self.helm.keyring_path() {
            // Read now: a keyring that cannot verify anything would
            // otherwise show only as failed checks on pull requests.
            crate::charts::provenance::Keyring::load(path)
                .map_err(|e| bad("helm.keyring", &e.to_string()))?;
        }
        for (i, m) in self.helm.mirrors.iter().enumerate() {
            for (field, url) in [("from", &m.from), ("to", &m.to)] {
                let key = format!("helm.mirrors[{i}].{field}");
                if url.trim().is_empty() {
                    return Err(bad(&key, "must not be empty"));
                }
                // Without a scheme a location is an OCI registry path
                // (`ghcr.io/org/charts`), as Argo CD writes them.
                let scheme = url.split_once("://").map(|(s, _)| s);
                if !matches!(scheme, None | Some("https" | "http" | "oci" | "file")) {
                    return Err(bad(
                        &key,
                        "must be an https://, http://, oci:// or file:// URL, \
                         or a registry path without a scheme (oci://)",
                    ));
                }
            }
        }
        if self.upgrade.labels.iter().any(|l| l.trim().is_empty()) {
            return Err(bad("upgrade.labels", "labels must not be empty"));
        }
        if self.upgrade.major_label.trim().is_empty() {
            return Err(bad("upgrade.major_label", "must not be empty"));
        }
        Ok(())
    }

    /// What `[[repositories]]` entries inherit: everything but `[git]`,
    /// which each entry replaces (and validates in its context).
    pub(super) fn validate_shared(&self) -> Result<(), SettingsError> {
        let mut shared = self.clone();
        shared.git.provider = super::GitProvider::Local;
        shared.validate()
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, reason: &str| SettingsError::invalid(key, reason);
        self.server.listen.parse::<SocketAddr>().map_err(|_| {
            bad(
                "server.listen",
                &format!(
                    "`{}` is not IP:port (e.g. 127.0.0.1:8080, or 0.0.0.0:8080 in a container)",
                    self.server.listen
                ),
            )
        })?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            bad(
                "log.level",
                &format!("`{}` is not a log filter: {e}", self.log.level),
            )
        })?;
        if !self.telemetry.otlp_endpoint.trim().is_empty() {
            crate::telemetry::otlp::traces_url(&self.telemetry.otlp_endpoint)
                .map_err(|e| bad("telemetry.otlp_endpoint", &e))?;
        }
        self.server.validate()?;
        let q = &self.queue;
        if q.max_attempts == 0 || q.max_attempts > MAX_ATTEMPTS_LIMIT {
            return Err(bad(
                "queue.max_attempts",
                &format!("must be between 1 and {MAX_ATTEMPTS_LIMIT}"),
            ));
        }
        if q.prefetch == 0 {
            return Err(bad("queue.prefetch", "must be at least 1"));
        }
        if q.retry_delays.is_empty() || q.retry_delays.iter().any(|d| d.is_zero()) {
            return Err(bad(
                "queue.retry_delays",
                "needs at least one delay, each above zero",
            ));
        }
        if q.confirm_timeout.is_zero() {
            return Err(bad("queue.confirm_timeout", "must be above zero"));
        }
        if q.job_timeout < MIN_JOB_TIMEOUT || q.job_timeout > MAX_JOB_TIMEOUT {
            return Err(bad(
                "queue.job_timeout",
                &format!(
                    "`{}` is out of range: must be between {} and {}",
                    humantime::format_duration(q.job_timeout),
                    humantime::format_duration(MIN_JOB_TIMEOUT),
                    humantime::format_duration(MAX_JOB_TIMEOUT),
                ),
            ));
        }
        if q.max_deliveries == 0 {
            return Err(bad("queue.max_deliveries", "must be at least 1"));
        }
        if !(1..=MAX_LANES).contains(&q.lanes) {
            return Err(bad(
                "queue.lanes",
                &format!("must be between 1 and {MAX_LANES}"),
            ));
        }
        if q.prefix.is_empty()
            || !q
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "queue.prefix",
                "use letters, digits, '-', '_' and '.' only",
            ));
        }
        if q.kind == QueueKind::Amqp {
            // Several comma-separated URLs name the nodes of a cluster.
            let urls = crate::queue::amqp::split_urls(q.url.expose());
            if urls.is_empty()
                || !urls
                    .iter()
                    .all(|u| u.starts_with("amqp://") || u.starts_with("amqps://"))
            {
                // The URL may carry a password: name the key, never the value.
                return Err(bad(
                    "queue.url",
                    "must start with amqp:// or amqps:// (each URL, when several are comma-separated)",
                ));
            }
        }
        if !self.github.api_url.starts_with("http://")
            && !self.github.api_url.starts_with("https://")
        {
            return Err(bad("github.api_url", "must be an http(s) URL"));
        }
        for (i, pattern) in self.pins.env_patterns.iter().enumerate() {
            if pattern.matches("{env}").count() != 1 {
                return Err(bad(
                    &format!("pins.env_patterns[{i}]"),
                    &format!("`{pattern}` must hold {{env}} exactly once"),
                ));
            }
        }
        if self.policy.environments.is_empty() {
            return Err(bad("policy.environments", "needs at least one environment"));
        }
        for (i, env) in self.policy.environments.iter().enumerate() {
            if env.is_empty()
                || !env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(
                    &format!("policy.environments[{i}]"),
                    &format!("`{env}` is not a valid environment name"),
                ));
            }
            if self.policy.environments[..i].contains(env) {
                return Err(bad(
                    &format!("policy.environments[{i}]"),
                    &format!("`{env}` is listed twice"),
                ));
            }
        }
        for (alias, target) in &self.pins.env_aliases {
            let key = format!("pins.env_aliases.{alias}");
            if !self.policy.environments.contains(target) {
                return Err(bad(
                    &key,
                    &format!(
                        "`{target}` is not one of policy.environments ({})",
                        self.policy.environments.join(", ")
                    ),
                ));
            }
            if self.policy.environments.contains(alias) {
                return Err(bad(
                    &key,
                    &format!("`{alias}` is an environment itself; an alias cannot rename it"),
                ));
            }
        }
        self.validate_policy_overrides()?;
        // A typo in a pattern would fail every pull request check.
        for (i, pattern) in self.policy.allowed_repositories.iter().enumerate() {
            if let Err(e) = globset::Glob::new(pattern.trim()) {
                return Err(bad(
                    &format!("policy.allowed_repositories[{i}]"),
                    &format!("not a glob pattern: {}", e.kind()),
                ));
            }
        }
        self.validate_upgrades()?;
        if self.alertmanager.allow_unauthenticated && !self.alertmanager.token.is_empty() {
            return Err(bad(
                "alertmanager.allow_unauthenticated",
                "is only for setups without alertmanager.token; remove one",
            ));
        }
        let am = self.alertmanager.api_url.trim();
        let am_ok = (am.starts_with("http://") || am.starts_with("https://"))
            && reqwest::Url::parse(am).is_ok();
        if !am.is_empty() && !am_ok {
            return Err(bad(
                "alertmanager.api_url",
                "must be an http:// or https:// URL, e.g. http://alertmanager:9093",
            ));
        }
        if self.promotion.recheck.is_zero() || self.promotion.recheck > Duration::from_secs(86_400)
        {
            return Err(bad("promotion.recheck", "must be between 1s and 1d"));
        }
        if self.promotion.deadline < self.policy.soak {
            return Err(bad(
                "promotion.deadline",
                "must be at least policy.soak, or every promotion gives up while soaking",
            ));
        }
        for (key, d) in [
            ("policy.rollout_window", self.policy.rollout_window),
            ("policy.cooldown", self.policy.cooldown),
        ] {
            if d > Duration::from_secs(30 * 86_400) {
                return Err(bad(key, "must be at most 30d"));
            }
        }
        if self.promotion.deadline > Duration::from_secs(90 * 86_400) {
            return Err(bad("promotion.deadline", "must be at most 90d"));
        }
        if self.promotion.app_labels.is_empty() {
            return Err(bad("promotion.app_labels", "needs at least one label name"));
        }
        for (key, labels) in [
            ("promotion.app_labels", &self.promotion.app_labels),
            ("promotion.env_labels", &self.promotion.env_labels),
        ] {
            if let Some(l) = labels.iter().find(|l| !valid_label_name(l)) {
                return Err(bad(key, &format!("`{l}` is not a Prometheus label name")));
            }
        }
        self.validate_chat()?;
        if let Err(e) = crate::rollback::rules::Rules::new(&self.rollback.rules) {
            let (key, reason) = e.split_once(": ").unwrap_or(("rollback.rules", e.as_str()));
            return Err(bad(key, reason));
        }
        let hook = self.slack.webhook_url.expose();
        // https, or plain http to this machine (a local relay, tests): the
        // URL is a secret and must not cross a network in the clear.
        let hook_ok = reqwest::Url::parse(hook).is_ok_and(|u| {
            u.scheme() == "https"
                || (u.scheme() == "http"
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
        });
        if !hook.is_empty() && !hook_ok {
            return Err(bad(
                "slack.webhook_url",
                "must be an https:// URL (a Slack incoming webhook), or http:// to this machine",
            ));
        }
        for (i, rule) in self.rollback.rules.iter().enumerate() {
            if rule.app_labels.is_empty() {
                return Err(bad(
                    &format!("rollback.rules[{i}].app_labels"),
                    "needs at least one label name",
                ));
            }
        }
        self.validate_cross()
    }
}

impl Settings {
    /// `[[chat.allow]]` and `chat.protected` name real verbs and
    /// environments: a typo would silently allow nothing, or protect nothing.
    fn validate_chat(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, reason: &str| SettingsError::invalid(key, reason);
        let verbs = crate::chat::command::VERBS;
        let envs = &self.policy.environments;
        for (i, rule) in self.chat.allow.iter().enumerate() {
            let key = format!("chat.allow[{i}]");
            if let Some(v) = rule
                .verbs
                .iter()
                .find(|v| *v != "*" && !verbs.contains(&v.as_str()))
            {
                return Err(bad(
                    &format!("{key}.verbs"),
                    &format!("`{v}` is not a command; commands: {}", verbs.join(", ")),
                ));
            }
            if rule.verbs.is_empty() || rule.environments.is_empty() {
                return Err(bad(&key, "needs verbs and environments (\"*\" for all)"));
            }
            if let Some(e) = rule
                .environments
                .iter()
                .find(|e| *e != "*" && !envs.contains(e))
            {
                return Err(bad(
                    &format!("{key}.environments"),
                    &format!("`{e}` is not in policy.environments"),
                ));
            }
            let names = rule.slack_users.len()
                + rule.github_users.len()
                + rule.github_teams.len()
                + rule.users.len()
                + usize::from(rule.github_permission.is_some());
            if names == 0 {
                return Err(bad(&key, "names nobody (slack_users, github_users, github_teams, github_permission or users)"));
            }
            if let Some(t) = rule
                .github_teams
                .iter()
                .find(|t| t.split('/').filter(|p| !p.is_empty()).count() != 2)
            {
                return Err(bad(
                    &format!("{key}.github_teams"),
                    &format!("`{t}` is not `org/team-slug`"),
                ));
            }
        }
        let within = self.chat.confirm_within;
        if within < Duration::from_secs(30) || within > Duration::from_secs(3600) {
            return Err(bad("chat.confirm_within", "must be between 30s and 1h"));
        }
        for (i, rule) in self.chat.allow.iter().enumerate() {
            use super::RepoPermission as P;
            // `none` would let anyone who can comment run the verbs.
            let who = match rule.github_permission {
                Some(P::None) => "`none` is anyone who can comment",
                Some(P::Read) => "`read` is everyone on a public repository",
                _ => continue,
            };
            return Err(bad(
                &format!("chat.allow[{i}].github_permission"),
                &format!("{who}; use triage or higher, or name people"),
            ));
        }
        if let Some(e) = self.chat.protected.iter().find(|e| !envs.contains(e)) {
            return Err(bad(
                "chat.protected",
                &format!("`{e}` is not in policy.environments"),
            ));
        }
        Ok(())
    }

    /// `policy.ignore` ranges and `[[policy.charts]]` entries: a typo there
    /// would otherwise surface only at the first upgrade pass.
    fn validate_policy_overrides(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, reason: &str| SettingsError::invalid(key, reason);
        let check_ranges = |key: &str, ranges: &[String]| {
            for (i, range) in ranges.iter().enumerate() {
                parse_range(range).map_err(|e| {
                    bad(
                        &format!("{key}[{i}]"),
                        &format!(
                            "`{range}` is not a semver range (e.g. \">=3.0.0\", \"=1.4.2\"): {e}"
                        ),
                    )
                })?;
            }
            Ok(())
        };
        check_ranges("policy.ignore", &self.policy.ignore)?;
        let kube = self.policy.kube_version.trim();
        if !kube.is_empty() {
            semver::Version::parse(kube.trim_start_matches(['v', 'V'])).map_err(|e| {
                bad(
                    "policy.kube_version",
                    &format!("`{kube}` is not a Kubernetes version (e.g. \"1.29.4\"): {e}"),
                )
            })?;
        }
        for (i, chart) in self.policy.charts.iter().enumerate() {
            if chart.chart.trim().is_empty() {
                return Err(bad(
                    &format!("policy.charts[{i}].chart"),
                    "names the chart the entry applies to; it must not be empty",
                ));
            }
            if let Some(ranges) = &chart.ignore {
                check_ranges(&format!("policy.charts[{i}].ignore"), ranges)?;
            }
        }
        Ok(())
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, what Prometheus and Alertmanager accept.
fn valid_label_name(l: &str) -> bool {
    let mut chars = l.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::Settings;

    fn load_err(toml: &str) -> String {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        Settings::load(Some(f.path()), &HashMap::new())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn policy_ignore_entries_must_be_semver_ranges() {
        let cases = [
            (
                "[policy]\nignore = [\">=3.0.0\", \"three\"]",
                "policy.ignore[1]",
            ),
            (
                "[[policy.charts]]\nchart = \"argo-cd\"\nignore = [\"=1.2.3\"]\n\
                 [[policy.charts]]\nchart = \"loki\"\nignore = [\"~1.2\", \">>1\"]",
                "policy.charts[1].ignore[1]",
            ),
            ("[[policy.charts]]\nchart = \"\"", "policy.charts[0].chart"),
            (
                "[[policy.charts]]\nchart = \"  \"",
                "policy.charts[0].chart",
            ),
        ];
        for (toml, key) in cases {
            let e = load_err(toml);
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn a_keyring_that_cannot_verify_anything_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.gpg");
        std::fs::write(&garbage, b"\x99\x00\x05not a key").unwrap();
        let text = dir.path().join("text.asc");
        std::fs::write(&text, "just some text\n").unwrap();
        let missing = dir.path().join("missing.gpg");
        let cases = [
            (missing.display().to_string(), "cannot read"),
            (garbage.display().to_string(), "garbage.gpg"),
            (text.display().to_string(), "neither ASCII-armored"),
        ];
        for (path, reason) in cases {
            let e = load_err(&format!("[helm]\nkeyring = {path:?}"));
            assert!(e.starts_with("helm.keyring: "), "{path}: {e}");
            assert!(e.contains(reason), "{path}: {e}");
        }
        let unset = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(unset.path(), "[helm]\nkeyring = \"\"").unwrap();
        let settings = Settings::load(Some(unset.path()), &HashMap::new()).unwrap();
        assert_eq!(settings.helm.keyring_path(), None, "empty means unset");
    }

    #[test]
    fn chart_lookup_and_upgrade_settings_are_checked() {
        let cases = [
            ("[helm]\ntimeout = \"0s\"", "helm.timeout: must be above zero"),
            (
                "[[helm.credentials]]\nhost = \"charts.example.org\"",
                "helm.credentials[0]: needs username + password, or token",
            ),
            (
                "[[helm.credentials]]\nhost = \"https://x\"\ntoken = \"t\"",
                "helm.credentials[0].host",
            ),
            (
                "[[helm.credentials]]\nhost = \"x\"\nusername = \"u\"\npassword = \"p\"\ntoken = \"t\"",
                "not both",
            ),
            (
                "[[helm.mirrors]]\nfrom = \"ftp://charts.example.org\"\nto = \"http://m\"",
                "helm.mirrors[0].from",
            ),
            ("[upgrade]\nmajor_label = \" \"", "upgrade.major_label"),
            ("[upgrade]\nlabels = [\"\"]", "upgrade.labels"),
            ("[promotion]\nrecheck = \"0s\"", "promotion.recheck"),
            (
                "[[chat.allow]]\nverbs = [\"rollbak\"]\nenvironments = [\"prod\"]\nslack_users = [\"U1\"]",
                "chat.allow[0].verbs: `rollbak` is not a command",
            ),
            (
                "[[chat.allow]]\nverbs = [\"sync\"]\nenvironments = [\"production\"]\nslack_users = [\"U1\"]",
                "chat.allow[0].environments: `production` is not in policy.environments",
            ),
            (
                "[[chat.allow]]\nverbs = [\"sync\"]\nenvironments = [\"*\"]",
                "chat.allow[0]: names nobody",
            ),
            ("[chat]\nprotected = [\"live\"]", "chat.protected: `live` is not in policy.environments"),
            (
                "[[rollback.rules]]\nmatchers = ['alertname=~\"(\"']\napp_labels = [\"app\"]",
                "rollback.rules[0].matchers",
            ),
            ("[slack]\nwebhook_url = \"http://hooks.example\"", "slack.webhook_url"),
            ("[promotion]\nrecheck = \"2d\"", "promotion.recheck"),
            (
                "[policy]\nsoak = \"2h\"\n[promotion]\ndeadline = \"1h\"",
                "promotion.deadline: must be at least policy.soak",
            ),
            (
                "[alertmanager]\napi_url = \"alertmanager:9093\"",
                "alertmanager.api_url: must be an http:// or https:// URL",
            ),
            ("[promotion]\napp_labels = []", "promotion.app_labels"),
            (
                "[promotion]\nenv_labels = [\"env-name\"]",
                "promotion.env_labels: `env-name` is not a Prometheus label name",
            ),
        ];
        for (toml, want) in cases {
            let e = load_err(toml);
            assert!(e.contains(want), "{toml}: {e}");
            assert!(!e.contains("\"t\""), "no secret in {e}");
        }
    }

    #[test]
    fn valid_policy_overrides_load() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(
            b"[policy]\nignore = [\">=3.0.0\", \"=1.4.2\"]\n\
              [[policy.charts]]\nchart = \"argo-cd\"\nupdate_types = [\"patch\"]\nignore = [\"<2\"]\n",
        )
        .unwrap();
        let s = Settings::load(Some(f.path()), &HashMap::new()).unwrap();
        assert_eq!(s.policy.charts.len(), 1);
    }
}
