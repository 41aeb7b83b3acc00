//! Names and declarations of chartpilot's exchange and queues.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// A job redelivered this many times without being settled (the worker
/// dies on it each time) is dead-lettered to the parking queue.
const DELIVERY_LIMIT: i64 = 20;

pub(super) const KEY_JOBS: &str = "jobs";
pub(super) const KEY_PARKED: &str = "parked";

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

/// Declares the exchange `prefix` and its queues; idempotent, so every
/// (re)connect runs it.
pub(super) async fn declare(
    ch: &Channel,
    prefix: &str,
    retry_delays: &[Duration],
) -> lapin::Result<()> {
    let p = prefix;
    ch.exchange_declare(
        p.into(),
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
    // Quorum queues dead-letter at most once by default: a job moving from
    // a retry queue back to `jobs`, or from `jobs` to `parked`, could be
    // dropped. At-least-once dead-lettering needs reject-publish overflow.
    let at_least_once = ("x-dead-letter-strategy", long_string("at-least-once"));
    let reject_publish = ("x-overflow", long_string("reject-publish"));
    let jobs = format!("{p}.{KEY_JOBS}");
    let declarations = std::iter::once((
        jobs.clone(),
        KEY_JOBS.to_owned(),
        table(&[
            quorum.clone(),
            ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
            to_exchange.clone(),
            ("x-dead-letter-routing-key", long_string(KEY_PARKED)),
            at_least_once.clone(),
            reject_publish.clone(),
        ]),
    ))
    .chain(std::iter::once((
        format!("{p}.{KEY_PARKED}"),
        KEY_PARKED.to_owned(),
        table(std::slice::from_ref(&quorum)),
    )))
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
    for (queue, key, args) in declarations {
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
    Ok(())
}
