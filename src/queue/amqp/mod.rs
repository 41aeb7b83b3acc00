//! RabbitMQ through lapin.
//!
//! Topology (with `queue.prefix` = P), declared at every (re)connect (see
//! [`topology::declare`]):
//! - exchange `P` (direct, durable); key `jobs` leads to the headers
//!   exchange `P.lanes`, which routes each job by its lane header;
//! - `P.lane.<n>` (quorum, single active consumer, `queue.lanes` of them):
//!   the work queues. A job goes to the lane of its repository, and a lane
//!   runs one job at a time on any number of workers. The delivery limit
//!   dead-letters a job that keeps killing workers to `parked`;
//! - `P.retry.<ms>ms` (quorum, one per `queue.retry_delays` entry) ← key
//!   `retry.<ms>ms`: message TTL, then dead-lettered back to `jobs`, and
//!   so to the job's lane;
//! - `P.parked` (quorum) ← key `parked`: jobs for a person to look at.
//!
//! A supervisor task owns the connection and reconnects with backoff; while
//! it is down, publishing fails fast with [`QueueError::Unavailable`].

mod link;
mod topology;

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use lapin::{Acker, BasicProperties};
use tokio::sync::{mpsc, Mutex};
use uuid::Uuid;

use super::embedded::crash_reason;
use super::seen::{Claim, SeenKeys};
use super::{Delivery, DeliveryHandle, JobQueue, ParkedJob, Published, QueueError, Unpark};
use crate::jobs::JobEnvelope;
use crate::metrics::Metrics;
use crate::settings::QueueSettings;
pub use link::split_urls;
use link::Shared;
pub use topology::{lane_of, HEADER_LANE};
use topology::{long_string, retry_key, table, KEY_JOBS, KEY_PARKED};

/// Persistent messages survive a broker restart.
const PERSISTENT: u8 = 2;

/// Header names chartpilot sets on every message.
pub const HEADER_DELIVERY_ID: &str = "x-delivery-id";
pub const HEADER_IDEMPOTENCY_KEY: &str = "x-idempotency-key";
pub const HEADER_ATTEMPT: &str = "x-attempt";
pub const HEADER_PARK_REASON: &str = "x-park-reason";

#[derive(Debug)]
pub(crate) struct AmqpHandle {
    acker: Acker,
    generation: u64,
}

