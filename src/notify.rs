//! Chat messages about automatic actions (rollbacks, promotions) through a
//! Slack incoming webhook. The webhook URL is a secret (whoever has it may
//! post): it never reaches a log or an error.

use std::time::Duration;

use crate::settings::Secret;

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct SlackWebhook {
    http: reqwest::Client,
    url: Secret,
}

impl std::fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackWebhook(<redacted>)")
    }
}

impl SlackWebhook {
    /// None when no webhook is configured.
    pub fn new(url: &Secret) -> Option<Self> {
        if url.expose().is_empty() {
            return None;
        }
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
        Some(Self {
            http,
            url: url.clone(),
        })
    }

    /// Posts `text`. A failure is logged, never raised: the rollback
    /// itself is done, and its PR and comment carry the same news.
    pub async fn post(&self, text: &str) {
        let sent = self
            .http
            .post(self.url.expose())
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = %r.status(), "Slack webhook refused the message"),
            // reqwest's error names the URL; the status alone is safe to log.
            Err(e) => tracing::warn!(
                timeout = e.is_timeout(),
                connect = e.is_connect(),
                "Slack webhook unreachable"
            ),
        }
    }
}
