//! Carrying an Alertmanager notification out: which apps its alerts are
//! about, what git says changed their pins, the decision, then the revert
//! (a PR, a push, or an Argo CD rollback) and the messages about it.

mod alert;
mod argocd;
mod fields;
mod notice;
mod revert_step;

pub use argocd::argocd_target;
pub use notice::pull_number;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::body::Revert;
use super::decide::PinChange;
use super::rules::{Miss, Rules};
use crate::alerts::AlertmanagerClient;
use crate::clock::Clock;
use crate::cluster::{ArgoCd, ArgoError};
use crate::domain::CommitSha;
use crate::git::{read_branch_files, ChangedPath, GitError, GitHost, ReadError, StepPulls};
use crate::jobs::{Alert, AlertNotification, AlertStatus};
use crate::notify::SlackWebhook;
use crate::pins::{self, DiscoverOptions, Pin, PinKind, SourceFile};
use crate::promote::freeze::Freezes;
use crate::settings::{PolicySettings, RollbackAction};

/// Branch prefix of every revert PR; the rest is the full commit id.
pub const REVERT_PREFIX: &str = "chartpilot/revert/";

/// The branch of the revert PR of `commit`.
fn revert_branch(commit: &CommitSha) -> String {
    format!("{REVERT_PREFIX}{commit}")
}

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
    /// `(at the step, at the parent)` for the files already read (the pin
    /// files it changed).
    read: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Its revert PR and the PR that brought it, when the history read
    /// them.
    pulls: Option<StepPulls>,
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
            tracing::info!(event = "rollback_decision", app = %app, outcome = outcome.kind(), commit = outcome.commit_short(), pull = outcome.pull(), detail = outcome.detail(), "rollback decision");
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
        if let Some(existing) = self.existing_revert(&step).await? {
            return Ok(skipped(format!(
                "{} is already being reverted: {}",
                step.change.sha.short(),
                alert::describe_revert(&existing)
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
        let (sha, files) = read_branch_files(self.host.as_ref(), &base)
            .await?
            .ok_or_else(|| RollbackError::Snapshot(format!("branch {base} does not exist")))?;
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
