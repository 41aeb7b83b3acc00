//! Reading Alertmanager's API: which alerts fire now for some labels.
//!
//! The promotion gate asks "does anything fire for this app?" through
//! `GET /api/v2/alerts`. Alertmanager keeps the state, so chartpilot keeps
//! none; a failed read is an error for the caller to wait on, never "quiet".

mod matcher;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use matcher::{MatchOp, Matcher, MatcherError};

use crate::domain::AlertFingerprint;

/// Path of the alert list below `alertmanager.api_url`.
const ALERTS_PATH: &str = "/api/v2/alerts";

/// Error bodies are quoted into logs and PR comments; a proxy's HTML page
/// should not flood them.
const MAX_ERROR_CHARS: usize = 300;

/// Identifies chartpilot in Alertmanager's and proxies' access logs.
const USER_AGENT: &str = concat!("chartpilot/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// `alertmanager.api_url` is empty or not an http(s) URL.
    #[error("alertmanager.api_url `{0}` is not an http:// or https:// URL")]
    InvalidUrl(String),
    /// Connection trouble, a timeout or a 5xx: worth a retry.
    #[error("Alertmanager unavailable: {0}")]
    Unavailable(String),
    /// A 4xx: a bad matcher (e.g. an invalid regex) or access refused.
    #[error("Alertmanager refused the query ({status}): {message}")]
    Refused { status: u16, message: String },
    /// A 2xx whose body is not an alert list: a wrong URL (a proxy's page)
    /// or an incompatible version; retrying will not change it.
    #[error("Alertmanager answered an unexpected body: {0}")]
    Malformed(String),
}

impl AlertsError {
    pub fn is_transient(&self) -> bool {
        matches!(self, AlertsError::Unavailable(_))
    }
}

/// Alertmanager's view of an alert (`status.state`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Active,
    /// Not yet evaluated against silences and inhibitions; counts as
    /// firing, since it may well be.
    Unprocessed,
    Suppressed,
}

/// A firing alert as the API reports it, with only what chartpilot uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    #[serde(rename = "status", deserialize_with = "state_of_status")]
    pub state: AlertState,
    pub fingerprint: AlertFingerprint,
    /// Empty for alerts posted without one (not from Prometheus).
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

fn state_of_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AlertState, D::Error> {
    #[derive(Deserialize)]
    struct Status {
        state: AlertState,
    }
    Status::deserialize(d).map(|s| s.state)
}

/// Parses a `GET /api/v2/alerts` body.
pub fn parse_alerts(body: &[u8]) -> Result<Vec<ActiveAlert>, AlertsError> {
    serde_json::from_slice(body)
        .map_err(|e| AlertsError::Malformed(format!("{e}; body starts `{}`", excerpt(body))))
}

/// A client for one Alertmanager (or a load balancer in front of a
/// cluster: every peer answers with the same alerts).
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    http: reqwest::Client,
    alerts_url: String,
}

impl AlertmanagerClient {
    /// `api_url` is the base Alertmanager serves under, e.g.
    /// `http://alertmanager:9093` or `https://host/alertmanager` when it
    /// runs with `--web.route-prefix`; `timeout` bounds each request.
    pub fn new(api_url: &str, timeout: Duration) -> Result<Self, AlertsError> {
        let base = api_url.trim().trim_end_matches('/');
        let scheme_ok = base.starts_with("http://") || base.starts_with("https://");
        if !scheme_ok || reqwest::Url::parse(base).is_err() {
            return Err(AlertsError::InvalidUrl(api_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .build()
            .map_err(|e| AlertsError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            alerts_url: format!("{base}{ALERTS_PATH}"),
        })
    }

    /// Alerts firing now that match every matcher: active (or not yet
    /// processed), neither silenced nor inhibited. An empty `matchers`
    /// asks for every firing alert.
    pub async fn firing(&self, matchers: &[Matcher]) -> Result<Vec<ActiveAlert>, AlertsError> {
        let response = self
            .http
            .get(&self.alerts_url)
            .query(&firing_query(matchers))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| AlertsError::Unavailable(format!("{}: {e}", self.alerts_url)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| AlertsError::Unavailable(format!("reading the answer: {e}")))?;
        if status.is_success() {
            return parse_alerts(&body);
        }
        let message = error_message(&body);
        if status.is_client_error() {
            Err(AlertsError::Refused {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(AlertsError::Unavailable(format!(
                "HTTP {status}: {message}"
            )))
        }
    }
}

/// The query string: one `filter` per matcher, Alertmanager ANDs them.
/// `unprocessed` keeps its default (true) so a just-posted alert counts.
fn firing_query(matchers: &[Matcher]) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("active", "true".to_owned()),
        ("silenced", "false".to_owned()),
        ("inhibited", "false".to_owned()),
    ];
    query.extend(matchers.iter().map(|m| ("filter", m.to_string())));
    query
}

/// Alertmanager answers errors as a JSON string (`"bad matcher format…"`)
/// or, for parameter validation, `{"code":…,"message":"…"}`; anything else
/// is quoted as text.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorBody {
        Text(String),
        Object { message: String },
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody::Text(m) | ErrorBody::Object { message: m }) => shorten(m.trim()),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => "(empty body)".to_owned(),
        Err(_) => excerpt(body),
    }
}

fn excerpt(body: &[u8]) -> String {
    shorten(String::from_utf8_lossy(body).trim())
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
