//! Carrying an Alertmanager notification out: which apps its alerts are
//! about, what git says changed their pins, the decision, then the revert
//! (a PR, a push, or an Argo CD rollback) and the messages about it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::body::{self, Revert};
use super::decide::{
    before, decide, is_revert_message, AlertView, Decision, DecisionInput, PinChange,
};
use super::revert::{revert_files, FileVersions};
use super::rules::{Miss, Rules};
use crate::alerts::{AlertmanagerClient, Matcher};
use crate::clock::Clock;
use crate::cluster::{ArgoCd, ArgoError, SyncRequest};
use crate::domain::CommitSha;
use crate::git::{
    comment_once, read_files, ChangedPath, GitError, GitHost, NewPull, PullState, ReadError,
};
use crate::jobs::{Alert, AlertNotification, AlertStatus};
use crate::notify::SlackWebhook;
use crate::pins::{self, DiscoverOptions, Pin, PinKind, SourceFile};
use crate::promote::freeze::Freezes;
use crate::settings::{PolicySettings, RollbackAction};
use crate::sync::affected::{apps_in, SyncAt};
use crate::sync::run::INITIATED_BY;

/// Branch prefix of every revert PR; the rest is the full commit id.
pub const REVERT_PREFIX: &str = "chartpilot/revert/";

/// Firing alerts checked against Alertmanager before acting; a storm is
/// represented by its first few.
const MAX_STILL_FIRING_CHECKS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Argo(#[from] ArgoError),
    #[error("cannot read the repository: {0}")]
    Snapshot(String),
    #[error("{0} is not UTF-8 text; chartpilot reverts only text files")]
    NotText(String),
}

impl RollbackError {
    pub fn is_transient(&self) -> bool {
        match self {
            // The branch moved under a pushed revert: read it again and
            // decide again.
            RollbackError::Git(GitError::NotFastForward(_)) => true,
            RollbackError::Git(e) => e.is_transient(),
            RollbackError::Argo(e) => e.is_transient(),
            RollbackError::Snapshot(_) | RollbackError::NotText(_) => false,
        }
    }
}

impl From<ReadError> for RollbackError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Git(e) => RollbackError::Git(e),
            ReadError::Local(e) => RollbackError::Snapshot(e),
        }
    }
}

/// What happened for one app of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A revert PR opened (`pull`), or a revert pushed (`pushed`).
    Reverted {
        app: String,
        commit: CommitSha,
        pull: Option<u64>,
        pushed: Option<CommitSha>,
    },
    /// Argo CD was asked to deploy the previous revision again.
    RolledBackInArgoCd {
        app: String,
        revision: String,
    },
    WouldRevert {
        app: String,
        commit: CommitSha,
        reason: String,
    },
    Skipped {
        app: String,
        reason: String,
    },
    /// The revert was decided but cannot be made cleanly.
    Conflict {
        app: String,
        commit: CommitSha,
        reason: String,
    },
    /// A resolved alert was noted on its open revert PR.
    NotedResolved {
        pull: u64,
    },
}

pub struct Rollbacker {
    pub host: Arc<dyn GitHost>,
    pub argocd: Arc<dyn ArgoCd>,
    pub rules: Rules,
    pub policy: PolicySettings,
    /// Labels on revert PRs.
    pub labels: Vec<String>,
    pub discover: DiscoverOptions,
    pub clock: Arc<dyn Clock>,
    /// Asked whether an alert still fires just before acting; None when
    /// `alertmanager.api_url` is empty.
    pub alerts: Option<AlertmanagerClient>,
    pub slack: Option<SlackWebhook>,
    /// `argocd.sync_options`, for the sync after a pushed revert.
    pub sync_options: Vec<String>,
    pub one_at_a_time: tokio::sync::Mutex<()>,
}

/// An app and the environment its alerts name.
type AppKey = (String, Option<String>);

/// One first-parent step that moved the app's pin, with what the revert
/// needs from it.
struct Step {
    change: PinChange,
    parent: CommitSha,
    changed: Vec<ChangedPath>,
    /// `(at the step, at the parent)` for the files already read.
    read: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Paths newer steps changed: their head text is not the step's.
    changed_later: BTreeSet<String>,
}

/// The repository at the branch head, read once per notification.
struct Head {
    sha: CommitSha,
    files: Vec<SourceFile>,
    pins: Vec<Pin>,
    freezes: Freezes,
}

