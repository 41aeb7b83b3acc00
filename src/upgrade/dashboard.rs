//! After a pass: the dashboard issue, created once and edited only when
//! its content changed. Its trouble is a warning of the pass, never its
//! failure: the PRs matter more than their summary.

use super::report::Action;
use super::run::{Report, Upgrader};
use crate::dashboard::{self, LABEL, MARKER, TITLE};
use crate::git::PullRequest;
use crate::matrix::Matrix;
use crate::upgrade::plan::BRANCH_PREFIX;

impl Upgrader {
    pub(super) async fn keep_dashboard(
        &self,
        matrix: &Matrix,
        open_before: Vec<PullRequest>,
        report: &mut Report,
    ) {
        if let Err(e) = self.dashboard(matrix, open_before, report).await {
            tracing::warn!(error = %e, "dashboard issue not updated");
            report
                .warnings
                .push(format!("dashboard issue not updated: {e}"));
        }
    }

    async fn dashboard(
        &self,
        matrix: &Matrix,
        open_before: Vec<PullRequest>,
        report: &Report,
    ) -> Result<(), crate::git::GitError> {
        // The PRs this pass opened or closed change the list: read it again
        // then, and only then.
        let changed = report.actions.iter().any(|a| {
            matches!(
                a,
                Action::Opened { .. } | Action::Closed { .. } | Action::Obsolete { .. }
            )
        });
        let mut open = if changed {
            self.host
                .open_pulls()
                .await?
                .into_iter()
                .filter(|p| p.head.starts_with(BRANCH_PREFIX))
                .collect()
        } else {
            open_before
        };
        open.sort_by_key(|p| std::cmp::Reverse(p.number));
        let body = dashboard::render(matrix, &open);
        match self.host.find_issue(LABEL, MARKER).await? {
            Some(issue) if issue.body == body => {}
            Some(issue) => {
                self.host.edit_issue(issue.number, &body).await?;
            }
            None => {
                self.host
                    .create_issue(TITLE, &body, &[LABEL.to_owned()])
                    .await?;
            }
        }
        Ok(())
    }
}
