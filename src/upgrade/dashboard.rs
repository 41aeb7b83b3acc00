//! After a pass: the dashboard issue, created once and edited only when
//! its content changed. Its trouble is a warning of the pass, never its
//! failure: the PRs matter more than their summary.

use super::report::Action;
use super::run::{Report, Upgrader};
use crate::dashboard::{self, LABEL, MARKER, TITLE};
use crate::git::PullRequest;
use crate::matrix::Matrix;

impl Upgrader {
    /// The matrix with the PRs open after the pass, for the status page
    /// and the dashboard issue (not written in a dry run).
    pub(super) async fn after_pass(
        &self,
        mut matrix: Matrix,
        open_before: Vec<PullRequest>,
        dry_run: bool,
        report: &mut Report,
    ) {
        let dashboard = self.upgrade.dashboard && !dry_run;
        if !dashboard && self.status.get().is_none() {
            return;
        }
        let open = match self.open_after(open_before.clone(), report).await {
            Ok(open) => open,
            Err(e) => {
                // The status page still gets the cells, with the PRs known
                // before the pass; the dashboard waits for a pass that can
                // read them.
                tracing::warn!(error = %e, "open PRs not read again after the pass");
                report
                    .warnings
                    .push(format!("open PRs not read again: {e}"));
                crate::matrix::attach_pulls(&mut matrix, &open_before);
                if let Some(status) = self.status.get() {
                    status.set_matrix(&self.repository, self.clock.now(), matrix);
                }
                return;
            }
        };
        crate::matrix::attach_pulls(&mut matrix, &open);
        if dashboard {
            if let Err(e) = self.dashboard(&matrix, &open).await {
                tracing::warn!(error = %e, "dashboard issue not updated");
                report
                    .warnings
                    .push(format!("dashboard issue not updated: {e}"));
            }
        }
        if let Some(status) = self.status.get() {
            status.set_matrix(&self.repository, self.clock.now(), matrix);
        }
    }

    /// chartpilot's open PRs, newest first: those read before the pass,
    /// or read again when the pass opened or closed any.
    async fn open_after(
        &self,
        open_before: Vec<PullRequest>,
        report: &Report,
    ) -> Result<Vec<PullRequest>, crate::git::GitError> {
        let changed = report.actions.iter().any(|a| {
            matches!(
                a,
                Action::Opened { .. } | Action::Closed { .. } | Action::Obsolete { .. }
            )
        });
        let mut open = if changed {
            self.open_upgrade_pulls().await?
        } else {
            open_before
        };
        open.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(open)
    }

    async fn dashboard(
        &self,
        matrix: &Matrix,
        open: &[PullRequest],
    ) -> Result<(), crate::git::GitError> {
        let body = dashboard::render(matrix, open);
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
