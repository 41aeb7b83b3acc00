//! The one Slack Web API call authorization needs: the members of a user
//! group (`usergroups.users.list`, scope `usergroups:read`). The bot token
//! is a secret: never in a log or an error.

use std::time::Duration;

use serde::Deserialize;

use crate::settings::{Secret, SlackSettings};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlackApi({})", self.base)
    }
}

#[derive(Deserialize)]
struct Members {
    ok: bool,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    error: Option<String>,
}

impl SlackApi {
    /// None without `slack.bot_token`: rules naming groups then match nobody.
    pub fn new(settings: &SlackSettings) -> Option<Self> {
        if settings.bot_token.expose().is_empty() {
            return None;
        }
        Some(Self {
            http: reqwest::Client::builder().timeout(TIMEOUT).build().ok()?,
            base: settings.api_url.trim_end_matches('/').to_owned(),
            token: settings.bot_token.clone(),
        })
    }

    /// The user ids in group `group`.
    pub async fn group_members(&self, group: &str) -> Result<Vec<String>, String> {
        let reply = self
            .http
            .get(format!("{}/usergroups.users.list", self.base))
            .query(&[("usergroup", group)])
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| format!("Slack did not answer (timeout: {})", e.is_timeout()))?;
        if !reply.status().is_success() {
            return Err(format!("Slack answered {}", reply.status()));
        }
        let members: Members = reply
            .json()
            .await
            .map_err(|_| "Slack answered something that is not a member list".to_owned())?;
        if !members.ok {
            return Err(format!(
                "Slack refused: {}",
                members.error.as_deref().unwrap_or("no reason given")
            ));
        }
        Ok(members.users)
    }
}
