//! `chartpilot jobs retry|drop ID`: the binary against a queue the test
//! parked a job in, on both queues (RabbitMQ for real), then a real worker
//! to see what the queue hands out afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::jobs::{Job, JobEnvelope};
use chartpilot::metrics::Metrics;
use chartpilot::queue::{self, JobQueue};
use chartpilot::settings::{QueueKind, Settings};
use chartpilot::worker::{Outcome, Worker};
use support::{
    amqp_url, chat_job, delete_topology, test_settings, Backend, Mode, RecordingHandler,
    TestSecrets, PATIENCE,
};

/// How long a test waits to see that the queue hands out nothing: jobs
/// that are there come within milliseconds.
const NOTHING_WITHIN: Duration = Duration::from_secs(2);

/// The attempt the parked job had reached, so a retry's reset shows.
const PARKED_AT_ATTEMPT: u32 = 3;

fn settings(backend: Backend, dir: &Path) -> Settings {
    let none = TestSecrets {
        github: String::new(),
        alertmanager: String::new(),
        slack: String::new(),
        chat: String::new(),
    };
    test_settings(backend, &amqp_url(), dir, &none, &[])
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

/// Queues a chat job at attempt [`PARKED_AT_ATTEMPT`] and parks it as the
/// worker does after its last attempt; the queue is closed afterwards, as
/// a stopped service leaves it.
async fn park_one(settings: &Settings, text: &str) -> JobEnvelope {
    let q = open(settings).await;
    let mut sent = chat_job(text);
    sent.attempt = PARKED_AT_ATTEMPT;
    q.publish(&sent).await.unwrap();
    let delivery = tokio::time::timeout(PATIENCE, q.receive())
        .await
        .unwrap()
        .unwrap();
    q.park(delivery, "failed 3 attempts; last error: argo unreachable")
        .await
        .unwrap();
    q.close().await;
    sent
}

/// The queue section of `settings` as a config file, for `--config`.
fn config_file(settings: &Settings, dir: &Path) -> std::path::PathBuf {
    let q = &settings.queue;
    let kind = match q.kind {
        QueueKind::Embedded => "embedded",
        QueueKind::Amqp => "amqp",
    };
    let text = format!(
        "[queue]\nkind = \"{kind}\"\nurl = \"{}\"\npath = \"{}\"\nprefix = \"{}\"\nlanes = {}\n",
        amqp_url(),
        q.path.display(),
        q.prefix,
        q.lanes
    );
    let file = dir.join("jobs-cli.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Runs `chartpilot ARGS --config F` with nothing from the test's
/// environment: (success, stdout, stderr).
fn chartpilot(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(config.parent().unwrap())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn parked_ids(config: &Path) -> Vec<String> {
    let (ok, out, err) = chartpilot(config, &["jobs", "list", "--format", "json"]);
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| r["id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn retry_runs_the_parked_job_again(backend: Backend) {
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(backend, dir.path());
    let config = config_file(&settings, dir.path());
    let sent = park_one(&settings, "status web").await;
    let id = sent.id.to_string();
    assert_eq!(parked_ids(&config), std::slice::from_ref(&id));
    let (ok, list, _) = chartpilot(&config, &["jobs", "list"]);
    assert!(
        ok && list.contains(&format!("1  {id}  chat.command  {PARKED_AT_ATTEMPT}  ")),
        "{list}"
    );

    let (ok, out, err) = chartpilot(&config, &["jobs", "retry", &id]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("job {id} (chat.command) is back on the work queue at attempt 1\n")
    );
    assert!(parked_ids(&config).is_empty());

    // A worker runs it again: same job, first attempt, and its handler's
    // success is the end of it (nothing parked again, nothing left).
    let q = open(&settings).await;
    let handler = Arc::new(RecordingHandler::new(Mode::Succeed));
    let worker = Worker::new(
        Arc::clone(&q),
        Arc::clone(&handler) as _,
        Arc::new(Metrics::new()),
        &settings.queue,
    );
    let outcome = support::next_outcome(&worker).await;
    assert_eq!(outcome, Outcome::Done);
    let seen = handler.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.id, sent.id);
    assert_eq!(seen[0].0.attempt, 1);
    assert!(matches!(&seen[0].1, Job::Chat(c) if c.text == "status web"));
    assert!(q.parked().await.unwrap().is_empty());
    assert!(
        tokio::time::timeout(NOTHING_WITHIN, worker.process_one())
            .await
            .is_err(),
        "a second copy of the job was queued"
    );
    q.close().await;
    if backend == Backend::Amqp {
        delete_topology(&settings).await;
    }
}

#[tokio::test]
async fn retry_runs_a_parked_job_again_on_the_embedded_queue() {
    retry_runs_the_parked_job_again(Backend::Embedded).await;
}

#[tokio::test]
async fn retry_runs_a_parked_job_again_on_rabbitmq() {
    retry_runs_the_parked_job_again(Backend::Amqp).await;
}

async fn drop_needs_yes(backend: Backend) {
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(backend, dir.path());
    let config = config_file(&settings, dir.path());
    let kept = park_one(&settings, "keep me").await;
    let gone = park_one(&settings, "drop me").await;
    let (kept_id, gone_id) = (kept.id.to_string(), gone.id.to_string());

    let (ok, out, err) = chartpilot(&config, &["jobs", "drop", &gone_id]);
    assert!(!ok, "drop without --yes succeeded: {out}");
    assert!(err.contains("add --yes to drop it"), "{err}");
    let mut both = parked_ids(&config);
    both.sort();
    let mut want = vec![kept_id.clone(), gone_id.clone()];
    want.sort();
    assert_eq!(both, want, "drop without --yes removed something");

    let (ok, out, err) = chartpilot(&config, &["jobs", "drop", &gone_id, "--yes"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "job {gone_id} (chat.command) dropped; it was parked because: failed 3 attempts"
        )),
        "{out}"
    );
    assert_eq!(parked_ids(&config), [kept_id]);
    // Dropped means gone: not put back on the work queue either.
    let q = open(&settings).await;
    assert!(
        tokio::time::timeout(NOTHING_WITHIN, q.receive())
            .await
            .is_err(),
        "the dropped job was queued"
    );
    q.close().await;
    if backend == Backend::Amqp {
        delete_topology(&settings).await;
    }
}

#[tokio::test]
async fn drop_without_yes_changes_nothing_and_with_yes_removes_only_that_job_embedded() {
    drop_needs_yes(Backend::Embedded).await;
}

#[tokio::test]
async fn drop_without_yes_changes_nothing_and_with_yes_removes_only_that_job_rabbitmq() {
    drop_needs_yes(Backend::Amqp).await;
}

/// An id no parked job has, or no id at all, is a clear error that
/// changes nothing.
#[tokio::test]
async fn an_unknown_or_malformed_id_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(Backend::Embedded, dir.path());
    let config = config_file(&settings, dir.path());
    let parked = park_one(&settings, "status web").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for verb in [&["jobs", "retry"][..], &["jobs", "drop"]] {
        let mut args = verb.to_vec();
        args.extend([unknown.as_str(), "--yes"]);
        if verb[1] == "retry" {
            args.pop();
        }
        let (ok, _, err) = chartpilot(&config, &args);
        assert!(!ok);
        assert!(
            err.contains(&format!(
                "no parked job has id {unknown} (1 parked; see `chartpilot jobs list`)"
            )),
            "{err}"
        );
        let mut args = verb.to_vec();
        args.push("1");
        let (ok, _, err) = chartpilot(&config, &args);
        assert!(!ok);
        assert!(
            err.contains("`1` is not a job id: use the ID column of `chartpilot jobs list`"),
            "{err}"
        );
    }
    assert_eq!(parked_ids(&config), [parked.id.to_string()]);
}
