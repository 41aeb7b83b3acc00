//! `[server]`: where the HTTP server listens and what a request may cost
//! it before its sender is known.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Smallest body limit that still fits GitHub's ping and Alertmanager's
/// smallest notification.
const MIN_BODY_BYTES: usize = 1024;

/// Longest `body_timeout` accepted: a sender on a slow link delivers a few
/// MiB in seconds; minutes only keep slow-loris connections open longer.
const MAX_BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// The unauthenticated budget must hold this many of the largest bodies at
/// once, or one large signed webhook could never get through.
const MIN_BODIES_IN_BUDGET: usize = 2;

/// Far above what one process serves; a typo (an extra zero) stops here.
const MAX_CONNECTIONS_LIMIT: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    pub max_body_bytes: usize,
    /// Time a request gets to deliver its whole body; a slower one gets 408.
    #[serde(with = "super::duration")]
    pub body_timeout: Duration,
    /// Bytes buffered across all connections by requests whose signature
    /// is not yet checked; beyond it a request gets 503.
    pub max_unauthenticated_bytes: usize,
    /// Open connections across all HTTP workers; more wait in the backlog.
    pub max_connections: usize,
}

impl ServerSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, reason: String| Err(SettingsError::invalid(key, reason));
        if self.max_body_bytes < MIN_BODY_BYTES {
            return bad(
                "server.max_body_bytes",
                format!("must be at least {MIN_BODY_BYTES}"),
            );
        }
        if self.body_timeout.is_zero() || self.body_timeout > MAX_BODY_TIMEOUT {
            return bad(
                "server.body_timeout",
                format!(
                    "must be above zero and at most {}",
                    humantime::format_duration(MAX_BODY_TIMEOUT)
                ),
            );
        }
        let floor = self.max_body_bytes.saturating_mul(MIN_BODIES_IN_BUDGET);
        if self.max_unauthenticated_bytes < floor {
            return bad(
                "server.max_unauthenticated_bytes",
                format!(
                    "must be at least {MIN_BODIES_IN_BUDGET} × server.max_body_bytes ({floor})"
                ),
            );
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS_LIMIT {
            return bad(
                "server.max_connections",
                format!("must be between 1 and {MAX_CONNECTIONS_LIMIT}"),
            );
        }
        Ok(())
    }
}
