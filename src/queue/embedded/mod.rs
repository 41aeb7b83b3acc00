//! The embedded queue: jobs in a redb file, so one process on one machine
//! loses nothing across a restart. Every publish, hand-out and settle is
//! committed (fsynced) before it is answered; concurrent ones share one
//! commit (see [`commit`]).
//!
//! Jobs of one repository (one lane, see [`JobEnvelope::lane_key`]) are
//! handed out one at a time: the next waits until the running one is
//! settled, while other repositories' jobs go on.
//!
//! Bounds (see docs/bounds.md): a job handed out `queue.max_deliveries`
//! times without an outcome is parked instead of taking the process down
//! again; an idempotency key queued within [`super::seen::SEEN_TTL`] is
//! not queued again.

mod commit;
mod contain;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redb::Database;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Delivery, DeliveryHandle, JobQueue, ParkedJob, Published, QueueError, Unpark};
use crate::jobs::JobEnvelope;
use crate::metrics::Metrics;
use crate::queue::seen::MAX_SEEN_KEYS;
use crate::settings::QueueSettings;
use store::{storage, HandOut, Key, Look, Next};

pub(crate) use store::crash_reason;

/// File name inside `queue.path`.
pub const DB_FILE: &str = "queue.redb";

/// Longest a waiting receiver sleeps before looking again, as a guard
/// against a missed wake-up; due times are normally woken for exactly.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(5);

/// Most waiting jobs of running lanes one look for the next job steps
/// over: past them, jobs of other repositories wait until the running
/// ones' backlog shrinks. Keeps each look bounded (docs/bounds.md).
const MAX_SCAN: usize = 4096;

/// Most lanes of waiting jobs remembered; past it the memo starts again.
const MAX_LANE_MEMO: usize = 65_536;

/// Jobs handed out and not settled, and the lanes (repositories) they
/// hold: a lane runs one job at a time.
#[derive(Default)]
struct InFlight {
    keys: HashMap<Key, Arc<str>>,
    lanes: HashSet<Arc<str>>,
    /// The lane of each waiting job looked at, so a look does not parse
    /// the same envelope again.
    memo: HashMap<Key, Arc<str>>,
}

impl InFlight {
    fn lane(&mut self, key: Key, body: &[u8]) -> Arc<str> {
        if let Some(lane) = self.memo.get(&key) {
            return Arc::clone(lane);
        }
        if self.memo.len() >= MAX_LANE_MEMO {
            self.memo.clear();
        }
        let lane: Arc<str> = lane_of_body(body).into();
        self.memo.insert(key, Arc::clone(&lane));
        lane
    }

    fn claim(&mut self, key: Key, lane: Arc<str>) {
        self.memo.remove(&key);
        self.lanes.insert(Arc::clone(&lane));
        self.keys.insert(key, lane);
    }

    fn release(&mut self, key: Key) {
        if let Some(lane) = self.keys.remove(&key) {
            self.lanes.remove(&lane);
        }
    }
}

/// The lane of a stored job: its envelope's repository; the unnamed lane
/// for one that names none (or cannot be read, which is parked later).
fn lane_of_body(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Lane {
        #[serde(default)]
        repository: Option<String>,
    }
    serde_json::from_slice::<Lane>(body)
        .ok()
        .and_then(|l| l.repository)
        .unwrap_or_default()
}

struct Inner {
    db: Arc<Database>,
    metrics: Arc<Metrics>,
    max_deliveries: u32,
    in_flight: Mutex<InFlight>,
    notify: Notify,
    closed: AtomicBool,
}

