//! The repositories a worker serves: one [`ServiceHandler`] per repository
//! context (see [`crate::settings::Settings::contexts`]), and the routing
//! of each job to the one it acts on.
//!
//! A job names its repository in the envelope (GitHub events, scheduled
//! passes, follow-ups). A job that names none while several repositories
//! are served (an Alertmanager notification, a promotion or upgrade asked
//! without one) is handed to each repository as a follow-up job of its
//! own, in that repository's lane: each decides for itself (the rollback
//! of an app only acts where the app has a pin). A chat command picks its
//! repository with `--repo owner/name`; without it, and with more than one
//! repository, the person is told which ones there are.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;

use super::service::ServiceHandler;
use super::{FollowUp, Handled, JobHandler};
use crate::chat::run::Reply;
use crate::jobs::{ChatCommand, ChatSource, Job, JobEnvelope};

pub struct Repositories {
    /// `(key, handler)` in configuration order.
    handlers: Vec<(String, Arc<ServiceHandler>)>,
}

/// The repository `--repo NAME` (or `--repo=NAME`) names in a chat
/// command, and the command without it.
pub fn take_repo_flag(text: &str) -> (Option<String>, String) {
    let mut named = None;
    let mut rest = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--repo" {
            named = words.next().map(str::to_owned);
        } else if let Some(v) = w.strip_prefix("--repo=") {
            named = Some(v.to_owned());
        } else {
            rest.push(w);
        }
    }
    (named, rest.join(" "))
}

/// Whether a chat command needs no repository (`help`, or nothing).
fn needs_no_repository(text: &str) -> bool {
    let verb = text
        .split_whitespace()
        .find(|w| !w.starts_with('/'))
        .unwrap_or("");
    verb.is_empty() || verb.eq_ignore_ascii_case("help")
}

impl Repositories {
    /// One handler per repository context of `settings`.
    pub async fn from_settings(
        settings: &crate::settings::Settings,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Self {
        let mut handlers = Vec::new();
        for context in settings.contexts() {
            let handler = ServiceHandler::from_settings(&context, Arc::clone(&clock)).await;
            handlers.push((context.git.key(), Arc::new(handler)));
        }
        Self { handlers }
    }

    /// The handlers given, keyed by repository (for tests).
    pub fn new(handlers: Vec<(String, Arc<ServiceHandler>)>) -> Self {
        Self { handlers }
    }

    pub fn handlers(&self) -> &[(String, Arc<ServiceHandler>)] {
        &self.handlers
    }

    fn find(&self, key: &str) -> Option<&Arc<ServiceHandler>> {
        self.entry(key).map(|(_, h)| h)
    }

    /// The repository's key as configured, and its handler.
    fn entry(&self, key: &str) -> Option<&(String, Arc<ServiceHandler>)> {
        let key = key.to_ascii_lowercase();
        self.handlers
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase() == key)
    }

    fn names(&self) -> String {
        self.handlers
            .iter()
            .map(|(k, _)| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The job once per repository, each in that repository's lane.
    fn fan_out(&self, job: &Job, envelope: &JobEnvelope) -> Vec<FollowUp> {
        tracing::info!(
            kind = job.kind(),
            repositories = self.handlers.len(),
            "job names no repository; handed to each"
        );
        self.handlers
            .iter()
            .map(|(key, _)| FollowUp {
                job: job.clone(),
                idempotency_key: format!("{}@{key}", envelope.idempotency_key),
                repository: Some(key.clone()),
            })
            .collect()
    }

    async fn chat(&self, c: &ChatCommand, envelope: &JobEnvelope) -> Handled {
        let (named, text) = take_repo_flag(&c.text);
        let (key, handler) = match named {
            Some(name) => match self.entry(&name) {
                Some(e) => e,
                None => {
                    let reply = format!(
                        "{} is not a repository chartpilot serves; use --repo with one of {}",
                        crate::text::code_span(&crate::text::inline(&name, 100)),
                        self.names()
                    );
                    self.reply(c, reply).await;
                    return Ok(Vec::new());
                }
            },
            None if needs_no_repository(&text) => &self.handlers[0],
            None => {
                let reply = format!(
                    "chartpilot serves {} repositories: add --repo with one of {}",
                    self.handlers.len(),
                    self.names()
                );
                self.reply(c, reply).await;
                return Ok(Vec::new());
            }
        };
        let job = Job::Chat(ChatCommand { text, ..c.clone() });
        // The job names no repository; its command does: its lines (the
        // audit line among them) carry the one it runs in.
        let span = tracing::info_span!("repository", repository = %key);
        handler.handle(&job, envelope).instrument(span).await
    }

    /// Answers a chat command privately, as its source expects.
    async fn reply(&self, c: &ChatCommand, text: String) {
        let Some((_, first)) = self.handlers.first() else {
            return;
        };
        let reply = Reply {
            text,
            public: false,
        };
        let sent = match (c.source, c.reply_url.as_deref()) {
            (ChatSource::Slack, Some(url)) => first.replier.slack(url, &reply).await,
            (_, Some(url)) => first.replier.generic(url, &reply).await,
            (_, None) => Ok(()),
        };
        if let Err(e) = sent {
            tracing::warn!(user = %c.user, error = %e, "chat reply not delivered");
        }
    }
}

#[async_trait]
impl JobHandler for Repositories {
    async fn handle(&self, job: &Job, envelope: &JobEnvelope) -> Handled {
        if let [(_, only)] = self.handlers.as_slice() {
            return only.handle(job, envelope).await;
        }
        let named = envelope.repository.as_deref().filter(|k| !k.is_empty());
        match (named, job) {
            (Some(key), _) => match self.find(key) {
                Some(h) => h.handle(job, envelope).await,
                None => {
                    tracing::warn!(
                        event = "repository_not_watched",
                        repository = key,
                        watched = %self.names(),
                        "job for a repository chartpilot does not serve; ignored"
                    );
                    Ok(Vec::new())
                }
            },
            (None, Job::Chat(c)) => self.chat(c, envelope).await,
            (None, _) => Ok(self.fan_out(job, envelope)),
        }
    }

    fn attach_metrics(&self, metrics: &Arc<crate::metrics::Metrics>) {
        for (_, h) in &self.handlers {
            h.attach_metrics(metrics);
        }
    }

    fn attach_status(&self, board: &Arc<crate::status::Board>) {
        for (_, h) in &self.handlers {
            h.attach_status(board);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_flag_is_taken_out_of_a_command() {
        let cases = [
            (
                "rollback web prod --repo acme/apps",
                Some("acme/apps"),
                "rollback web prod",
            ),
            ("--repo=acme/apps sync web", Some("acme/apps"), "sync web"),
            ("status web", None, "status web"),
            ("status web --repo", None, "status web"),
        ];
        for (text, repo, rest) in cases {
            let (r, t) = take_repo_flag(text);
            assert_eq!((r.as_deref(), t.as_str()), (repo, rest), "{text}");
        }
        assert!(needs_no_repository("help"));
        assert!(needs_no_repository("/chartpilot help"));
        assert!(needs_no_repository(""));
        assert!(!needs_no_repository("rollback web prod"));
    }
}
