//! The handler `chartpilot serve` runs: upgrade passes on request and after
//! pushes that may have changed pins; the other kinds are recorded until
//! their features arrive.

mod disposition;

use std::sync::Arc;

use async_trait::async_trait;

use self::disposition::job_error;
use super::{FollowUp, Handled, JobError, JobHandler};
use crate::chat::authz::Principal;
use crate::chat::reply::{commands_in_comment, dropped_commands, Replier};
use crate::chat::run::ChatOps;
use crate::git::GitError;
use crate::jobs::{
    AlertNotification, ChatCommand, ChatSource, DashboardTick, IssueComment, Job, JobEnvelope,
    PromotionCheck, PullRequest, Push, UpgradeRequest,
};
use crate::promote::run::{Checked, Promoter};
use crate::rollback::run::{RollbackError, Rollbacker};
use crate::sync::run::Syncer;
use crate::upgrade::run::{UpgradeError, Upgrader};

pub struct ServiceHandler {
    /// Why there is none when the git host could not be opened at start:
    /// the service still receives webhooks, and upgrade jobs are parked
    /// with that reason for a person to read.
    pub upgrader: Result<Arc<Upgrader>, String>,
    /// Syncs what a push changed; same rule as `upgrader` when it could
    /// not be set up.
    pub syncer: Result<Arc<Syncer>, String>,
    /// Promotes merged versions to the next environment; same rule.
    pub promoter: Result<Arc<Promoter>, String>,
    /// Reverts the change behind a failed rollout; same rule.
    pub rollbacker: Result<Arc<Rollbacker>, String>,
    /// Runs chat commands; same rule.
    pub chatops: Result<Arc<ChatOps>, String>,
    /// Checks pull requests that touch pins; same rule.
    pub checker: Result<Arc<crate::checks::Checker>, String>,
    pub replier: Replier,
    /// `owner/name` on GitHub; empty for a local repository, whose pushes
    /// are not announced by webhooks.
    pub repository: String,
    /// The repository's key (`GitSettings::key`), for the status page.
    pub key: String,
    pub branch: String,
    pub dry_run: bool,
    /// Where actions are recorded for the status page; set once the
    /// service has one (a CLI run has none).
    pub status: std::sync::OnceLock<Arc<crate::status::Board>>,
}

impl ServiceHandler {
    /// The handler for `settings`; needs a tokio runtime.
    pub async fn from_settings(
        settings: &crate::settings::Settings,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Self {
        // Why a part is missing is logged at debug only: `features::assess`
        // tells off on purpose from broken, and says which at start.
        let upgrader = Upgrader::from_settings(settings, Arc::clone(&clock))
            .map(Arc::new)
            .map_err(|e| format!("{e:#}"));
        if let Err(e) = &upgrader {
            tracing::debug!(error = %e, "upgrade passes are off: the git host or lookups could not be set up");
        }
        let argocd = crate::cluster::from_settings(&settings.argocd)
            .await
            .map_err(|e| e.to_string());
        let syncer = match (
            crate::git::from_settings(settings, Arc::clone(&clock)),
            &argocd,
        ) {
            (Ok(host), Ok(argocd)) => Ok(Arc::new(Syncer {
                host,
                argocd: Arc::clone(argocd),
                settings: settings.argocd.clone(),
            })),
            (Err(e), _) => Err(e.to_string()),
            (_, Err(e)) => Err(e.clone()),
        };
        if let Err(e) = &syncer {
            tracing::debug!(error = %e, "syncs on push are off: the git host or Argo CD could not be set up");
        }
        let promoter = promoter(settings, &upgrader, &argocd);
        if let Err(e) = &promoter {
            tracing::debug!(error = %e, "promotions are off");
        }
        let rollbacker = rollbacker(settings, &upgrader, &argocd, &promoter, Arc::clone(&clock));
        if let Err(e) = &rollbacker {
            tracing::debug!(error = %e, "rollbacks are off");
        }
        let chatops = match (&upgrader, &argocd, &rollbacker) {
            (Ok(up), Ok(argocd), Ok(rb)) => Ok(Arc::new(ChatOps {
                host: Arc::clone(&up.host),
                argocd: Arc::clone(argocd),
                upgrader: Arc::clone(up),
                rollbacker: Arc::clone(rb),
                settings: settings.chat.clone(),
                environments: settings.policy.environments.clone(),
                sync_options: settings.argocd.sync_options.clone(),
                clock,
                confirmer: crate::chat::confirm::Confirmer::new(
                    &[
                        settings.slack.signing_secret.expose(),
                        settings.chat.secret.expose(),
                        settings.github.webhook_secret.expose(),
                    ],
                    settings.chat.confirm_within,
                ),
                slack: crate::chat::slack_api::SlackApi::new(&settings.slack),
                dry_run: settings.policy.dry_run,
            })),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e.clone()),
        };
        Self {
            checker: crate::checks::Checker::for_service(
                settings,
                upgrader.as_ref().map(|u| &u.host),
            ),
            upgrader,
            syncer,
            promoter,
            rollbacker,
            chatops,
            replier: Replier::default(),
            repository: settings.git.repository.clone(),
            key: settings.git.key(),
            branch: settings.git.branch.clone(),
            dry_run: settings.policy.dry_run,
            status: std::sync::OnceLock::new(),
        }
    }