impl Rollbacker {
    /// Acts on one notification: one decision per app its alerts name.
    pub async fn on_notification(
        &self,
        n: &AlertNotification,
    ) -> Result<Vec<Outcome>, RollbackError> {
        // Two deliveries of one group (Alertmanager replicas) must not race
        // each other to two reverts in this process; across processes the
        // revert branch is the lock.
        let _one = self.one_at_a_time.lock().await;
        let mut outcomes = Vec::new();
        if self.rules.is_empty() {
            tracing::info!(group = %n.group_key, "no [[rollback.rules]]: alerts act on nothing");
            return Ok(outcomes);
        }
        let head = self.head().await?;
        let known: BTreeSet<&str> = head
            .pins
            .iter()
            .filter(|p| matches!(p.kind, PinKind::Argocd | PinKind::Terraform))
            .map(|p| p.name.as_str())
            .collect();
        // One group per (app, environment): a storm is one decision.
        let mut groups: BTreeMap<AppKey, (RollbackAction, Vec<&Alert>)> = BTreeMap::new();
        let mut resolved: Vec<&Alert> = Vec::new();
        for alert in &n.alerts {
            match self.rules.target(&alert.labels, |a| known.contains(a)) {
                Ok(t) => {
                    if alert.status == AlertStatus::Resolved {
                        resolved.push(alert);
                    }
                    // An alert without an environment label counts for the
                    // app's one environment, so it joins the same group.
                    let env = t.env.or_else(|| only_env(&head.pins, &t.app));
                    groups
                        .entry((t.app, env))
                        .or_insert_with(|| (t.action, Vec::new()))
                        .1
                        .push(alert);
                }
                Err(Miss::NoRule) => {}
                Err(Miss::NoApp { tried }) if alert.status == AlertStatus::Firing => {
                    let name = alert.labels.get("alertname").cloned().unwrap_or_default();
                    let reason = if tried.is_empty() {
                        format!("{name} names no app (none of the rule's app labels is set)")
                    } else {
                        format!(
                            "{name} names {}, which the repository pins under no Application or helm_release of that name",
                            tried.join(" or ")
                        )
                    };
                    tracing::info!(%reason, "alert skipped");
                    outcomes.push(Outcome::Skipped {
                        app: tried.first().cloned().unwrap_or_default(),
                        reason,
                    });
                }
                Err(Miss::NoApp { .. }) => {}
            }
        }
        if !resolved.is_empty() {
            outcomes.extend(self.note_resolved(&resolved).await?);
        }
        for ((app, env), (action, alerts)) in groups {
            let outcome = self
                .for_app(&head, &app, env.as_deref(), action, &alerts)
                .await?;
            tracing::info!(app = %app, outcome = ?outcome, "rollback decision");
            outcomes.push(outcome);
        }
        outcomes.iter().for_each(crate::metrics::ambient::rollback);
        Ok(outcomes)
    }

    /// A person's `rollback <app> [env]`: the newest change of the app's
    /// pin whatever its age (within the last 100 commits of the branch),
    /// frozen environment or not. Still never a revert of a revert, never
    /// a second revert of one commit, and nothing under `policy.dry_run`.
    ///
    /// `expect`: the commit the person confirmed; a newer change since
    /// means they have not seen what would be reverted, so nothing is.
    pub async fn by_person(
        &self,
        app: &str,
        env: Option<&str>,
        who: &str,
        expect: Option<&CommitSha>,
    ) -> Result<Outcome, RollbackError> {
        let _one = self.one_at_a_time.lock().await;
        let skipped = |reason: String| Outcome::Skipped {
            app: app.to_owned(),
            reason,
        };
        let (head, step) = match self.newest_step(app, env).await? {
            Ok(found) => found,
            Err(reason) => return Ok(skipped(reason)),
        };
        if let Some(want) = expect.filter(|w| **w != step.change.sha) {
            return Ok(skipped(format!(
                "the newest change to {app}'s pin is now {}, not the {} that was confirmed; ask again",
                step.change.sha.short(),
                want.short()
            )));
        }
        if step.change.is_revert {
            return Ok(skipped(format!(
                "the newest change to {app}'s pin, {} (\"{}\"), is itself a revert; undo it by hand if that is what you mean",
                step.change.sha.short(),
                step.change.subject
            )));
        }
        if let Some(existing) = self.existing_revert(&step.change.sha).await? {
            return Ok(skipped(format!(
                "{} is already being reverted: {existing}",
                step.change.sha.short()
            )));
        }
        let reason = format!(
            "{who} asked for it: {} (\"{}\") moved {app} from {} to {}",
            step.change.sha.short(),
            step.change.subject,
            step.change.from,
            step.change.to
        );
        if self.policy.dry_run {
            return Ok(Outcome::WouldRevert {
                app: app.to_owned(),
                commit: step.change.sha.clone(),
                reason,
            });
        }
        let r = Revert {
            app,
            env,
            change: &step.change,
            reason: &reason,
            alerts: &[],
        };
        self.revert(&head, &step, &r, false).await
    }

