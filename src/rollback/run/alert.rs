//! One app's alerts: the pin's recent steps in git, chartpilot's earlier
//! work, whether Alertmanager still reports them, the decision.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{
    revert_branch, Head, Outcome, RollbackError, Rollbacker, Step, MAX_STILL_FIRING_CHECKS,
    REVERT_PREFIX,
};
use crate::alerts::Matcher;
use crate::domain::CommitSha;
use crate::git::{PullRequest, PullState};
use crate::jobs::{Alert, AlertStatus};
use crate::pins::{self, DiscoverOptions, Pin, SourceFile};
use crate::rollback::body::Revert;
use crate::rollback::decide::{
    before, decide, is_revert_message, AlertView, Decision, DecisionInput, PinChange,
};
use crate::settings::RollbackAction;

impl Rollbacker {
    pub(super) async fn for_app(
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
            Some(s) => self.existing_revert(s).await?,
            None => None,
        };
        let still_firing = if firing.is_empty() {
            None
        } else {
            self.still_firing(&firing).await
        };
        let freeze = env.and_then(|e| head.freezes.get(e));
        let described = existing.as_ref().map(describe_revert);
        let input = DecisionInput {
            app,
            env,
            alerts: &views,
            changes: &changes,
            existing: described.as_deref(),
            still_firing,
            freeze,
            now,
            rollout_window: self.policy.rollout_window,
            cooldown: self.policy.cooldown,
            dry_run: self.policy.dry_run,
        };
        let (commit, reason) = match decide(&input) {
            Decision::Skip { reason } => {
                if let Some(pr) = existing.as_ref().filter(|p| p.state == PullState::Open) {
                    self.tell_if_untold(&input, pr, &steps, &firing).await;
                }
                return Ok(skipped(reason));
            }
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

    /// The revert these alerts want is open already. A run that stopped
    /// after GitHub opened it (the answer lost) never told anyone: tell
    /// now, where it was not told.
    async fn tell_if_untold(
        &self,
        input: &DecisionInput<'_>,
        pr: &PullRequest,
        steps: &[Step],
        firing: &[&Alert],
    ) {
        let wanted = decide(&DecisionInput {
            existing: None,
            ..input.clone()
        });
        let Decision::Revert { commit, reason } = wanted else {
            return;
        };
        let Some(step) = steps.iter().find(|s| s.change.sha == commit) else {
            return;
        };
        let r = Revert {
            app: input.app,
            env: input.env,
            change: &step.change,
            reason: &reason,
            alerts: firing,
        };
        self.tell_untold(&r, pr, step).await;
    }

    /// The first-parent steps since `since` that moved the app's pin,
    /// newest first. One `changed_paths` call per step, and the app's pin
    /// files read at a step and its parent only where a step touched them.
    pub(super) async fn pin_steps(
        &self,
        head: &Head,
        app: &str,
        env: Option<&str>,
        pins: &[&Pin],
        since: DateTime<Utc>,
    ) -> Result<Vec<Step>, RollbackError> {
        let pin_files: BTreeSet<&str> = pins.iter().map(|p| p.file.as_str()).collect();
        let paths: Vec<String> = pin_files.iter().map(|p| (*p).to_owned()).collect();
        let mut steps = Vec::new();
        let found_steps = self
            .host
            .path_steps(&head.sha, since, &paths, Some(REVERT_PREFIX))
            .await?;
        for found in found_steps {
            let mut read = BTreeMap::new();
            for (path, (at_step, at_parent)) in found.contents {
                let text = |b: Option<Vec<u8>>| match b {
                    None => Ok(None),
                    Some(bytes) => String::from_utf8(bytes)
                        .map(Some)
                        .map_err(|_| RollbackError::NotText(path.clone())),
                };
                let versions = (text(at_step)?, text(at_parent)?);
                read.insert(path, versions);
            }
            let after = versions(head, &read, app, env, &self.discover, |v| &v.0);
            let before = versions(head, &read, app, env, &self.discover, |v| &v.1);
            if after == before {
                continue;
            }
            // Every file the step changed, for the revert: only for the
            // steps that moved the pin.
            let changed = self
                .host
                .changed_paths(&found.parent, &found.commit.sha)
                .await?;
            let commit = found.commit;
            steps.push(Step {
                change: PinChange {
                    sha: commit.sha.clone(),
                    subject: commit.message.lines().next().unwrap_or("").to_owned(),
                    landed_at: commit.committed_at,
                    from: before.join(", "),
                    to: after.join(", "),
                    is_revert: is_revert_message(&commit.message),
                },
                parent: found.parent,
                changed,
                read,
                pulls: found.pulls,
            });
        }
        Ok(steps)
    }

    /// A file's text; a file that is not UTF-8 is refused, never mangled
    /// into a revert.
    pub(super) async fn text(
        &self,
        rev: &CommitSha,
        path: &str,
    ) -> Result<Option<String>, RollbackError> {
        match self.host.read_file(rev, path).await? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| RollbackError::NotText(path.to_owned())),
        }
    }

    /// chartpilot's revert PR of the step, in any state (even with its
    /// branch deleted): as the history read found it, else asked. A branch
    /// left without its PR (a run that stopped between the two) is not an
    /// answer: the revert resumes and opens it.
    pub(super) async fn existing_revert(
        &self,
        step: &Step,
    ) -> Result<Option<PullRequest>, RollbackError> {
        if let Some(pulls) = &step.pulls {
            return Ok(pulls.by_branch.clone());
        }
        let branch = revert_branch(&step.change.sha);
        Ok(self.host.find_pull(&branch).await?)
    }

    /// Whether Alertmanager still reports any of the alerts firing; None
    /// when it is not configured or does not answer (then the notification
    /// is taken at its word).
    pub(super) async fn still_firing(&self, firing: &[&Alert]) -> Option<bool> {
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

/// `revert PR #12 (open)`, for the reasons that name an earlier revert.
pub(super) fn describe_revert(pr: &PullRequest) -> String {
    format!(
        "revert PR #{} ({})",
        pr.number,
        match pr.state {
            PullState::Open => "open",
            PullState::Closed => "closed by a person",
            PullState::Merged => "merged",
        }
    )
}
