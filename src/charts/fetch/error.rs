//! Why a repository or registry could not be read.

use std::fmt;
use std::time::Duration;

use super::route::Routed;

/// A failed fetch, naming the repository (and the mirror it was routed to)
/// without userinfo; credentials never appear in it.
#[derive(Debug, thiserror::Error)]
#[error("{target}: {kind}")]
pub struct FetchError {
    pub target: Target,
    pub kind: FetchErrorKind,
}

/// The repository as the pin names it and, when a mirror rewrote it, the
/// location actually contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub repository: String,
    pub mirror: Option<String>,
    /// For a chart download: `app 1.2.0 at <archive URL>`.
    pub artifact: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chart repository {}", self.repository)?;
        if let Some(mirror) = &self.mirror {
            write!(f, " (via mirror {mirror})")?;
        }
        if let Some(artifact) = &self.artifact {
            write!(f, ", chart {artifact}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchErrorKind {
    #[error("HTTP {0}")]
    Status(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("body larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("not a Helm repository index: {0}")]
    NotAnIndex(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("unexpected answer: {0}")]
    Protocol(String),
    #[error("cannot read: {0}")]
    Io(String),
    #[error("unsupported location: {0}")]
    Unsupported(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("content does not match its digest {expected} (got {actual})")]
    DigestMismatch { expected: String, actual: String },
}

impl FetchError {
    pub(crate) fn new(routed: &Routed, kind: FetchErrorKind) -> Self {
        Self {
            target: Target {
                repository: routed.original.clone(),
                mirror: routed.mirror.clone(),
                artifact: None,
            },
            kind,
        }
    }

    /// Classifies a reqwest error. Its own text names the URL, which is
    /// already in the target, so only the causes are kept.
    pub(crate) fn request(routed: &Routed, error: reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return Self::new(routed, FetchErrorKind::Timeout(timeout));
        }
        let error = error.without_url();
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(routed, FetchErrorKind::Transport(reason))
    }

    /// The same error, said about one chart archive.
    pub(crate) fn about(mut self, artifact: String) -> Self {
        self.target.artifact = Some(artifact);
        self
    }

    pub(crate) fn status(routed: &Routed, status: reqwest::StatusCode) -> Self {
        Self::new(routed, FetchErrorKind::Status(status.to_string()))
    }
}
