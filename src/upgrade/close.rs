//! Closing upgrade PRs: superseded by a newer one, or no longer needed.

use super::report::{Action, Report};
use super::run::{UpgradeError, Upgrader};
use crate::git::PullRequest;

impl Upgrader {
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
                report.actions.push(Action::WouldClose { number, branch });
                continue;
            }
            let comment = format!("No longer needed: {reason}. Closed by chartpilot.");
            self.host.close_pull(number, &comment).await?;
            report.actions.push(Action::Obsolete {
                number,
                branch,
                reason,
            });
        }
        Ok(())
    }
}
