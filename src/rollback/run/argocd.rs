//! `action = "argocd-rollback"`: Argo CD deploys the version before the
//! change again, git unchanged.

use super::{Outcome, RollbackError, Rollbacker};
use crate::cluster::SyncRequest;
use crate::domain::CommitSha;
use crate::rollback::body::Revert;
use crate::rollback::decide::PinChange;
use crate::sync::run::INITIATED_BY;

impl Rollbacker {
    /// Argo CD deploys the app's previous revision again: for apps without
    /// auto-sync (which would undo it at once), git unchanged.
    pub(super) async fn argocd_rollback(
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

#[cfg(test)]
mod tests {
    #[test]
    fn argocd_rollbacks_go_back_to_the_version_before_and_only_while_the_change_runs() {
        use super::argocd_target;
        use crate::cluster::{AppStatus, HistoryEntry};
        use crate::domain::CommitSha;
        use crate::rollback::decide::PinChange;
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
}
