//! The revert itself: the three-way revert of the step's files, then a
//! revert PR, or a push and a sync.

use super::notice::{origin_notice, revert_pr_text};
use super::{head_text, revert_branch, Head, Outcome, RollbackError, Rollbacker, Step};
use crate::cluster::SyncRequest;
use crate::domain::CommitSha;
use crate::git::{NewPull, PullRequest, RevertOpened, RevertWrite, Tell};
use crate::rollback::body::{self, Revert};
use crate::rollback::revert::{revert_files, FileVersions};
use crate::sync::affected::{apps_in, SyncAt};
use crate::sync::run::INITIATED_BY;

impl Rollbacker {
    /// Builds the revert and opens its PR (or pushes it), then tells the
    /// PR that introduced the change, and chat.
    pub(super) async fn revert(
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
                // Another file of the step: read at the step (a newer
                // commit may have changed it since) and at its parent.
                None => (
                    self.text(&commit, &c.path).await?,
                    self.text(&step.parent, &c.path).await?,
                ),
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
                tracing::error!(event = "rollback_needs_person", app = %app, %reason, "rollback needs a person");
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
        if push {
            let base = self.host.base_branch();
            let sha = self
                .host
                .push_commit(base, &head.sha, &message, &edits)
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
        let branch = revert_branch(&commit);
        let origin = self.origin_of(step).await;
        let say = |pr: &PullRequest| origin_notice(r, &step.change, pr);
        let pull = NewPull {
            head: branch,
            base: self.host.base_branch().to_owned(),
            title: body::title(&step.change),
            body: body::pr_body(r),
            labels: self.labels.clone(),
        };
        let write = RevertWrite {
            parent: &head.sha,
            message: &message,
            changes: &edits,
            pull: &pull,
            tell: origin.map(|(number, _)| Tell { number, say: &say }),
        };
        match self.host.open_revert(&write).await? {
            // Another delivery got there first: its PR stands.
            RevertOpened::Existing(pr) => Ok(Outcome::Skipped {
                app,
                reason: format!(
                    "{} is already being reverted: revert PR #{}",
                    commit.short(),
                    pr.number
                ),
            }),
            RevertOpened::Opened { pull, told } => {
                tracing::info!(app = %app, pr = pull.number, reverted = %commit, "revert PR opened");
                // Chat goes out with the comment: not when the comment was
                // there already (an earlier run told).
                if told.unwrap_or(true) {
                    self.chat(r, &revert_pr_text(&pull)).await;
                }
                Ok(Outcome::Reverted {
                    app,
                    commit,
                    pull: Some(pull.number),
                    pushed: None,
                })
            }
        }
    }

    pub(super) async fn head_or_read(
        &self,
        head: &Head,
        path: &str,
    ) -> Result<Option<String>, RollbackError> {
        match head_text(head, path) {
            Some(t) => Ok(Some(t)),
            None => self.text(&head.sha, path).await,
        }
    }

    /// A pushed revert deploys now: the app syncs to what git says again.
    pub(super) async fn sync_after_push(
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
}
