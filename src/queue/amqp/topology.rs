//! Names and declarations of chartpilot's exchange and queues.

use std::time::Duration;

use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

/// AMQP reply code for a declaration whose arguments differ from those of
/// the existing queue.
const PRECONDITION_FAILED: u16 = 406;

pub(super) const KEY_JOBS: &str = "jobs";
pub(super) const KEY_PARKED: &str = "parked";
/// Header that names a job's lane; the lanes exchange routes by it.
///
/// Not `x-…`: a headers exchange leaves headers that start with `x-` out
/// of its matching.
pub const HEADER_LANE: &str = "chartpilot-lane";

/// The lane of a job whose repository is `key`, out of `lanes`: FNV-1a,
/// fixed here so every build and replica agrees (std's hasher may change
/// between Rust releases).
pub fn lane_of(key: &str, lanes: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    u16::try_from(h % u64::from(lanes.max(1))).unwrap_or(0)
}

pub(super) fn lane_queue(prefix: &str, lane: u16) -> String {
    format!("{prefix}.lane.{lane}")
}

/// The headers exchange that routes jobs to their lane.
pub(super) fn lanes_exchange(prefix: &str) -> String {
    format!("{prefix}.lanes")
}

/// Where a job without a lane header goes (lane 0): jobs published by a
/// build from before lanes, during a rolling update.
fn no_lane_exchange(prefix: &str) -> String {
    format!("{prefix}.nolane")
}

/// The work queue of builds before lanes: drained, no longer fed.
pub(super) fn legacy_jobs(prefix: &str) -> String {
    format!("{prefix}.{KEY_JOBS}")
}

pub(super) fn retry_key(delay: Duration) -> String {
    format!("retry.{}ms", delay.as_millis())
}

pub(super) fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

pub(super) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn precondition_failed(e: &lapin::Error) -> Option<String> {
    match e.kind() {
        ErrorKind::ProtocolError(a) if a.get_id() == PRECONDITION_FAILED => {
            Some(a.get_message().to_string())
        }
        _ => None,
    }
}

