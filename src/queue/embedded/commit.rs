//! Group commit: the embedded queue's writes (publishes, hand-outs,
//! settles) go to one writer thread, which puts every write waiting at the
//! time into one transaction and commits (fsyncs) it once. Each caller is
//! answered only after the commit that holds its write, so a 202 still
//! means "on disk"; under load, one fsync serves many requests instead of
//! one each.
//!
//! A batch whose transaction fails is not a failure of all its writes: the
//! writes run again one transaction each, so one bad write fails alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use redb::{Database, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::store::storage;
use crate::queue::QueueError;

/// Most writes in one transaction: bounds the time the first of them waits
/// for the commit, and the transaction's size.
pub(super) const MAX_BATCH: usize = 256;

/// Writes waiting for the writer beyond this make callers wait to send
/// theirs (backpressure rather than memory without bound).
const CHANNEL_CAPACITY: usize = 4096;

type Apply = Box<dyn FnMut(&WriteTransaction) -> Result<(), QueueError> + Send>;
type Answer = Box<dyn FnOnce(Result<(), QueueError>) + Send>;

/// One caller's write: applied inside the batch's transaction (again in a
/// transaction of its own if the batch fails), answered after the commit.
struct Pending {
    apply: Apply,
    answer: Answer,
}

/// The writer thread and the way to it. Dropping it lets the thread finish
/// the writes already sent, then waits for it, so the store is closed when
/// the queue is gone (a new queue can open the same file at once).
pub(super) struct Committer {
    sender: Option<mpsc::Sender<Pending>>,
    thread: Option<JoinHandle<()>>,
    /// Transactions committed so far (batches and lone retries).
    commits: Arc<AtomicU64>,
}

impl Committer {
    pub(super) fn start(db: Arc<Database>) -> Result<Self, QueueError> {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let thread = std::thread::Builder::new()
            .name("queue-commit".to_owned())
            .spawn(move || run(&db, receiver, &counted))
            .map_err(|e| storage(format!("cannot start the queue writer: {e}")))?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            commits,
        })
    }

    /// Transactions committed so far.
    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `write` in the next group commit and returns what it returned,
    /// once that commit is durable. `write` may run twice (once in the
    /// batch, once alone if the batch failed); only the committed run's
    /// result is returned.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        mut write: impl FnMut(&WriteTransaction) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let sender = self.sender.as_ref().ok_or(QueueError::Closed)?;
        let slot: Arc<Mutex<Option<T>>> = Arc::default();
        let kept = Arc::clone(&slot);
        let (tx, rx) = oneshot::channel();
        let pending = Pending {
            apply: Box::new(move |txn| {
                let value = write(txn)?;
                *kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
                Ok(())
            }),
            answer: Box::new(move |outcome| {
                let result = outcome.and_then(|()| {
                    slot.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take()
                        .ok_or_else(|| storage("the queue writer lost a result"))
                });
                // The caller may have given up waiting; nothing to tell.
                let _ = tx.send(result);
            }),
        };
        sender
            .send(pending)
            .await
            .map_err(|_| storage("the queue writer stopped"))?;
        rx.await
            .map_err(|_| storage("the queue writer stopped before answering"))?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            // The thread only ends by its channel closing; a panic in it
            // was already reported to the writes it was carrying.
            let _ = thread.join();
        }
        tracing::debug!(
            commits = self.commits.load(Ordering::Relaxed),
            "embedded queue writer stopped"
        );
    }
}

fn run(db: &Database, mut receiver: mpsc::Receiver<Pending>, commits: &AtomicU64) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        commit_batch(db, &mut batch, commits);
    }
}

/// Commits `batch` in one transaction and answers each write; if that
/// fails, each write gets a transaction of its own.
fn commit_batch(db: &Database, batch: &mut Vec<Pending>, commits: &AtomicU64) {
    let together = if batch.len() == 1 {
        None
    } else {
        Some(in_one_transaction(
            db,
            batch.iter_mut().map(|p| &mut p.apply),
            commits,
        ))
    };
    match together {
        Some(Ok(())) => {
            for p in batch.drain(..) {
                (p.answer)(Ok(()));
            }
        }
        Some(Err(e)) => {
            tracing::debug!(writes = batch.len(), error = %e, "queue group commit failed; writing one by one");
            alone(db, batch, commits);
        }
        None => alone(db, batch, commits),
    }
}

