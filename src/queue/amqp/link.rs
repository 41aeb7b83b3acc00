//! The broker connection: a supervisor task connects, declares the
//! topology, starts the consumer, waits for the connection to fail, and
//! reconnects with backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use super::topology;
use super::{unavailable, AmqpHandle};
use crate::metrics::Metrics;
use crate::queue::{Delivery, DeliveryHandle, QueueError};

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
/// While confirms time out, how often a probe message asks the broker for
/// a confirm, so readiness comes back without waiting for a webhook (a
/// load balancer sends none to a replica it sees as not ready).
const STALL_PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// Routing key of probe messages: no queue is bound to it, so the broker
/// confirms and drops them.
const PROBE_KEY: &str = "probe";

pub(super) struct Link {
    pub(super) conn: Connection,
    /// The channel publishes go out on, with confirms, and which
    /// replacement it is (0: the first). Replaced after a nack: see
    /// [`Shared::publish_confirmed`].
    publish: RwLock<(Channel, u64)>,
    pub(super) generation: u64,
    /// Signals that this link (not an older one) failed. Per link, so a
    /// late signal from a dead link cannot tear down its successor.
    failed: Arc<Notify>,
}

impl Link {
    fn publish_channel(&self) -> (Channel, u64) {
        self.publish
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Both the connection and the publish channel are open.
    pub(super) fn can_publish(&self) -> bool {
        self.conn.status().connected() && self.publish_channel().0.status().connected()
    }

    /// Opens a new publish channel in place of the one of `epoch`, unless
    /// another publish replaced it already. The old channel is closed once
    /// the publishes still waiting on it had their time.
    async fn renew_publish_channel(&self, epoch: u64, grace: Duration) {
        if self.publish_channel().1 != epoch {
            return;
        }
        let Ok(fresh) = self.conn.create_channel().await else {
            return;
        };
        if fresh
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .is_err()
        {
            return;
        }
        let old = {
            let mut current = self.publish.write().unwrap_or_else(PoisonError::into_inner);
            if current.1 != epoch {
                None
            } else {
                let (old, _) = std::mem::replace(&mut *current, (fresh.clone(), epoch + 1));
                Some(old)
            }
        };
        match old {
            Some(old) => {
                tracing::info!(
                    generation = self.generation,
                    "new publish channel after a nack"
                );
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let _ = old.close(200, "replaced after a nack".into()).await;
                });
            }
            None => {
                let _ = fresh.close(200, "not needed".into()).await;
            }
        }
    }
}

/// How one publish went wrong: refused by lapin before anything was sent
/// (safe to send again), refused by the broker (a nack: not taken, safe to
/// send again), or sent and then not confirmed.
enum Attempt {
    NotSent(QueueError),
    /// The nack, and the epoch of the publish channel that got it.
    Nacked(QueueError, u64),
    Sent(QueueError),
}

pub(super) struct Shared {
    /// `queue.url`: one URL, or several comma-separated (the nodes of a
    /// cluster), tried in turn from the one that worked last.
    pub(super) urls: Vec<String>,
    /// Index in `urls` of the node to try first.
    next_url: std::sync::atomic::AtomicUsize,
    pub(super) prefix: String,
    pub(super) prefetch: u16,
    pub(super) retry_delays: Vec<Duration>,
    pub(super) confirm_timeout: Duration,
    pub(super) max_deliveries: u32,
    /// `queue.lanes`: how many lane queues there are.
    pub(super) lanes: u16,
    /// Set when a publisher confirm timed out (a broker that takes
    /// messages but does not confirm them: blocked by an alarm, or a
    /// half-open connection the heartbeat has not caught yet); cleared by
    /// the next confirm. The queue is not ready while it is set.
    pub(super) stalled: AtomicBool,
    /// A probe task is running for the current stall.
    probing: AtomicBool,
    pub(super) metrics: Arc<Metrics>,
    pub(super) link: RwLock<Option<Arc<Link>>>,
    pub(super) generation: AtomicU64,
    pub(super) closed: AtomicBool,
    /// Wakes the supervisor when the queue is closing.
    pub(super) wake: Notify,
    /// Told each time a new link is in place: publishes waiting for one.
    linked: Notify,
    /// Cuts the supervisor's reconnect wait short (to its first step): a
    /// publish is waiting for a link.
    hurry: Notify,
    /// Flips to true once on close; receivers wait on it.
    pub(super) shutdown: watch::Sender<bool>,
}