/// Declares the exchanges and queues of `prefix`; idempotent, so every
/// (re)connect runs it.
///
/// - `P` (direct): keys `jobs`, `parked`, `retry.<ms>ms`. Key `jobs` is
///   bound to the exchange `P.lanes`, not to a queue.
/// - `P.lanes` (headers): each lane queue `P.lane.<n>` is bound with
///   `x-chartpilot-lane = n`. A message without a lane header goes to its
///   alternate exchange `P.nolane` (fanout), bound to `P.lane.0`.
/// - `P.lane.<n>` (quorum, single active consumer): one consumer at a
///   time, read one job at a time, so a lane never runs two jobs at once.
///   `max_deliveries` (`queue.max_deliveries`) is its `x-delivery-limit`: a
///   job redelivered that often without being settled (the worker dies on
///   it each time) is dead-lettered to `P.parked`.
/// - `P.retry.<ms>ms`: TTL, then dead-lettered to key `jobs`, so a retried
///   job comes back to its lane by its header.
///
/// RabbitMQ cannot change the arguments of an existing queue: declaring a
/// lane with another limit than it was created with fails with
/// PRECONDITION_FAILED and closes the channel. chartpilot then keeps
/// serving on the queue as it is, and says at every connect, as an error,
/// which key differs and how to apply it (docs/bounds.md).
///
/// Returns the channel to go on with (a new one after such a failure).
/// The pre-lanes work queue `P.jobs` is kept, unbound, for its consumers to
/// drain (see [`drain_legacy`]).
pub(super) async fn declare(
    conn: &Connection,
    mut ch: Channel,
    prefix: &str,
    retry_delays: &[Duration],
    max_deliveries: u32,
    lanes: u16,
) -> lapin::Result<Channel> {
    let p = prefix;
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let lanes_x = lanes_exchange(p);
    let no_lane_x = no_lane_exchange(p);
    ch.exchange_declare(
        p.into(),
        ExchangeKind::Direct,
        durable_exchange,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        no_lane_x.as_str().into(),
        ExchangeKind::Fanout,
        durable_exchange,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        lanes_x.as_str().into(),
        ExchangeKind::Headers,
        durable_exchange,
        table(&[("alternate-exchange", long_string(&no_lane_x))]),
    )
    .await?;
    ch.exchange_bind(
        lanes_x.as_str().into(),
        p.into(),
        KEY_JOBS.into(),
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let quorum = ("x-queue-type", long_string("quorum"));
    let to_exchange = ("x-dead-letter-exchange", long_string(p));
    // Quorum queues dead-letter at most once by default: a job moving from
    // a retry queue back to its lane, or from a lane to `parked`, could be
    // dropped. At-least-once dead-lettering needs reject-publish overflow.
    let at_least_once = ("x-dead-letter-strategy", long_string("at-least-once"));
    let reject_publish = ("x-overflow", long_string("reject-publish"));
    for lane in 0..lanes.max(1) {
        let queue = lane_queue(p, lane);
        let args = table(&[
            quorum.clone(),
            ("x-single-active-consumer", AMQPValue::Boolean(true)),
            (
                "x-delivery-limit",
                AMQPValue::LongLongInt(i64::from(max_deliveries)),
            ),
            to_exchange.clone(),
            ("x-dead-letter-routing-key", long_string(KEY_PARKED)),
            at_least_once.clone(),
            reject_publish.clone(),
        ]);
        ch = declare_kept(conn, ch, &queue, args, max_deliveries).await?;
        ch.queue_bind(
            queue.as_str().into(),
            lanes_x.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            table(&[
                ("x-match", long_string("all")),
                (HEADER_LANE, long_string(&lane.to_string())),
            ]),
        )
        .await?;
        if lane == 0 {
            ch.queue_bind(
                queue.as_str().into(),
                no_lane_x.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    let others = std::iter::once((
        format!("{p}.{KEY_PARKED}"),
        KEY_PARKED.to_owned(),
        table(std::slice::from_ref(&quorum)),
    ))
    .chain(retry_delays.iter().map(|d| {
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
                at_least_once.clone(),
                reject_publish.clone(),
            ]),
        )
    }));
    for (queue, key, args) in others {
        ch.queue_declare(queue.as_str().into(), durable, args)
            .await?;
        ch.queue_bind(
            queue.as_str().into(),
            p.into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    let legacy_args = table(&[
        quorum.clone(),
        (
            "x-delivery-limit",
            AMQPValue::LongLongInt(i64::from(max_deliveries)),
        ),
        to_exchange.clone(),
        ("x-dead-letter-routing-key", long_string(KEY_PARKED)),
        at_least_once.clone(),
        reject_publish.clone(),
    ]);
    drain_legacy(conn, ch, p, legacy_args, max_deliveries).await
}

/// Declares a lane queue; when it exists with other arguments, says so and
/// goes on with it as it is.
async fn declare_kept(
    conn: &Connection,
    ch: Channel,
    queue: &str,
    args: FieldTable,
    max_deliveries: u32,
) -> lapin::Result<Channel> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let Err(e) = ch.queue_declare(queue.into(), durable, args).await else {
        return Ok(ch);
    };
    let Some(broker_says) = precondition_failed(&e) else {
        return Err(e);
    };
    tracing::error!(
        queue,
        broker = %broker_says,
        max_deliveries,
        "queue.max_deliveries is not applied: `{queue}` exists with other arguments \
         and RabbitMQ cannot change them. Jobs keep flowing through it with the \
         arguments it was created with. To apply the new value, stop the \
         workers, let `{queue}` drain (or move its messages with a shovel), delete \
         it (rabbitmqctl delete_queue {queue}) and start chartpilot again; or set \
         queue.max_deliveries back to the value it was created with"
    );
    let ch = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..durable
    };
    ch.queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok(ch)
}

/// The work queue of builds before lanes, `P.jobs`, declared as those
/// builds did (so an existing one is kept as it is) and unbound from key
/// `jobs`: no new job lands there, and workers consume it, so whatever an
/// older process queued still runs (docs/architecture.md#lanes). Checking
/// whether it exists instead would close a channel with NOT_FOUND on every
/// connect of a new installation, which lapin logs as an error.
async fn drain_legacy(
    conn: &Connection,
    ch: Channel,
    prefix: &str,
    args: FieldTable,
    max_deliveries: u32,
) -> lapin::Result<Channel> {
    let legacy = legacy_jobs(prefix);
    let ch = declare_kept(conn, ch, &legacy, args, max_deliveries).await?;
    ch.queue_unbind(
        legacy.as_str().into(),
        prefix.into(),
        KEY_JOBS.into(),
        FieldTable::default(),
    )
    .await?;
    Ok(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_always_gets_the_same_lane_and_repositories_spread() {
        // Fixed values: replicas of different builds must agree.
        assert_eq!(lane_of("", 16), lane_of("", 16));
        assert_eq!(lane_of("acme/gitops", 16), lane_of("acme/gitops", 16));
        assert_eq!(lane_of("anything", 1), 0);
        let used: std::collections::BTreeSet<u16> = (0..200)
            .map(|i| lane_of(&format!("org/repo-{i}"), 16))
            .collect();
        assert_eq!(used.len(), 16, "200 repositories use every lane");
        assert!((0..1000).all(|i| lane_of(&format!("r{i}"), 7) < 7));
    }

    #[test]
    fn the_lane_hash_is_fnv1a() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; a change would move every
        // repository to another lane between builds.
        assert_eq!(
            lane_of("a", u16::MAX),
            u16::try_from(0xaf63_dc4c_8601_ec8c_u64 % 65535).unwrap()
        );
    }
}
