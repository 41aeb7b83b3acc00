//! RabbitMQ through lapin.
//!
//! Topology (with `queue.prefix` = P), declared at every (re)connect:
//! - exchange `P` (direct, durable);
//! - `P.jobs` (quorum) ← key `jobs`: the work queue. Its delivery limit
//!   dead-letters a job that keeps killing workers to `parked`;
//! - `P.retry.<ms>ms` (quorum, one per `queue.retry_delays` entry) ← key
//!   `retry.<ms>ms`: message TTL, then dead-lettered back to `jobs`;
//! - `P.parked` (quorum) ← key `parked`: jobs for a person to look at.
//!
//! A supervisor task owns the connection and reconnects with backoff; while
//! it is down, publishing fails fast with [`QueueError::Unavailable`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event,
    ExchangeKind,
};
use tokio::sync::{mpsc, watch, Mutex, Notify};

use super::{Delivery, DeliveryHandle, JobQueue, ParkedJob, QueueError};
use crate::jobs::JobEnvelope;
use crate::metrics::Metrics;
use crate::settings::QueueSettings;

/// First wait after a failed connect; doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Cap on the reconnect wait, so a restarted broker is used within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the supervisor double-checks the connection status, in case
/// an error event was missed.
const HEALTH_POLL: Duration = Duration::from_millis(500);
/// Heartbeat asked of the broker when the URL sets none: detects a dead
/// peer within about two intervals instead of the broker's 60 s default.
const DEFAULT_HEARTBEAT_SECS: u16 = 10;
/// A job redelivered this many times without being settled (the worker
/// dies on it each time) is dead-lettered to the parking queue.
const DELIVERY_LIMIT: i64 = 20;
/// Persistent messages survive a broker restart.
const PERSISTENT: u8 = 2;

/// Header names chartpilot sets on every message.
pub const HEADER_DELIVERY_ID: &str = "x-delivery-id";
pub const HEADER_IDEMPOTENCY_KEY: &str = "x-idempotency-key";
pub const HEADER_ATTEMPT: &str = "x-attempt";
pub const HEADER_PARK_REASON: &str = "x-park-reason";

const KEY_JOBS: &str = "jobs";
const KEY_PARKED: &str = "parked";

#[derive(Debug)]
pub(crate) struct AmqpHandle {
    acker: Acker,
    generation: u64,
}

struct Link {
    conn: Connection,
    publish: Channel,
    generation: u64,
}

struct Shared {
    url: String,
    prefix: String,
    prefetch: u16,
    retry_delays: Vec<Duration>,
    confirm_timeout: Duration,
    metrics: Arc<Metrics>,
    link: RwLock<Option<Arc<Link>>>,
    generation: AtomicU64,
    closed: AtomicBool,
    /// Wakes the supervisor: the link failed or the queue is closing.
    wake: Notify,
    /// Flips to true once on close; receivers wait on it.
    shutdown: watch::Sender<bool>,
}

pub struct AmqpQueue {
    shared: Arc<Shared>,
    deliveries: Mutex<mpsc::Receiver<Delivery>>,
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

fn retry_key(delay: Duration) -> String {
    format!("retry.{}ms", delay.as_millis())
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Adds a heartbeat to the URL unless it already sets one.
fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&heartbeat={DEFAULT_HEARTBEAT_SECS}")
    } else {
        format!("{url}?heartbeat={DEFAULT_HEARTBEAT_SECS}")
    }
}

