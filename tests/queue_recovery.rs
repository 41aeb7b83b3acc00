//! The queue under hostile conditions: a job that kills its worker process,
//! a damaged store file, a broker that stops confirming, and a delivery
//! limit changed on an existing queue.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chartpilot::jobs::{Job, JobEnvelope};
use chartpilot::metrics::Metrics;
use chartpilot::queue::{self, JobQueue, QueueError};
use chartpilot::settings::Settings;
use chartpilot::worker::{Handled, JobHandler, Outcome, Worker};
use support::chat_job as job;
use support::{amqp_url, delete_topology, test_settings, Backend, TestSecrets, PATIENCE};

/// Names the directory of the poison test to the child process; the child
/// test does nothing without it.
const CHILD_DIR_VAR: &str = "CHARTPILOT_TEST_POISON_DIR";
/// `queue.max_deliveries` in the poison test: small, so the loop is short.
const TEST_MAX_DELIVERIES: u32 = 3;
/// Runs of the child before the test gives up on the job being parked.
const MAX_RUNS: u32 = 10;
/// A child that finds no job for this long has emptied the queue.
const CHILD_IDLE: Duration = Duration::from_secs(2);

fn no_secrets() -> TestSecrets {
    TestSecrets {
        github: String::new(),
        alertmanager: String::new(),
        slack: String::new(),
        chat: String::new(),
    }
}

fn settings(backend: Backend, dir: &Path, overrides: &[(&str, String)]) -> Settings {
    test_settings(
        backend,
        &amqp_url(),
        dir,
        &no_secrets(),
        &support::env_vars(overrides),
    )
}

async fn open(settings: &Settings) -> Arc<dyn JobQueue> {
    let q = queue::open(&settings.queue, Arc::new(Metrics::new()), true)
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !q.is_ready() {
        assert!(Instant::now() < deadline, "queue never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    q
}

/// Kills the whole process on `poison`, as a hostile chart index that
/// exhausts memory does; records every other job in `done.txt`.
struct Killer {
    done: PathBuf,
}

#[async_trait]
impl JobHandler for Killer {
    async fn handle(&self, job: &Job, _envelope: &JobEnvelope) -> Handled {
        let Job::Chat(c) = job else {
            return Ok(Vec::new());
        };
        if c.text == "poison" {
            std::process::abort();
        }
        let mut done = std::fs::read_to_string(&self.done).unwrap_or_default();
        done.push_str(&c.text);
        done.push('\n');
        std::fs::write(&self.done, done).unwrap();
        Ok(Vec::new())
    }
}

fn poison_settings(dir: &Path) -> Settings {
    settings(
        Backend::Embedded,
        dir,
        &[("QUEUE__MAX_DELIVERIES", TEST_MAX_DELIVERIES.to_string())],
    )
}

/// The worker process of [`a_job_that_kills_the_worker_is_parked_after_max_deliveries`]:
/// the embedded queue and the real worker, with a handler that aborts the
/// process on one job. The test runs itself as this child.
async fn poison_child(dir: PathBuf) {
    let settings = poison_settings(&dir);
    let q = open(&settings).await;
    let handler = Arc::new(Killer {
        done: dir.join("done.txt"),
    });
    let worker = Worker::new(
        Arc::clone(&q),
        handler,
        Arc::new(Metrics::new()),
        &settings.queue,
    );
    while let Ok(Some(outcome)) = tokio::time::timeout(CHILD_IDLE, worker.process_one()).await {
        assert_eq!(outcome.unwrap(), Outcome::Done);
    }
    q.close().await;
}

#[tokio::test]
async fn a_job_that_kills_the_worker_is_parked_after_max_deliveries() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_VAR) {
        return poison_child(PathBuf::from(dir)).await;
    }
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let settings = poison_settings(dir.path());
    {
        let q = open(&settings).await;
        q.publish(&job("poison")).await.unwrap();
        q.publish(&job("ordinary")).await.unwrap();
        q.close().await;
    }

    let started = Instant::now();
    let mut crashes = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= MAX_RUNS, "still crashing after {MAX_RUNS} runs");
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_job_that_kills_the_worker_is_parked_after_max_deliveries",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_VAR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if status.success() {
            break;
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(6), "aborted, not failed: {status}");
        }
        crashes += 1;
    }
    eprintln!(
        "poison job parked after {crashes} crashes, {runs} runs, {:?}",
        started.elapsed()
    );
    assert_eq!(crashes, TEST_MAX_DELIVERIES);
    let done = std::fs::read_to_string(dir.path().join("done.txt")).unwrap();
    assert_eq!(done, "ordinary\n", "the job behind it ran once");

    let q = open(&settings).await;
    let parked = q.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].reason.starts_with("crashed the worker 3 times"),
        "{}",
        parked[0].reason
    );
    let body = JobEnvelope::from_bytes(parked[0].body.as_bytes()).unwrap();
    assert_eq!(body.idempotency_key, "test:poison");
    // The queue goes on handing out jobs.
    q.publish(&job("later")).await.unwrap();
    let handler = Arc::new(Killer {
        done: dir.path().join("done.txt"),
    });
    let worker = Worker::new(
        Arc::clone(&q),
        handler,
        Arc::new(Metrics::new()),
        &settings.queue,
    );
    let outcome = support::next_outcome(&worker).await;
    assert_eq!(outcome, Outcome::Done);
    q.close().await;
}

