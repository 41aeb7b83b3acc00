//! How a handler's error becomes the worker's disposition: retry (no
//! sooner than a rate limit's reset), or park.

use super::{GitError, JobError, RollbackError, UpgradeError};

/// How a handler's error says whether, and when, another attempt may pass.
pub(super) trait Retryable: std::error::Error + Send + Sync + 'static {
    fn transient(&self) -> bool;
    /// A rate limit's reset, before which a retry is pointless.
    fn not_before(&self) -> Option<std::time::Duration> {
        None
    }
}

impl Retryable for UpgradeError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
    fn not_before(&self) -> Option<std::time::Duration> {
        match self {
            UpgradeError::Git(GitError::RateLimited(wait)) => Some(*wait),
            _ => None,
        }
    }
}

impl Retryable for RollbackError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
    fn not_before(&self) -> Option<std::time::Duration> {
        match self {
            RollbackError::Git(GitError::RateLimited(wait)) => Some(*wait),
            _ => None,
        }
    }
}

impl Retryable for crate::sync::run::SyncError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
    fn not_before(&self) -> Option<std::time::Duration> {
        match self {
            crate::sync::run::SyncError::Git(GitError::RateLimited(wait)) => Some(*wait),
            _ => None,
        }
    }
}

impl Retryable for crate::checks::CheckError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
    fn not_before(&self) -> Option<std::time::Duration> {
        match self {
            crate::checks::CheckError::Git(GitError::RateLimited(wait)) => Some(*wait),
            _ => None,
        }
    }
}

/// Retry what may pass (no sooner than a rate limit's reset), park the rest.
pub(super) fn job_error(e: impl Retryable, what: &str) -> JobError {
    let transient = e.transient();
    let wait = e.not_before();
    let err = anyhow::Error::new(e).context(what.to_owned());
    match (transient, wait) {
        (true, Some(wait)) => JobError::retry_after(err, wait),
        (true, None) => JobError::retry(err),
        _ => JobError::park(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Disposition;

    #[test]
    fn a_rate_limit_waits_its_reset_whichever_job_met_it() {
        use crate::sync::run::SyncError;
        use std::time::Duration;
        let wait = Duration::from_secs(120);
        let limited = || GitError::RateLimited(wait);
        let cases: Vec<(&str, JobError, Disposition, Option<Duration>)> = vec![
            (
                "sync",
                job_error(SyncError::Git(limited()), "s"),
                Disposition::Retry,
                Some(wait),
            ),
            (
                "upgrade",
                job_error(UpgradeError::Git(limited()), "u"),
                Disposition::Retry,
                Some(wait),
            ),
            (
                "rollback",
                job_error(RollbackError::Git(limited()), "r"),
                Disposition::Retry,
                Some(wait),
            ),
            (
                "sync, 5xx",
                job_error(SyncError::Git(GitError::Unavailable("502".into())), "s"),
                Disposition::Retry,
                None,
            ),
            (
                "sync, refused",
                job_error(SyncError::Git(GitError::Refused("401".into())), "s"),
                Disposition::Park,
                None,
            ),
        ];
        for (what, e, disposition, not_before) in cases {
            assert_eq!(e.disposition, disposition, "{what}");
            assert_eq!(e.not_before, not_before, "{what}");
        }
    }
}