fn alone(db: &Database, batch: &mut Vec<Pending>, commits: &AtomicU64) {
    for mut p in batch.drain(..) {
        let outcome = in_one_transaction(db, std::iter::once(&mut p.apply), commits);
        (p.answer)(outcome);
    }
}

fn in_one_transaction<'a>(
    db: &Database,
    writes: impl Iterator<Item = &'a mut Apply>,
    commits: &AtomicU64,
) -> Result<(), QueueError> {
    let txn = db.begin_write().map_err(storage)?;
    for apply in writes {
        // An error drops `txn`, which aborts it: none of the batch lands.
        apply(&txn)?;
    }
    txn.commit().map_err(storage)?;
    commits.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::embedded::store;

    fn db() -> (tempfile::TempDir, Arc<Database>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(store::open(&dir.path().join("q.redb")).unwrap());
        (dir, db)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_each_is_answered_after_its_own() {
        let (_dir, db) = db();
        let committer = Arc::new(Committer::start(Arc::clone(&db)).unwrap());
        let writes = 300u64;
        let mut tasks = Vec::new();
        for i in 0..writes {
            let c = Arc::clone(&committer);
            tasks.push(tokio::spawn(async move {
                c.write(move |txn| {
                    store::publish_in(txn, &format!("key-{i}"), b"job", 1_000 + i, 10_000)
                })
                .await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().unwrap());
        }
        // Every answered write is on disk: a read sees all of them.
        assert_eq!(store::depth(&db, 10_000).unwrap().ready, writes);
        let commits = committer.commits();
        assert!(
            commits < writes / 3,
            "{commits} commits for {writes} concurrent writes: not grouped"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_and_the_rest_of_its_batch_lands() {
        let (_dir, db) = db();
        let committer = Arc::new(Committer::start(Arc::clone(&db)).unwrap());
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let c = Arc::clone(&committer);
            tasks.push(tokio::spawn(async move {
                c.write(move |txn| {
                    if i % 10 == 3 {
                        // Writes something first: the abort must undo it.
                        store::insert_ready(txn, 5, b"half-written")?;
                        return Err(storage(format!("write {i} refused")));
                    }
                    store::publish_in(txn, &format!("k{i}"), b"job", 10, 10_000)
                })
                .await
            }));
        }
        let mut failed = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(queued) => assert!(queued),
                Err(e) => failed.push((i, e.to_string())),
            }
        }
        let want: Vec<usize> = (0..50).filter(|i| i % 10 == 3).collect();
        assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), want);
        assert!(failed[0].1.contains("write 3 refused"), "{failed:?}");
        assert_eq!(
            store::depth(&db, 100).unwrap().ready,
            45,
            "no half-written job"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_key_published_twice_in_one_batch_is_queued_once() {
        let (_dir, db) = db();
        let committer = Arc::new(Committer::start(Arc::clone(&db)).unwrap());
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let c = Arc::clone(&committer);
            tasks.push(tokio::spawn(async move {
                c.write(|txn| store::publish_in(txn, "same-delivery", b"job", 10, 10_000))
                    .await
            }));
        }
        let mut queued = 0;
        for t in tasks {
            queued += usize::from(t.await.unwrap().unwrap());
        }
        assert_eq!(queued, 1);
        assert_eq!(store::depth(&db, 100).unwrap().ready, 1);
    }

    #[tokio::test]
    async fn dropping_the_committer_closes_the_store_for_the_next_opener() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.redb");
        let db = Arc::new(store::open(&file).unwrap());
        let committer = Committer::start(Arc::clone(&db)).unwrap();
        committer
            .write(|txn| store::publish_in(txn, "k", b"job", 10, 10_000))
            .await
            .unwrap();
        drop(db);
        drop(committer);
        let reopened = store::open(&file).unwrap();
        assert_eq!(store::depth(&reopened, 100).unwrap().ready, 1);
    }
}