impl Shared {
    fn current(&self) -> Option<Arc<Link>> {
        self.link
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_link(&self, link: Option<Arc<Link>>) {
        self.metrics.set_queue_connected(link.is_some());
        *self.link.write().unwrap_or_else(PoisonError::into_inner) = link;
    }

    /// Publishes and waits for the broker's confirm.
    async fn publish_confirmed(
        &self,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<(), QueueError> {
        let link = self
            .current()
            .ok_or_else(|| unavailable("not connected to the broker"))?;
        let exchange = ShortString::from(self.prefix.as_str());
        let result = tokio::time::timeout(self.confirm_timeout, async {
            let confirm = link
                .publish
                .basic_publish(
                    exchange,
                    ShortString::from(routing_key),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    body,
                    props,
                )
                .await
                .map_err(unavailable)?
                .await
                .map_err(unavailable)?;
            match confirm {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(_)) => Err(unavailable(format!(
                    "broker returned the message: no queue bound to `{routing_key}`"
                ))),
                Confirmation::Nack(_) => Err(unavailable("broker refused the message (nack)")),
                Confirmation::NotRequested => Err(unavailable("publisher confirms are off")),
            }
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                if !link.conn.status().connected() {
                    self.wake.notify_one();
                }
                Err(e)
            }
            Err(_) => Err(QueueError::ConfirmTimeout(self.confirm_timeout)),
        }
    }

    async fn declare_topology(&self, ch: &Channel) -> lapin::Result<()> {
        let p = &self.prefix;
        ch.exchange_declare(
            p.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let quorum = ("x-queue-type", long_string("quorum"));
        let to_exchange = ("x-dead-letter-exchange", long_string(p));
        let jobs = format!("{p}.{KEY_JOBS}");
        let declarations = std::iter::once((
            jobs.clone(),
            KEY_JOBS.to_owned(),
            table(&[
                quorum.clone(),
                ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
                to_exchange.clone(),
                ("x-dead-letter-routing-key", long_string(KEY_PARKED)),
            ]),
        ))
        .chain(std::iter::once((
            format!("{p}.{KEY_PARKED}"),
            KEY_PARKED.to_owned(),
            table(std::slice::from_ref(&quorum)),
        )))
        .chain(self.retry_delays.iter().map(|d| {
            let key = retry_key(*d);
            let ttl = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            (
                format!("{p}.{key}"),
                key,
                table(&[
                    quorum.clone(),
                    ("x-message-ttl", AMQPValue::LongLongInt(ttl)),
                    to_exchange.clone(),
                    ("x-dead-letter-routing-key", long_string(KEY_JOBS)),
                ]),
            )
        }));
        for (queue, key, args) in declarations {
            ch.queue_declare(queue.as_str().into(), durable, args)
                .await?;
            ch.queue_bind(
                queue.as_str().into(),
                p.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        Ok(())
    }

    async fn connect(
        self: &Arc<Self>,
        tx: Option<&mpsc::Sender<Delivery>>,
    ) -> lapin::Result<Arc<Link>> {
        let props = ConnectionProperties::default().with_connection_name("chartpilot".into());
        let conn = Connection::connect(&with_heartbeat(&self.url), props).await?;
        let setup = conn.create_channel().await?;
        self.declare_topology(&setup).await?;
        let publish = conn.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(tx) = tx {
            setup
                .basic_qos(self.prefetch, BasicQosOptions::default())
                .await?;
            let consumer = setup
                .basic_consume(
                    format!("{}.{KEY_JOBS}", self.prefix).as_str().into(),
                    format!("chartpilot-{}", uuid::Uuid::new_v4().simple())
                        .as_str()
                        .into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let tx = tx.clone();
            let shared = Arc::clone(self);
            tokio::spawn(async move {
                let mut consumer = consumer;
                while let Some(item) = consumer.next().await {
                    match item {
                        Ok(d) => {
                            let delivery = Delivery {
                                body: d.data,
                                redelivered: d.redelivered,
                                handle: DeliveryHandle::Amqp(AmqpHandle {
                                    acker: d.acker,
                                    generation,
                                }),
                            };
                            if tx.send(delivery).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "consumer stream failed");
                            break;
                        }
                    }
                }
                // The consumer ended (connection lost or consumer cancelled
                // by the broker): have the supervisor build a new link.
                shared.wake.notify_one();
            });
        }
        Ok(Arc::new(Link {
            conn,
            publish,
            generation,
        }))
    }

    /// Owns the connection: connect, wait for it to fail, reconnect.
    async fn supervise(self: Arc<Self>, tx: Option<mpsc::Sender<Delivery>>) {
        let mut backoff = INITIAL_BACKOFF;
        while !self.closed.load(Ordering::Acquire) {
            match self.connect(tx.as_ref()).await {
                Ok(link) => {
                    backoff = INITIAL_BACKOFF;
                    tracing::info!(generation = link.generation, "connected to the broker");
                    self.set_link(Some(Arc::clone(&link)));
                    self.wait_for_failure(&link).await;
                    self.set_link(None);
                    if self.closed.load(Ordering::Acquire) {
                        let _ = link
                            .conn
                            .close(200, "chartpilot shutting down".into())
                            .await;
                        break;
                    }
                    tracing::warn!(
                        generation = link.generation,
                        "lost the broker; reconnecting"
                    );
                    let _ = link.conn.close(320, "reconnecting".into()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot reach the broker");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.wake.notified() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn wait_for_failure(&self, link: &Link) {
        let mut events = link.conn.events_listener();
        let mut poll = tokio::time::interval(HEALTH_POLL);
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(Event::Error(e)) => {
                        tracing::warn!(error = %e, "broker connection error");
                        return;
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = poll.tick() => {
                    if !link.conn.status().connected() {
                        return;
                    }
                }
                () = self.wake.notified() => return,
            }
        }
    }
}

impl AmqpQueue {
    /// Starts the supervisor; the queue becomes ready once it connects.
    pub fn start(settings: &QueueSettings, metrics: Arc<Metrics>, consume: bool) -> Self {
        let (tx, rx) = mpsc::channel(usize::from(settings.prefetch));
        let shared = Arc::new(Shared {
            url: settings.url.expose().to_owned(),
            prefix: settings.prefix.clone(),
            prefetch: settings.prefetch,
            retry_delays: settings.retry_delays.clone(),
            confirm_timeout: settings.confirm_timeout,
            metrics,
            link: RwLock::new(None),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
            shutdown: watch::channel(false).0,
        });
        shared.metrics.set_queue_connected(false);
        tokio::spawn(Arc::clone(&shared).supervise(consume.then_some(tx)));
        Self {
            shared,
            deliveries: Mutex::new(rx),
        }
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

    fn props(job: &JobEnvelope) -> BasicProperties {
        let mut headers = vec![
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
            .with_message_id(job.id.to_string().as_str().into())
            .with_type(job.kind.as_str().into())
            .with_timestamp(u64::try_from(job.created_at.timestamp()).unwrap_or(0))
            .with_headers(table(&headers))
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn publish(&self, job: &JobEnvelope) -> Result<(), QueueError> {
        self.shared
            .publish_confirmed(KEY_JOBS, &job.to_bytes(), Self::props(job))
            .await
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
        self.shared
            .publish_confirmed(&retry_key(delay), &next.to_bytes(), Self::props(next))
            .await?;
        self.ack_handle(h).await
    }

    async fn park(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let body = delivery.body.clone();
        let h = Self::handle(delivery)?;
        Self::usable(&h)?;
        let props = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_headers(table(&[(HEADER_PARK_REASON, long_string(reason))]));
        self.shared
            .publish_confirmed(KEY_PARKED, &body, props)
            .await?;
        self.ack_handle(h).await
    }

    fn is_ready(&self) -> bool {
        self.shared
            .current()
            .is_some_and(|l| l.conn.status().connected() && l.publish.status().connected())
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

    /// Reads the parking queue without consuming it: gets every message
    /// unacknowledged, then closes the channel so the broker requeues them.
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError> {
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
                .unwrap_or_else(|| "redelivered too often (delivery limit)".to_owned());
            out.push(ParkedJob {
                reason,
                body: String::from_utf8_lossy(&d.data).into_owned(),
            });
        }
        let _ = ch.close(200, "done reading parked jobs".into()).await;
        Ok(out)
    }
}
