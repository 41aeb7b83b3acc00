//! A bare lapin publisher with publisher confirms: the broker's own limit
//! for what chartpilot's receiver does per webhook, measured in the same
//! run as chartpilot's ingest by `benches/ingest.sh`.
//!
//! N tasks publish persistent messages (delivery mode 2) of `--size` bytes
//! to a fresh durable quorum queue; each task awaits the broker's confirm
//! before its next publish, as an HTTP client waits for its 202. Reports
//! msgs/s and publish-to-confirm latency percentiles, then deletes the
//! queue.
//!
//! Modes:
//! - `shared`: one connection, one confirm channel shared by the N tasks
//!   (what chartpilot does: one publish channel);
//! - `per-task`: one connection, one confirm channel per task.
//!
//! ```text
//! cargo bench --bench bare_publisher -- --connections 8 --seconds 15 \
//!     --size 8587 --url amqp://guest:guest@127.0.0.1:5672/%2f
//! ```
//!
//! `--connections`, `--size` and `--mode` take comma-separated lists and
//! run every combination, each against its own fresh queue.
//! `--peek-queue Q` only prints the size of one message of Q (left there).
//!
//! Besides a human-readable line, every run prints one machine-readable
//! line: `RESULT mode=… connections=… size=… messages=… seconds=… rate=…
//! p50_ms=… p90_ms=… p99_ms=… p999_ms=… max_ms=… failures=… in_queue=…
//! confirmed_total=… cpu_self=… cpu_watched=… cpu_machine=…` (CPU in cores
//! busy over the measured window: this process, the `--watch-pid`
//! processes, the whole machine).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use lapin::options::{
    BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// One connection, one confirm channel shared by all tasks.
    Shared,
    /// One connection, one confirm channel per task.
    PerTask,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::PerTask => "per-task",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "bare_publisher",
    about = "Bare lapin publisher with confirms to a quorum queue"
)]
struct Args {
    /// Concurrent publishers (each awaits its confirm); a list runs each.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    connections: Vec<usize>,
    /// Measured duration of each run, in seconds.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Unmeasured warm-up before each run, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Message body size in bytes; a list runs each.
    #[arg(long, value_delimiter = ',', default_value = "8587")]
    size: Vec<usize>,
    /// Broker URL; only loopback brokers make sense for a benchmark.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    url: String,
    /// Channel layout; a list runs each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "shared")]
    mode: Vec<Mode>,
    /// Prefix of the quorum queue each run declares (and deletes).
    #[arg(long, default_value = "bench-bare")]
    queue_prefix: String,
    /// Instead of publishing: get one message of this queue, print its
    /// size (`PEEK queue=… bytes=…`) and leave it in the queue.
    #[arg(long)]
    peek_queue: Option<String>,
    /// Processes (e.g. the broker's beam.smp) whose CPU use over the
    /// measured window is reported as `cpu_watched` (Linux /proc).
    #[arg(long = "watch-pid")]
    watch_pids: Vec<u32>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What one publishing task saw inside the measured window.
#[derive(Default)]
struct TaskStats {
    /// Publish-to-confirm latency of each confirmed message, microseconds.
    latencies_us: Vec<u32>,
    /// Messages nacked or returned.
    failures: u64,
    /// Every confirmed message, warm-up included (what the queue holds).
    confirmed_total: u64,
}

/// CPU used over the measured window, in cores (1.0 = one core busy).
#[derive(Default, Clone, Copy)]
struct CpuUse {
    this_process: f64,
    watched: f64,
    machine: f64,
}

/// Clock ticks per second of /proc's counters (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// utime + stime of a process, in ticks; `None` without /proc.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Busy ticks of the whole machine (all cores), from /proc/stat.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = v.iter().take(8).sum();
    Some(total - v.get(3)? - v.get(4)?)
}

#[derive(Clone, Copy)]
struct CpuSnapshot {
    at: Instant,
    this_process: Option<u64>,
    watched: Option<u64>,
    machine: Option<u64>,
}

impl CpuSnapshot {
    fn take(watch: &[u32]) -> Self {
        let watched = watch
            .iter()
            .map(|p| process_ticks(&p.to_string()))
            .sum::<Option<u64>>();
        Self {
            at: Instant::now(),
            this_process: process_ticks("self"),
            watched,
            machine: machine_busy_ticks(),
        }
    }

