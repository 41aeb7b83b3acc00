//! What a pass does to upgrade PRs that already exist: bring a branch up
//! to date, close PRs superseded by a newer one or no longer needed.

use super::body::commit_message;
use super::changes::edits;
use super::plan::Group;
use super::report::{Action, Report};
use super::run::{UpgradeError, Upgrader};
use crate::domain::CommitSha;
use crate::git::{GitError, PullRequest};
use crate::pins::SourceFile;

impl Upgrader {
    /// A merge of the base into the branch whose tree is the base with
    /// the group's edits: the PR's diff is again exactly the version
    /// tokens of today's pins. Three calls: branch, tree + commit, ref.
    pub(super) async fn refresh_branch(
        &self,
        group: &Group,
        branch: &str,
        head: &CommitSha,
        files: &[SourceFile],
    ) -> Result<(), UpgradeError> {
        let Some(tip) = self.host.branch_head(branch).await? else {
            return Err(GitError::NotFound(format!("branch {branch}")).into());
        };
        let changes = edits(files, group, &self.discover)?;
        let sha = self
            .host
            .merge_commit(&tip, head, &commit_message(group), &changes)
            .await?;
        self.host.update_branch(branch, &sha).await?;
        tracing::info!(branch, commit = %sha, "upgrade branch brought up to date");
        Ok(())
    }

    /// Closes the older PRs of the same chart and environment, each with a
    /// comment pointing at the one that replaces it.
    pub(super) async fn supersede(
        &self,
        older: &[&PullRequest],
        successor: u64,
        successor_title: &str,
        dry_run: bool,
        report: &mut Report,
    ) -> Result<(), UpgradeError> {
        for pr in older {
            if dry_run {
                report.actions.push(Action::WouldClose {
                    number: pr.number,
                    branch: pr.head.clone(),
                    why: "superseded".into(),
                });
                continue;
            }
            let comment = format!(
                "Superseded by #{successor}: {}. Closed by chartpilot.",
                successor_title
            );
            self.host.close_pull(pr.number, &comment).await?;
            report.actions.push(Action::Closed {
                number: pr.number,
                branch: pr.head.clone(),
                successor,
            });
        }
        Ok(())
    }

    /// Closes PRs whose pins already read their version or newer, each
    /// with a comment saying so.
    pub(super) async fn close_obsolete(
        &self,
        obsolete: Vec<(u64, String, String)>,
        dry_run: bool,
        report: &mut Report,
    ) -> Result<(), UpgradeError> {
        for (number, branch, reason) in obsolete {
            if dry_run {
                report.actions.push(Action::WouldClose {
                    number,
                    branch,
                    why: format!("no longer needed: {reason}"),
                });
                continue;
            }
            let comment = format!("No longer needed: {reason}. Closed by chartpilot.");
            match self.host.close_pull(number, &comment).await {
                Ok(()) => report.actions.push(Action::Obsolete {
                    number,
                    branch,
                    reason,
                }),
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => report.errors.push(format!("{branch}: {e}")),
            }
        }
        Ok(())
    }
}
