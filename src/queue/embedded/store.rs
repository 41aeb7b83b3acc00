//! The embedded queue's tables and the transactions over them. Every
//! function takes `now` (ms since the epoch) so the bounds can be tested
//! without waiting for them.

use std::path::Path;

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata, StorageError,
    TableDefinition, WriteTransaction,
};

#[cfg(test)]
use crate::queue::seen::MAX_SEEN_KEYS;
use crate::queue::seen::{key_digest, Digest, SEEN_TTL};
use crate::queue::{Depth, ParkedJob, QueueError};

/// Ready jobs by (due time in ms since the epoch, sequence): the first entry
/// not in flight is the next job, so retries wait in the same table.
pub(super) const READY: TableDefinition<Key, &[u8]> = TableDefinition::new("ready");
/// Hand-outs of a ready entry that got no outcome yet: written before the
/// handler runs, removed with the entry when it is settled. What is left
/// after a crash is the number of times the job took the worker down.
const HANDOUTS: TableDefinition<Key, u32> = TableDefinition::new("handouts");
const PARKED: TableDefinition<u64, &[u8]> = TableDefinition::new("parked");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Idempotency keys (SHA-256, so a long key costs no more than a short
/// one) → when they were queued and the sequence of that write.
const SEEN: TableDefinition<&Digest, Key> = TableDefinition::new("seen");
/// The same entries by age, so pruning reads the oldest first.
const SEEN_BY_AGE: TableDefinition<Key, &Digest> = TableDefinition::new("seen_by_age");
const SEQ_KEY: &str = "seq";

/// Most expired seen keys one publish removes: keeps a publish after a
/// long quiet spell as quick as any other, while each publish still
/// removes more than it adds.
const PRUNE_BATCH: usize = 64;

pub(super) type Key = (u64, u64);

pub(super) fn storage(e: impl std::fmt::Display) -> QueueError {
    QueueError::Storage(e.to_string())
}

/// What an operator reads when the file cannot be used, and what to do.
fn corrupt(file: &Path, detail: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt {
        file: file.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// True for errors that say the bytes on disk are not a store redb can
/// read, as opposed to a disk that cannot be reached.
fn is_damage(e: &StorageError) -> bool {
    match e {
        StorageError::Corrupted(_) => true,
        StorageError::Io(io) => is_damaged_io(io),
        _ => false,
    }
}

/// redb reports some damage as I/O: a truncated file ends before a page
/// the header points to, and a file of other bytes fails its header check.
fn is_damaged_io(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
    )
}

/// Opens (or creates) the store at `file` and its tables. A damaged file
/// is [`QueueError::Corrupt`], whether redb reports the damage or panics
/// on it (see [`super::contain`]).
pub(super) fn open(file: &Path) -> Result<Database, QueueError> {
    super::contain::quietly(|| open_unguarded(file)).unwrap_or_else(|panic| {
        Err(corrupt(
            file,
            format!("the store library stopped on it: {panic}"),
        ))
    })
}

fn open_unguarded(file: &Path) -> Result<Database, QueueError> {
    let db = match Database::create(file) {
        Ok(db) => db,
        Err(DatabaseError::Storage(e)) if is_damage(&e) => return Err(corrupt(file, e)),
        Err(e @ DatabaseError::UpgradeRequired(_)) => return Err(corrupt(file, e)),
        Err(DatabaseError::DatabaseAlreadyOpen) => {
            return Err(QueueError::Storage(format!(
                "{} is in use by another chartpilot process; the embedded queue \
                 belongs to one process (use queue.kind = \"amqp\" to run several)",
                file.display()
            )))
        }
        Err(e) => return Err(storage(format!("cannot open {}: {e}", file.display()))),
    };
    let damaged = |e: redb::Error| match e {
        redb::Error::Corrupted(_) => corrupt(file, e),
        redb::Error::Io(io) if is_damaged_io(&io) => corrupt(file, io),
        e => storage(format!("cannot read {}: {e}", file.display())),
    };
    let txn = db.begin_write().map_err(|e| damaged(e.into()))?;
    {
        txn.open_table(READY).map_err(|e| damaged(e.into()))?;
        txn.open_table(HANDOUTS).map_err(|e| damaged(e.into()))?;
        txn.open_table(PARKED).map_err(|e| damaged(e.into()))?;
        txn.open_table(META).map_err(|e| damaged(e.into()))?;
        txn.open_table(SEEN).map_err(|e| damaged(e.into()))?;
        txn.open_table(SEEN_BY_AGE).map_err(|e| damaged(e.into()))?;
    }
    txn.commit().map_err(|e| damaged(e.into()))?;
    Ok(db)
}

fn next_seq(txn: &WriteTransaction) -> Result<u64, QueueError> {
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

pub(super) fn insert_ready(
    txn: &WriteTransaction,
    due: u64,
    body: &[u8],
) -> Result<(), QueueError> {
    let seq = next_seq(txn)?;
    let mut table = txn.open_table(READY).map_err(storage)?;
    table.insert((due, seq), body).map_err(storage)?;
    Ok(())
}

/// Removes a ready entry and its hand-out count: the job got an outcome.
pub(super) fn remove_ready(txn: &WriteTransaction, key: Key) -> Result<(), QueueError> {
    txn.open_table(READY)
        .map_err(storage)?
        .remove(key)
        .map_err(storage)?;
    txn.open_table(HANDOUTS)
        .map_err(storage)?
        .remove(key)
        .map_err(storage)?;
    Ok(())
}

pub(super) fn insert_parked(txn: &WriteTransaction, parked: &ParkedJob) -> Result<(), QueueError> {
    let record = serde_json::to_vec(parked).map_err(storage)?;
    let seq = next_seq(txn)?;
    let mut table = txn.open_table(PARKED).map_err(storage)?;
    table.insert(seq, record.as_slice()).map_err(storage)?;
    Ok(())
}

/// The oldest `max` parked jobs.
pub(super) fn parked_first(db: &Database, max: usize) -> Result<Vec<ParkedJob>, QueueError> {
    let txn = db.begin_read().map_err(storage)?;
    let table = txn.open_table(PARKED).map_err(storage)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(storage)?.take(max) {
        let (_, v) = entry.map_err(storage)?;
        out.push(serde_json::from_slice(v.value()).map_err(storage)?);
    }
    Ok(out)
}

pub(super) fn parked(db: &Database) -> Result<Vec<ParkedJob>, QueueError> {
    let txn = db.begin_read().map_err(storage)?;
    let table = txn.open_table(PARKED).map_err(storage)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(storage)? {
        let (_, v) = entry.map_err(storage)?;
        out.push(serde_json::from_slice(v.value()).map_err(storage)?);
    }
    Ok(out)
}

/// Ready entries due by `now` (or handed out), those still waiting out a
/// retry delay, and parked ones.
pub(super) fn depth(db: &Database, now: u64) -> Result<Depth, QueueError> {
    let txn = db.begin_read().map_err(storage)?;
    let ready = txn.open_table(READY).map_err(storage)?;
    let mut depth = Depth::default();
    for entry in ready.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        if k.value().0 > now {
            depth.retrying += 1;
        } else {
            depth.ready += 1;
        }
    }
    depth.parked = txn
        .open_table(PARKED)
        .map_err(storage)?
        .len()
        .map_err(storage)?;
    Ok(depth)
}

/// Removes the parked job whose envelope id is `id` and, with `retry`,
/// queues it due at `now` at attempt 1, in one transaction: it is either
/// parked or queued, never both nor neither. The idempotency key is not
/// checked: a person asked for this run.
pub(super) fn unpark(
    db: &Database,
    id: uuid::Uuid,
    retry: bool,
    now: u64,
) -> Result<Option<ParkedJob>, QueueError> {
    let txn = db.begin_write().map_err(storage)?;
    let found = {
        let table = txn.open_table(PARKED).map_err(storage)?;
        let mut found = None;
        for entry in table.iter().map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            let parked: ParkedJob = serde_json::from_slice(v.value()).map_err(storage)?;
            if let Some(env) = crate::queue::retried_body(&parked, id) {
                found = Some((k.value(), parked, env));
                break;
            }
        }
        found
    };
    let Some((seq, parked, env)) = found else {
        // Dropping the transaction aborts it: nothing changes.
        return Ok(None);
    };
    txn.open_table(PARKED)
        .map_err(storage)?
        .remove(seq)
        .map_err(storage)?;
    if retry {
        insert_ready(&txn, now, &env.to_bytes())?;
    }
    txn.commit().map_err(storage)?;
    Ok(Some(parked))
}

/// The oldest ready entry that is due and not `busy` (by its key, or by
/// its body: a job of a lane that is running), or when the next one falls
/// due.
pub(super) enum Next {
    Due(Key, Vec<u8>),
    Wait(Option<u64>),
}

/// What [`next_ready`] does with an entry it looks at.
pub(super) enum Look {
    /// The entry, if it is due.
    Take,
    /// Not this one (running, or of a running lane).
    Skip,
    /// Looked far enough: wait for a change.
    Stop,
}

/// Takes any entry not handed out already: for tests and tools without
/// lanes.
#[cfg(test)]
pub(super) fn unless(busy: impl Fn(&Key) -> bool) -> impl FnMut(&Key, &[u8]) -> Look {
    move |k, _| if busy(k) { Look::Skip } else { Look::Take }
}

pub(super) fn next_ready(
    db: &Database,
    now: u64,
    mut look: impl FnMut(&Key, &[u8]) -> Look,
) -> Result<Next, QueueError> {
    let txn = db.begin_read().map_err(storage)?;
    let table = txn.open_table(READY).map_err(storage)?;
    for entry in table.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let key = k.value();
        match look(&key, v.value()) {
            Look::Take => {}
            Look::Skip => continue,
            Look::Stop => return Ok(Next::Wait(None)),
        }
        if key.0 > now {
            return Ok(Next::Wait(Some(key.0)));
        }
        return Ok(Next::Due(key, v.value().to_vec()));
    }
    Ok(Next::Wait(None))
}