/// Runs `chartpilot serve` on a queue directory holding `bytes` as its
/// store file; returns its exit code, stdout and stderr.
fn serve_on_store(bytes: &[u8]) -> (Option<i32>, String, String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let queue_dir = dir.path().join("queue");
    std::fs::create_dir_all(&queue_dir).unwrap();
    let file = queue_dir.join(queue::embedded::DB_FILE);
    std::fs::write(&file, bytes).unwrap();
    let config = dir.path().join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[queue]\nkind = \"embedded\"\npath = {:?}\n",
            queue_dir.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve kept running on a damaged store");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
        dir,
    )
}

fn assert_one_clear_error(bytes: &[u8]) {
    let (code, stdout, stderr, file, _dir) = serve_on_store(bytes);
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, Some(2), "{all}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert!(stderr.contains("move the file aside"), "{stderr}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(!all.to_lowercase().contains("backtrace"), "{all}");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr:\n{stderr}");
}

#[test]
fn serve_on_a_store_of_garbage_is_one_clear_error() {
    assert_one_clear_error(&[0x5a; 64 * 1024]);
}

#[tokio::test]
async fn serve_on_a_truncated_store_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(Backend::Embedded, dir.path(), &[]);
    {
        let q = open(&settings).await;
        for i in 0..20 {
            q.publish(&job(&format!("waiting {i}"))).await.unwrap();
        }
        q.close().await;
    }
    let whole = std::fs::read(settings.queue.path.join(queue::embedded::DB_FILE)).unwrap();
    assert_one_clear_error(&whole[..whole.len() / 2]);
}

#[tokio::test]
async fn opening_a_damaged_store_in_process_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(Backend::Embedded, dir.path(), &[]);
    std::fs::create_dir_all(&settings.queue.path).unwrap();
    std::fs::write(
        settings.queue.path.join(queue::embedded::DB_FILE),
        b"not a store",
    )
    .unwrap();
    let e = queue::open(&settings.queue, Arc::new(Metrics::new()), true)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, QueueError::Corrupt { .. }), "{e}");
    assert_eq!(e.exit_code(), Some(queue::EXIT_STORE_DAMAGED));
}