impl Inner {
    fn release(&self, key: Key) {
        self.busy().release(key);
        self.notify.notify_waiters();
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct EmbeddedQueue {
    inner: Arc<Inner>,
    committer: commit::Committer,
}

/// Settles or, when dropped unsettled, returns its job to the queue.
#[derive(Debug)]
pub(crate) struct EmbeddedHandle {
    key: Key,
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedQueue")
    }
}

impl Drop for EmbeddedHandle {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.release(self.key);
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

enum Scan {
    Found {
        key: Key,
        body: Vec<u8>,
        redelivered: bool,
    },
    /// A job was parked by the hand-out limit: look again at once.
    Parked,
    Wait(Option<u64>),
}

impl EmbeddedQueue {
    /// Opens (or creates) `queue.redb` under `queue.path`. A file redb
    /// cannot read is [`QueueError::Corrupt`], naming the file and what to
    /// do; it is left as it is.
    pub fn open(settings: &QueueSettings, metrics: Arc<Metrics>) -> Result<Self, QueueError> {
        let dir: PathBuf = settings.path.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| storage(format!("cannot create {}: {e}", dir.display())))?;
        let db = Arc::new(store::open(&dir.join(DB_FILE))?);
        let committer = commit::Committer::start(Arc::clone(&db))?;
        metrics.set_queue_connected(true);
        Ok(Self {
            committer,
            inner: Arc::new(Inner {
                db,
                metrics,
                max_deliveries: settings.max_deliveries,
                in_flight: Mutex::new(InFlight::default()),
                notify: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Runs a blocking redb operation off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| storage(format!("storage task failed: {e}")))?
    }

    /// Finds the next due job and records its hand-out before anyone runs
    /// it, or parks it when earlier hand-outs used up the limit.
    async fn scan(&self) -> Result<Scan, QueueError> {
        let claimed = self
            .blocking(|inner| {
                let mut busy = inner.busy();
                let mut stepped = 0usize;
                let mut chosen = None;
                let next = store::next_ready(&inner.db, now_ms(), |k, body| {
                    if busy.keys.contains_key(k) {
                        return Look::Skip;
                    }
                    if stepped >= MAX_SCAN {
                        // Looked at again when a lane is released.
                        return Look::Stop;
                    }
                    let lane = busy.lane(*k, body);
                    if busy.lanes.contains(&lane) {
                        stepped += 1;
                        return Look::Skip;
                    }
                    chosen = Some(lane);
                    Look::Take
                })?;
                if let (Next::Due(key, _), Some(lane)) = (&next, chosen) {
                    // Claimed before the (slow, fsynced) write below, which
                    // runs without holding the lock settles need.
                    busy.claim(*key, lane);
                }
                Ok(next)
            })
            .await?;
        let (key, body) = match claimed {
            Next::Wait(due) => return Ok(Scan::Wait(due)),
            Next::Due(key, body) => (key, body),
        };
        let max_deliveries = self.inner.max_deliveries;
        let written = body.clone();
        let recorded = self
            .committer
            .write(move |txn| store::record_hand_out_in(txn, key, &written, max_deliveries))
            .await;
        let inner = &self.inner;
        match recorded {
            Ok(HandOut::Go { earlier }) => Ok(Scan::Found {
                key,
                body,
                redelivered: earlier > 0,
            }),
            Ok(HandOut::Parked(parked)) => {
                inner.busy().release(key);
                let kind = JobEnvelope::from_bytes(&body)
                    .map(|e| e.kind)
                    .unwrap_or_else(|_| "unknown".to_owned());
                inner.metrics.parked(&kind);
                tracing::error!(event = "job_parked", kind, reason = %parked.reason, "job parked");
                Ok(Scan::Parked)
            }
            Err(e) => {
                inner.busy().release(key);
                Err(e)
            }
        }
    }

    fn take_key(delivery: Delivery) -> Result<(Key, Arc<Inner>), QueueError> {
        match delivery.handle {
            DeliveryHandle::Embedded(mut h) => {
                let inner = h.inner.take().ok_or(QueueError::Closed)?;
                Ok((h.key, inner))
            }
            DeliveryHandle::Amqp(_) => Err(storage("delivery belongs to another queue")),
        }
    }

    /// Removes `key` and, in the same transaction, writes what replaces it.
    async fn settle(
        &self,
        delivery: Delivery,
        mut write: impl FnMut(&redb::WriteTransaction) -> Result<(), QueueError> + Send + 'static,
    ) -> Result<(), QueueError> {
        let (key, inner) = Self::take_key(delivery)?;
        let result = self
            .committer
            .write(move |txn| {
                store::remove_ready(txn, key)?;
                write(txn)
            })
            .await;
        inner.release(key);
        result
    }

    /// How many idempotency keys the store remembers.
    pub async fn seen_keys(&self) -> Result<u64, QueueError> {
        self.blocking(|inner| store::seen_count(&inner.db)).await
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn publish(&self, job: &JobEnvelope) -> Result<Published, QueueError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(QueueError::Closed);
        }
        let body = job.to_bytes();
        let key = job.idempotency_key.clone();
        let now = now_ms();
        let queued = self
            .committer
            .write(move |txn| store::publish_in(txn, &key, &body, now, MAX_SEEN_KEYS))
            .await?;
        if !queued {
            tracing::info!(
                job = %job.id,
                kind = job.kind,
                idempotency_key = job.idempotency_key,
                "job seen before; not queued again"
            );
            return Ok(Published::Duplicate);
        }
        // A job of a running lane cannot be handed out before that lane is
        // released, which wakes the receivers anyway: a burst for one
        // repository does not have every idle receiver look again.
        if !self.inner.busy().lanes.contains(job.lane_key()) {
            self.inner.notify.notify_waiters();
        }
        Ok(Published::Queued)
    }

    async fn receive(&self) -> Option<Delivery> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.closed.load(Ordering::Acquire) {
                return None;
            }
            let wait = match self.scan().await {
                Ok(Scan::Found {
                    key,
                    body,
                    redelivered,
                }) => {
                    return Some(Delivery {
                        body,
                        redelivered,
                        handle: DeliveryHandle::Embedded(EmbeddedHandle {
                            key,
                            inner: Some(Arc::clone(&self.inner)),
                        }),
                    });
                }
                Ok(Scan::Parked) => continue,
                Ok(Scan::Wait(Some(due))) => {
                    Duration::from_millis(due.saturating_sub(now_ms())).min(MAX_IDLE_WAIT)
                }
                Ok(Scan::Wait(None)) => MAX_IDLE_WAIT,
                Err(e) => {
                    tracing::error!(error = %e, "embedded queue read failed");
                    MAX_IDLE_WAIT
                }
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.settle(delivery, |_| Ok(())).await
    }

    async fn retry(
        &self,
        delivery: Delivery,
        next: &JobEnvelope,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let body = next.to_bytes();
        let due = now_ms() + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX / 2);
        self.settle(delivery, move |txn| store::insert_ready(txn, due, &body))
            .await?;
        self.inner.notify.notify_waiters();
        Ok(())
    }

