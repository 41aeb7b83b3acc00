//! The parts of the Argo CD server's JSON that chartpilot reads or writes.
//! Every field is optional on the way in: a server version that leaves one
//! out yields an empty value, never a failed parse.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cluster::{AppStatus, HistoryEntry};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Application {
    metadata: Metadata,
    spec: Spec,
    status: Status,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    name: String,
    // `null` is how Go encodes an empty map; Option absorbs it.
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Spec {
    sync_policy: Option<SyncPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SyncPolicy {
    automated: Option<Automated>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Automated {
    /// Argo CD 3.1+ can keep the block but switch it off; unset means on.
    enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Status {
    sync: Option<SyncStatus>,
    health: Option<Health>,
    operation_state: Option<OperationState>,
    history: Option<Vec<History>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SyncStatus {
    status: Option<String>,
    revision: Option<String>,
    revisions: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Health {
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct OperationState {
    phase: Option<String>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct History {
    id: i64,
    revision: Option<String>,
    revisions: Option<Vec<String>>,
    deployed_at: Option<DateTime<Utc>>,
}

/// Argo CD's "no value" for status strings, so a missing field reads the
/// same as one the controller has not computed yet.
const UNKNOWN: &str = "Unknown";

/// Multi-source apps carry `revisions` instead of `revision`; the first
/// source is the one chartpilot's pins point at.
fn first_revision(single: Option<String>, many: Option<Vec<String>>) -> Option<String> {
    single
        .filter(|r| !r.is_empty())
        .or_else(|| many.and_then(|m| m.into_iter().find(|r| !r.is_empty())))
}

impl Application {
    pub(super) fn into_status(self, requested: &str) -> AppStatus {
        let Application {
            metadata,
            spec,
            status,
        } = self;
        let sync = status.sync.unwrap_or_default();
        let operation = status.operation_state.unwrap_or_default();
        let automated = spec
            .sync_policy
            .and_then(|p| p.automated)
            .is_some_and(|a| a.enabled != Some(false));
        AppStatus {
            name: if metadata.name.is_empty() {
                requested.to_owned()
            } else {
                metadata.name
            },
            sync: sync.status.unwrap_or_else(|| UNKNOWN.to_owned()),
            health: status
                .health
                .and_then(|h| h.status)
                .unwrap_or_else(|| UNKNOWN.to_owned()),
            revision: first_revision(sync.revision, sync.revisions),
            operation_phase: operation.phase,
            operation_finished_at: operation.finished_at,
            automated,
            history: status
                .history
                .unwrap_or_default()
                .into_iter()
                .map(|h| HistoryEntry {
                    id: h.id,
                    revision: first_revision(h.revision, h.revisions),
                    deployed_at: h.deployed_at,
                })
                .collect(),
            labels: metadata.labels.unwrap_or_default(),
        }
    }
}

/// `ApplicationSyncRequest` as the server's JSON gateway takes it; the app
/// name travels in the path.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SyncBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<&'a str>,
    /// Never prune from an automatic sync: deleting resources is a
    /// decision for a person or the app's own sync policy.
    pub prune: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_options: Option<SyncOptions<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct SyncOptions<'a> {
    pub items: &'a [String],
}

/// The gRPC gateway's error body; only the message is shown to people.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ErrorBody {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub error: Option<String>,
}
