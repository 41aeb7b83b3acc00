//! Job payloads: only what chartpilot's handlers read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AlertFingerprint, CommitSha};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// `owner/name`.
    pub repository: String,
    /// Full ref, e.g. `refs/heads/main`.
    pub git_ref: String,
    pub before: CommitSha,
    pub after: CommitSha,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    pub commits: Vec<PushCommit>,
    pub sender: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushCommit {
    pub id: CommitSha,
    pub message: String,
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub repository: String,
    pub action: String,
    pub number: u64,
    pub title: String,
    pub merged: bool,
    pub merge_commit_sha: Option<CommitSha>,
    pub head_ref: String,
    pub head_sha: CommitSha,
    pub base_ref: String,
    pub author: String,
    pub labels: Vec<String>,
    /// The description, for the check's release-notes rule; jobs queued
    /// before it was carried have none.
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueComment {
    pub repository: String,
    pub action: String,
    pub issue_number: u64,
    pub on_pull_request: bool,
    pub comment_id: Option<u64>,
    pub body: String,
    pub author: String,
    /// `Bot` for GitHub Apps, so the worker never answers itself.
    pub author_type: String,
}

/// Boxes a person ticked in the dashboard issue: each asks for one
/// upgrade PR now, as the chat `upgrade` verb would, as that person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardTick {
    pub repository: String,
    pub issue_number: u64,
    pub author: String,
    /// Chat commands (`upgrade web to 1.2.0 prod`), at most
    /// `dashboard::MAX_TICKS_PER_EDIT`.
    pub commands: Vec<String>,
    /// Ticked boxes beyond the bound, not acted on.
    #[serde(default)]
    pub dropped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl std::fmt::Display for AlertStatus {
    /// As Alertmanager spells it, for log fields.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        })
    }
}

/// One Alertmanager webhook notification (payload version 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotification {
    pub receiver: String,
    pub status: AlertStatus,
    pub group_key: String,
    pub truncated_alerts: u64,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub notification_reason: Option<String>,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    /// None while firing (Alertmanager sends Go's zero time then).
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
    pub fingerprint: AlertFingerprint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatSource {
    Slack,
    Generic,
    Github,
}

impl std::fmt::Display for ChatSource {
    /// As the payload spells it, for log fields.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChatSource::Slack => "slack",
            ChatSource::Generic => "generic",
            ChatSource::Github => "github",
        })
    }
}

/// A `/chartpilot …` command from any chat source, before parsing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCommand {
    pub source: ChatSource,
    /// Stable user id (Slack `user_id`, GitHub login, generic `user`).
    pub user: String,
    pub user_name: Option<String>,
    pub text: String,
    pub reply_url: Option<String>,
    pub channel: Option<String>,
}

/// One upgrade pass over the configured repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeRequest {
    /// Why it runs (`schedule`, `push <sha>`, `chat <user>`), for the log.
    pub reason: String,
}

/// Whether a version merged in one environment may go to the next; run
/// again (deferred) until it promotes, or gives up at `deadline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCheck {
    pub chart: String,
    pub version: String,
    pub from_env: String,
    pub to_env: String,
    /// The merged upgrade pull request, which hears why when it gives up.
    pub pull: u64,
    pub merge_commit: CommitSha,
    pub merged_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}