    async fn park(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let parked = ParkedJob {
            reason: reason.to_owned(),
            body: String::from_utf8_lossy(&delivery.body).into_owned(),
        };
        self.settle(delivery, move |txn| store::insert_parked(txn, &parked))
            .await
    }

    fn is_ready(&self) -> bool {
        !self.inner.closed.load(Ordering::Acquire)
    }

    async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.metrics.set_queue_connected(false);
        self.inner.notify.notify_waiters();
    }

    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError> {
        self.blocking(|inner| store::parked(&inner.db)).await
    }

    async fn parked_preview(&self, max: usize) -> Result<Option<Vec<ParkedJob>>, QueueError> {
        self.blocking(move |inner| store::parked_first(&inner.db, max))
            .await
            .map(Some)
    }

    async fn depth(&self) -> Result<crate::queue::Depth, QueueError> {
        self.blocking(|inner| store::depth(&inner.db, now_ms()))
            .await
    }

    async fn unpark(&self, id: Uuid, action: Unpark) -> Result<Option<ParkedJob>, QueueError> {
        let retry = action == Unpark::Retry;
        let taken = self
            .blocking(move |inner| store::unpark(&inner.db, id, retry, now_ms()))
            .await?;
        if retry && taken.is_some() {
            self.inner.notify.notify_waiters();
        }
        Ok(taken)
    }
}