    /// Puts what a job did on the status page.
    fn record(&self, actions: Vec<crate::status::Action>) {
        if let Some(board) = self.status.get() {
            board.record(&self.key, actions);
        }
    }

    /// When an action is recorded: the page shows it as "N ago", so the
    /// wall clock, not a test's.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    /// A push to the base branch of our repository that touched a file that
    /// may hold pins. A payload without file lists (GitHub leaves them out
    /// past 20 commits) counts as touching.
    pub fn push_changes_pins(&self, p: &Push) -> bool {
        if p.deleted
            || p.git_ref != format!("refs/heads/{}", self.branch)
            || !p.repository.eq_ignore_ascii_case(&self.repository)
        {
            return false;
        }
        let listed = p
            .commits
            .iter()
            .any(|c| !(c.added.is_empty() && c.modified.is_empty() && c.removed.is_empty()));
        !listed
            || p.commits.iter().any(|c| {
                c.added
                    .iter()
                    .chain(&c.modified)
                    .chain(&c.removed)
                    .any(|f| crate::pins::may_hold_pins(f))
            })
    }

    /// Syncs the apps a push to our repository changed.
    async fn sync(&self, push: &Push) -> Result<(), JobError> {
        if !push.repository.eq_ignore_ascii_case(&self.repository) {
            tracing::warn!(event = "push_not_watched", repository = %push.repository, watched = %self.repository, "push for a repository that is not git.repository; ignored");
            return Ok(());
        }
        let syncer = self.syncer.as_ref().map_err(|e| {
            JobError::park(anyhow::anyhow!(
                "sync for push {} cannot run: {e}",
                push.after
            ))
        })?;
        let report = syncer
            .on_push(push)
            .await
            .map_err(|e| job_error(e, &format!("sync for push {}", push.after)))?;
        self.record(crate::status::from_sync(&report, self.now()));
        tracing::info!(
            synced = report.synced.len(),
            refreshed = report.refreshed.len(),
            unknown = report.unknown.len(),
            "push handled"
        );
        Ok(())
    }

