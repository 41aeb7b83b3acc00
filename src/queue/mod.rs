//! The job queue: one trait, two implementations with the same behaviour.
//!
//! - [`amqp::AmqpQueue`]: RabbitMQ through lapin, quorum queues, publisher
//!   confirms, retry through dead-lettering delay queues, a parking queue.
//! - [`embedded::EmbeddedQueue`]: a redb file on local disk, for one machine.
//!
//! Delivery is at least once: a job leaves the queue only when the worker
//! settles it (ack, retry or park) after its handler ran.

pub mod amqp;
pub mod embedded;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

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

#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Returns once the job is durable: confirmed by the broker, or
    /// committed to disk.
    async fn publish(&self, job: &JobEnvelope) -> Result<(), QueueError>;

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

    /// True while jobs can be published.
    fn is_ready(&self) -> bool;

    /// Stops handing out jobs; unsettled ones go back to the queue.
    async fn close(&self);

    /// Jobs in the parking queue, oldest first; for operators and tests.
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError>;
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
