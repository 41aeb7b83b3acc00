//! The job queue: one trait, two implementations with the same behaviour.
//!
//! - [`amqp::AmqpQueue`]: RabbitMQ through lapin, quorum queues, publisher
//!   confirms, retry through dead-lettering delay queues, a parking queue.
//! - [`embedded::EmbeddedQueue`]: a redb file on local disk, for one machine.
//!
//! Delivery is at least once: a job leaves the queue only when the worker
//! settles it (ack, retry or park) after its handler ran. Publishing is
//! once per idempotency key: a key queued before is answered
//! [`Published::Duplicate`] and not queued again (see [`seen`]).

pub mod amqp;
pub mod embedded;
pub mod parked;
pub mod seen;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::jobs::JobEnvelope;
use crate::metrics::Metrics;
use crate::settings::{QueueKind, QueueSettings};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Not connected, or the broker refused: the sender should retry later.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("broker did not confirm within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("queue storage error: {0}")]
    Storage(String),
    #[error("queue is shut down")]
    Closed,
    /// The embedded store's file cannot be read: the process cannot start
    /// on it, and a person has to move it aside.
    #[error(
        "the embedded queue file {f} is damaged and cannot be opened ({detail}). \
         Stop chartpilot, move the file aside (mv {f} {f}.damaged) and start again: \
         an empty queue is created in its place. Jobs waiting in the old file are not run; \
         their senders can send them again (GitHub: Redeliver under the webhook's Recent \
         Deliveries; Alertmanager re-sends firing alerts every repeat_interval; scheduled \
         upgrade passes run on their own). Keep the old file for a bug report.",
        f = .file.display()
    )]
    Corrupt {
        file: std::path::PathBuf,
        detail: String,
    },
}

/// Exit status of a command that stopped because the embedded queue file
/// is damaged: distinct from 1 (any other failure), so a supervisor or an
/// init container can tell "needs a person" from "try again".
pub const EXIT_STORE_DAMAGED: u8 = 2;

impl QueueError {
    /// The exit status a command ends with for this error, when it has a
    /// status of its own.
    pub fn exit_code(&self) -> Option<u8> {
        match self {
            QueueError::Corrupt { .. } => Some(EXIT_STORE_DAMAGED),
            _ => None,
        }
    }
}

/// What [`JobQueue::publish`] did with a job; both are a success for the
/// sender, who must not send it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    Queued,
    /// A job with the same idempotency key was queued before (within
    /// [`seen::SEEN_TTL`]): this one was not queued again.
    Duplicate,
}

/// One job handed to a worker. Settle it with [`JobQueue::ack`],
/// [`JobQueue::retry`] or [`JobQueue::park`]; one that is dropped unsettled
/// is delivered again.
#[derive(Debug)]
pub struct Delivery {
    pub body: Vec<u8>,
    /// The queue delivered this job before and it was not settled.
    pub redelivered: bool,
    pub(crate) handle: DeliveryHandle,
}

#[derive(Debug)]
pub(crate) enum DeliveryHandle {
    Amqp(amqp::AmqpHandle),
    Embedded(embedded::EmbeddedHandle),
}

/// Where a parked job ended up, as stored by either implementation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParkedJob {
    pub reason: String,
    pub body: String,
}

/// How many jobs wait, as the status page shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Depth {
    /// Due now or being worked on.
    pub ready: u64,
    /// Waiting out a retry delay.
    pub retrying: u64,
    /// In the parking queue, for a person to look at.
    pub parked: u64,
}

/// What [`JobQueue::unpark`] does with the parked job it takes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpark {
    /// Back on the work queue at attempt 1, whatever its idempotency key
    /// (a person asked for it to run again).
    Retry,
    /// Removed for good.
    Drop,
}

#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Returns once the job is durable: confirmed by the broker, or
    /// committed to disk; or at once when its idempotency key was queued
    /// before.
    async fn publish(&self, job: &JobEnvelope) -> Result<Published, QueueError>;

    /// Waits for the next job. `None` once the queue is closed.
    async fn receive(&self) -> Option<Delivery>;

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError>;

    /// Replaces the delivery with `next`, due after `delay`. The delay is
    /// one of `queue.retry_delays`.
    async fn retry(
        &self,
        delivery: Delivery,
        next: &JobEnvelope,
        delay: Duration,
    ) -> Result<(), QueueError>;

    /// Moves the delivery to the parking queue for a person to look at.
    async fn park(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError>;

    /// True while jobs can be published: connected, and (AMQP) the last
    /// publisher confirm did not time out.
    fn is_ready(&self) -> bool;

    /// Stops handing out jobs; unsettled ones go back to the queue.
    async fn close(&self);

    /// Jobs in the parking queue, oldest first; for operators and tests.
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError>;

    /// How many jobs wait; counts only, nothing is taken off a queue.
    async fn depth(&self) -> Result<Depth, QueueError>;

    /// The oldest `max` parked jobs, for the status page; None where they
    /// cannot be read without touching them (RabbitMQ hands a message out
    /// to show it, and a quorum queue counts each return toward its
    /// delivery limit): there `chartpilot jobs list` reads them on purpose.
    async fn parked_preview(&self, max: usize) -> Result<Option<Vec<ParkedJob>>, QueueError>;

    /// Takes the parked job whose envelope id is `id` out of the parking
    /// queue and, for [`Unpark::Retry`], puts it on the work queue at
    /// attempt 1. `None` when no parked job has that id; the parking queue
    /// is then unchanged.
    async fn unpark(&self, id: Uuid, action: Unpark) -> Result<Option<ParkedJob>, QueueError>;
}

/// The envelope a retried parked job runs with: its own, back at attempt 1.
/// `None` for a body that is no envelope of `id` (it cannot be matched).
pub(crate) fn retried_body(parked: &ParkedJob, id: Uuid) -> Option<JobEnvelope> {
    JobEnvelope::from_bytes(parked.body.as_bytes())
        .ok()
        .filter(|e| e.id == id)
        .map(|e| JobEnvelope { attempt: 1, ..e })
}

/// Opens the queue the settings name. `consume` is false for receiver-only
/// processes, which publish but never take jobs.
pub async fn open(
    settings: &QueueSettings,
    metrics: Arc<Metrics>,
    consume: bool,
) -> Result<Arc<dyn JobQueue>, QueueError> {
    Ok(match settings.kind {
        QueueKind::Embedded => Arc::new(embedded::EmbeddedQueue::open(settings, metrics)?),
        QueueKind::Amqp => Arc::new(amqp::AmqpQueue::start(settings, metrics, consume)),
    })
}