    /// Promotion checks for the upgrade PRs a push merged.
    async fn merged(&self, push: &Push) -> Result<Vec<FollowUp>, JobError> {
        if !push.repository.eq_ignore_ascii_case(&self.repository) {
            return Ok(Vec::new());
        }
        let Ok(promoter) = &self.promoter else {
            // Said at start; pushes go on syncing and upgrading.
            return Ok(Vec::new());
        };
        let checks = promoter.merged_by(push).await.map_err(|e| {
            job_error(
                UpgradeError::from(e),
                &format!("merged PRs of push {}", push.after),
            )
        })?;
        Ok(checks
            .into_iter()
            .map(|c| {
                tracing::info!(chart = %c.chart, version = %c.version, from = %c.from_env, to = %c.to_env, pr = c.pull, "promotion check scheduled");
                FollowUp {
                    idempotency_key: format!(
                        "promotion-{}-{}-{}-{}",
                        c.from_env, c.chart, c.version, c.merge_commit
                    ),
                    job: Job::Promotion(c),
                    repository: None,
                }
            })
            .collect())
    }

    /// A promotion check; a PR it opened asks for an upgrade pass, so the
    /// dashboard issue, the metrics and the status page show it now rather
    /// than at the next scheduled pass.
    async fn promotion(&self, check: &PromotionCheck) -> Result<Vec<FollowUp>, JobError> {
        let what = format!(
            "promotion of {} {} from {} to {}",
            check.chart, check.version, check.from_env, check.to_env
        );
        let promoter = self
            .promoter
            .as_ref()
            .map_err(|e| JobError::park(anyhow::anyhow!("{what} cannot run: {e}")))?;
        match crate::metrics::ambient::promotion(promoter.check(check, self.dry_run).await) {
            Ok(Checked::Promoted(report)) => {
                self.record(crate::status::from_promotion(&report, self.now()));
                tracing::info!(actions = report.actions.len(), "{what}: done");
                let opened = report.actions.iter().find_map(|a| match a {
                    crate::upgrade::report::Action::Opened { number, .. } => Some(*number),
                    _ => None,
                });
                Ok(opened
                    .map(|pr| FollowUp {
                        job: Job::Upgrade(UpgradeRequest {
                            reason: format!("promotion PR #{pr} opened"),
                        }),
                        idempotency_key: format!("upgrade-after-promotion-{pr}"),
                        repository: None,
                    })
                    .into_iter()
                    .collect())
            }
            Ok(Checked::Waiting { reason, retry_in }) => Err(JobError::defer(
                anyhow::anyhow!("{what} waits: {reason}"),
                retry_in,
            )),
            Ok(Checked::GaveUp { reason }) => {
                tracing::warn!(event = "promotion_gave_up", pr = check.pull, reason = %reason, "{what}: gave up");
                Ok(Vec::new())
            }
            Err(e) => Err(job_error(e, &what)),
        }
    }

    /// A Slack or generic command: run it, answer on its reply URL. A
    /// reply that cannot be delivered is logged, not retried: retrying
    /// would run the command again.
    async fn chat(&self, c: &ChatCommand) -> Result<(), JobError> {
        let who = Principal::new(c.source, c.user.clone());
        let place = c
            .channel
            .clone()
            .unwrap_or_else(|| format!("{:?}", c.source).to_lowercase());
        let reply = match &self.chatops {
            Ok(chatops) => chatops.run(&who, &c.text, &place).await,
            // The person still hears why nothing happened (and `help`
            // needs nothing but the grammar).
            Err(e) => crate::chat::run::unavailable(&who, &c.text, &place, e),
        };
        let sent = match (c.source, c.reply_url.as_deref()) {
            (ChatSource::Slack, Some(url)) => self.replier.slack(url, &reply).await,
            (_, Some(url)) => self.replier.generic(url, &reply).await,
            (_, None) => Ok(()),
        };
        if let Err(e) = sent {
            tracing::warn!(user = %c.user, error = %e, "chat reply not delivered");
        }
        Ok(())
    }