/// What recording a hand-out decided.
#[derive(Debug, PartialEq)]
pub(super) enum HandOut {
    /// Hand the job out; `earlier` hand-outs of it got no outcome.
    Go { earlier: u32 },
    /// It was handed out `max_deliveries` times without an outcome, each
    /// time taking the worker down with it: it is parked now instead.
    Parked(ParkedJob),
}

/// The reason a job parked by the hand-out limit carries.
pub(crate) fn crash_reason(times: u32, max_deliveries: u32) -> String {
    format!(
        "crashed the worker {times} times: handed out {times} times without ever \
         reaching an outcome (queue.max_deliveries = {max_deliveries})"
    )
}

#[cfg(test)]
/// Records one more hand-out of `key` durably, before its handler runs, so
/// that a process dying on the job still counts. Parks the job instead
/// once `max_deliveries` earlier hand-outs got no outcome.
#[cfg(test)]
pub(super) fn record_hand_out(
    db: &Database,
    key: Key,
    body: &[u8],
    max_deliveries: u32,
) -> Result<HandOut, QueueError> {
    let txn = db.begin_write().map_err(storage)?;
    let decision = record_hand_out_in(&txn, key, body, max_deliveries)?;
    txn.commit().map_err(storage)?;
    Ok(decision)
}