    /// The change `by_person` would revert now, or why there is none.
    pub async fn newest_change(
        &self,
        app: &str,
        env: Option<&str>,
    ) -> Result<Result<PinChange, String>, RollbackError> {
        Ok(self
            .newest_step(app, env)
            .await?
            .map(|(_, step)| step.change))
    }

    /// The branch head and the newest step of the app's pin in the last
    /// 100 commits, or why there is none.
    async fn newest_step(
        &self,
        app: &str,
        env: Option<&str>,
    ) -> Result<Result<(Head, Step), String>, RollbackError> {
        let head = self.head().await?;
        let pins: Vec<&Pin> = head
            .pins
            .iter()
            .filter(|p| p.name == app && (env.is_none() || p.env.as_deref() == env))
            .collect();
        if pins.is_empty() {
            return Ok(Err(format!(
                "{app} has no pin in {}",
                env.unwrap_or("any environment")
            )));
        }
        let steps = self
            .pin_steps(&head, app, env, &pins, DateTime::<Utc>::UNIX_EPOCH)
            .await?;
        Ok(match steps.into_iter().next() {
            Some(step) => Ok((head, step)),
            None => Err(format!(
                "no change to {app}'s pin in the branch's last 100 commits"
            )),
        })
    }

    async fn head(&self) -> Result<Head, RollbackError> {
        let base = self.host.base_branch().to_owned();
        let sha = self
            .host
            .branch_head(&base)
            .await?
            .ok_or_else(|| RollbackError::Snapshot(format!("branch {base} does not exist")))?;
        let (files, _) = read_files(self.host.as_ref(), &sha).await?;
        // The snapshot holds the freeze file (YAML), so no extra read.
        let freezes = Freezes::from_files(&files).map_err(RollbackError::Snapshot)?;
        let opts = self.discover.clone();
        let (files, pins) = tokio::task::spawn_blocking(move || {
            let scan = pins::scan_files(&files, &opts);
            (files, scan.pins)
        })
        .await
        .map_err(|e| RollbackError::Snapshot(e.to_string()))?;
        Ok(Head {
            sha,
            files,
            pins,
            freezes,
        })
    }

