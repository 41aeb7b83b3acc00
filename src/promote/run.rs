//! Promotion against the real world: which merged upgrade PRs a push
//! brought, and for each, whether the version may go to the next
//! environment now. The facts come from git (pins, freeze file, the merge
//! commit), Argo CD (sync, health, revision) and Alertmanager (firing
//! alerts); the decision is [`gate::decide`]; the PR is opened through the
//! same upgrade path as every upgrade PR.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::freeze::Freezes;
use super::gate::{self, AppView, FiringAlert, Gate, GateInput};
use crate::alerts::{AlertmanagerClient, MatchOp, Matcher};
use crate::charts::version::Version;
use crate::cluster::{AppStatus, ArgoCd};
use crate::domain::CommitSha;
use crate::git::{comment_once, GitError, PullState};
use crate::jobs::{PromotionCheck, Push};
use crate::notify::SlackWebhook;
use crate::pins::{Pin, PinKind};
use crate::settings::PromotionSettings;
use crate::text;
use crate::upgrade::plan::{parse_branch, ref_safe};
use crate::upgrade::run::{Action, PromotionRequest, Report, UpgradeError, Upgrader};

/// Later waits grow with the time since the merge, up to this many times
/// `promotion.recheck`.
const MAX_RECHECK_FACTOR: u32 = 16;

/// What one check came to.
#[derive(Debug)]
pub enum Checked {
    /// The next environment's PR is open (or was already, or nothing there
    /// needed the version).
    Promoted(Report),
    /// Not yet: check again after `retry_in`.
    Waiting { reason: String, retry_in: Duration },
    /// Not this version: the reason went to the merged PR as a comment.
    GaveUp { reason: String },
}

pub struct Promoter {
    /// Git host, release lookups, policy and clock come with it.
    pub upgrader: Arc<Upgrader>,
    pub argocd: Arc<dyn ArgoCd>,
    /// None when `alertmanager.api_url` is empty: alerts are then not
    /// checked, and the PR body says so.
    pub alerts: Option<AlertmanagerClient>,
    /// `argocd.mode = "none"`: app state cannot be seen, so charts that
    /// reach the cluster through Argo CD are never promoted on their own.
    pub argocd_blind: bool,
    pub settings: PromotionSettings,
    /// Told about promotions and give-ups, once each; None without
    /// `slack.webhook_url`.
    pub slack: Option<SlackWebhook>,
}

