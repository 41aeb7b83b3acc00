//! Takes jobs from the queue, runs their handler, and settles each one:
//! ack on success, retry with a growing delay, park after
//! `queue.max_attempts` or when the job cannot be decoded.

pub mod discovery;
mod dispatch;
pub mod repos;
pub mod schedule;
pub mod service;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

pub use dispatch::{Disposition, FollowUp, Handled, JobError, JobHandler, LoggingHandler};

use crate::jobs::{Job, JobEnvelope};
use crate::metrics::Metrics;
use crate::queue::{Delivery, JobQueue, QueueError};

/// How long shutdown waits for jobs in flight before giving up on them;
/// unsettled jobs go back to the queue, so nothing is lost either way.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// What happened to one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Retried {
        attempt: u32,
        delay: Duration,
    },
    /// Waiting for something outside; runs again, same attempt.
    Deferred {
        delay: Duration,
    },
    Parked {
        reason: String,
    },
}

#[derive(Clone)]
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    handler: Arc<dyn JobHandler>,
    metrics: Arc<Metrics>,
    retry_delays: Vec<Duration>,
    max_attempts: u32,
    /// `queue.job_timeout`: one run longer than this is cancelled and
    /// counts as a failed attempt.
    job_timeout: Duration,
    concurrency: usize,
}

