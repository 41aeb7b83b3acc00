//! `[server]`: where the HTTP server listens and what a request may cost
//! it before its sender is known.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Secret, SettingsError};

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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP server binds, an IP and port (`0.0.0.0:8080` in a container).
    pub listen: String,
    /// Largest webhook body accepted; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Time a request gets to deliver its whole body; a slower one gets 408.
    #[serde(with = "super::duration")]
    #[schemars(schema_with = "super::duration::schema")]
    pub body_timeout: Duration,
    /// Bytes buffered across all connections by requests whose signature
    /// is not yet checked; beyond it a request gets 503.
    pub max_unauthenticated_bytes: usize,
    /// Open connections across all HTTP workers; more wait in the backlog.
    pub max_connections: usize,
    /// Who may read the status page at `/`: empty for anyone who reaches
    /// the port, `bearer:TOKEN`, or `basic:USER:PASSWORD`.
    #[serde(default)]
    pub status_auth: Secret,
    /// File that holds `status_auth`.
    #[serde(default)]
    pub status_auth_file: Option<std::path::PathBuf>,
}

/// What a request to the status page must carry.
#[derive(Clone, PartialEq, Eq)]
pub enum StatusAuth {
    Open,
    /// The token after `Bearer `.
    Bearer(String),
    /// The credentials after `Basic `, base64 of `user:password`.
    Basic(String),
}

impl std::fmt::Debug for StatusAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatusAuth::Open => "Open",
            StatusAuth::Bearer(_) => "Bearer([redacted])",
            StatusAuth::Basic(_) => "Basic([redacted])",
        })
    }
}

impl StatusAuth {
    /// Parses `server.status_auth`; the error never repeats the value.
    pub fn parse(value: &Secret) -> Result<Self, String> {
        let v = value.expose();
        if v.is_empty() {
            return Ok(StatusAuth::Open);
        }
        match v.split_once(':') {
            Some(("bearer", token))
                if !token.is_empty() && !token.contains(char::is_whitespace) =>
            {
                Ok(StatusAuth::Bearer(token.to_owned()))
            }
            Some(("basic", creds))
                if creds
                    .split_once(':')
                    .is_some_and(|(u, p)| !u.is_empty() && !p.is_empty()) =>
            {
                Ok(StatusAuth::Basic(
                    data_encoding::BASE64.encode(creds.as_bytes()),
                ))
            }
            _ => Err(
                "expected `bearer:TOKEN` (no spaces) or `basic:USER:PASSWORD`, \
                      or empty for an open page"
                    .to_owned(),
            ),
        }
    }
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
        if let Err(reason) = StatusAuth::parse(&self.status_auth) {
            return bad("server.status_auth", reason);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_auth_forms() {
        let parse = |v: &str| StatusAuth::parse(&Secret::new(v));
        assert_eq!(parse(""), Ok(StatusAuth::Open));
        assert_eq!(parse("bearer:t0k"), Ok(StatusAuth::Bearer("t0k".into())));
        // What a browser sends for ops / pa:ss (colons in the password).
        assert_eq!(
            parse("basic:ops:pa:ss"),
            Ok(StatusAuth::Basic("b3BzOnBhOnNz".into()))
        );
        for bad in [
            "t0k",
            "bearer:",
            "basic:ops",
            "basic::pw",
            "basic:ops:",
            "Bearer:t",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", parse("bearer:t0k")),
            "Ok(Bearer([redacted]))"
        );
    }
}