impl Promoter {
    /// Promotion checks for the chartpilot upgrade PRs whose merge this
    /// push brought to the base branch, for environments that have a next
    /// one. One API call (recently closed PRs) per push to the base branch.
    pub async fn merged_by(&self, push: &Push) -> Result<Vec<PromotionCheck>, GitError> {
        let host = &self.upgrader.host;
        if push.deleted || push.git_ref != format!("refs/heads/{}", host.base_branch()) {
            return Ok(Vec::new());
        }
        let pushed: BTreeSet<&str> = push
            .commits
            .iter()
            .map(|c| c.id.as_ref())
            .chain([push.after.as_ref()])
            .collect();
        let envs = &self.upgrader.policy.environments;
        let now = self.upgrader.clock.now();
        let deadline = chrono::Duration::from_std(self.settings.deadline).ok();
        let mut checks = Vec::new();
        for pr in host.recently_closed_pulls().await? {
            let Some(merge) = pr
                .merge_commit
                .as_ref()
                .filter(|m| pushed.contains(m.as_ref()))
            else {
                continue;
            };
            if pr.state != PullState::Merged {
                continue;
            }
            let Some((env, chart, version)) = parse_branch(&pr.head) else {
                continue;
            };
            let Some(to) = envs
                .iter()
                .position(|e| e == env)
                .and_then(|i| envs.get(i + 1))
            else {
                continue;
            };
            let merged_at = pr.merged_at.unwrap_or(now);
            checks.push(PromotionCheck {
                chart: chart.to_owned(),
                version: version.to_owned(),
                from_env: env.to_owned(),
                to_env: to.clone(),
                pull: pr.number,
                merge_commit: merge.clone(),
                merged_at,
                deadline: deadline
                    .and_then(|d| merged_at.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            });
        }
        Ok(checks)
    }

    /// One check: gather the facts, ask the gate, act on its answer.
    pub async fn check(&self, c: &PromotionCheck, dry_run: bool) -> Result<Checked, UpgradeError> {
        let up = &self.upgrader;
        let host = &up.host;
        let (_, files, scan) = up.base().await?;
        let from_pins: Vec<&Pin> = scan
            .pins
            .iter()
            .filter(|p| p.env.as_deref() == Some(c.from_env.as_str()))
            .filter(|p| p.chart_name().map(ref_safe).as_deref() == Some(c.chart.as_str()))
            .collect();
        let pinned: Vec<String> = from_pins.iter().filter_map(|p| p.version.clone()).collect();
        let app_names: BTreeSet<&str> = from_pins
            .iter()
            .filter(|p| p.kind == PinKind::Argocd)
            .map(|p| p.name.as_str())
            .collect();
        let expect_apps = !app_names.is_empty();
        let mut unavailable: Option<String> = None;
        // The snapshot holds the freeze file (YAML), so no extra read.
        let freezes = Freezes::from_files(&files).unwrap_or_else(|e| {
            // An unreadable freeze file may well freeze this environment:
            // wait for a person to fix it.
            unavailable = Some(format!("the freeze file does not read: {e}"));
            Freezes::default()
        });
        let impossible = (expect_apps && self.argocd_blind).then_some(
            "argocd.mode is \"none\": chartpilot cannot see whether the apps are synced and healthy",
        );
        let (mut apps, mut missing) = (Vec::new(), Vec::new());
        if unavailable.is_none() && impossible.is_none() {
            match self
                .app_views(&app_names, &c.version, &c.merge_commit)
                .await
            {
                Ok((views, unknown)) => (apps, missing) = (views, unknown),
                Err(e) => unavailable = Some(e),
            }
        }
        let mut alerts = Vec::new();
        if unavailable.is_none() && impossible.is_none() {
            let names: BTreeSet<&str> = from_pins.iter().map(|p| p.name.as_str()).collect();
            match self.firing(&names, &c.from_env).await {
                Ok(found) => alerts = found,
                Err(e) => unavailable = Some(e),
            }
        }
        let now = up.clock.now();
        let merge = c.merge_commit.short();
        let decision = gate::decide(&GateInput {
            chart: &c.chart,
            from_env: &c.from_env,
            to_env: &c.to_env,
            version: &c.version,
            merge,
            pinned: &pinned,
            expect_apps,
            apps: &apps,
            missing: &missing,
            alerts: &alerts,
            unavailable: unavailable.as_deref(),
            impossible,
            freeze: freezes.get(&c.to_env),
            merged_at: c.merged_at,
            now,
            soak: up.policy.soak,
            deadline: c.deadline,
        });
        match decision {
            Gate::Promote => {
                let seen: BTreeSet<&str> = apps.iter().map(|a| a.status.name.as_str()).collect();
                let why = self.why(c, &seen);
                let promoted = up
                    .promote(
                        &PromotionRequest {
                            chart: &c.chart,
                            version: Some(&c.version),
                            env: &c.to_env,
                            why,
                        },
                        dry_run,
                    )
                    .await;
                let report = match promoted {
                    Ok(report) => report,
                    Err(e) if e.is_transient() => return Err(e),
                    // Not published any more, an edit that cannot be made:
                    // waiting will not help, and the merged PR hears why.
                    Err(e) => return self.give_up(c, &e.to_string(), dry_run).await,
                };
                if let Some(Action::Opened { number, url, .. }) = report
                    .actions
                    .iter()
                    .find(|a| matches!(a, Action::Opened { .. }))
                {
                    let link = url.clone().unwrap_or_else(|| format!("#{number}"));
                    let note = format!(
                        "Promoted to **{}**: {link}. {} was synced, healthy and quiet in {} for {}.",
                        c.to_env,
                        text::code_span(&c.version),
                        c.from_env,
                        humantime::format_duration(up.policy.soak)
                    );
                    // The PR is open either way; a lost note is not worth
                    // repeating the job for.
                    let key = format!("promoted-{}-{}-{}", c.to_env, c.chart, c.version);
                    match comment_once(host.as_ref(), c.pull, &key, &note).await {
                        Ok(true) => {
                            self.chat(&format!(
                                "chartpilot promoted {} {} from {} to {}: {link}",
                                c.chart, c.version, c.from_env, c.to_env
                            ))
                            .await
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(pr = c.pull, error = %e, "promotion note not written")
                        }
                    }
                }
                Ok(Checked::Promoted(report))
            }
            Gate::Wait { reason, until } => Ok(Checked::Waiting {
                retry_in: self.next_wait(c, now, until),
                reason,
            }),
            Gate::GiveUp { reason } => self.give_up(c, &reason, dry_run).await,
        }
    }

    async fn chat(&self, text: &str) {
        if let Some(slack) = &self.slack {
            slack.post(&crate::text::slack(text)).await;
        }
    }

    async fn give_up(
        &self,
        c: &PromotionCheck,
        reason: &str,
        dry_run: bool,
    ) -> Result<Checked, UpgradeError> {
        if !dry_run {
            // A redelivered check (or a duplicate one) says it once.
            let key = format!(
                "promotion-{}-{}-{}-{}",
                c.to_env, c.chart, c.version, c.merge_commit
            );
            let wrote = comment_once(
                self.upgrader.host.as_ref(),
                c.pull,
                &key,
                &self.give_up_note(c, reason),
            )
            .await?;
            if wrote {
                self.chat(&format!(
                    "chartpilot did not promote {} {} from {} to {}: {reason}",
                    c.chart, c.version, c.from_env, c.to_env
                ))
                .await;
            }
        }
        Ok(Checked::GaveUp {
            reason: reason.to_owned(),
        })
    }

    /// Each app as the gate sees it, and the apps Argo CD does not know.
    /// Errors are the reason to wait, in words fit for a PR comment (the
    /// detail, which may name hosts, goes to the log).
    async fn app_views(
        &self,
        names: &BTreeSet<&str>,
        version: &str,
        merge: &CommitSha,
    ) -> Result<(Vec<AppView>, Vec<String>), String> {
        let (mut views, mut missing) = (Vec::new(), Vec::new());
        let wanted = Version::parse(version);
        for name in names {
            let status: AppStatus = match self.argocd.status(name).await {
                Ok(Some(s)) => s,
                Ok(None) => {
                    missing.push((*name).to_owned());
                    continue;
                }
                Err(e) => {
                    tracing::warn!(app = %name, error = %e, "Argo CD status unavailable for a promotion check");
                    return Err(format!("Argo CD did not answer about {name}"));
                }
            };
            // A Helm repository source reports the chart version it
            // deployed; a git source the commit. Multi-source apps report
            // one revision per source.
            let mut has_merge = status.revisions.iter().any(|r| Version::parse(r) == wanted);
            for rev in status
                .revisions
                .iter()
                .filter_map(|r| CommitSha::parse(r).ok())
            {
                if has_merge {
                    break;
                }
                has_merge = rev == *merge
                    || self.upgrader.host.contains(&rev, merge).await.map_err(|e| {
                        tracing::warn!(app = %name, error = %e, "cannot compare the deployed commit with the merge");
                        format!("cannot tell whether {name}'s deployed commit has the merge")
                    })?;
            }
            views.push(AppView { status, has_merge });
        }
        Ok((views, missing))
    }

    /// Firing alerts that name one of `apps` in any of the configured app
    /// labels, except those that name another environment. One query per
    /// label name, with a regex matcher over the app names.
    async fn firing(&self, apps: &BTreeSet<&str>, env: &str) -> Result<Vec<FiringAlert>, String> {
        let Some(client) = &self.alerts else {
            return Ok(Vec::new());
        };
        if apps.is_empty() {
            return Ok(Vec::new());
        }
        let any_app = apps
            .iter()
            .map(|a| re2_escape(a))
            .collect::<Vec<_>>()
            .join("|");
        let mut found: Vec<FiringAlert> = Vec::new();
        let mut seen = BTreeSet::new();
        for label in &self.settings.app_labels {
            let matcher = Matcher::new(label.clone(), MatchOp::Regex, any_app.clone());
            let alerts = client.firing(&[matcher]).await.map_err(|e| {
                tracing::warn!(error = %e, "Alertmanager unavailable for a promotion check");
                "Alertmanager did not answer".to_owned()
            })?;
            for a in alerts {
                let other_env = self
                    .settings
                    .env_labels
                    .iter()
                    .find_map(|l| a.labels.get(l))
                    .is_some_and(|e| e != env);
                if other_env || !seen.insert(a.fingerprint.as_ref().to_owned()) {
                    continue;
                }
                found.push(FiringAlert {
                    name: a.labels.get("alertname").cloned().unwrap_or_default(),
                    app: a.labels.get(label).cloned().unwrap_or_default(),
                });
            }
        }
        Ok(found)
    }

    /// The wait before the next check: the end of the soak when only time
    /// is missing, else half the time since the merge, between
    /// `promotion.recheck` and 16 times that. Never past the deadline, so
    /// the last check happens at it.
    fn next_wait(
        &self,
        c: &PromotionCheck,
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Duration {
        let recheck = self.settings.recheck;
        let wait = match until {
            Some(t) => (t - now).to_std().unwrap_or_default(),
            None => {
                let since = (now - c.merged_at).to_std().unwrap_or_default();
                (since / 2).clamp(recheck, recheck.saturating_mul(MAX_RECHECK_FACTOR))
            }
        };
        let to_deadline = (c.deadline - now).to_std().unwrap_or_default();
        wait.min(to_deadline).max(Duration::from_secs(1))
    }

    /// The paragraph at the top of the promotion PR. Stable across checks,
    /// so a PR found again is not rewritten.
    fn why(&self, c: &PromotionCheck, apps: &BTreeSet<&str>) -> String {
        let apps_text = if apps.is_empty() {
            String::new()
        } else {
            format!(
                " {} synced to a revision with the merge and healthy;",
                apps.iter()
                    .map(|a| text::code_span(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let alerts_text = if self.alerts.is_some() {
            "no firing alerts for it in Alertmanager;".to_owned()
        } else {
            "alerts not checked (`alertmanager.api_url` is empty);".to_owned()
        };
        format!(
            "Promotes {} from **{}**, where #{} merged it ({}) at {}:{apps_text} {alerts_text} soaked for {} (`policy.soak`).",
            text::code_span(&c.version),
            c.from_env,
            c.pull,
            text::code_span(c.merge_commit.short()),
            c.merged_at.format("%Y-%m-%d %H:%M UTC"),
            humantime::format_duration(self.upgrader.policy.soak)
        )
    }

    fn give_up_note(&self, c: &PromotionCheck, reason: &str) -> String {
        format!(
            "Not promoting {} {} to **{}**: {}\n\nchartpilot checks a merged version from the merge until {} (`promotion.deadline`). To promote it anyway, open the {} upgrade by hand.",
            text::code_span(&c.chart),
            text::code_span(&c.version),
            c.to_env,
            text::code_span(reason),
            c.deadline.format("%Y-%m-%d %H:%M UTC"),
            c.to_env
        )
    }
}

/// A literal for an RE2 regex (Alertmanager's `=~`, anchored by it).
fn re2_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::re2_escape;

    #[test]
    fn app_names_are_literal_in_regex_matchers() {
        assert_eq!(re2_escape("web-dev"), "web-dev");
        assert_eq!(re2_escape("a.b|c(d)"), "a\\.b\\|c\\(d\\)");
    }
}
