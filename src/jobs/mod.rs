//! chartpilot's own job vocabulary, independent of any sender's types, and
//! the versioned envelope that carries a job through the queue.

mod envelope;
mod payloads;

pub use envelope::{DecodeError, JobEnvelope, ENVELOPE_VERSION};
pub use payloads::{
    Alert, AlertNotification, AlertStatus, ChatCommand, ChatSource, DashboardTick, IssueComment,
    PromotionCheck, PullRequest, Push, PushCommit, UpgradeRequest,
};

/// A job a worker can run. Each variant is small and owns its data.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Push(Push),
    PullRequest(PullRequest),
    IssueComment(IssueComment),
    DashboardTick(DashboardTick),
    Alert(AlertNotification),
    Chat(ChatCommand),
    Upgrade(UpgradeRequest),
    Promotion(PromotionCheck),
}

/// Kind names as written in the envelope; a kind is never renamed, only added.
pub mod kind {
    pub const PUSH: &str = "github.push";
    pub const PULL_REQUEST: &str = "github.pull_request";
    pub const ISSUE_COMMENT: &str = "github.issue_comment";
    pub const DASHBOARD_TICK: &str = "github.dashboard_tick";
    pub const ALERT: &str = "alertmanager.notification";
    pub const CHAT: &str = "chat.command";
    pub const UPGRADE: &str = "chartpilot.upgrade";
    pub const PROMOTION_CHECK: &str = "chartpilot.promotion_check";
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Push(_) => kind::PUSH,
            Job::PullRequest(_) => kind::PULL_REQUEST,
            Job::IssueComment(_) => kind::ISSUE_COMMENT,
            Job::DashboardTick(_) => kind::DASHBOARD_TICK,
            Job::Alert(_) => kind::ALERT,
            Job::Chat(_) => kind::CHAT,
            Job::Upgrade(_) => kind::UPGRADE,
            Job::Promotion(_) => kind::PROMOTION_CHECK,
        }
    }

    /// The GitHub repository (`owner/name`) the sender named, for jobs
    /// from GitHub events; others act on the configured repository.
    pub fn named_repository(&self) -> Option<&str> {
        match self {
            Job::Push(p) => Some(&p.repository),
            Job::PullRequest(p) => Some(&p.repository),
            Job::IssueComment(p) => Some(&p.repository),
            Job::DashboardTick(p) => Some(&p.repository),
            Job::Alert(_) | Job::Chat(_) | Job::Upgrade(_) | Job::Promotion(_) => None,
        }
    }

    fn payload(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Job::Push(p) => serde_json::to_value(p),
            Job::PullRequest(p) => serde_json::to_value(p),
            Job::IssueComment(p) => serde_json::to_value(p),
            Job::DashboardTick(p) => serde_json::to_value(p),
            Job::Alert(p) => serde_json::to_value(p),
            Job::Chat(p) => serde_json::to_value(p),
            Job::Upgrade(p) => serde_json::to_value(p),
            Job::Promotion(p) => serde_json::to_value(p),
        }
    }

    /// Decodes the payload of an envelope by its kind. An unknown kind is an
    /// error the worker parks, never drops.
    pub fn from_envelope(env: &JobEnvelope) -> Result<Job, DecodeError> {
        let payload = env.payload.clone();
        let bad = |e: serde_json::Error| DecodeError::Payload {
            kind: env.kind.clone(),
            reason: e.to_string(),
        };
        Ok(match env.kind.as_str() {
            kind::PUSH => Job::Push(serde_json::from_value(payload).map_err(bad)?),
            kind::PULL_REQUEST => Job::PullRequest(serde_json::from_value(payload).map_err(bad)?),
            kind::ISSUE_COMMENT => Job::IssueComment(serde_json::from_value(payload).map_err(bad)?),
            kind::DASHBOARD_TICK => {
                Job::DashboardTick(serde_json::from_value(payload).map_err(bad)?)
            }
            kind::ALERT => Job::Alert(serde_json::from_value(payload).map_err(bad)?),
            kind::CHAT => Job::Chat(serde_json::from_value(payload).map_err(bad)?),
            kind::UPGRADE => Job::Upgrade(serde_json::from_value(payload).map_err(bad)?),
            kind::PROMOTION_CHECK => Job::Promotion(serde_json::from_value(payload).map_err(bad)?),
            other => return Err(DecodeError::UnknownKind(other.to_owned())),
        })
    }
}
