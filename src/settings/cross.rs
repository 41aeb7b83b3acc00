//! Rules across keys, checked at load so `check-config` refuses what would
//! otherwise fail at the first webhook or pass: a feature switched on
//! without what it needs. Each error names the key to set.

use super::{ArgocdMode, GitProvider, RollbackAction, Settings, SettingsError};

impl Settings {
    pub(super) fn validate_cross(&self) -> Result<(), SettingsError> {
        self.validate_github()?;
        self.validate_argocd()?;
        self.validate_rollback_rules()?;
        if let Some(i) = self
            .chat
            .allow
            .iter()
            .position(|r| !r.slack_groups.is_empty())
        {
            if self.slack.bot_token.is_empty() {
                return Err(SettingsError::invalid(
                    &format!("chat.allow[{i}].slack_groups"),
                    "needs slack.bot_token (scope usergroups:read) to ask Slack who is in a group",
                ));
            }
        }
        Ok(())
    }

    /// `[repositories]` with `discover = true`: a GitHub App (a token lists
    /// no installation), and patterns that are globs.
    pub(super) fn validate_discovery(&self) -> Result<(), SettingsError> {
        let Some(d) = &self.repositories.discovery else {
            return Ok(());
        };
        if self.github.app_id.is_none() || self.github.private_key_file.is_none() {
            return Err(SettingsError::invalid(
                "repositories.discover",
                "needs a GitHub App (github.app_id and github.private_key_file): \
                 the repositories are those of the App's installations",
            ));
        }
        for (i, pattern) in d.exclude.iter().enumerate() {
            if let Err(e) = globset::Glob::new(pattern.trim()) {
                return Err(SettingsError::invalid(
                    &format!("repositories.exclude[{i}]"),
                    format!("not a glob pattern: {}", e.kind()),
                ));
            }
        }
        Ok(())
    }

    fn validate_github(&self) -> Result<(), SettingsError> {
        let gh = &self.github;
        match (gh.app_id, &gh.private_key_file) {
            (Some(_), None) => {
                return Err(SettingsError::invalid(
                    "github.app_id",
                    "needs github.private_key_file (the App's private key)",
                ))
            }
            (None, Some(_)) => {
                return Err(SettingsError::invalid(
                    "github.private_key_file",
                    "needs github.app_id (the App the key belongs to)",
                ))
            }
            _ => {}
        }
        if self.git.provider != GitProvider::Github {
            return Ok(());
        }
        let repo = self.git.repository.trim();
        if repo.is_empty() {
            return Err(SettingsError::invalid(
                "git.repository",
                "git.provider = \"github\" needs the repository as owner/name",
            ));
        }
        let parts: Vec<&str> = repo.split('/').collect();
        let name_ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if parts.len() != 2 || !parts.iter().all(|p| name_ok(p)) {
            return Err(SettingsError::invalid(
                "git.repository",
                format!("`{repo}` is not owner/name (e.g. acme/platform-gitops)"),
            ));
        }
        if gh.token.is_empty() && gh.app_id.is_none() {
            return Err(SettingsError::invalid(
                "github.token",
                "git.provider = \"github\" needs github.token (or github.token_file), \
                 or a GitHub App (github.app_id and github.private_key_file)",
            ));
        }
        Ok(())
    }

    fn validate_argocd(&self) -> Result<(), SettingsError> {
        let a = &self.argocd;
        if a.mode != ArgocdMode::Api {
            return Ok(());
        }
        let url = a.api_url.trim();
        if url.is_empty() {
            return Err(SettingsError::invalid(
                "argocd.api_url",
                "argocd.mode = \"api\" needs the Argo CD server URL, e.g. https://argocd.example.org",
            ));
        }
        // The URL is not repeated: it might carry a password.
        let parsed = reqwest::Url::parse(url).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && !u.cannot_be_a_base()
                && u.username().is_empty()
                && u.password().is_none()
        });
        if parsed.is_none() {
            return Err(SettingsError::invalid(
                "argocd.api_url",
                "must be an http:// or https:// URL without a user or password (use argocd.token)",
            ));
        }
        if a.token.is_empty() {
            return Err(SettingsError::invalid(
                "argocd.token",
                "argocd.mode = \"api\" needs an Argo CD API token (or argocd.token_file)",
            ));
        }
        Ok(())
    }

    fn validate_rollback_rules(&self) -> Result<(), SettingsError> {
        for (i, rule) in self.rollback.rules.iter().enumerate() {
            let key = format!("rollback.rules[{i}]");
            if rule.matchers.is_empty() {
                // No matcher would match every alert: each one a rollback.
                return Err(SettingsError::invalid(
                    &format!("{key}.matchers"),
                    "needs at least one matcher, e.g. 'severity=\"critical\"'",
                ));
            }
            if rule.action == RollbackAction::ArgocdRollback && self.argocd.mode == ArgocdMode::None
            {
                return Err(SettingsError::invalid(
                    &format!("{key}.action"),
                    "\"argocd-rollback\" needs argocd.mode = \"kube\" or \"api\"",
                ));
            }
            for (value, env) in &rule.env_values {
                if !self.policy.environments.contains(env) {
                    return Err(SettingsError::invalid(
                        &format!("{key}.env_values.{value}"),
                        format!(
                            "`{env}` is not one of policy.environments ({})",
                            self.policy.environments.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