    async fn for_app(
        &self,
        head: &Head,
        app: &str,
        env: Option<&str>,
        action: RollbackAction,
        alerts: &[&Alert],
    ) -> Result<Outcome, RollbackError> {
        let skipped = |reason: String| Outcome::Skipped {
            app: app.to_owned(),
            reason,
        };
        let of_app: Vec<&Pin> = head.pins.iter().filter(|p| p.name == app).collect();
        let envs: BTreeSet<Option<&str>> = of_app.iter().map(|p| p.env.as_deref()).collect();
        let env = match env {
            Some(e) => Some(e),
            None if envs.len() <= 1 => envs.iter().next().copied().flatten(),
            None => {
                let list: Vec<&str> = envs.iter().map(|e| e.unwrap_or("any")).collect();
                return Ok(skipped(format!(
                    "the alerts name no environment, and {app} is pinned in {}",
                    list.join(", ")
                )));
            }
        };
        let mut pins: Vec<&Pin> = of_app
            .iter()
            .copied()
            .filter(|p| env.is_none() || p.env.as_deref() == env)
            .collect();
        // Pins without an environment (a platform helm_release shared by
        // all) answer for any environment an alert names.
        let mut scan_env = env;
        if pins.is_empty() && env.is_some() {
            pins = of_app.iter().copied().filter(|p| p.env.is_none()).collect();
            scan_env = None;
        }
        if pins.is_empty() {
            return Ok(skipped(format!(
                "{app} has no pin in {}",
                env.unwrap_or("any environment")
            )));
        }
        let views: Vec<AlertView> = alerts
            .iter()
            .map(|a| AlertView {
                name: a.labels.get("alertname").cloned().unwrap_or_default(),
                starts_at: a.starts_at,
                firing: a.status == AlertStatus::Firing,
            })
            .collect();
        let firing: Vec<&Alert> = alerts
            .iter()
            .copied()
            .filter(|a| a.status == AlertStatus::Firing)
            .collect();
        let now = self.clock.now();
        // Back far enough for a change that caused the latest alert, and
        // for a rollback within the cooldown; an alert firing for days does
        // not stretch the history read.
        let steps = match firing.iter().map(|a| a.starts_at).max() {
            Some(latest) => {
                let since = before(latest, self.policy.rollout_window)
                    .min(before(now, self.policy.cooldown));
                self.pin_steps(head, app, scan_env, &pins, since).await?
            }
            None => Vec::new(),
        };
        let changes: Vec<PinChange> = steps.iter().map(|s| s.change.clone()).collect();
        let existing = match steps.first() {
            Some(s) => self.existing_revert(&s.change.sha).await?,
            None => None,
        };
        let still_firing = if firing.is_empty() {
            None
        } else {
            self.still_firing(&firing).await
        };
        let freeze = env.and_then(|e| head.freezes.get(e));
        let decision = decide(&DecisionInput {
            app,
            env,
            alerts: &views,
            changes: &changes,
            existing: existing.as_deref(),
            still_firing,
            freeze,
            now,
            rollout_window: self.policy.rollout_window,
            cooldown: self.policy.cooldown,
            dry_run: self.policy.dry_run,
        });
        let (commit, reason) = match decision {
            Decision::Skip { reason } => return Ok(skipped(reason)),
            Decision::WouldRevert { commit, reason } => {
                return Ok(Outcome::WouldRevert {
                    app: app.to_owned(),
                    commit,
                    reason,
                })
            }
            Decision::Revert { commit, reason } => (commit, reason),
        };
        let Some(step) = steps.into_iter().find(|s| s.change.sha == commit) else {
            return Ok(skipped(format!("{commit} is not among the changes read")));
        };
        let r = Revert {
            app,
            env,
            change: &step.change,
            reason: &reason,
            alerts: &firing,
        };
        match action {
            RollbackAction::RevertPr | RollbackAction::RevertPush => {
                self.revert(head, &step, &r, action == RollbackAction::RevertPush)
                    .await
            }
            RollbackAction::ArgocdRollback => self.argocd_rollback(&r, &step.parent).await,
        }
    }

    /// The first-parent steps since `since` that moved the app's pin,
    /// newest first. One `changed_paths` call per step, and the app's pin
    /// files read at a step and its parent only where a step touched them.
    async fn pin_steps(
        &self,
        head: &Head,
        app: &str,
        env: Option<&str>,
        pins: &[&Pin],
        since: DateTime<Utc>,
    ) -> Result<Vec<Step>, RollbackError> {
        let pin_files: BTreeSet<&str> = pins.iter().map(|p| p.file.as_str()).collect();
        let history = self.host.first_parent_history(&head.sha, since).await?;
        let mut later: BTreeSet<String> = BTreeSet::new();
        let mut steps = Vec::new();
        for commit in history {
            let Some(parent) = commit.parents.first().cloned() else {
                continue;
            };
            let changed = self.host.changed_paths(&parent, &commit.sha).await?;
            let touched: Vec<&str> = changed
                .iter()
                .map(|c| c.path.as_str())
                .filter(|p| pin_files.contains(p))
                .collect();
            if !touched.is_empty() {
                let mut read = BTreeMap::new();
                for path in &touched {
                    let at_step = if later.contains(*path) {
                        self.text(&commit.sha, path).await?
                    } else {
                        head_text(head, path)
                    };
                    let at_parent = self.text(&parent, path).await?;
                    read.insert((*path).to_owned(), (at_step, at_parent));
                }
                let after = versions(head, &read, app, env, &self.discover, |v| &v.0);
                let before = versions(head, &read, app, env, &self.discover, |v| &v.1);
                if after != before {
                    steps.push(Step {
                        change: PinChange {
                            sha: commit.sha.clone(),
                            subject: commit.message.lines().next().unwrap_or("").to_owned(),
                            landed_at: commit.committed_at,
                            from: before.join(", "),
                            to: after.join(", "),
                            is_revert: is_revert_message(&commit.message),
                        },
                        parent: parent.clone(),
                        changed: changed.clone(),
                        read,
                        changed_later: later.clone(),
                    });
                }
            }
            later.extend(changed.into_iter().map(|c| c.path));
        }
        Ok(steps)
    }

