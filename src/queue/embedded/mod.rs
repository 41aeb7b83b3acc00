//! The embedded queue: jobs in a redb file, so one process on one machine
//! loses nothing across a restart. Every publish and settle is a committed
//! (fsynced) write transaction.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::Notify;

use super::{Delivery, DeliveryHandle, JobQueue, ParkedJob, QueueError};
use crate::jobs::JobEnvelope;
use crate::metrics::Metrics;
use crate::settings::QueueSettings;

/// Ready jobs by (due time in ms since the epoch, sequence): the first entry
/// not in flight is the next job, so retries wait in the same table.
const READY: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("ready");
const PARKED: TableDefinition<u64, &[u8]> = TableDefinition::new("parked");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const SEQ_KEY: &str = "seq";

/// File name inside `queue.path`.
pub const DB_FILE: &str = "queue.redb";

/// Longest a waiting receiver sleeps before looking again, as a guard
/// against a missed wake-up; due times are normally woken for exactly.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(5);

type Key = (u64, u64);

struct Inner {
    db: Database,
    metrics: Arc<Metrics>,
    in_flight: Mutex<HashSet<Key>>,
    notify: Notify,
    closed: AtomicBool,
}

impl Inner {
    fn release(&self, key: Key) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        self.notify.notify_waiters();
    }
}

pub struct EmbeddedQueue {
    inner: Arc<Inner>,
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

fn storage(e: impl std::fmt::Display) -> QueueError {
    QueueError::Storage(e.to_string())
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

enum Scan {
    Found(Key, Vec<u8>),
    Wait(Option<u64>),
}

impl EmbeddedQueue {
    pub fn open(settings: &QueueSettings, metrics: Arc<Metrics>) -> Result<Self, QueueError> {
        let dir: PathBuf = settings.path.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| storage(format!("cannot create {}: {e}", dir.display())))?;
        let file = dir.join(DB_FILE);
        let db = Database::create(&file)
            .map_err(|e| storage(format!("cannot open {}: {e}", file.display())))?;
        let txn = db.begin_write().map_err(storage)?;
        {
            txn.open_table(READY).map_err(storage)?;
            txn.open_table(PARKED).map_err(storage)?;
            txn.open_table(META).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        metrics.set_queue_connected(true);
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                metrics,
                in_flight: Mutex::new(HashSet::new()),
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

    fn scan(inner: &Inner) -> Result<Scan, QueueError> {
        let mut in_flight = inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let txn = inner.db.begin_read().map_err(storage)?;
        let table = txn.open_table(READY).map_err(storage)?;
        let now = now_ms();
        for entry in table.iter().map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            let key = k.value();
            if in_flight.contains(&key) {
                continue;
            }
            if key.0 > now {
                return Ok(Scan::Wait(Some(key.0)));
            }
            in_flight.insert(key);
            return Ok(Scan::Found(key, v.value().to_vec()));
        }
        Ok(Scan::Wait(None))
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
        write: impl FnOnce(&redb::WriteTransaction) -> Result<(), QueueError> + Send + 'static,
    ) -> Result<(), QueueError> {
        let (key, inner) = Self::take_key(delivery)?;
        let result = self
            .blocking(move |inner| {
                let txn = inner.db.begin_write().map_err(storage)?;
                {
                    let mut table = txn.open_table(READY).map_err(storage)?;
                    table.remove(key).map_err(storage)?;
                }
                write(&txn)?;
                txn.commit().map_err(storage)
            })
            .await;
        inner.release(key);
        result
    }
}

fn next_seq(txn: &redb::WriteTransaction) -> Result<u64, QueueError> {
    let mut meta = txn.open_table(META).map_err(storage)?;
    let seq = meta
        .get(SEQ_KEY)
        .map_err(storage)?
        .map(|v| v.value())
        .unwrap_or(0)
        + 1;
    meta.insert(SEQ_KEY, seq).map_err(storage)?;
    Ok(seq)
}

fn insert_ready(txn: &redb::WriteTransaction, due: u64, body: &[u8]) -> Result<(), QueueError> {
    let seq = next_seq(txn)?;
    let mut table = txn.open_table(READY).map_err(storage)?;
    table.insert((due, seq), body).map_err(storage)?;
    Ok(())
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn publish(&self, job: &JobEnvelope) -> Result<(), QueueError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(QueueError::Closed);
        }
        let body = job.to_bytes();
        self.blocking(move |inner| {
            let txn = inner.db.begin_write().map_err(storage)?;
            insert_ready(&txn, now_ms(), &body)?;
            txn.commit().map_err(storage)
        })
        .await?;
        self.inner.notify.notify_waiters();
        Ok(())
    }

    async fn receive(&self) -> Option<Delivery> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.closed.load(Ordering::Acquire) {
                return None;
            }
            let wait = match self.blocking(Self::scan).await {
                Ok(Scan::Found(key, body)) => {
                    return Some(Delivery {
                        body,
                        // Hand-outs are not persisted, so a job taken again
                        // after a crash cannot be told from a new one.
                        redelivered: false,
                        handle: DeliveryHandle::Embedded(EmbeddedHandle {
                            key,
                            inner: Some(Arc::clone(&self.inner)),
                        }),
                    });
                }
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
        self.settle(delivery, move |txn| insert_ready(txn, due, &body))
            .await?;
        self.inner.notify.notify_waiters();
        Ok(())
    }

    async fn park(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let parked = ParkedJob {
            reason: reason.to_owned(),
            body: String::from_utf8_lossy(&delivery.body).into_owned(),
        };
        let record = serde_json::to_vec(&parked).map_err(storage)?;
        self.settle(delivery, move |txn| {
            let seq = next_seq(txn)?;
            let mut table = txn.open_table(PARKED).map_err(storage)?;
            table.insert(seq, record.as_slice()).map_err(storage)?;
            Ok(())
        })
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
        self.blocking(|inner| {
            let txn = inner.db.begin_read().map_err(storage)?;
            let table = txn.open_table(PARKED).map_err(storage)?;
            let mut out = Vec::new();
            for entry in table.iter().map_err(storage)? {
                let (_, v) = entry.map_err(storage)?;
                out.push(serde_json::from_slice(v.value()).map_err(storage)?);
            }
            Ok(out)
        })
        .await
    }
}
