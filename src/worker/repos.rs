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

use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::discovery::{decide, Discoverer, Verdict};
use super::service::ServiceHandler;
use super::{FollowUp, Handled, JobHandler};
use crate::chat::reply::Replier;
use crate::chat::run::Reply;
use crate::jobs::{ChatCommand, ChatSource, Job, JobEnvelope};
use crate::settings::Settings;

/// One repository served: its key, settings and handler.
#[derive(Clone)]
pub struct Served {
    pub key: String,
    pub context: Arc<Settings>,
    pub handler: Arc<ServiceHandler>,
}

pub struct Repositories {
    /// In configuration order (discovery: the installations' order). A
    /// job reads one snapshot; a discovery round swaps in the next.
    served: RwLock<Arc<Vec<Served>>>,
    /// Where new handlers are attached once the service has them.
    metrics: OnceLock<Arc<crate::metrics::Metrics>>,
    status: OnceLock<Arc<crate::status::Board>>,
    /// `repositories.discover`, and its rounds one at a time.
    discoverer: Option<Discoverer>,
    round: tokio::sync::Mutex<()>,
    /// When a job for a repository not served last started a round of its
    /// own (see [`Repositories::find_or_discover`]).
    asked: Mutex<Option<std::time::Instant>>,
    /// Why the last discovery round failed; None after one that listed.
    last_error: Mutex<Option<String>>,
    /// A round ran to its end (start-up may have given up waiting).
    completed: std::sync::atomic::AtomicBool,
    /// Checked, holding no pins: kept with their clients, so the next
    /// round's reads are conditional.
    pinless: Mutex<Vec<Served>>,
    /// The keys served, for the upgrade schedule.
    keys: watch::Sender<Vec<String>>,
    clock: Arc<dyn crate::clock::Clock>,
}

/// The least time between two rounds started by jobs for repositories not
/// served: a stream of events from an installation's pinless repositories
/// costs one listing a minute, not one per event.
const ASKED_ROUND_EVERY: Duration = Duration::from_secs(60);

/// How long start-up waits for the first discovery round.
const FIRST_ROUND_WAIT: Duration = Duration::from_secs(15);

/// How long a failed discovery round waits before the next try.
const DISCOVERY_RETRY: Duration = Duration::from_secs(60);

/// Pin checks of one round run this many at a time.
const DISCOVERY_CONCURRENCY: usize = 8;

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

/// The most repositories a reply or a log line names; an organisation's
/// two hundred would bury the answer.
const MAX_NAMED: usize = 10;