    /// A file's text; a file that is not UTF-8 is refused, never mangled
    /// into a revert.
    async fn text(&self, rev: &CommitSha, path: &str) -> Result<Option<String>, RollbackError> {
        match self.host.read_file(rev, path).await? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| RollbackError::NotText(path.to_owned())),
        }
    }

    /// chartpilot's revert PR of `commit`, in any state (even with its
    /// branch deleted). A branch left without its PR (a run that stopped
    /// between the two) is not an answer: the revert resumes and opens it.
    async fn existing_revert(&self, commit: &CommitSha) -> Result<Option<String>, RollbackError> {
        let branch = format!("{REVERT_PREFIX}{commit}");
        Ok(self.host.find_pull(&branch).await?.map(|pr| {
            format!(
                "revert PR #{} ({})",
                pr.number,
                match pr.state {
                    PullState::Open => "open",
                    PullState::Closed => "closed by a person",
                    PullState::Merged => "merged",
                }
            )
        }))
    }

    /// Whether Alertmanager still reports any of the alerts firing; None
    /// when it is not configured or does not answer (then the notification
    /// is taken at its word).
    async fn still_firing(&self, firing: &[&Alert]) -> Option<bool> {
        let client = self.alerts.as_ref()?;
        for a in firing.iter().take(MAX_STILL_FIRING_CHECKS) {
            let matchers: Vec<Matcher> = a
                .labels
                .iter()
                .map(|(k, v)| Matcher::equal(k.clone(), v.clone()))
                .collect();
            match client.firing(&matchers).await {
                Ok(list) if list.iter().any(|x| x.fingerprint == a.fingerprint) => {
                    return Some(true)
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Alertmanager did not answer; acting on the notification");
                    return None;
                }
            }
        }
        // Resolved, unless some alert went unchecked.
        (firing.len() <= MAX_STILL_FIRING_CHECKS).then_some(false)
    }

    /// Builds the revert and opens its PR (or pushes it), then tells the
    /// PR that introduced the change, and chat.
    async fn revert(
        &self,
        head: &Head,
        step: &Step,
        r: &Revert<'_>,
        push: bool,
    ) -> Result<Outcome, RollbackError> {
        let app = r.app.to_owned();
        let commit = step.change.sha.clone();
        let mut files = Vec::new();
        for c in &step.changed {
            let (base, theirs) = match step.read.get(&c.path) {
                Some((at_step, at_parent)) => (at_step.clone(), at_parent.clone()),
                None => {
                    let at_step = if step.changed_later.contains(&c.path) {
                        self.text(&commit, &c.path).await?
                    } else {
                        self.head_or_read(head, &c.path).await?
                    };
                    (at_step, self.text(&step.parent, &c.path).await?)
                }
            };
            files.push(FileVersions {
                path: c.path.clone(),
                kind: c.kind,
                base: base.unwrap_or_default(),
                ours: self.head_or_read(head, &c.path).await?,
                theirs: theirs.unwrap_or_default(),
            });
        }
        let edits = match revert_files(&files) {
            Ok(edits) => edits,
            Err(reason) => {
                let reason = format!("cannot revert {} cleanly: {reason}", commit.short());
                tracing::error!(app = %app, %reason, "rollback needs a person");
                if let Some(slack) = &self.slack {
                    slack
                        .post(&crate::text::slack(&format!(
                            "chartpilot rollback of {app} needs a person: {reason}"
                        )))
                        .await;
                }
                return Ok(Outcome::Conflict {
                    app,
                    commit,
                    reason,
                });
            }
        };
        let message = body::commit_message(r);
        let sha = self.host.commit(&head.sha, &message, &edits).await?;
        if push {
            self.host
                .update_branch(self.host.base_branch(), &sha)
                .await?;
            tracing::info!(app = %app, revert = %sha, reverted = %commit, "revert pushed");
            self.sync_after_push(r, &sha, &edits).await;
            self.tell(r, &format!("pushed as {}", sha.short()), &step.change)
                .await;
            return Ok(Outcome::Reverted {
                app,
                commit,
                pull: None,
                pushed: Some(sha),
            });
        }
        let branch = format!("{REVERT_PREFIX}{commit}");
        match self.host.create_branch(&branch, &sha).await {
            Ok(()) => {}
            Err(GitError::BranchExists(_)) => {
                // Another delivery got there first (its PR stands), or an
                // earlier run stopped before its PR: open that PR now, on
                // the branch as it was made.
                if let Some(pr) = self.host.find_pull(&branch).await? {
                    return Ok(Outcome::Skipped {
                        app,
                        reason: format!(
                            "{} is already being reverted: revert PR #{}",
                            commit.short(),
                            pr.number
                        ),
                    });
                }
                tracing::info!(branch = %branch, "revert branch without its PR: opening it");
            }
            Err(e) => return Err(e.into()),
        }
        let pr = self
            .host
            .create_pull(&NewPull {
                head: branch,
                base: self.host.base_branch().to_owned(),
                title: body::title(&step.change),
                body: body::pr_body(r),
                labels: self.labels.clone(),
            })
            .await?;
        tracing::info!(app = %app, pr = pr.number, reverted = %commit, "revert PR opened");
        let what = pr
            .url
            .clone()
            .map(|u| format!("revert PR {u}"))
            .unwrap_or_else(|| format!("revert PR #{}", pr.number));
        self.tell(r, &what, &step.change).await;
        Ok(Outcome::Reverted {
            app,
            commit,
            pull: Some(pr.number),
            pushed: None,
        })
    }

    async fn head_or_read(&self, head: &Head, path: &str) -> Result<Option<String>, RollbackError> {
        match head_text(head, path) {
            Some(t) => Ok(Some(t)),
            None => self.text(&head.sha, path).await,
        }
    }

    /// A pushed revert deploys now: the app syncs to what git says again.
    async fn sync_after_push(
        &self,
        r: &Revert<'_>,
        sha: &CommitSha,
        edits: &[crate::git::FileChange],
    ) {
        let sync_at = edits
            .iter()
            .flat_map(|e| apps_in(&e.path, &String::from_utf8_lossy(&e.content)))
            .find(|a| a.name == r.app)
            .map(|a| a.sync_at);
        let revision = match sync_at {
            Some(SyncAt::Chart(v)) => Some(v),
            Some(SyncAt::Spec) => None,
            Some(SyncAt::Commit) | None => Some(sha.to_string()),
        };
        let request = SyncRequest {
            app: r.app.to_owned(),
            revision,
            initiated_by: INITIATED_BY.to_owned(),
            sync_options: self.sync_options.clone(),
        };
        if let Err(e) = self.argocd.sync(&request).await {
            tracing::warn!(app = %r.app, error = %e, "sync after the pushed revert failed; Argo CD picks the commit up on its own");
        }
    }

    /// Argo CD deploys the app's previous revision again: for apps without
    /// auto-sync (which would undo it at once), git unchanged.
    async fn argocd_rollback(
        &self,
        r: &Revert<'_>,
        parent: &CommitSha,
    ) -> Result<Outcome, RollbackError> {
        let app = r.app.to_owned();
        let Some(status) = self.argocd.status(r.app).await? else {
            return Ok(Outcome::Skipped {
                app,
                reason: format!("Argo CD has no application {}", r.app),
            });
        };
        if status.automated {
            return Ok(Outcome::Skipped {
                app,
                reason: format!(
                    "{} syncs itself: an Argo CD rollback would be undone at once; use action revert-pr",
                    r.app
                ),
            });
        }
        let revision = match argocd_target(&status, r.change, parent) {
            Ok(revision) => revision,
            Err(reason) => return Ok(Outcome::Skipped { app, reason }),
        };
        self.argocd
            .sync(&SyncRequest {
                app: app.clone(),
                revision: Some(revision.clone()),
                initiated_by: INITIATED_BY.to_owned(),
                sync_options: self.sync_options.clone(),
            })
            .await?;
        self.tell(r, &format!("Argo CD redeploys {revision}"), r.change)
            .await;
        Ok(Outcome::RolledBackInArgoCd { app, revision })
    }

    /// The comment on the PR that brought the change, and the chat message.
    async fn tell(&self, r: &Revert<'_>, what: &str, change: &PinChange) {
        let number = match pull_number(&change.subject) {
            Some(n) => Some(n),
            None => match self.host.pull_of_commit(&change.sha).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot find the PR that brought the change");
                    None
                }
            },
        };
        if let Some(n) = number {
            // Said once: a retry after this point finds the revert branch
            // and stops before it.
            if let Err(e) = self.host.comment(n, &body::origin_comment(r, what)).await {
                tracing::warn!(pr = n, error = %e, "comment on the PR that brought the change failed");
            }
        }
        if let Some(slack) = &self.slack {
            slack
                .post(&crate::text::slack(&body::chat_message(r, what)))
                .await;
        }
    }

    /// A resolved alert whose revert PR is still open: say so on the PR.
    async fn note_resolved(&self, resolved: &[&Alert]) -> Result<Vec<Outcome>, RollbackError> {
        let open = self.host.open_pulls().await?;
        let mut out = Vec::new();
        for pr in open.iter().filter(|p| p.head.starts_with(REVERT_PREFIX)) {
            let named: Vec<&&Alert> = resolved
                .iter()
                .filter(|a| body::names_alert(&pr.body, a.fingerprint.as_ref()))
                .collect();
            if named.is_empty() {
                continue;
            }
            let lines: Vec<String> = named
                .iter()
                .map(|a| {
                    format!(
                        "- {} resolved{}",
                        crate::text::code_span(
                            a.labels.get("alertname").map(String::as_str).unwrap_or("?")
                        ),
                        a.ends_at
                            .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let text = format!(
                "Alertmanager reports resolved:\n{}\n\nThe revert may no longer be needed; merging or closing it is a person's call.",
                lines.join("\n")
            );
            let fingerprints: Vec<&str> = named.iter().map(|a| a.fingerprint.as_ref()).collect();
            let key = format!("resolved-{}", fingerprints.join("-"));
            match comment_once(self.host.as_ref(), pr.number, &key, &text).await {
                Ok(true) => out.push(Outcome::NotedResolved { pull: pr.number }),
                Ok(false) => {}
                // A note, not an action: the notification's decisions go on.
                Err(e) => tracing::warn!(pr = pr.number, error = %e, "resolved note not written"),
            }
        }
        Ok(out)
    }
}

/// The revision Argo CD deploys again to undo `change`, or why not: only
/// while the app runs the change (after a rollback it no longer does, so a
/// repeat does nothing), and only to a deployment of the version before
/// it (not merely the previous entry, which may be anything).
pub fn argocd_target(
    status: &crate::cluster::AppStatus,
    change: &PinChange,
    parent: &CommitSha,
) -> Result<String, String> {
    use crate::charts::version::Version;
    let (to, from) = (Version::parse(&change.to), Version::parse(&change.from));
    let runs_change = |r: &str| Version::parse(r) == to || r == change.sha.as_ref();
    if !status.revisions.iter().any(|r| runs_change(r)) {
        return Err(format!(
            "{} does not run {} now (it runs {}); nothing to roll back in Argo CD",
            status.name,
            change.to,
            if status.revisions.is_empty() {
                "nothing".to_owned()
            } else {
                status.revisions.join(", ")
            }
        ));
    }
    let before_change = |r: &str| Version::parse(r) == from || r == parent.as_ref();
    status
        .history
        .iter()
        .rev()
        .filter_map(|h| h.revision.as_deref())
        .find(|r| before_change(r))
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "Argo CD's history of {} has no deployment of {} to go back to",
                status.name, change.from
            )
        })
}