/// The writes of [`record_hand_out`] inside `txn`, which the caller
/// commits.
pub(super) fn record_hand_out_in(
    txn: &WriteTransaction,
    key: Key,
    body: &[u8],
    max_deliveries: u32,
) -> Result<HandOut, QueueError> {
    let earlier = txn
        .open_table(HANDOUTS)
        .map_err(storage)?
        .get(key)
        .map_err(storage)?
        .map(|v| v.value())
        .unwrap_or(0);
    if earlier >= max_deliveries {
        let parked = ParkedJob {
            reason: crash_reason(earlier, max_deliveries),
            body: String::from_utf8_lossy(body).into_owned(),
        };
        remove_ready(txn, key)?;
        insert_parked(txn, &parked)?;
        Ok(HandOut::Parked(parked))
    } else {
        txn.open_table(HANDOUTS)
            .map_err(storage)?
            .insert(key, earlier + 1)
            .map_err(storage)?;
        Ok(HandOut::Go { earlier })
    }
}

#[cfg(test)]
/// Queues `body` unless `idempotency_key` was queued within [`SEEN_TTL`];
/// returns whether it was queued. One transaction: the job and the memory
/// of its key are stored together or not at all.
#[cfg(test)]
pub(super) fn publish(
    db: &Database,
    idempotency_key: &str,
    body: &[u8],
    now: u64,
) -> Result<bool, QueueError> {
    publish_within(db, idempotency_key, body, now, MAX_SEEN_KEYS)
}

