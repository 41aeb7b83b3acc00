//! Names and declarations of chartpilot's exchange and queues.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

/// AMQP reply code for a declaration whose arguments differ from those of
/// the existing queue.
const PRECONDITION_FAILED: u16 = 406;

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

fn precondition_failed(e: &lapin::Error) -> Option<String> {
    match e.kind() {
        ErrorKind::ProtocolError(a) if a.get_id() == PRECONDITION_FAILED => {
            Some(a.get_message().to_string())
        }
        _ => None,
    }
}

/// Declares the exchange `prefix` and its queues; idempotent, so every
/// (re)connect runs it. `max_deliveries` (`queue.max_deliveries`) becomes
/// the `x-delivery-limit` of `P.jobs`: a job redelivered that often
/// without being settled (the worker dies on it each time) is
/// dead-lettered to the parking queue.
///
/// RabbitMQ cannot change the arguments of an existing queue: declaring
/// `P.jobs` with another limit than it was created with fails with
/// PRECONDITION_FAILED and closes the channel. chartpilot then keeps
/// serving on the queue as it is, and says at every connect, as an error,
/// which key differs and how to apply it (docs/bounds.md). Returns the
/// channel to go on with, which is a new one in that case.
pub(super) async fn declare(
    conn: &Connection,
    mut ch: Channel,
    prefix: &str,
    retry_delays: &[Duration],
    max_deliveries: u32,
) -> lapin::Result<Channel> {
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
            (
                "x-delivery-limit",
                AMQPValue::LongLongInt(i64::from(max_deliveries)),
            ),
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
        let declared = ch.queue_declare(queue.as_str().into(), durable, args).await;
        match declared {
            Ok(_) => {}
            Err(e) if queue == jobs => {
                let Some(broker_says) = precondition_failed(&e) else {
                    return Err(e);
                };
                tracing::error!(
                    queue = %jobs,
                    broker = %broker_says,
                    max_deliveries,
                    "queue.max_deliveries is not applied: `{jobs}` exists with other arguments \
                     and RabbitMQ cannot change them. Jobs keep flowing through it with the \
                     delivery limit it was created with. To apply the new value, stop the \
                     workers, let `{jobs}` drain (or move its messages with a shovel), delete \
                     it (rabbitmqctl delete_queue {jobs}) and start chartpilot again; or set \
                     queue.max_deliveries back to the value it was created with"
                );
                ch = conn.create_channel().await?;
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..durable
                };
                ch.queue_declare(queue.as_str().into(), passive, FieldTable::default())
                    .await?;
            }
            Err(e) => return Err(e),
        }
        ch.queue_bind(
            queue.as_str().into(),
            p.into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(ch)
}