/// The environment of the app's pins when they are all in one.
fn only_env(pins: &[Pin], app: &str) -> Option<String> {
    let envs: BTreeSet<Option<&str>> = pins
        .iter()
        .filter(|p| p.name == app)
        .map(|p| p.env.as_deref())
        .collect();
    match envs.into_iter().collect::<Vec<_>>()[..] {
        [Some(env)] => Some(env.to_owned()),
        _ => None,
    }
}

fn head_text(head: &Head, path: &str) -> Option<String> {
    head.files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.text.clone())
}

/// The app's pinned versions with `read` files swapped in (one side of a
/// step), scanning only the folders those files are in: Terraform resolves
/// variables within a folder, YAML within a file.
fn versions(
    head: &Head,
    read: &BTreeMap<String, (Option<String>, Option<String>)>,
    app: &str,
    env: Option<&str>,
    opts: &DiscoverOptions,
    side: impl Fn(&(Option<String>, Option<String>)) -> &Option<String>,
) -> Vec<String> {
    let dir = |p: &str| {
        p.rsplit_once('/')
            .map(|(d, _)| d.to_owned())
            .unwrap_or_default()
    };
    let dirs: BTreeSet<String> = read.keys().map(|p| dir(p)).collect();
    let mut files: Vec<SourceFile> = head
        .files
        .iter()
        .filter(|f| dirs.contains(&dir(&f.path)) && !read.contains_key(&f.path))
        .cloned()
        .collect();
    for (path, sides) in read {
        if let Some(text) = side(sides) {
            files.push(SourceFile {
                path: path.clone(),
                text: text.clone(),
            });
        }
    }
    let mut out: Vec<String> = pins::scan_files(&files, opts)
        .pins
        .into_iter()
        .filter(|p| p.name == app && (env.is_none() || p.env.as_deref() == env))
        .filter_map(|p| p.version)
        .collect();
    out.sort();
    out
}