/// The URLs of `queue.url`: comma-separated, blanks around them ignored.
pub fn split_urls(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
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
    #[allow(clippy::too_many_arguments)] // one field each; built in one place
    pub(super) fn new(
        url: String,
        prefix: String,
        prefetch: u16,
        retry_delays: Vec<Duration>,
        confirm_timeout: Duration,
        max_deliveries: u32,
        lanes: u16,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            urls: split_urls(&url),
            next_url: std::sync::atomic::AtomicUsize::new(0),
            prefix,
            prefetch,
            retry_delays,
            confirm_timeout,
            max_deliveries,
            lanes,
            stalled: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            metrics,
            link: RwLock::new(None),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
            linked: Notify::new(),
            hurry: Notify::new(),
            shutdown: watch::channel(false).0,
        }
    }

    pub(super) fn current(&self) -> Option<Arc<Link>> {
        self.link
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_link(&self, link: Option<Arc<Link>>) {
        self.metrics.set_queue_connected(link.is_some());
        let linked = link.is_some();
        *self.link.write().unwrap_or_else(PoisonError::into_inner) = link;
        if linked {
            self.linked.notify_waiters();
        }
    }

    /// The current link if it is newer than generation `after` and up;
    /// otherwise waits for the supervisor to put one in place, until
    /// `deadline`. While waiting, the supervisor's reconnect backoff is cut
    /// to its first step, so a node failover costs a webhook the time to
    /// reach the next node rather than a 503.
    async fn usable_link(&self, after: u64, deadline: Instant) -> Option<Arc<Link>> {
        loop {
            let linked = self.linked.notified();
            tokio::pin!(linked);
            linked.as_mut().enable();
            if let Some(link) = self
                .current()
                .filter(|l| l.generation > after && l.can_publish())
            {
                return Some(link);
            }
            if self.closed.load(Ordering::Acquire) || Instant::now() >= deadline {
                return None;
            }
            self.hurry.notify_one();
            // Polled too: a link can also come back by a connection whose
            // status flips without a new link (not expected, but cheap).
            let wait = deadline.min(Instant::now() + HEALTH_POLL);
            let _ = tokio::time::timeout_at(wait, linked).await;
        }
    }

    /// Publishes and waits for the broker's confirm, all within
    /// `queue.confirm_timeout`. A confirm that does not come in time marks
    /// the queue stalled until one does.
    ///
    /// Without a link (the broker, or the node this process was connected
    /// to, went away) the publish waits for the supervisor's next one; a
    /// publish that lapin refused before sending anything is tried again
    /// on the next link. A publish that was sent and then lost its
    /// connection before the confirm is not sent again: the broker may
    /// hold it, and a second copy would run the job twice.
    ///
    /// A nack (the broker did not take the message) is tried once more, on
    /// a new publish channel: on RabbitMQ 3.10 a channel that had publishes
    /// in flight to a quorum queue whose leader's node died gets that
    /// queue's publishes nacked for about 14 s, while a new channel's are
    /// taken. A second nack is the answer (a full queue refuses both).
    pub(super) async fn publish_confirmed(
        self: &Arc<Self>,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<(), QueueError> {
        let deadline = Instant::now() + self.confirm_timeout;
        let mut after = 0;
        let mut renewed = false;
        let result = loop {
            let Some(link) = self.usable_link(after, deadline).await else {
                break Err(unavailable("not connected to the broker"));
            };
            match self
                .publish_on(&link, routing_key, body, props.clone(), true, deadline)
                .await
            {
                Ok(()) => break Ok(()),
                Err(Attempt::NotSent(e)) => {
                    tracing::debug!(generation = link.generation, error = %e, "publish refused before sending; waiting for the next link");
                    link.failed.notify_one();
                    after = link.generation;
                    if Instant::now() >= deadline {
                        break Err(e);
                    }
                }
                Err(Attempt::Nacked(e, epoch)) => {
                    if renewed || Instant::now() >= deadline {
                        break Err(e);
                    }
                    // Then the same link again: `after` still admits it.
                    renewed = true;
                    link.renew_publish_channel(epoch, self.confirm_timeout)
                        .await;
                }
                Err(Attempt::Sent(e)) => break Err(e),
            }
        };
        match &result {
            Ok(()) => self.confirmed(),
            Err(QueueError::ConfirmTimeout(_)) => self.stall(),
            Err(_) => {}
        }
        result
    }

    fn confirmed(&self) {
        if self.stalled.swap(false, Ordering::AcqRel) {
            tracing::info!("the broker confirms again; ready");
        }
    }

    fn stall(self: &Arc<Self>) {
        if !self.stalled.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                event = "broker_unconfirmed",
                timeout = %humantime::format_duration(self.confirm_timeout),
                "the broker did not confirm in time; not ready until it does"
            );
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            while shared.stalled.load(Ordering::Acquire) && !shared.closed.load(Ordering::Acquire) {
                tokio::time::sleep(STALL_PROBE_INTERVAL).await;
                let Some(link) = shared.current() else {
                    continue;
                };
                let deadline = Instant::now() + shared.confirm_timeout;
                let probe = shared
                    .publish_on(
                        &link,
                        PROBE_KEY,
                        b"",
                        BasicProperties::default(),
                        false,
                        deadline,
                    )
                    .await;
                if probe.is_ok() {
                    shared.confirmed();
                }
            }
            shared.probing.store(false, Ordering::Release);
        });
    }

    /// One publish on `link`, its confirm awaited until `deadline`.
    async fn publish_on(
        &self,
        link: &Link,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
        mandatory: bool,
        deadline: Instant,
    ) -> Result<(), Attempt> {
        let exchange = ShortString::from(self.prefix.as_str());
        let (channel, epoch) = link.publish_channel();
        let result = tokio::time::timeout_at(deadline, async {
            let confirm = channel
                .basic_publish(
                    exchange,
                    ShortString::from(routing_key),
                    BasicPublishOptions {
                        mandatory,
                        ..BasicPublishOptions::default()
                    },
                    body,
                    props,
                )
                .await
                .map_err(|e| Attempt::NotSent(unavailable(e)))?
                .await
                .map_err(|e| Attempt::Sent(unavailable(e)))?;
            match confirm {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(_)) => Err(Attempt::Sent(unavailable(format!(
                    "broker returned the message: no queue bound to `{routing_key}`"
                )))),
                Confirmation::Nack(_) => Err(Attempt::Nacked(
                    unavailable("broker refused the message (nack)"),
                    epoch,
                )),
                Confirmation::NotRequested => {
                    Err(Attempt::Sent(unavailable("publisher confirms are off")))
                }
            }
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                if !link.conn.status().connected() {
                    link.failed.notify_one();
                }
                Err(e)
            }
            Err(_) => Err(Attempt::Sent(QueueError::ConfirmTimeout(
                self.confirm_timeout,
            ))),
        }
    }

    pub(super) async fn connect(
        self: &Arc<Self>,
        tx: Option<&mpsc::Sender<Delivery>>,
    ) -> lapin::Result<Arc<Link>> {
        let props = ConnectionProperties::default().with_connection_name("chartpilot".into());
        let conn = self.connect_any(props).await?;
        let setup = conn.create_channel().await?;
        let setup = topology::declare(
            &conn,
            setup,
            &self.prefix,
            &self.retry_delays,
            self.max_deliveries,
            self.lanes,
        )
        .await?;
        let publish = conn.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let failed = Arc::new(Notify::new());
        if let Some(tx) = tx {
            // One job at a time per lane: the prefetch of 1 applies to each
            // consumer of the channel (not `global`), and single active
            // consumer gives a lane to one consumer of all the workers.
            setup.basic_qos(1, BasicQosOptions::default()).await?;
            for lane in 0..self.lanes.max(1) {
                let queue = topology::lane_queue(&self.prefix, lane);
                self.consume(&setup, &queue, tx, generation, &failed)
                    .await?;
            }
            // What builds before lanes queued: any order, as they ran it.
            let drain = conn.create_channel().await?;
            drain
                .basic_qos(self.prefetch, BasicQosOptions::default())
                .await?;
            let queue = topology::legacy_jobs(&self.prefix);
            self.consume(&drain, &queue, tx, generation, &failed)
                .await?;
        }
        Ok(Arc::new(Link {
            conn,
            publish: RwLock::new((publish, 0)),
            generation,
            failed,
        }))
    }

    /// Connects to the first node of `queue.url` that answers, starting
    /// from the one that worked last; the error is the last node's.
    async fn connect_any(&self, props: ConnectionProperties) -> lapin::Result<Connection> {
        let n = self.urls.len().max(1);
        let first = self.next_url.load(Ordering::Acquire) % n;
        let mut last_error = None;
        for i in 0..n {
            let at = (first + i) % n;
            let Some(url) = self.urls.get(at) else {
                break;
            };
            match Connection::connect(&with_heartbeat(url), props.clone()).await {
                Ok(conn) => {
                    self.next_url.store(at, Ordering::Release);
                    if n > 1 {
                        tracing::info!(node = at + 1, nodes = n, "connected to a broker node");
                    }
                    return Ok(conn);
                }
                Err(e) => {
                    if n > 1 {
                        tracing::warn!(node = at + 1, nodes = n, error = %e, "broker node unreachable; trying the next");
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                lapin::ConnectionState::Closed,
            ))
        }))
    }

    /// Consumes `queue` on `ch` and hands its deliveries to the worker;
    /// when the consumer ends (connection lost, or cancelled by the
    /// broker), `failed` has the supervisor build a new link.
    async fn consume(
        &self,
        ch: &Channel,
        queue: &str,
        tx: &mpsc::Sender<Delivery>,
        generation: u64,
        failed: &Arc<Notify>,
    ) -> lapin::Result<()> {
        let consumer = ch
            .basic_consume(
                queue.into(),
                format!("chartpilot-{}", uuid::Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let tx = tx.clone();
        let consumer_failed = Arc::clone(failed);
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
            consumer_failed.notify_one();
        });
        Ok(())
    }

    /// Owns the connection: connect, wait for it to fail, reconnect.
    pub(super) async fn supervise(self: Arc<Self>, tx: Option<mpsc::Sender<Delivery>>) {
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
                        // `AmqpQueue::close` closes the connection itself;
                        // closing it twice makes lapin log an error.
                        break;
                    }
                    tracing::warn!(
                        event = "broker_lost",
                        generation = link.generation,
                        "lost the broker; reconnecting"
                    );
                    let _ = link.conn.close(320, "reconnecting".into()).await;
                }
                Err(e) => {
                    tracing::warn!(event = "broker_unreachable", error = %e, retry_in = %humantime::format_duration(backoff), "cannot connect to the broker or declare the topology");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                        () = self.wake.notified() => {}
                        () = self.hurry.notified() => {
                            // A publish is waiting: the first step again,
                            // at most five tries a second while it waits.
                            tokio::time::sleep(INITIAL_BACKOFF).await;
                            backoff = INITIAL_BACKOFF;
                        }
                    }
                }
            }
        }
    }

    pub(super) async fn wait_for_failure(&self, link: &Link) {
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
                () = link.failed.notified() => return,
                () = self.wake.notified() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_url_names_one_node_or_several() {
        let cases: [(&str, &[&str]); 4] = [
            ("amqp://a:5672/%2f", &["amqp://a:5672/%2f"]),
            (
                "amqp://a:5681/%2f, amqp://a:5682/%2f,amqp://a:5683/%2f",
                &[
                    "amqp://a:5681/%2f",
                    "amqp://a:5682/%2f",
                    "amqp://a:5683/%2f",
                ],
            ),
            ("amqp://a/,,", &["amqp://a/"]),
            ("", &[]),
        ];
        for (url, want) in cases {
            assert_eq!(split_urls(url), want, "{url}");
        }
        assert_eq!(with_heartbeat("amqp://a/%2f"), "amqp://a/%2f?heartbeat=10");
    }
}