    /// `/chartpilot` lines of a new comment on our repository: 👀 on
    /// receipt, one reply comment with every answer.
    async fn comment(&self, c: &IssueComment) -> Result<(), JobError> {
        if c.action != "created"
            || c.author_type.eq_ignore_ascii_case("bot")
            || !c.repository.eq_ignore_ascii_case(&self.repository)
        {
            return Ok(());
        }
        let commands = commands_in_comment(&c.body);
        if commands.is_empty() {
            return Ok(());
        }
        let chatops = self
            .chatops
            .as_ref()
            .map_err(|e| JobError::park(anyhow::anyhow!("chat command cannot run: {e}")))?;
        let host = &chatops.host;
        if let Some(id) = c.comment_id {
            if let Err(e) = host.react(id, "eyes").await {
                tracing::warn!(comment = id, error = %e, "no 👀 reaction");
            }
        }
        chatops
            .answer_on_issue(
                &c.author,
                c.issue_number,
                &commands,
                dropped_commands(&c.body),
                "per comment",
            )
            .await;
        Ok(())
    }

    /// Boxes ticked in the dashboard issue: each runs as the chat
    /// `upgrade` verb, as the person who ticked it, answered in one comment
    /// on the issue. The next pass rewrites the body (unticked, the PR
    /// listed).
    async fn dashboard_tick(&self, t: &DashboardTick) -> Result<(), JobError> {
        if !t.repository.eq_ignore_ascii_case(&self.repository) {
            return Ok(());
        }
        let chatops = self
            .chatops
            .as_ref()
            .map_err(|e| JobError::park(anyhow::anyhow!("dashboard request cannot run: {e}")))?;
        // Only the dashboard chartpilot keeps: any issue may carry the
        // marker, and a box on another one was written by whoever wrote it.
        let dashboard = chatops
            .host
            .find_issue(crate::dashboard::LABEL, crate::dashboard::MARKER)
            .await
            .map_err(|e| job_error(UpgradeError::from(e), "finding the dashboard issue"))?;
        if dashboard.as_ref().map(|d| d.number) != Some(t.issue_number) {
            tracing::warn!(
                event = "dashboard_tick_elsewhere",
                issue = t.issue_number,
                author = %t.author,
                "boxes ticked on an issue that is not chartpilot's dashboard; nothing runs"
            );
            return Ok(());
        }
        chatops
            .answer_on_issue(
                &t.author,
                t.issue_number,
                &t.commands,
                t.dropped,
                "per edit of the dashboard",
            )
            .await;
        Ok(())
    }

    /// The `chartpilot` check of a pull request event.
    async fn check(&self, pr: &PullRequest) -> Result<(), JobError> {
        let what = format!("check of pull request #{} at {}", pr.number, pr.head_sha);
        let checker = self
            .checker
            .as_ref()
            .map_err(|e| JobError::park(anyhow::anyhow!("{what}: {e}")))?;
        let checked = checker.on_pull(pr).await.map_err(|e| job_error(e, &what))?;
        tracing::info!(pr = pr.number, action = %pr.action, outcome = %checked, "{what}: done");
        Ok(())
    }

    async fn rollback(&self, n: &AlertNotification) -> Result<(), JobError> {
        let rollbacker = self.rollbacker.as_ref().map_err(|e| {
            JobError::park(anyhow::anyhow!(
                "alert notification {} cannot be acted on: {e}",
                n.group_key
            ))
        })?;
        let outcomes = rollbacker
            .on_notification(n)
            .await
            .map_err(|e| job_error(e, &format!("alert notification {}", n.group_key)))?;
        self.record(crate::status::from_rollback(&outcomes, self.now()));
        tracing::info!(
            group = %n.group_key,
            outcomes = outcomes.len(),
            "alert notification handled"
        );
        Ok(())
    }