    fn since(&self, start: &Self) -> CpuUse {
        let secs = self.at.duration_since(start.at).as_secs_f64().max(1e-9);
        let cores = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => a.saturating_sub(b) as f64 / USER_HZ / secs,
            _ => f64::NAN,
        };
        CpuUse {
            this_process: cores(self.this_process, start.this_process),
            watched: cores(self.watched, start.watched),
            machine: cores(self.machine, start.machine),
        }
    }
}

struct RunResult {
    mode: Mode,
    size: usize,
    cpu: CpuUse,
    connections: usize,
    seconds: f64,
    latencies_us: Vec<u32>,
    failures: u64,
    in_queue: u32,
    confirmed_total: u64,
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// A JSON document of exactly `size` bytes (at least 12).
fn body(size: usize) -> Vec<u8> {
    let head = br#"{"pad":""#;
    let tail = br#""}"#;
    let fill = size.saturating_sub(head.len() + tail.len());
    let mut b = Vec::with_capacity(size.max(head.len() + tail.len()));
    b.extend_from_slice(head);
    b.extend((0..fill).map(|i| b'a' + (i % 26) as u8));
    b.extend_from_slice(tail);
    b
}

/// Properties like chartpilot's: persistent, JSON, id, type, timestamp and
/// the idempotency / attempt / delivery-id headers.
fn properties(seq: u64) -> BasicProperties {
    let id = format!("bench-{seq:016x}");
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from("x-idempotency-key"),
        long_string(&format!("github:{id}")),
    );
    headers.insert(ShortString::from("x-attempt"), AMQPValue::LongLongInt(1));
    headers.insert(ShortString::from("x-delivery-id"), long_string(&id));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(id.as_str().into())
        .with_type("push".into())
        .with_timestamp(now)
        .with_headers(headers)
}

async fn publish_loop(
    channel: Channel,
    queue: ShortString,
    body: Arc<Vec<u8>>,
    task: u64,
    measure_from: Instant,
    until: Instant,
) -> lapin::Result<TaskStats> {
    let mut stats = TaskStats::default();
    let mut seq = task << 40;
    loop {
        let started = Instant::now();
        if started >= until {
            return Ok(stats);
        }
        seq += 1;
        let confirmation = channel
            .basic_publish(
                ShortString::from(""),
                queue.clone(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties(seq),
            )
            .await?
            .await?;
        let done = Instant::now();
        let ok = matches!(confirmation, Confirmation::Ack(None));
        if ok {
            stats.confirmed_total += 1;
        }
        if done >= measure_from && done <= until {
            if ok {
                let us = done.duration_since(started).as_micros();
                stats
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            } else {
                stats.failures += 1;
            }
        }
    }
}

async fn confirm_channel(conn: &Connection) -> lapin::Result<Channel> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

async fn run(
    conn: &Connection,
    args: &Args,
    mode: Mode,
    connections: usize,
    size: usize,
) -> lapin::Result<RunResult> {
    let admin = conn.create_channel().await?;
    let queue = format!(
        "{}-{}-{}-c{connections}-{size}B",
        args.queue_prefix,
        std::process::id(),
        mode.name()
    );
    let mut qargs = FieldTable::default();
    qargs.insert(ShortString::from("x-queue-type"), long_string("quorum"));
    admin
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            qargs,
        )
        .await?;

    let shared = match mode {
        Mode::Shared => Some(confirm_channel(conn).await?),
        Mode::PerTask => None,
    };
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(match &shared {
            Some(ch) => ch.clone(),
            None => confirm_channel(conn).await?,
        });
    }

    let body = Arc::new(body(size));
    let measure_from = Instant::now() + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = channels
        .into_iter()
        .enumerate()
        .map(|(i, ch)| {
            tokio::spawn(publish_loop(
                ch,
                queue.as_str().into(),
                Arc::clone(&body),
                i as u64 + 1,
                measure_from,
                until,
            ))
        })
        .collect();

    tokio::time::sleep_until(measure_from).await;
    let cpu_start = CpuSnapshot::take(&args.watch_pids);
    tokio::time::sleep_until(until).await;
    let cpu = CpuSnapshot::take(&args.watch_pids).since(&cpu_start);

    let mut latencies_us = Vec::new();
    let mut failures = 0;
    let mut confirmed_total = 0;
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(s)) => {
                latencies_us.extend(s.latencies_us);
                failures += s.failures;
                confirmed_total += s.confirmed_total;
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(join) => panic!("publisher task panicked: {join}"),
        }
    }
    let deleted = admin
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    // A publish error explains a failed delete better than the delete's own.
    if let Some(e) = first_error {
        return Err(e);
    }
    let in_queue = deleted?;
    if let Some(ch) = shared {
        let _ = ch.close(200, "done".into()).await;
    }
    let _ = admin.close(200, "done".into()).await;
    latencies_us.sort_unstable();
    Ok(RunResult {
        mode,
        size,
        cpu,
        connections,
        seconds: args.seconds,
        latencies_us,
        failures,
        in_queue,
        confirmed_total,
    })
}

