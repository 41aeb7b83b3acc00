//! An Application as chartpilot reads it, the same from the Kubernetes API
//! and from the Argo CD server (both return the CRD object). Every field is
//! optional on the way in: a version that leaves one out yields an empty
//! value, never a failed parse.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AppStatus, HistoryEntry};

/// Operation phases during which a new sync must not be started.
const PHASES_IN_PROGRESS: [&str; 2] = ["Running", "Terminating"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Application {
    metadata: Metadata,
    spec: Spec,
    status: Status,
    /// A pending operation: set by whoever asked for a sync, cleared by
    /// the controller when it starts.
    operation: Option<serde_json::Value>,
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
    /// Whether an operation is asked for or still running: a sync now
    /// would overwrite it.
    pub(crate) fn operation_in_progress(&self) -> bool {
        self.operation.is_some()
            || self
                .status
                .operation_state
                .as_ref()
                .and_then(|o| o.phase.as_deref())
                .is_some_and(|p| PHASES_IN_PROGRESS.contains(&p))
    }

    pub(crate) fn into_status(self, requested: &str) -> AppStatus {
        let Application {
            metadata,
            spec,
            status,
            ..
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
            revisions: sync
                .revision
                .iter()
                .chain(sync.revisions.iter().flatten())
                .filter(|r| !r.is_empty())
                .cloned()
                .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_revision_prefers_single_then_first_non_empty_of_many() {
        let many = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(
            first_revision(Some("a".into()), many(&["b"])).as_deref(),
            Some("a")
        );
        assert_eq!(
            first_revision(Some(String::new()), many(&["", "b"])).as_deref(),
            Some("b")
        );
        assert_eq!(first_revision(None, None), None);
    }

    #[test]
    fn operations_asked_for_or_running_block_a_new_sync() {
        let app = |v: serde_json::Value| Application::deserialize(v).unwrap_or_default();
        assert!(app(serde_json::json!({"operation": {"sync": {}}})).operation_in_progress());
        assert!(
            app(serde_json::json!({"status": {"operationState": {"phase": "Running"}}}))
                .operation_in_progress()
        );
        assert!(
            !app(serde_json::json!({"status": {"operationState": {"phase": "Succeeded"}}}))
                .operation_in_progress()
        );
        let s = app(serde_json::json!({})).into_status("x");
        assert_eq!(
            (s.name.as_str(), s.sync.as_str(), s.health.as_str()),
            ("x", "Unknown", "Unknown")
        );
    }
}