/// [`publish`] with the count bound given, so tests can reach it.
#[cfg(test)]
pub(super) fn publish_within(
    db: &Database,
    idempotency_key: &str,
    body: &[u8],
    now: u64,
    max_keys: usize,
) -> Result<bool, QueueError> {
    let txn = db.begin_write().map_err(storage)?;
    let queued = publish_in(&txn, idempotency_key, body, now, max_keys)?;
    txn.commit().map_err(storage)?;
    Ok(queued)
}

/// The writes of one publish inside `txn`, which the caller commits (the
/// group commit puts many publishes in one transaction). A key already
/// queued within [`SEEN_TTL`], by an earlier transaction or earlier in
/// this one, writes nothing and returns false.
pub(super) fn publish_in(
    txn: &WriteTransaction,
    idempotency_key: &str,
    body: &[u8],
    now: u64,
    max_keys: usize,
) -> Result<bool, QueueError> {
    // An empty key names nothing to compare: such jobs are always queued.
    let digest = (!idempotency_key.is_empty()).then(|| key_digest(idempotency_key));
    if let Some(digest) = &digest {
        let seen = txn.open_table(SEEN).map_err(storage)?;
        let at = seen.get(digest).map_err(storage)?.map(|v| v.value().0);
        if at.is_some_and(|at| now.saturating_sub(at) < ttl_ms()) {
            return Ok(false);
        }
    }
    insert_ready(txn, now, body)?;
    if let Some(digest) = &digest {
        let seq = next_seq(txn)?;
        txn.open_table(SEEN)
            .map_err(storage)?
            .insert(digest, (now, seq))
            .map_err(storage)?;
        txn.open_table(SEEN_BY_AGE)
            .map_err(storage)?
            .insert((now, seq), digest)
            .map_err(storage)?;
    }
    prune_seen(txn, now, max_keys)?;
    Ok(true)
}

fn ttl_ms() -> u64 {
    u64::try_from(SEEN_TTL.as_millis()).unwrap_or(u64::MAX)
}

/// Forgets keys older than [`SEEN_TTL`], and the oldest ones beyond
/// `max_keys` ([`MAX_SEEN_KEYS`]), at most [`PRUNE_BATCH`] at a time.
fn prune_seen(txn: &WriteTransaction, now: u64, max_keys: usize) -> Result<(), QueueError> {
    let mut by_age = txn.open_table(SEEN_BY_AGE).map_err(storage)?;
    let mut seen = txn.open_table(SEEN).map_err(storage)?;
    let max = u64::try_from(max_keys).unwrap_or(u64::MAX);
    for _ in 0..PRUNE_BATCH {
        let Some((age, digest)) = by_age
            .first()
            .map_err(storage)?
            .map(|(k, v)| (k.value(), *v.value()))
        else {
            break;
        };
        let expired = now.saturating_sub(age.0) >= ttl_ms();
        if !expired && by_age.len().map_err(storage)? <= max {
            break;
        }
        by_age.remove(age).map_err(storage)?;
        // A key queued again after it expired has a newer entry; this old
        // one must not erase it.
        let current = seen.get(&digest).map_err(storage)?.map(|v| v.value());
        if current == Some(age) {
            seen.remove(&digest).map_err(storage)?;
        }
    }
    Ok(())
}

/// How many idempotency keys the store remembers; for tests and checks.
pub(super) fn seen_count(db: &Database) -> Result<u64, QueueError> {
    let txn = db.begin_read().map_err(storage)?;
    let len = txn
        .open_table(SEEN)
        .map_err(storage)?
        .len()
        .map_err(storage)?;
    Ok(len)
}
