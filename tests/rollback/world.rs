//! One rollback world for the tests that drive the service's handler
//! against the fake GitHub: podinfo bumped to 6.6.0 in prod by a merged
//! PR, a chat listener standing in for Slack, and the handler built from a
//! config file as `serve` builds it.

use std::sync::{Arc, Mutex};

use chartpilot::clock::{Clock, SystemClock};
use chartpilot::jobs::AlertNotification;
use chartpilot::rollback::run::{Outcome, Rollbacker};
use chartpilot::settings::Settings;
use chartpilot::worker::service::ServiceHandler;

use super::support::fake_github::FakeGithub;
use super::*;

pub struct World {
    pub fake: FakeGithub,
    pub dir: tempfile::TempDir,
    /// The merge commit of the bump, and its PR.
    pub merge: String,
    pub bump_pr: u64,
    chat: Arc<Mutex<Vec<serde_json::Value>>>,
    _chat: actix_web::dev::ServerHandle,
}

impl World {
    pub async fn new() -> World {
        let fake = FakeGithub::start().await;
        let (merge, bump_pr) = github_bump(&fake);
        let (url, chat, handle) = super::support::json_listener();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chat-url"), url).unwrap();
        World {
            fake,
            dir,
            merge,
            bump_pr,
            chat,
            _chat: handle,
        }
    }

    /// The handler for `action`, with `extra` TOML appended to the config
    /// (`[policy]`, `[argocd]`, `[alertmanager]`), on the system clock.
    pub async fn handler(&self, action: &str, extra: &str) -> ServiceHandler {
        self.handler_at(action, extra, Arc::new(SystemClock)).await
    }

    pub async fn handler_at(
        &self,
        action: &str,
        extra: &str,
        clock: Arc<dyn Clock>,
    ) -> ServiceHandler {
        self.handler_on(action, extra, clock, &self.fake.url).await
    }

    /// With `api_url` in front of the fake (a pass-through that times a
    /// concurrent writer).
    pub async fn handler_on(
        &self,
        action: &str,
        extra: &str,
        clock: Arc<dyn Clock>,
        api_url: &str,
    ) -> ServiceHandler {
        let config = self.dir.path().join("chartpilot.toml");
        let chat = std::fs::read_to_string(self.dir.path().join("chat-url")).unwrap();
        std::fs::write(
            &config,
            format!(
                "[git]\nprovider = \"github\"\nrepository = \"{}\"\nbranch = \"main\"\n[github]\ntoken = \"{}\"\napi_url = \"{}\"\n[slack]\nwebhook_url = \"{chat}\"\n{}{extra}\n",
                self.fake.repository(),
                self.fake.token,
                api_url,
                rule(action)
            ),
        )
        .unwrap();
        let settings = Settings::load(Some(&config), &Default::default()).unwrap();
        let h = ServiceHandler::from_settings(&settings, clock).await;
        assert!(h.rollbacker.is_ok(), "{:?}", h.rollbacker.as_ref().err());
        h
    }

    /// The chat messages so far, as text.
    pub fn chat(&self) -> Vec<String> {
        self.chat
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Every GitHub call that is not a read, as `METHOD path`.
    pub fn writes(&self) -> Vec<String> {
        self.fake
            .api_calls()
            .iter()
            .filter(|c| c.is_write())
            .map(|c| c.line())
            .collect()
    }

    /// Asserts the repository is as the bump left it: main at the merge,
    /// no revert branch, no PR but the bump's, no comment, no chat.
    pub fn assert_untouched(&self) {
        assert_eq!(self.fake.branch("main").unwrap(), self.merge, "main moved");
        assert!(self.writes().is_empty(), "{:#?}", self.writes());
        assert_eq!(self.fake.pulls().len(), 1, "{:#?}", self.fake.pulls());
        assert!(self.fake.comments(self.bump_pr).is_empty());
        assert!(self.chat().is_empty(), "{:?}", self.chat());
    }
}

pub fn rollbacker(h: &ServiceHandler) -> &Rollbacker {
    h.rollbacker.as_ref().unwrap()
}

/// The one outcome of a notification that must be a skip; its reason.
pub async fn skipped(h: &ServiceHandler, n: &AlertNotification) -> String {
    let outcomes = rollbacker(h).on_notification(n).await.unwrap();
    match &outcomes[..] {
        [Outcome::Skipped { reason, .. }] => reason.clone(),
        other => panic!("{other:#?}"),
    }
}