/// Nearest-rank percentile, in milliseconds.
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

fn report(r: &RunResult) {
    let n = r.latencies_us.len();
    let rate = n as f64 / r.seconds;
    let p = |q| percentile_ms(&r.latencies_us, q);
    println!(
        "bare publisher mode={} c={} size={}B: {:.0} msg/s, p50 {:.2} ms, p90 {:.2} ms, \
         p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} confirmed in {:.1} s, {} failed; \
         queue held {} of {} confirmed; cpu cores: publisher {:.2}, watched {:.2}, machine {:.2})",
        r.mode.name(),
        r.connections,
        r.size,
        rate,
        p(0.50),
        p(0.90),
        p(0.99),
        p(0.999),
        p(1.0),
        n,
        r.seconds,
        r.failures,
        r.in_queue,
        r.confirmed_total,
        r.cpu.this_process,
        r.cpu.watched,
        r.cpu.machine,
    );
    println!(
        "RESULT mode={} connections={} size={} messages={} seconds={} rate={:.1} p50_ms={:.3} \
         p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} failures={} in_queue={} \
         confirmed_total={} cpu_self={:.2} cpu_watched={:.2} cpu_machine={:.2}",
        r.mode.name(),
        r.connections,
        r.size,
        n,
        r.seconds,
        rate,
        p(0.50),
        p(0.90),
        p(0.99),
        p(0.999),
        p(1.0),
        r.failures,
        r.in_queue,
        r.confirmed_total,
        r.cpu.this_process,
        r.cpu.watched,
        r.cpu.machine,
    );
}

/// Gets one message unacknowledged, prints its size, and closes the
/// channel so the broker requeues it.
/// Prints the size of the queue's first message and puts it back. A
/// consumer, not `basic.get`: chartpilot's lane queues are quorum queues
/// with a single active consumer, which refuse `basic.get`.
async fn peek(conn: &Connection, queue: &str) -> lapin::Result<()> {
    use futures_util::StreamExt as _;
    let ch = conn.create_channel().await?;
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "bare_publisher-peek".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(5), consumer.next()).await {
        Ok(Some(delivery)) => {
            let delivery = delivery?;
            println!("PEEK queue={queue} bytes={}", delivery.data.len());
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await?;
        }
        Ok(None) | Err(_) => println!("PEEK queue={queue} empty"),
    }
    ch.close(200, "peeked".into()).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.connections.contains(&0) || args.seconds <= 0.0 || args.warmup < 0.0 {
        eprintln!("bare_publisher: --connections must be > 0, --seconds > 0, --warmup >= 0");
        return ExitCode::FAILURE;
    }
    if args.size.is_empty() || args.mode.is_empty() || args.connections.is_empty() {
        eprintln!("bare_publisher: --size, --mode and --connections need a value");
        return ExitCode::FAILURE;
    }
    let props = ConnectionProperties::default().with_connection_name("bare_publisher".into());
    let conn = match Connection::connect(&args.url, props).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bare_publisher: cannot connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(queue) = &args.peek_queue {
        let result = peek(&conn, queue).await;
        let _ = conn.close(200, "done".into()).await;
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bare_publisher: cannot peek at {queue}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut failed = false;
    for &mode in &args.mode {
        for &size in &args.size {
            for &connections in &args.connections {
                let what = format!("mode={} c={connections} size={size}", mode.name());
                match run(&conn, &args, mode, connections, size).await {
                    Ok(r) => {
                        report(&r);
                        if r.failures > 0 || u64::from(r.in_queue) != r.confirmed_total {
                            eprintln!(
                                "bare_publisher: {what}: {} failures, queue held {} of {} \
                                 confirmed messages",
                                r.failures, r.in_queue, r.confirmed_total
                            );
                            failed = true;
                        }
                    }
                    Err(e) => {
                        eprintln!("bare_publisher: {what}: {e}");
                        failed = true;
                    }
                }
            }
        }
    }
    let _ = conn.close(200, "done".into()).await;
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