    async fn upgrade(&self, reason: &str) -> Result<(), JobError> {
        let upgrader = self.upgrader.as_ref().map_err(|e| {
            JobError::park(anyhow::anyhow!("upgrade pass ({reason}) cannot run: {e}"))
        })?;
        let report = upgrader
            .run(self.dry_run)
            .await
            .map_err(|e| job_error(e, &format!("upgrade pass ({reason})")))?;
        self.record(crate::status::from_upgrade(&report, self.now()));
        for e in &report.lookup_errors {
            tracing::warn!(event = "chart_lookup_failed", error = %e, "chart lookup failed");
        }
        // Failed PRs are logged where they failed; the next pass tries
        // them again, so the job itself is done.
        tracing::info!(
            reason,
            actions = report.actions.len(),
            skipped = report.skipped.len(),
            "upgrade pass done"
        );
        Ok(())
    }
}

#[async_trait]
impl JobHandler for ServiceHandler {
    fn attach_metrics(&self, metrics: &Arc<crate::metrics::Metrics>) {
        if let Ok(up) = &self.upgrader {
            // Set once: a handler serves one service.
            let _ = up.metrics.set(Arc::clone(metrics));
            up.host.attach_metrics(metrics);
        }
        if let Ok(syncer) = &self.syncer {
            syncer.host.attach_metrics(metrics);
        }
    }

    fn attach_status(&self, board: &Arc<crate::status::Board>) {
        if let Ok(up) = &self.upgrader {
            let _ = up.status.set(Arc::clone(board));
        }
        let _ = self.status.set(Arc::clone(board));
    }

    async fn handle(&self, job: &Job, _envelope: &JobEnvelope) -> Handled {
        match job {
            Job::Upgrade(u) => self.upgrade(&u.reason).await.map(|()| Vec::new()),
            Job::Push(p) => {
                self.sync(p).await?;
                let mut follow_ups = self.merged(p).await?;
                // A job of its own: its failures retry the pass, not the
                // syncs, and never cost the promotion checks above.
                if self.push_changes_pins(p) {
                    follow_ups.push(FollowUp {
                        job: Job::Upgrade(UpgradeRequest {
                            reason: format!("push {}", p.after),
                        }),
                        idempotency_key: format!("upgrade-push-{}", p.after),
                        repository: None,
                    });
                }
                Ok(follow_ups)
            }
            Job::Promotion(c) => self.promotion(c).await,
            Job::Alert(n) => self.rollback(n).await.map(|()| Vec::new()),
            Job::Chat(c) => self.chat(c).await.map(|()| Vec::new()),
            Job::IssueComment(c) => self.comment(c).await.map(|()| Vec::new()),
            Job::DashboardTick(t) => self.dashboard_tick(t).await.map(|()| Vec::new()),
            Job::PullRequest(pr) => self.check(pr).await.map(|()| Vec::new()),
        }
    }
}

/// The promoter, when the upgrade path, Argo CD and Alertmanager (if
/// configured) could all be set up.
fn promoter(
    settings: &crate::settings::Settings,
    upgrader: &Result<Arc<Upgrader>, String>,
    argocd: &Result<Arc<dyn crate::cluster::ArgoCd>, String>,
) -> Result<Arc<Promoter>, String> {
    let upgrader = upgrader.as_ref().map_err(Clone::clone)?;
    let argocd = argocd.as_ref().map_err(Clone::clone)?;
    let url = settings.alertmanager.api_url.trim();
    let alerts = if url.is_empty() {
        tracing::debug!("alertmanager.api_url is empty: promotions will not check alerts");
        None
    } else {
        Some(
            crate::alerts::AlertmanagerClient::new(url, ALERTMANAGER_TIMEOUT)
                .map_err(|e| format!("alertmanager.api_url: {e}"))?,
        )
    };
    Ok(Arc::new(Promoter {
        upgrader: Arc::clone(upgrader),
        argocd: Arc::clone(argocd),
        alerts,
        argocd_blind: settings.argocd.mode == crate::settings::ArgocdMode::None,
        settings: settings.promotion.clone(),
        slack: crate::notify::SlackWebhook::new(&settings.slack.webhook_url),
    }))
}