impl Worker {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        handler: Arc<dyn JobHandler>,
        metrics: Arc<Metrics>,
        settings: &crate::settings::QueueSettings,
    ) -> Self {
        Self {
            queue,
            handler,
            metrics,
            retry_delays: settings.retry_delays.clone(),
            max_attempts: settings.max_attempts,
            job_timeout: settings.job_timeout,
            concurrency: usize::from(settings.prefetch),
        }
    }

    /// Delay before attempt `attempt + 1`: the list's entry for this
    /// attempt, the last one once the list runs out.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry_delays
            .get(i)
            .or(self.retry_delays.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }

    /// The shortest configured delay of at least `wait` (the longest when
    /// none is that long): the broker only has queues for those delays.
    pub fn delay_at_least(&self, wait: Duration) -> Duration {
        let mut delays = self.retry_delays.clone();
        delays.sort();
        delays
            .iter()
            .find(|d| **d >= wait)
            .or(delays.last())
            .copied()
            .unwrap_or(wait)
    }

    /// Takes one job, runs it and settles it. `None` once the queue closed.
    pub async fn process_one(&self) -> Option<Result<Outcome, QueueError>> {
        let delivery = self.queue.receive().await?;
        Some(self.process(delivery).await)
    }

    async fn process(&self, delivery: Delivery) -> Result<Outcome, QueueError> {
        let envelope = match JobEnvelope::from_bytes(&delivery.body) {
            Ok(env) => JobEnvelope {
                redelivered: delivery.redelivered,
                ..env
            },
            Err(e) => return self.park(delivery, "unknown", e.to_string()).await,
        };
        let span = tracing::info_span!(
            "job",
            job = %envelope.id,
            kind = %envelope.kind,
            attempt = envelope.attempt,
            redelivered = envelope.redelivered,
            delivery = envelope.delivery_id.as_ref().map(|d| d.as_ref()),
            trace_id = %envelope.trace_id,
            repository = envelope.lane_key(),
            otel.name = %format_args!("job {}", envelope.kind),
            otel.kind = "consumer",
            otel.status_code = tracing::field::Empty,
        );
        crate::telemetry::otlp::continue_trace(
            &span,
            &envelope.trace_id,
            envelope.parent_span.as_deref(),
        );
        let outcome = self
            .process_envelope(delivery, envelope)
            .instrument(span.clone())
            .await;
        if matches!(
            outcome,
            Err(_) | Ok(Outcome::Retried { .. } | Outcome::Parked { .. })
        ) {
            span.record("otel.status_code", "ERROR");
        }
        outcome
    }

    async fn process_envelope(
        &self,
        delivery: Delivery,
        envelope: JobEnvelope,
    ) -> Result<Outcome, QueueError> {
        let job = match Job::from_envelope(&envelope) {
            Ok(job) => job,
            // Unknown kinds (from a newer receiver) and bad payloads wait in
            // the parking queue for a person or a newer worker.
            Err(e) => return self.park(delivery, &envelope.kind, e.to_string()).await,
        };
        let started = Instant::now();
        let handler = Arc::clone(&self.handler);
        let run = {
            let envelope = envelope.clone();
            let metrics = Arc::clone(&self.metrics);
            async move { crate::metrics::within(metrics, handler.handle(&job, &envelope)).await }
        };
        // A panicking handler must not take the worker down with it, and a
        // hanging one must not hold a worker slot (and, on RabbitMQ, an
        // unacked message) for ever: it is dropped at its next await point
        // and the run counts as failed, so attempts and parking still apply.
        let guarded = std::panic::AssertUnwindSafe(run).catch_unwind();
        let result = match tokio::time::timeout(self.job_timeout, guarded).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(JobError::retry(anyhow::anyhow!("handler panicked"))),
            Err(_) => Err(JobError::retry(anyhow::anyhow!(
                "ran longer than queue.job_timeout ({})",
                humantime::format_duration(self.job_timeout)
            ))),
        };
        self.metrics
            .consumed(&envelope.kind, started.elapsed().as_secs_f64());
        let result = match result {
            Ok(follow_ups) => self.publish_follow_ups(&envelope, follow_ups).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.queue.ack(delivery).await?;
                self.metrics
                    .took_effect(&envelope.kind, envelope.created_at, chrono::Utc::now());
                tracing::info!("job done");
                Ok(Outcome::Done)
            }
            Err(e) if e.disposition == Disposition::Defer => {
                let delay = self.delay_at_least(e.not_before.unwrap_or_default());
                let reason = format!("{:#}", e.error);
                self.queue
                    .retry(delivery, &envelope.deferred(&reason), delay)
                    .await?;
                tracing::info!(reason = %reason, retry_in = %humantime::format_duration(delay), "job deferred");
                Ok(Outcome::Deferred { delay })
            }
            Err(e) if e.disposition == Disposition::Park => {
                self.park(delivery, &envelope.kind, format!("{:#}", e.error))
                    .await
            }
            Err(e) if envelope.attempt >= self.max_attempts => {
                let reason = format!(
                    "failed {} attempts; last error: {:#}",
                    envelope.attempt, e.error
                );
                self.park(delivery, &envelope.kind, reason).await
            }
            Err(e) => {
                let delay = self.delay_after(envelope.attempt).max(
                    e.not_before
                        .map(|wait| self.delay_at_least(wait))
                        .unwrap_or_default(),
                );
                let message = format!("{:#}", e.error);
                let next = envelope.next_attempt(&message);
                self.queue.retry(delivery, &next, delay).await?;
                self.metrics.retried(&envelope.kind);
                tracing::warn!(event = "job_retry", error = %message, retry_in = %humantime::format_duration(delay), "job failed; will retry");
                Ok(Outcome::Retried {
                    attempt: next.attempt,
                    delay,
                })
            }
        }
    }

    /// Publishes what a job asked for, in the job's trace. A follow-up
    /// that cannot be published fails the job, which runs again: handlers
    /// are idempotent, and nothing is acknowledged that was not carried on.
    async fn publish_follow_ups(
        &self,
        parent: &JobEnvelope,
        follow_ups: Vec<FollowUp>,
    ) -> Result<(), JobError> {
        for f in follow_ups {
            let mut envelope = JobEnvelope::new(
                &f.job,
                f.idempotency_key,
                parent.delivery_id.clone(),
                chrono::Utc::now(),
            )
            .map_err(|e| JobError::park(anyhow::anyhow!("cannot encode a follow-up job: {e}")))?;
            envelope.trace_id.clone_from(&parent.trace_id);
            // A follow-up acts on the repository it names, else on its
            // parent's, in that repository's lane.
            envelope.repository = f.repository.or_else(|| parent.repository.clone());
            self.queue.publish(&envelope).await.map_err(|e| {
                JobError::retry(anyhow::anyhow!(
                    "follow-up {} not queued: {e}",
                    envelope.kind
                ))
            })?;
            tracing::info!(follow_up = %envelope.id, kind = %envelope.kind, "follow-up job queued");
        }
        Ok(())
    }

    async fn park(
        &self,
        delivery: Delivery,
        kind: &str,
        reason: String,
    ) -> Result<Outcome, QueueError> {
        self.queue.park(delivery, &reason).await?;
        self.metrics.parked(kind);
        tracing::error!(event = "job_parked", kind, reason = %reason, "job parked");
        Ok(Outcome::Parked { reason })
    }

    /// Runs jobs, up to `queue.prefetch` at once, until `shutdown` turns
    /// true; then stops taking jobs and waits for those in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.concurrency));
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let delivery = tokio::select! {
                d = self.queue.receive() => d,
                _ = shutdown.wait_for(|stop| *stop) => None,
            };
            let Some(delivery) = delivery else { break };
            let worker = self.clone();
            tokio::spawn(async move {
                if let Err(e) = worker.process(delivery).await {
                    // The job was not settled, so the queue delivers it again.
                    tracing::warn!(error = %e, "could not settle job; it will be redelivered");
                }
                drop(permit);
            });
        }
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("jobs still running at shutdown; they will be redelivered");
        }
        tracing::info!("worker stopped");
    }
}