#[tokio::test]
async fn a_broker_that_stops_confirming_makes_the_queue_unready_until_it_confirms() {
    support::init_test_logging();
    let upstream = amqp_url()
        .split('@')
        .nth(1)
        .and_then(|h| h.split('/').next())
        .unwrap()
        .parse()
        .unwrap_or_else(|_| "127.0.0.1:5672".parse().unwrap());
    let proxy = support::proxy::Proxy::start(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        Backend::Amqp,
        dir.path(),
        &[
            ("QUEUE__URL", proxy.url()),
            ("QUEUE__CONFIRM_TIMEOUT", "1s".to_owned()),
        ],
    );
    let q = open(&settings).await;
    q.publish(&job("before")).await.unwrap();

    proxy.freeze();
    let e = q.publish(&job("unconfirmed")).await.unwrap_err();
    assert!(matches!(e, QueueError::ConfirmTimeout(_)), "{e}");
    assert!(!q.is_ready(), "a confirm timed out: not ready");

    proxy.thaw();
    let deadline = Instant::now() + PATIENCE;
    while !q.is_ready() {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    q.publish(&job("after")).await.unwrap();
    q.close().await;
    delete_topology(&settings).await;
}

#[tokio::test]
async fn a_job_redelivered_past_the_delivery_limit_is_parked_by_rabbitmq() {
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        Backend::Amqp,
        dir.path(),
        &[("QUEUE__MAX_DELIVERIES", "2".to_owned())],
    );
    let sent = job("kills every worker");
    {
        let q = open(&settings).await;
        q.publish(&sent).await.unwrap();
        q.close().await;
    }
    let mut deaths = 0;
    loop {
        let q = open(&settings).await;
        let got = tokio::time::timeout(Duration::from_secs(3), q.receive()).await;
        let Ok(Some(delivery)) = got else {
            q.close().await;
            break;
        };
        deaths += 1;
        assert!(deaths <= 6, "never dead-lettered");
        // The worker dies holding it: no ack, the connection goes away.
        q.close().await;
        drop(delivery);
    }
    let q = open(&settings).await;
    let parked = q.parked().await.unwrap();
    assert_eq!(parked.len(), 1, "after {deaths} deliveries");
    eprintln!(
        "dead-lettered after {deaths} deliveries: {}",
        parked[0].reason
    );
    assert!(
        parked[0].reason.starts_with("crashed the worker 2 times"),
        "{}",
        parked[0].reason
    );
    let body = JobEnvelope::from_bytes(parked[0].body.as_bytes()).unwrap();
    assert_eq!(body.id, sent.id);
    q.close().await;
    delete_topology(&settings).await;
}

#[tokio::test]
async fn a_changed_delivery_limit_keeps_the_existing_queue_serving() {
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(Backend::Amqp, dir.path(), &[]);
    {
        let q = open(&settings).await;
        q.close().await;
    }
    settings.queue.max_deliveries = 5;
    let q = open(&settings).await;
    q.publish(&job("through the old queue")).await.unwrap();
    let delivery = tokio::time::timeout(PATIENCE, q.receive())
        .await
        .unwrap()
        .unwrap();
    q.ack(delivery).await.unwrap();
    q.close().await;
    delete_topology(&settings).await;
}

/// `chartpilot jobs list|show` read a parked job back with its reason,
/// from the embedded store the service left.
#[tokio::test]
async fn jobs_list_and_show_read_the_parked_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(Backend::Embedded, dir.path(), &[]);
    {
        let q = open(&settings).await;
        q.publish(&job("status web")).await.unwrap();
        let delivery = q.receive().await.unwrap();
        q.park(delivery, "failed 5 attempts; last error: argo unreachable")
            .await
            .unwrap();
        q.close().await;
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chartpilot"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "CHARTPILOT__QUEUE__PATH",
                settings.queue.path.display().to_string(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let list = run(&["jobs", "list"]);
    assert!(
        list.contains("  chat.command  1  ")
            && list.contains("failed 5 attempts; last error: argo unreachable"),
        "{list}"
    );
    assert!(list.ends_with("1 parked jobs\n"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["jobs", "list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["kind"], "chat.command");
    let show = run(&["jobs", "show", "1"]);
    assert!(show.starts_with("reason: failed 5 attempts"), "{show}");
    assert!(show.contains("\"status web\""), "{show}");
}
