//! A job handler that records what it ran and fails on request.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chartpilot::jobs::{ChatCommand, Job, JobEnvelope};
use chartpilot::worker::{FollowUp, Handled, JobError, JobHandler};

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Succeed,
    /// Fails every run with a retryable error.
    FailAlways,
    /// Fails the first N runs, then succeeds.
    FailFirst(u32),
    /// Fails with a park disposition.
    Reject,
    /// Panics inside the handler.
    Panic,
    /// Fails with a retry not sooner than this (a rate limit's reset).
    RateLimited(std::time::Duration),
    /// Defers the first N runs by this long, then succeeds.
    DeferFirst(u32, std::time::Duration),
    /// A chat job whose text does not start with `follow-up:` asks for one
    /// that does; that one just succeeds.
    FollowUp,
    /// Never finishes (until the worker's job timeout drops it).
    Hang,
}

pub struct RecordingHandler {
    mode: Mutex<Mode>,
    runs: AtomicU32,
    seen: Mutex<Vec<(JobEnvelope, Job)>>,
}

impl RecordingHandler {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode: Mutex::new(mode),
            runs: AtomicU32::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn seen(&self) -> Vec<(JobEnvelope, Job)> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobHandler for RecordingHandler {
    async fn handle(&self, job: &Job, envelope: &JobEnvelope) -> Handled {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen
            .lock()
            .unwrap()
            .push((envelope.clone(), job.clone()));
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Succeed => Ok(Vec::new()),
            Mode::FailAlways => Err(JobError::retry(anyhow::anyhow!(
                "upstream down (run {run})"
            ))),
            Mode::FailFirst(n) if run <= n => Err(JobError::retry(anyhow::anyhow!(
                "upstream down (run {run})"
            ))),
            Mode::FailFirst(_) => Ok(Vec::new()),
            Mode::Reject => Err(JobError::park(anyhow::anyhow!("cannot ever work"))),
            Mode::Panic => panic!("handler bug"),
            Mode::DeferFirst(n, wait) if run <= n => Err(JobError::defer(
                anyhow::anyhow!("soaking (run {run})"),
                wait,
            )),
            Mode::DeferFirst(..) => Ok(Vec::new()),
            Mode::FollowUp => Ok(match job {
                Job::Chat(c) if !c.text.starts_with("follow-up:") => vec![FollowUp {
                    job: Job::Chat(ChatCommand {
                        text: format!("follow-up: {}", c.text),
                        ..c.clone()
                    }),
                    idempotency_key: format!("follow-up-of-{}", envelope.id),
                    repository: None,
                }],
                _ => Vec::new(),
            }),
            Mode::Hang => std::future::pending().await,
            Mode::RateLimited(wait) => Err(JobError::retry_after(
                anyhow::anyhow!("rate limited (run {run})"),
                wait,
            )),
        }
    }
}