/// `keys` as code spans, the first [`MAX_NAMED`] and how many more.
fn listed<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> String {
    crate::text::first_of(keys.map(|k| format!("`{k}`")), MAX_NAMED).join(", ")
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
    /// One handler per repository context of `settings`; with
    /// `repositories.discover`, those of a first discovery round.
    pub async fn from_settings(
        settings: &crate::settings::Settings,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Self {
        if settings.discovers() {
            let discoverer = Discoverer::from_settings(settings, Arc::clone(&clock))
                .map_err(|e| tracing::error!(error = %e, "repositories.discover: cannot reach the GitHub App; no repository is served"))
                .ok();
            let repos = Self::with(Vec::new(), discoverer, clock);
            // Bounded: the process must answer /healthz before a liveness
            // probe gives up on it; a longer round is made again at once
            // in the background (`discover_every`).
            match tokio::time::timeout(FIRST_ROUND_WAIT, repos.discover()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "first discovery round failed; the next tries again");
                }
                Err(_) => tracing::warn!(
                    seconds = FIRST_ROUND_WAIT.as_secs(),
                    "first discovery round takes too long for start-up; it goes on in the background"
                ),
            }
            return repos;
        }
        let mut served = Vec::new();
        for context in settings.contexts() {
            let handler = ServiceHandler::from_settings(&context, Arc::clone(&clock)).await;
            served.push(Served {
                key: context.git.key(),
                context: Arc::new(context),
                handler: Arc::new(handler),
            });
        }
        Self::with(served, None, clock)
    }

    fn with(
        served: Vec<Served>,
        discoverer: Option<Discoverer>,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Self {
        let keys = served.iter().map(|s| s.key.clone()).collect();
        Self {
            served: RwLock::new(Arc::new(served)),
            metrics: OnceLock::new(),
            status: OnceLock::new(),
            discoverer,
            round: tokio::sync::Mutex::new(()),
            asked: Mutex::new(None),
            last_error: Mutex::new(None),
            completed: std::sync::atomic::AtomicBool::new(false),
            pinless: Mutex::new(Vec::new()),
            keys: watch::channel(keys).0,
            clock,
        }
    }

    /// The repositories served now.
    pub fn served(&self) -> Arc<Vec<Served>> {
        Arc::clone(
            &self
                .served
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// `(key, handler)` of each repository served now.
    pub fn handlers(&self) -> Vec<(String, Arc<ServiceHandler>)> {
        self.served()
            .iter()
            .map(|s| (s.key.clone(), Arc::clone(&s.handler)))
            .collect()
    }

    /// The keys served, now and after each discovery round.
    pub fn keys(&self) -> watch::Receiver<Vec<String>> {
        self.keys.subscribe()
    }

    /// Why the last discovery round could not list the installations.
    pub fn last_round_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether repositories are discovered rather than listed.
    pub fn discovers(&self) -> bool {
        self.discoverer.is_some()
    }

    /// One discovery round (see [`super::discovery`]): lists the
    /// installations' repositories, checks each for pins, and swaps in the
    /// set served. Returns `(served, left out)`. Without discovery, does
    /// nothing.
    pub async fn discover(&self) -> Result<(usize, usize), crate::git::GitError> {
        let Some(d) = &self.discoverer else {
            let n = self.served().len();
            return Ok((n, 0));
        };
        let _one = self.round.lock().await;
        let listed = d.candidates().await;
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            listed.as_ref().err().map(ToString::to_string);
        let (candidates, mut left_out) = listed?;
        let current = self.served();
        let pinless: Vec<Served> = std::mem::take(
            &mut *self
                .pinless
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut known: Vec<(Served, bool)> = Vec::new();
        for context in candidates {
            let key = context.git.key();
            let same = |s: &&Served| s.key == key && s.context.git.branch == context.git.branch;
            if let Some(s) = current.iter().find(same) {
                known.push((s.clone(), true));
            } else if let Some(s) = pinless.iter().find(same) {
                known.push((s.clone(), false));
            } else {
                let handler =
                    ServiceHandler::from_settings(&context, Arc::clone(&self.clock)).await;
                known.push((
                    Served {
                        key,
                        context: Arc::new(context),
                        handler: Arc::new(handler),
                    },
                    false,
                ));
            }
        }
        let checked: Vec<(Served, bool, Option<bool>)> = futures_util::stream::iter(known)
            .map(|(s, was)| async move {
                let pins = holds_pins(&s).await;
                (s, was, pins)
            })
            .buffered(DISCOVERY_CONCURRENCY)
            .collect()
            .await;
        let mut next = Vec::new();
        let mut still_pinless = Vec::new();
        for (s, was, pins) in checked {
            match decide(was, pins) {
                Verdict::Serve | Verdict::Keep => next.push(s),
                Verdict::Leave => {
                    left_out += 1;
                    if pins == Some(false) {
                        still_pinless.push(s);
                    }
                }
            }
        }
        for s in next
            .iter()
            .filter(|s| !current.iter().any(|c| c.key == s.key))
        {
            self.attach(&s.handler);
            tracing::info!(event = "repository_discovered", repository = %s.key, branch = %s.context.git.branch, "repository served");
        }
        for c in current
            .iter()
            .filter(|c| !next.iter().any(|s| s.key == c.key))
        {
            if let Some(m) = self.metrics.get() {
                m.forget_repository(&c.key);
            }
            if let Some(b) = self.status.get() {
                b.forget(&c.key);
            }
            tracing::info!(event = "repository_dropped", repository = %c.key, "repository no longer served: gone from the installations, excluded, archived or without pins");
        }
        let counts = (next.len(), left_out);
        let keys: Vec<String> = next.iter().map(|s| s.key.clone()).collect();
        *self
            .served
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        *self
            .pinless
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = still_pinless;
        self.keys.send_if_modified(|k| {
            let changed = *k != keys;
            *k = keys;
            changed
        });
        if let Some(m) = self.metrics.get() {
            m.set_repositories_served(counts.0);
        }
        self.completed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(counts)
    }

    /// Discovery rounds every `interval` (after a failed one, a minute),
    /// until `stop` turns true. Returns at once without discovery.
    pub async fn discover_every(
        self: Arc<Self>,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        if self.discoverer.is_none() {
            return;
        }
        let interval = if interval.is_zero() {
            Duration::from_secs(3600)
        } else {
            interval
        };
        // A first round start-up did not wait for is made at once.
        let mut wait = if self.completed.load(std::sync::atomic::Ordering::SeqCst) {
            interval
        } else {
            Duration::ZERO
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            wait = match self.discover().await {
                Ok((served, left_out)) => {
                    tracing::info!(served, left_out, "discovery round");
                    interval
                }
                Err(e) => {
                    tracing::warn!(error = %e, "discovery round failed; trying again in a minute");
                    DISCOVERY_RETRY
                }
            };
        }
    }

    /// The repository's handler; with discovery, a repository not served
    /// yet starts a round first (at most one a minute): it may have joined
    /// the App's selection, or gained pins, since the last round, or
    /// another worker's round found it before this worker's did.
    async fn find_or_discover(&self, key: &str) -> Option<(String, Arc<ServiceHandler>)> {
        if let Some(found) = self.entry(key) {
            return Some(found);
        }
        self.discoverer.as_ref()?;
        {
            let mut asked = self
                .asked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if asked.is_some_and(|at| at.elapsed() < ASKED_ROUND_EVERY) {
                return None;
            }
            *asked = Some(std::time::Instant::now());
        }
        tracing::info!(
            repository = key,
            "job for a repository not served: discovery round"
        );
        if let Err(e) = self.discover().await {
            tracing::warn!(error = %e, "discovery round failed");
        }
        self.entry(key)
    }

    fn attach(&self, h: &Arc<ServiceHandler>) {
        if let Some(m) = self.metrics.get() {
            h.attach_metrics(m);
        }
        if let Some(b) = self.status.get() {
            h.attach_status(b);
        }
    }

    /// The repository's key as configured, and its handler.
    fn entry(&self, key: &str) -> Option<(String, Arc<ServiceHandler>)> {
        let key = key.to_ascii_lowercase();
        self.served()
            .iter()
            .find(|s| s.key.to_ascii_lowercase() == key)
            .map(|s| (s.key.clone(), Arc::clone(&s.handler)))
    }

    fn names(&self) -> String {
        let served = self.served();
        listed(served.iter().map(|s| s.key.as_str()))
    }

    /// The job once per repository, each in that repository's lane.
    fn fan_out(&self, job: &Job, envelope: &JobEnvelope) -> Vec<FollowUp> {
        let served = self.served();
        tracing::info!(
            kind = job.kind(),
            repositories = served.len(),
            "job names no repository; handed to each"
        );
        served
            .iter()
            .map(|s| FollowUp {
                job: job.clone(),
                idempotency_key: format!("{}@{}", envelope.idempotency_key, s.key),
                repository: Some(s.key.clone()),
            })
            .collect()
    }

    async fn chat(&self, c: &ChatCommand, envelope: &JobEnvelope) -> Handled {
        let (named, text) = take_repo_flag(&c.text);
        let served = self.served();
        let (key, handler) = match (named, served.as_slice()) {
            (Some(name), _) => match self.entry(&name) {
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
            (None, []) => {
                self.reply(c, "chartpilot serves no repository yet".to_owned())
                    .await;
                return Ok(Vec::new());
            }
            (None, [only]) => (only.key.clone(), Arc::clone(&only.handler)),
            (None, [first, ..]) if needs_no_repository(&text) => {
                (first.key.clone(), Arc::clone(&first.handler))
            }
            (None, many) => {
                let reply = format!(
                    "chartpilot serves {} repositories: add --repo with one of {}",
                    many.len(),
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
        let replier = Replier::default();
        let reply = Reply {
            text,
            public: false,
        };
        let sent = match (c.source, c.reply_url.as_deref()) {
            (ChatSource::Slack, Some(url)) => replier.slack(url, &reply).await,
            (_, Some(url)) => replier.generic(url, &reply).await,
            (_, None) => Ok(()),
        };
        if let Err(e) = sent {
            tracing::warn!(user = %c.user, error = %e, "chat reply not delivered");
        }
    }
}

/// Whether the repository's base branch holds pins; `None` when it cannot
/// be read (or its upgrader could not be built).
async fn holds_pins(s: &Served) -> Option<bool> {
    let upgrader = match &s.handler.upgrader {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(repository = %s.key, error = %e, "discovered repository cannot be read");
            return None;
        }
    };
    match upgrader.base().await {
        Ok((_, _, scan)) => Some(!scan.pins.is_empty()),
        Err(e) => {
            tracing::warn!(repository = %s.key, error = %e, "discovered repository cannot be read");
            None
        }
    }
}

#[async_trait]
impl JobHandler for Repositories {
    async fn handle(&self, job: &Job, envelope: &JobEnvelope) -> Handled {
        let served = self.served();
        if let ([only], false) = (served.as_slice(), self.discovers()) {
            return only.handler.handle(job, envelope).await;
        }
        let named = envelope.repository.as_deref().filter(|k| !k.is_empty());
        match (named, job) {
            (Some(key), _) => match self.find_or_discover(key).await {
                Some((_, h)) => h.handle(job, envelope).await,
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
        let _ = self.metrics.set(Arc::clone(metrics));
        if let Some(d) = &self.discoverer {
            d.attach_metrics(metrics);
        }
        for s in self.served().iter() {
            s.handler.attach_metrics(metrics);
        }
        metrics.set_repositories_served(self.served().len());
    }

    fn attach_status(&self, board: &Arc<crate::status::Board>) {
        let _ = self.status.set(Arc::clone(board));
        for s in self.served().iter() {
            s.handler.attach_status(board);
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
        let keys: Vec<String> = (0..12).map(|i| format!("acme/r{i}")).collect();
        let cases = [
            (0, ""),
            (1, "`acme/r0`"),
            (2, "`acme/r0`, `acme/r1`"),
            (10, "`acme/r0`, `acme/r1`, `acme/r2`, `acme/r3`, `acme/r4`, `acme/r5`, `acme/r6`, `acme/r7`, `acme/r8`, `acme/r9`"),
            (12, "`acme/r0`, `acme/r1`, `acme/r2`, `acme/r3`, `acme/r4`, `acme/r5`, `acme/r6`, `acme/r7`, `acme/r8`, `acme/r9`, and 2 more"),
        ];
        for (n, want) in cases {
            assert_eq!(listed(keys[..n].iter().map(String::as_str)), want, "{n}");
        }
        assert!(needs_no_repository("/chartpilot help"));
        assert!(needs_no_repository(""));
        assert!(!needs_no_repository("rollback web prod"));
    }
}
