//! Argo CD: read an Application's state, sync it, refresh it. One trait,
//! three implementations: `kube` (Application resources through the
//! Kubernetes API), `api` (the Argo CD server's REST API), `none` (log
//! only). Field names follow `applications.argoproj.io/v1alpha1`.

pub mod api;
mod application;
pub mod kube;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What chartpilot reads of an Application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppStatus {
    pub name: String,
    /// `status.sync.status`: `Synced`, `OutOfSync`, `Unknown`.
    pub sync: String,
    /// `status.health.status`: `Healthy`, `Progressing`, `Degraded`,
    /// `Suspended`, `Missing`, `Unknown`.
    pub health: String,
    /// `status.sync.revision` (or the first of `revisions` for multi-source).
    pub revision: Option<String>,
    /// Every deployed revision: `revision` alone, or one per source of a
    /// multi-source app (commits for git sources, chart versions for Helm).
    pub revisions: Vec<String>,
    /// `status.operationState.phase`: `Running`, `Succeeded`, `Failed`,
    /// `Error`, `Terminating`.
    pub operation_phase: Option<String>,
    pub operation_finished_at: Option<DateTime<Utc>>,
    /// `spec.syncPolicy.automated` is set.
    pub automated: bool,
    /// `status.history`, oldest first.
    pub history: Vec<HistoryEntry>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: i64,
    pub revision: Option<String>,
    pub deployed_at: Option<DateTime<Utc>>,
}

/// A sync chartpilot asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub app: String,
    /// The git revision to sync to (the push's commit); None: the app's
    /// target revision.
    pub revision: Option<String>,
    /// Who asked, for `operation.initiatedBy.username`.
    pub initiated_by: String,
    /// `syncOptions`, from `argocd.sync_options`.
    pub sync_options: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    /// No such app, or (API mode) one the token may not see: Argo CD
    /// answers both alike.
    #[error("Argo CD application `{0}` not found (or not visible to chartpilot's token)")]
    NotFound(String),
    /// Network trouble, a 5xx, an operation already running: worth a retry.
    #[error("Argo CD unavailable: {0}")]
    Unavailable(String),
    /// Bad credentials, missing permission, invalid request: a person acts.
    #[error("Argo CD refused: {0}")]
    Refused(String),
}

impl ArgoError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ArgoError::Unavailable(_))
    }
}

#[async_trait]
pub trait ArgoCd: Send + Sync {
    /// `kube:<namespace>`, `api:<url>` or `none`, for logs.
    fn describe(&self) -> String;

    /// The Application's state, or None when there is no such app.
    async fn status(&self, app: &str) -> Result<Option<AppStatus>, ArgoError>;

    /// Starts a sync (an operation, as the Argo CD server writes it).
    async fn sync(&self, request: &SyncRequest) -> Result<(), ArgoError>;

    /// Asks Argo CD to compare the app with git again now (`normal`
    /// refresh), for apps that sync themselves.
    async fn refresh(&self, app: &str) -> Result<(), ArgoError>;
}

/// `argocd.mode = "none"`: every call is logged and succeeds; status is
/// unknown.
#[derive(Debug, Default)]
pub struct LogOnly;

#[async_trait]
impl ArgoCd for LogOnly {
    fn describe(&self) -> String {
        "none".into()
    }

    async fn status(&self, app: &str) -> Result<Option<AppStatus>, ArgoError> {
        tracing::info!(app, "argocd.mode = none: status unknown");
        Ok(None)
    }

    async fn sync(&self, request: &SyncRequest) -> Result<(), ArgoError> {
        tracing::info!(app = %request.app, revision = request.revision.as_deref(), "argocd.mode = none: would sync");
        Ok(())
    }

    async fn refresh(&self, app: &str) -> Result<(), ArgoError> {
        tracing::info!(app, "argocd.mode = none: would refresh");
        Ok(())
    }
}

/// The client `argocd.mode` names.
pub async fn from_settings(
    settings: &crate::settings::ArgocdSettings,
) -> Result<std::sync::Arc<dyn ArgoCd>, ArgoError> {
    use crate::settings::ArgocdMode;
    match settings.mode {
        ArgocdMode::None => Ok(std::sync::Arc::new(LogOnly)),
        ArgocdMode::Api => Ok(std::sync::Arc::new(api::ApiClient::new(settings)?)),
        ArgocdMode::Kube => Ok(std::sync::Arc::new(kube::KubeClient::new(settings).await?)),
    }
}