/// The PR number in a merge or squash subject: `Merge pull request #12
/// from …` or `… (#12)`.
pub fn pull_number(subject: &str) -> Option<u64> {
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let inner = subject.trim_end().strip_suffix(')')?;
    let (_, n) = inner.rsplit_once("(#")?;
    n.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::pull_number;

    #[test]
    fn argocd_rollbacks_go_back_to_the_version_before_and_only_while_the_change_runs() {
        use super::{argocd_target, PinChange};
        use crate::cluster::{AppStatus, HistoryEntry};
        use crate::domain::CommitSha;
        let sha = |c: char| CommitSha::parse(&c.to_string().repeat(40)).unwrap();
        let change = PinChange {
            sha: sha('b'),
            subject: "bump".into(),
            landed_at: chrono::Utc::now(),
            from: "6.5.0".into(),
            to: "6.6.0".into(),
            is_revert: false,
        };
        let entry = |id: i64, rev: &str| HistoryEntry {
            id,
            revision: Some(rev.into()),
            deployed_at: None,
        };
        let status = |runs: &str, history: Vec<HistoryEntry>| AppStatus {
            name: "podinfo-prod".into(),
            revisions: vec![runs.into()],
            history,
            ..AppStatus::default()
        };
        // Runs 6.6.0 after 6.4.0 and 6.5.0: back to 6.5.0, not merely the
        // entry before.
        let s = status(
            "6.6.0",
            vec![entry(1, "6.5.0"), entry(2, "6.4.0"), entry(3, "6.6.0")],
        );
        assert_eq!(argocd_target(&s, &change, &sha('a')), Ok("6.5.0".into()));
        // Already rolled back: a repeat does nothing.
        let s = status(
            "6.5.0",
            vec![entry(1, "6.5.0"), entry(2, "6.6.0"), entry(3, "6.5.0")],
        );
        assert_eq!(
            argocd_target(&s, &change, &sha('a')),
            Err("podinfo-prod does not run 6.6.0 now (it runs 6.5.0); nothing to roll back in Argo CD".into())
        );
        // No deployment of the version before.
        let s = status("6.6.0", vec![entry(1, "6.6.0")]);
        assert!(argocd_target(&s, &change, &sha('a'))
            .unwrap_err()
            .contains("no deployment of 6.5.0"));
        // A git source: commits instead of versions.
        let s = status(
            sha('b').as_ref(),
            vec![entry(1, sha('a').as_ref()), entry(2, sha('b').as_ref())],
        );
        assert_eq!(
            argocd_target(&s, &change, &sha('a')),
            Ok(sha('a').to_string())
        );
    }

    #[test]
    fn pr_numbers_come_from_merge_and_squash_subjects() {
        assert_eq!(
            pull_number("Merge pull request #12 from acme/chartpilot/upgrade/dev/podinfo-6.6.0"),
            Some(12)
        );
        assert_eq!(
            pull_number("chore(deps): upgrade podinfo to 6.6.0 in prod (#31)"),
            Some(31)
        );
        assert_eq!(pull_number("chore(deps): upgrade podinfo to 6.6.0"), None);
        assert_eq!(pull_number("fix (#abc)"), None);
    }
}