/// The rollbacker, when the git host and Argo CD could be set up. The
/// rules were checked when the settings loaded.
fn rollbacker(
    settings: &crate::settings::Settings,
    upgrader: &Result<Arc<Upgrader>, String>,
    argocd: &Result<Arc<dyn crate::cluster::ArgoCd>, String>,
    promoter: &Result<Arc<Promoter>, String>,
    clock: Arc<dyn crate::clock::Clock>,
) -> Result<Arc<Rollbacker>, String> {
    let upgrader = upgrader.as_ref().map_err(Clone::clone)?;
    let argocd = argocd.as_ref().map_err(Clone::clone)?;
    let rules = crate::rollback::rules::Rules::new(&settings.rollback.rules)?;
    Ok(Arc::new(Rollbacker {
        host: Arc::clone(&upgrader.host),
        argocd: Arc::clone(argocd),
        rules,
        policy: settings.policy.clone(),
        labels: settings.rollback.labels.clone(),
        discover: upgrader.discover.clone(),
        clock,
        alerts: promoter.as_ref().ok().and_then(|p| p.alerts.clone()),
        slack: crate::notify::SlackWebhook::new(&settings.slack.webhook_url),
        sync_options: settings.argocd.sync_options.clone(),
        one_at_a_time: tokio::sync::Mutex::new(()),
    }))
}

/// Bounds each Alertmanager API call of a promotion check.
const ALERTMANAGER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CommitSha;
    use crate::jobs::PushCommit;

    fn push(git_ref: &str, files: &[&str]) -> Push {
        let sha = CommitSha::parse(&"a".repeat(40)).unwrap();
        Push {
            repository: "Acme/GitOps".into(),
            git_ref: git_ref.into(),
            before: sha.clone(),
            after: sha.clone(),
            created: false,
            deleted: false,
            forced: false,
            commits: vec![PushCommit {
                id: sha,
                message: "m".into(),
                added: vec![],
                modified: files.iter().map(|f| (*f).to_owned()).collect(),
                removed: vec![],
            }],
            sender: "someone".into(),
        }
    }

    fn handler() -> ServiceHandler {
        ServiceHandler {
            upgrader: Err("not needed".into()),
            syncer: Err("not needed".into()),
            promoter: Err("not needed".into()),
            rollbacker: Err("not needed".into()),
            chatops: Err("not needed".into()),
            checker: Err("not needed".into()),
            replier: Replier::default(),
            repository: "acme/gitops".into(),
            key: "acme/gitops".into(),
            branch: "main".into(),
            dry_run: false,
            status: Default::default(),
        }
    }

    #[test]
    fn only_pushes_to_the_base_branch_touching_pin_files_run_a_pass() {
        let h = handler();
        let cases = [
            ("refs/heads/main", vec!["environments/dev/app.yaml"], true),
            ("refs/heads/main", vec!["platform/main.tf"], true),
            ("refs/heads/main", vec!["prod.tfvars"], true),
            ("refs/heads/main", vec!["README.md", "docs/x.png"], false),
            (
                "refs/heads/feature",
                vec!["environments/dev/app.yaml"],
                false,
            ),
            ("refs/tags/v1", vec!["environments/dev/app.yaml"], false),
            // GitHub leaves file lists out past 20 commits: assume pins moved.
            ("refs/heads/main", vec![], true),
        ];
        for (git_ref, files, want) in cases {
            assert_eq!(
                h.push_changes_pins(&push(git_ref, &files)),
                want,
                "{git_ref} {files:?}"
            );
        }
        let mut other_repo = push("refs/heads/main", &["a.yaml"]);
        other_repo.repository = "acme/other".into();
        assert!(!h.push_changes_pins(&other_repo));
        let mut deleted = push("refs/heads/main", &["a.yaml"]);
        deleted.deleted = true;
        assert!(!h.push_changes_pins(&deleted));
    }
}
