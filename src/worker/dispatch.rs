//! Handlers by job kind. For now every kind is recorded in the log; the
//! push, alert and chat handlers arrive with their features.

use async_trait::async_trait;

use crate::jobs::{Job, JobEnvelope};

/// What the worker does with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A passing failure (network, rate limit): try again later.
    Retry,
    /// Retrying cannot help (bad input): park it at once.
    Park,
    /// Not a failure: the job waits for something outside (a soak, a
    /// sync) and runs again after `not_before`, without using up an
    /// attempt. The job decides when to stop (a deadline of its own).
    Defer,
}

#[derive(Debug)]
pub struct JobError {
    pub disposition: Disposition,
    pub error: anyhow::Error,
    /// For a retry: the earliest the next attempt is worth making (a rate
    /// limit's reset), when the failure says so.
    pub not_before: Option<std::time::Duration>,
}

impl JobError {
    pub fn retry(error: anyhow::Error) -> Self {
        Self {
            disposition: Disposition::Retry,
            error,
            not_before: None,
        }
    }

    /// A retry no sooner than `wait` from now.
    pub fn retry_after(error: anyhow::Error, wait: std::time::Duration) -> Self {
        Self {
            not_before: Some(wait),
            ..Self::retry(error)
        }
    }

    /// Run again no sooner than `wait` from now, same attempt.
    pub fn defer(reason: anyhow::Error, wait: std::time::Duration) -> Self {
        Self {
            disposition: Disposition::Defer,
            error: reason,
            not_before: Some(wait),
        }
    }

    pub fn park(error: anyhow::Error) -> Self {
        Self {
            disposition: Disposition::Park,
            error,
            not_before: None,
        }
    }
}

/// A job a handler asks for as part of its own: the worker publishes it
/// (durably) before it acknowledges the job that asked, so a crash in
/// between repeats the asking job rather than losing the follow-up.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub job: Job,
    /// What makes a repeat of the same follow-up recognisable.
    pub idempotency_key: String,
    /// The repository it acts on; None: its parent's.
    pub repository: Option<String>,
}

/// What a handler returns: the follow-ups of a job done, or why it failed.
pub type Handled = Result<Vec<FollowUp>, JobError>;

#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: &Job, envelope: &JobEnvelope) -> Handled;

    /// Hands the service's metrics to handlers that report domain figures
    /// (the pin gauges of upgrade passes); others ignore them.
    fn attach_metrics(&self, _metrics: &std::sync::Arc<crate::metrics::Metrics>) {}

    /// Hands the status page's board to handlers that fill it (the matrix
    /// of each upgrade pass, the actions jobs took); others ignore it.
    fn attach_status(&self, _board: &std::sync::Arc<crate::status::Board>) {}
}

/// Records each job with the fields a person needs to follow it.
#[derive(Debug, Default)]
pub struct LoggingHandler;

#[async_trait]
impl JobHandler for LoggingHandler {
    async fn handle(&self, job: &Job, _envelope: &JobEnvelope) -> Handled {
        match job {
            Job::Push(p) => tracing::info!(
                repo = %p.repository,
                git_ref = %p.git_ref,
                after = %p.after,
                commits = p.commits.len(),
                "push received"
            ),
            Job::PullRequest(pr) => tracing::info!(
                repo = %pr.repository,
                number = pr.number,
                action = %pr.action,
                merged = pr.merged,
                "pull request event received"
            ),
            Job::IssueComment(c) => tracing::info!(
                repo = %c.repository,
                issue = c.issue_number,
                author = %c.author,
                "comment received"
            ),
            Job::DashboardTick(t) => tracing::info!(
                repo = %t.repository,
                issue = t.issue_number,
                author = %t.author,
                asked = t.commands.len(),
                "dashboard boxes ticked"
            ),
            Job::Alert(n) => tracing::info!(
                group = %n.group_key,
                status = %n.status,
                alerts = n.alerts.len(),
                truncated = n.truncated_alerts,
                "alert notification received"
            ),
            Job::Chat(c) => tracing::info!(
                source = %c.source,
                user = %c.user,
                "chat command received"
            ),
            Job::Upgrade(u) => tracing::info!(reason = %u.reason, "upgrade requested"),
            Job::Promotion(p) => tracing::info!(
                chart = %p.chart,
                version = %p.version,
                from = %p.from_env,
                to = %p.to_env,
                "promotion check requested"
            ),
        }
        Ok(Vec::new())
    }
}