pub struct AmqpQueue {
    shared: Arc<Shared>,
    deliveries: Mutex<mpsc::Receiver<Delivery>>,
    /// Idempotency keys this replica queued. Per replica: another replica
    /// may queue the same key once more, which handlers absorb (every
    /// effect is idempotent); what this stops is a replay running N times.
    seen: std::sync::Mutex<SeenKeys>,
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl AmqpQueue {
    /// Starts the supervisor; the queue becomes ready once it connects.
    pub fn start(settings: &QueueSettings, metrics: Arc<Metrics>, consume: bool) -> Self {
        let (tx, rx) = mpsc::channel(usize::from(settings.prefetch));
        let shared = Arc::new(Shared::new(
            settings.url.expose().to_owned(),
            settings.prefix.clone(),
            settings.prefetch,
            settings.retry_delays.clone(),
            settings.confirm_timeout,
            settings.max_deliveries,
            settings.lanes,
            metrics,
        ));
        shared.metrics.set_queue_connected(false);
        tokio::spawn(Arc::clone(&shared).supervise(consume.then_some(tx)));
        Self {
            shared,
            deliveries: Mutex::new(rx),
            seen: std::sync::Mutex::new(SeenKeys::default()),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, SeenKeys> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(delivery: Delivery) -> Result<AmqpHandle, QueueError> {
        match delivery.handle {
            DeliveryHandle::Amqp(h) => Ok(h),
            DeliveryHandle::Embedded(_) => Err(unavailable("delivery belongs to another queue")),
        }
    }

    async fn ack_handle(&self, h: AmqpHandle) -> Result<(), QueueError> {
        match h.acker.ack(BasicAckOptions::default()).await {
            Ok(true) => Ok(()),
            // lapin answers false when the delivery's channel has died.
            Ok(false) => Err(unavailable(
                "the delivery's channel is gone; the broker redelivers the job",
            )),
            Err(e) => Err(unavailable(format!(
                "ack failed; the broker redelivers the job: {e}"
            ))),
        }
    }

    /// Acks once the replacement (retry or parked copy) is stored. If it
    /// could not be stored, hands the job back to the broker now rather than
    /// holding it unacknowledged, and a prefetch slot with it, until the
    /// connection closes.
    async fn ack_if(
        &self,
        h: AmqpHandle,
        stored: Result<(), QueueError>,
    ) -> Result<(), QueueError> {
        match stored {
            Ok(()) => self.ack_handle(h).await,
            Err(e) => {
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                if let Err(nack) = h.acker.nack(requeue).await {
                    tracing::warn!(error = %nack, "could not hand the job back; the broker redelivers it when the channel closes");
                }
                Err(e)
            }
        }
    }

    /// A delivery from a dead channel cannot be settled; checking first
    /// avoids publishing a retry or parked copy of a job the broker is
    /// about to redeliver anyway.
    fn usable(h: &AmqpHandle) -> Result<(), QueueError> {
        if h.acker.usable() {
            Ok(())
        } else {
            Err(unavailable(
                "the delivery's channel is gone; the broker redelivers the job",
            ))
        }
    }

    fn props(&self, job: &JobEnvelope) -> BasicProperties {
        let lane = lane_of(job.lane_key(), self.shared.lanes);
        let mut headers = vec![
            (HEADER_LANE, long_string(&lane.to_string())),
            (HEADER_IDEMPOTENCY_KEY, long_string(&job.idempotency_key)),
            (
                HEADER_ATTEMPT,
                AMQPValue::LongLongInt(i64::from(job.attempt)),
            ),
        ];
        if let Some(d) = &job.delivery_id {
            headers.push((HEADER_DELIVERY_ID, long_string(d.as_ref())));
        }
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            // The key, not the job id: what makes two messages the same
            // job, for tools and for deduplicating consumers.
            .with_message_id(job.idempotency_key.as_str().into())
            .with_type(job.kind.as_str().into())
            .with_timestamp(u64::try_from(job.created_at.timestamp()).unwrap_or(0))
            .with_headers(table(&headers))
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn publish(&self, job: &JobEnvelope) -> Result<Published, QueueError> {
        let key = job.idempotency_key.as_str();
        // An empty key names nothing to compare: such jobs are always queued.
        if !key.is_empty() {
            match self.seen().claim(key, Instant::now()) {
                Claim::New => {}
                Claim::Duplicate => {
                    tracing::info!(
                        job = %job.id,
                        kind = job.kind,
                        idempotency_key = key,
                        "job seen before; not queued again"
                    );
                    return Ok(Published::Duplicate);
                }
                Claim::InFlight => {
                    return Err(unavailable(
                        "a job with the same idempotency key is being queued right now; try again",
                    ))
                }
            }
        }
        let published = self
            .shared
            .publish_confirmed(KEY_JOBS, &job.to_bytes(), self.props(job))
            .await;
        if !key.is_empty() {
            match &published {
                Ok(()) => self.seen().confirmed(key),
                Err(_) => self.seen().forget(key),
            }
        }
        published.map(|()| Published::Queued)
    }

    async fn receive(&self) -> Option<Delivery> {
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut rx = self.deliveries.lock().await;
        loop {
            if *shutdown.borrow_and_update() {
                return None;
            }
            let delivery = tokio::select! {
                d = rx.recv() => d?,
                _ = shutdown.changed() => return None,
            };
            // A delivery buffered from a connection that has since been
            // replaced can no longer be acked; the broker redelivers it on
            // the new one. Compare with the newest generation, not the
            // published link: the new consumer may deliver before the
            // supervisor publishes its link.
            let newest = self.shared.generation.load(Ordering::Acquire);
            match &delivery.handle {
                DeliveryHandle::Amqp(h) if h.generation < newest => continue,
                _ => return Some(delivery),
            }
        }
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.ack_handle(Self::handle(delivery)?).await
    }

    async fn retry(
        &self,
        delivery: Delivery,
        next: &JobEnvelope,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let h = Self::handle(delivery)?;
        Self::usable(&h)?;
        let published = self
            .shared
            .publish_confirmed(&retry_key(delay), &next.to_bytes(), self.props(next))
            .await;
        self.ack_if(h, published).await
    }

    async fn park(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let body = delivery.body.clone();
        let h = Self::handle(delivery)?;
        Self::usable(&h)?;
        let props = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_headers(table(&[(HEADER_PARK_REASON, long_string(reason))]));
        let published = self
            .shared
            .publish_confirmed(KEY_PARKED, &body, props)
            .await;
        self.ack_if(h, published).await
    }

    fn is_ready(&self) -> bool {
        !self.shared.stalled.load(Ordering::Acquire)
            && self.shared.current().is_some_and(|l| l.can_publish())
    }

    async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.shutdown.send_replace(true);
        self.shared.wake.notify_one();
        if let Some(link) = self.shared.current() {
            let _ = link
                .conn
                .close(200, "chartpilot shutting down".into())
                .await;
        }
        self.shared.set_link(None);
    }

    async fn parked_preview(&self, _max: usize) -> Result<Option<Vec<ParkedJob>>, QueueError> {
        Ok(None)
    }

    /// Message counts of the lane, retry and parking queues, by passive
    /// declares (which change nothing). `ready` counts the jobs waiting in
    /// the lanes, not those workers hold unacknowledged.
    async fn depth(&self) -> Result<super::Depth, QueueError> {
        let link = self
            .shared
            .current()
            .ok_or_else(|| unavailable("not connected to the broker"))?;
        let ch = link.conn.create_channel().await.map_err(unavailable)?;
        let p = &self.shared.prefix;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..lapin::options::QueueDeclareOptions::default()
        };
        let mut depth = super::Depth::default();
        let queues = (0..self.shared.lanes.max(1))
            .map(|lane| (topology::lane_queue(p, lane), 0))
            .chain(std::iter::once((topology::legacy_jobs(p), 0)))
            .chain(std::iter::once((format!("{p}.{KEY_PARKED}"), 2)))
            .chain(
                self.shared
                    .retry_delays
                    .iter()
                    .map(|d| (format!("{p}.{}", retry_key(*d)), 1)),
            );
        for (name, slot) in queues {
            let q = ch
                .queue_declare(
                    name.as_str().into(),
                    passive,
                    lapin::types::FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
            let n = u64::from(q.message_count());
            match slot {
                0 => depth.ready += n,
                1 => depth.retrying += n,
                _ => depth.parked += n,
            }
        }
        let _ = ch.close(200, "done counting jobs".into()).await;
        Ok(depth)
    }

    /// Reads the parking queue without consuming it: gets every message
    /// unacknowledged, then puts each back as a fresh copy (see
    /// [`AmqpQueue::give_back`]).
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError> {
        let (ch, parked) = self.read_parked().await?;
        let jobs = parked.iter().map(|p| p.job.clone()).collect();
        self.give_back(&ch, parked).await;
        let _ = ch.close(200, "done reading parked jobs".into()).await;
        Ok(jobs)
    }

    /// Reads the parking queue as [`Self::parked`] does, and acks only the
    /// message of `id`, after its retry copy is confirmed on `P.jobs`; the
    /// others are given back. A crash between the confirm and the ack
    /// leaves the job both queued and parked (at least once, as everywhere
    /// else); never neither.
    async fn unpark(&self, id: Uuid, action: Unpark) -> Result<Option<ParkedJob>, QueueError> {
        let (ch, mut parked) = self.read_parked().await?;
        let found = parked
            .iter()
            .position(|p| super::retried_body(&p.job, id).is_some());
        let taken = async {
            let Some(at) = found else {
                return Ok(None);
            };
            let chosen = parked.remove(at);
            if action == Unpark::Retry {
                if let Some(env) = super::retried_body(&chosen.job, id) {
                    self.shared
                        .publish_confirmed(KEY_JOBS, &env.to_bytes(), self.props(&env))
                        .await?;
                }
            }
            ch.basic_ack(chosen.tag, BasicAckOptions::default())
                .await
                .map_err(unavailable)?;
            Ok(Some(chosen.job))
        }
        .await;
        self.give_back(&ch, parked).await;
        let _ = ch.close(200, "done with parked jobs".into()).await;
        taken
    }
}

/// One message read from `P.parked` and held unacknowledged.
struct HeldParked {
    tag: u64,
    job: ParkedJob,
    properties: BasicProperties,
    data: Vec<u8>,
}

impl AmqpQueue {
    /// Every message of `P.parked`, taken unacknowledged on a channel of its
    /// own (with its delivery tag): closing that channel gives them back.
    async fn read_parked(&self) -> Result<(lapin::Channel, Vec<HeldParked>), QueueError> {
        let link = self
            .shared
            .current()
            .ok_or_else(|| unavailable("not connected to the broker"))?;
        let ch = link.conn.create_channel().await.map_err(unavailable)?;
        let queue = format!("{}.{KEY_PARKED}", self.shared.prefix);
        let mut out = Vec::new();
        while let Some(msg) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .map_err(unavailable)?
        {
            let d = msg.delivery;
            let reason = d
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(HEADER_PARK_REASON).cloned())
                .and_then(|v| match v {
                    AMQPValue::LongString(s) => {
                        Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
                    }
                    _ => None,
                })
                // Dead-lettered by the delivery limit of `P.jobs`: each of
                // its deliveries ended without a settle, which is a worker
                // dying on the job (or losing its connection). The broker's
                // own count header is not reliable across versions, and the
                // limit is what was reached.
                .unwrap_or_else(|| {
                    crash_reason(self.shared.max_deliveries, self.shared.max_deliveries)
                });
            out.push(HeldParked {
                tag: d.delivery_tag,
                job: ParkedJob {
                    reason,
                    body: String::from_utf8_lossy(&d.data).into_owned(),
                },
                properties: d.properties,
                data: d.data,
            });
        }
        Ok((ch, out))
    }

    /// Puts read parked jobs back as fresh copies, in order (each copy is
    /// confirmed before its original is acked), rather than by closing the
    /// channel. A quorum queue counts a message handed back by a closed
    /// channel as a delivery on RabbitMQ 4.0 to 4.2, and `P.parked` has the
    /// default delivery limit there (20) with nowhere to dead-letter to:
    /// the 20th `jobs list` would have dropped every parked job. A copy
    /// starts at zero. If a copy cannot be published, it and the rest go
    /// back the old way when the channel closes; a crash between a copy
    /// and its ack leaves the job parked twice, never lost.
    async fn give_back(&self, ch: &lapin::Channel, held: Vec<HeldParked>) {
        for h in held {
            let properties = fresh_copy(h.properties, &h.job.reason);
            if let Err(e) = self
                .shared
                .publish_confirmed(KEY_PARKED, &h.data, properties)
                .await
            {
                tracing::warn!(error = %e, "parked job not copied back; the broker requeues it");
                return;
            }
            if let Err(e) = ch.basic_ack(h.tag, BasicAckOptions::default()).await {
                // The copy is confirmed: the original comes back as well
                // when the channel closes, so the job is parked twice.
                tracing::warn!(error = %e, "parked job copied but not acked; it is listed twice until dropped");
                return;
            }
        }
    }
}

/// `properties` for a copy of a parked message: the broker's delivery
/// count left out, the park reason written (dead-lettered jobs had none).
fn fresh_copy(properties: BasicProperties, reason: &str) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    let mut kept = lapin::types::FieldTable::default();
    for (k, v) in headers.inner() {
        if k.as_str() != "x-delivery-count" {
            kept.insert(k.clone(), v.clone());
        }
    }
    if !kept.inner().contains_key(HEADER_PARK_REASON) {
        kept.insert(HEADER_PARK_REASON.into(), long_string(reason));
    }
    headers = kept;
    properties.with_headers(headers)
}
