//! The parts of the Argo CD server's JSON that chartpilot writes, and its
//! error body. Applications are read by `cluster::application`.

use serde::{Deserialize, Serialize};

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
