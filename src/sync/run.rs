//! A push to the base branch: sync the Applications it changed. Apps that
//! sync themselves get a refresh instead (unless `argocd.sync_automated`),
//! so Argo CD notices the commit now rather than at its next poll.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::affected::{affected, apps_in, AppRef, SyncAt};
use crate::cluster::{ArgoCd, ArgoError, SyncRequest};
use crate::git::{read_files, GitError, GitHost, ReadError};
use crate::jobs::Push;
use crate::pins::SourceFile;
use crate::settings::ArgocdSettings;

/// The name in `operation.initiatedBy.username`, so people reading Argo
/// CD's history see who synced.
pub const INITIATED_BY: &str = "chartpilot";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub synced: Vec<String>,
    pub refreshed: Vec<String>,
    /// Apps in the changed files that Argo CD does not know.
    pub unknown: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Argo(#[from] ArgoError),
    #[error("cannot read the snapshot: {0}")]
    Snapshot(String),
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Git(e) => e.is_transient(),
            SyncError::Argo(e) => e.is_transient(),
            SyncError::Snapshot(_) => false,
        }
    }
}

pub struct Syncer {
    pub host: Arc<dyn GitHost>,
    pub argocd: Arc<dyn ArgoCd>,
    pub settings: ArgocdSettings,
}

impl Syncer {
    /// Syncs (or refreshes) every app the push changed, at the pushed
    /// commit. Pushes to other branches change nothing deployed.
    pub async fn on_push(&self, push: &Push) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        if push.deleted || push.git_ref != format!("refs/heads/{}", self.host.base_branch()) {
            return Ok(report);
        }
        let after = self.read(push.after.clone()).await?;
        let listed: BTreeSet<String> = push
            .commits
            .iter()
            .flat_map(|c| c.added.iter().chain(&c.modified).chain(&c.removed))
            .cloned()
            .collect();
        // GitHub leaves file lists out past 20 commits: compare the trees.
        let changed: Vec<String> = if listed.is_empty() && !push.commits.is_empty() {
            let before = self.read(push.before.clone()).await?;
            changed_between(&before, &after)
        } else {
            listed.into_iter().collect()
        };
        let apps: Vec<AppRef> = after
            .iter()
            .filter(|f| f.path.ends_with(".yaml") || f.path.ends_with(".yml"))
            .flat_map(|f| apps_in(&f.path, &f.text))
            .collect();
        for app in affected(&changed, &apps) {
            let Some(status) = self.argocd.status(&app).await? else {
                tracing::warn!(app = %app, "changed in git but unknown to Argo CD");
                report.unknown.push(app);
                continue;
            };
            if status.automated && !self.settings.sync_automated {
                self.argocd.refresh(&app).await?;
                report.refreshed.push(app);
                continue;
            }
            let revision = match apps.iter().find(|a| a.name == app).map(|a| &a.sync_at) {
                Some(SyncAt::Chart(version)) => Some(version.clone()),
                Some(SyncAt::Spec) => None,
                Some(SyncAt::Commit) | None => Some(push.after.to_string()),
            };
            self.argocd
                .sync(&SyncRequest {
                    app: app.clone(),
                    revision: revision.clone(),
                    initiated_by: INITIATED_BY.to_owned(),
                    sync_options: self.settings.sync_options.clone(),
                })
                .await?;
            tracing::info!(app = %app, revision = revision.as_deref(), commit = %push.after, "sync requested");
            report.synced.push(app);
        }
        Ok(report)
    }

    async fn read(&self, rev: crate::domain::CommitSha) -> Result<Vec<SourceFile>, SyncError> {
        let (files, _) = read_files(self.host.as_ref(), &rev)
            .await
            .map_err(|e| match e {
                ReadError::Git(e) => SyncError::Git(e),
                ReadError::Local(e) => SyncError::Snapshot(e),
            })?;
        Ok(files)
    }
}

/// Paths added, removed or changed between two snapshots.
fn changed_between(before: &[SourceFile], after: &[SourceFile]) -> Vec<String> {
    let old: std::collections::BTreeMap<&str, &str> = before
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    let new: std::collections::BTreeMap<&str, &str> = after
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    old.keys()
        .chain(new.keys())
        .filter(|p| old.get(*p) != new.get(*p))
        .map(|p| (*p).to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests;
