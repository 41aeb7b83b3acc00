//! One behavioural suite, run against both queue implementations: the
//! embedded redb queue and RabbitMQ (started by scripts/test-services.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::jobs::{Job, JobEnvelope};
use chartpilot::metrics::Metrics;
use chartpilot::queue::{self, JobQueue, Published};
use chartpilot::settings::Settings;
use chartpilot::worker::{Outcome, Worker};
use support::chat_job as job;
use support::{
    amqp_url, delete_topology, test_settings, Backend, Mode, RecordingHandler, TestSecrets,
    PATIENCE,
};

struct Harness {
    settings: Settings,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(backend: Backend) -> Self {
        Self::with(backend, &[])
    }

    /// With settings overrides, as `("QUEUE__JOB_TIMEOUT", "1s")`.
    fn with(backend: Backend, overrides: &[(&str, String)]) -> Self {
        support::init_test_logging();
        let dir = tempfile::tempdir().unwrap();
        let secrets = TestSecrets {
            github: String::new(),
            alertmanager: String::new(),
            slack: String::new(),
            chat: String::new(),
        };
        let settings = test_settings(
            backend,
            &amqp_url(),
            dir.path(),
            &secrets,
            &support::env_vars(overrides),
        );
        Self {
            settings,
            _dir: dir,
        }
    }

    /// Opens the queue (again): a new process as far as the queue can tell.
    async fn open(&self) -> Arc<dyn JobQueue> {
        let q = queue::open(&self.settings.queue, Arc::new(Metrics::new()), true)
            .await
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        while !q.is_ready() {
            assert!(Instant::now() < deadline, "queue never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        q
    }

    fn worker(&self, q: &Arc<dyn JobQueue>, mode: Mode) -> (Worker, Arc<RecordingHandler>) {
        let handler = Arc::new(RecordingHandler::new(mode));
        let worker = Worker::new(
            Arc::clone(q),
            handler.clone(),
            Arc::new(Metrics::new()),
            &self.settings.queue,
        );
        (worker, handler)
    }

    async fn done(self, q: Arc<dyn JobQueue>) {
        q.close().await;
        if self.settings.queue.kind == chartpilot::settings::QueueKind::Amqp {
            delete_topology(&self.settings).await;
        }
    }
}

async fn next(w: &Worker) -> Outcome {
    tokio::time::timeout(PATIENCE, w.process_one())
        .await
        .expect("no job arrived")
        .expect("queue closed")
        .expect("settling failed")
}

async fn nothing_within(w: &Worker, wait: Duration) {
    if let Ok(Some(r)) = tokio::time::timeout(wait, w.process_one()).await {
        panic!("unexpected job: {r:?}");
    }
}

async fn each_job_is_handled_exactly_once(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Succeed);
    let sent: Vec<_> = (0..5).map(|i| job(&format!("job {i}"))).collect();
    for j in &sent {
        q.publish(j).await.unwrap();
    }
    for _ in &sent {
        assert_eq!(next(&w).await, Outcome::Done);
    }
    nothing_within(&w, Duration::from_secs(1)).await;
    let mut got: Vec<_> = handler.seen().into_iter().map(|(e, _)| e.id).collect();
    let mut want: Vec<_> = sent.iter().map(|e| e.id).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    h.done(q).await;
}

async fn failing_job_is_retried_with_growing_delay_then_parked(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::FailAlways);
    let sent = job("doomed");
    q.publish(&sent).await.unwrap();

    let d1 = Duration::from_millis(300);
    let d2 = Duration::from_millis(600);
    // Each retry is stored during the `next` call that ran the attempt
    // before it, so timing from the start of that call is a lower bound
    // that holds however the test threads are scheduled.
    let start_1 = Instant::now();
    assert_eq!(
        next(&w).await,
        Outcome::Retried {
            attempt: 2,
            delay: d1
        }
    );
    let start_2 = Instant::now();
    assert_eq!(
        next(&w).await,
        Outcome::Retried {
            attempt: 3,
            delay: d2
        }
    );
    let first_wait = start_1.elapsed();
    let parked = next(&w).await;
    let second_wait = start_2.elapsed();
    assert!(first_wait >= d1, "{first_wait:?}");
    assert!(second_wait >= d2, "{second_wait:?}");
    assert!(
        matches!(&parked, Outcome::Parked { reason } if reason.contains("failed 3 attempts") && reason.contains("upstream down (run 3)")),
        "{parked:?}"
    );
    let attempts: Vec<u32> = handler.seen().iter().map(|(e, _)| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(handler.seen().iter().all(|(e, _)| e.id == sent.id));
    nothing_within(&w, Duration::from_millis(800)).await;

    let parked = q.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    let body = JobEnvelope::from_bytes(parked[0].body.as_bytes()).unwrap();
    assert_eq!((body.id, body.attempt), (sent.id, 3));
    assert!(parked[0].reason.contains("failed 3 attempts"));
    // Reading the parking queue does not consume it.
    assert_eq!(q.parked().await.unwrap().len(), 1);
    h.done(q).await;
}

async fn rate_limited_job_waits_at_least_its_reset(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    // Configured delays are 300 ms then 600 ms: a 500 ms reset takes the
    // 600 ms one on the first retry, not the 300 ms one.
    let (w, handler) = h.worker(&q, Mode::RateLimited(Duration::from_millis(500)));
    q.publish(&job("limited")).await.unwrap();
    let d2 = Duration::from_millis(600);
    // Timed from before the attempt whose retry is stored: a lower bound
    // that holds however the test threads are scheduled.
    let t = Instant::now();
    assert_eq!(
        next(&w).await,
        Outcome::Retried {
            attempt: 2,
            delay: d2
        }
    );
    handler.set_mode(Mode::Succeed);
    assert_eq!(next(&w).await, Outcome::Done);
    assert!(t.elapsed() >= d2, "{:?}", t.elapsed());
    h.done(q).await;
}

async fn deferred_job_waits_without_using_up_attempts(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    // max_attempts is 3: four deferrals would park a failing job, not a
    // deferred one.
    let (w, handler) = h.worker(&q, Mode::DeferFirst(4, Duration::from_millis(100)));
    let sent = job("waiting");
    q.publish(&sent).await.unwrap();
    let t = Instant::now();
    for _ in 0..4 {
        assert_eq!(
            next(&w).await,
            Outcome::Deferred {
                delay: Duration::from_millis(300)
            }
        );
    }
    assert_eq!(next(&w).await, Outcome::Done);
    assert!(
        t.elapsed() >= Duration::from_millis(4 * 300),
        "{:?}",
        t.elapsed()
    );
    let seen = handler.seen();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|(e, _)| e.id == sent.id && e.attempt == 1));
    assert_eq!(
        seen[4].0.last_error.as_deref(),
        Some("soaking (run 4)"),
        "the reason travels with the job"
    );
    assert!(q.parked().await.unwrap().is_empty());
    h.done(q).await;
}

async fn follow_ups_are_queued_in_the_parents_trace(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::FollowUp);
    let parent = job("merged");
    q.publish(&parent).await.unwrap();
    assert_eq!(next(&w).await, Outcome::Done);
    assert_eq!(next(&w).await, Outcome::Done);
    nothing_within(&w, Duration::from_millis(500)).await;
    let seen = handler.seen();
    assert_eq!(seen.len(), 2);
    let (child, job) = &seen[1];
    match job {
        Job::Chat(c) => assert_eq!(c.text, "follow-up: merged"),
        other => panic!("{other:?}"),
    }
    assert_ne!(child.id, parent.id);
    assert_eq!(child.trace_id, parent.trace_id, "one trace across both");
    assert_eq!(child.idempotency_key, format!("follow-up-of-{}", parent.id));
    assert_eq!(child.attempt, 1);
    h.done(q).await;
}

async fn recovering_job_succeeds_on_retry(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::FailFirst(1));
    q.publish(&job("flaky")).await.unwrap();
    assert!(matches!(
        next(&w).await,
        Outcome::Retried { attempt: 2, .. }
    ));
    assert_eq!(next(&w).await, Outcome::Done);
    let last = handler.seen().pop().unwrap().0;
    assert_eq!(last.last_error.as_deref(), Some("upstream down (run 1)"));
    assert!(q.parked().await.unwrap().is_empty());
    h.done(q).await;
}

async fn unknown_kinds_and_rejected_jobs_are_parked(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Reject);
    let mut future = job("from a newer receiver");
    future.kind = "github.workflow_run".into();
    q.publish(&future).await.unwrap();
    let outcome = next(&w).await;
    assert!(
        matches!(&outcome, Outcome::Parked { reason } if reason.contains("unknown job kind `github.workflow_run`")),
        "{outcome:?}"
    );
    assert!(
        handler.seen().is_empty(),
        "an unknown kind never reaches a handler"
    );

    q.publish(&job("bad input")).await.unwrap();
    assert!(
        matches!(next(&w).await, Outcome::Parked { reason } if reason.contains("cannot ever work"))
    );
    let parked = q.parked().await.unwrap();
    assert_eq!(parked.len(), 2);
    h.done(q).await;
}

async fn panicking_handler_is_retried(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Panic);
    q.publish(&job("boom")).await.unwrap();
    assert!(matches!(
        next(&w).await,
        Outcome::Retried { attempt: 2, .. }
    ));
    handler.set_mode(Mode::Succeed);
    assert_eq!(next(&w).await, Outcome::Done);
    h.done(q).await;
}

async fn pending_jobs_survive_a_restart(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let sent: Vec<_> = (0..3).map(|i| job(&format!("pending {i}"))).collect();
    for j in &sent {
        q.publish(j).await.unwrap();
    }
    q.close().await;
    drop(q);

    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Succeed);
    for _ in &sent {
        assert_eq!(next(&w).await, Outcome::Done);
    }
    let got: Vec<_> = handler.seen().into_iter().map(|(e, _)| e.id).collect();
    for j in &sent {
        assert!(got.contains(&j.id));
    }
    h.done(q).await;
}

async fn job_of_a_dead_worker_is_redelivered(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let sent = job("in flight when the worker died");
    q.publish(&sent).await.unwrap();
    let delivery = tokio::time::timeout(PATIENCE, q.receive())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(JobEnvelope::from_bytes(&delivery.body).unwrap().id, sent.id);
    // The worker dies: its connection (or process) goes away without an ack.
    q.close().await;
    drop(delivery);
    drop(q);

    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Succeed);
    assert_eq!(next(&w).await, Outcome::Done);
    assert_eq!(handler.seen()[0].0.id, sent.id);
    nothing_within(&w, Duration::from_millis(500)).await;
    h.done(q).await;
}

fn keyed(text: &str, key: &str) -> JobEnvelope {
    let mut j = job(text);
    j.idempotency_key = key.to_owned();
    j
}

async fn hanging_job_is_cut_at_the_job_timeout_then_parked(backend: Backend) {
    let h = Harness::with(backend, &[("QUEUE__JOB_TIMEOUT", "1s".to_owned())]);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Hang);
    let sent = job("hangs");
    q.publish(&sent).await.unwrap();
    let t = Instant::now();
    assert!(matches!(
        next(&w).await,
        Outcome::Retried { attempt: 2, .. }
    ));
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(matches!(
        next(&w).await,
        Outcome::Retried { attempt: 3, .. }
    ));
    let parked = next(&w).await;
    assert_eq!(
        parked,
        Outcome::Parked {
            reason: "failed 3 attempts; last error: ran longer than queue.job_timeout (1s)".into()
        }
    );
    let attempts: Vec<_> = handler.seen().iter().map(|(e, _)| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(
        handler.seen()[1].0.last_error.as_deref(),
        Some("ran longer than queue.job_timeout (1s)")
    );
    let stored = q.parked().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0]
        .reason
        .contains("ran longer than queue.job_timeout (1s)"));
    // The worker is free again: an ordinary job runs.
    handler.set_mode(Mode::Succeed);
    q.publish(&job("after")).await.unwrap();
    assert_eq!(next(&w).await, Outcome::Done);
    h.done(q).await;
}

async fn a_key_published_twice_is_handed_out_once(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Succeed);
    let first = keyed("replayed", "github:delivery-1");
    let replay = keyed("replayed", "github:delivery-1");
    assert_eq!(q.publish(&first).await.unwrap(), Published::Queued);
    assert_eq!(q.publish(&replay).await.unwrap(), Published::Duplicate);
    assert_eq!(q.publish(&first).await.unwrap(), Published::Duplicate);
    assert_eq!(next(&w).await, Outcome::Done);
    nothing_within(&w, Duration::from_millis(800)).await;
    assert_eq!(handler.seen().len(), 1);
    assert_eq!(handler.seen()[0].0.id, first.id);

    let other = keyed("another delivery", "github:delivery-2");
    assert_eq!(q.publish(&other).await.unwrap(), Published::Queued);
    assert_eq!(next(&w).await, Outcome::Done);
    assert_eq!(handler.seen().len(), 2);
    h.done(q).await;
}

async fn the_same_key_after_a_restart_is_still_a_duplicate(backend: Backend) {
    let h = Harness::new(backend);
    let q = h.open().await;
    let first = keyed("before restart", "github:delivery-r");
    assert_eq!(q.publish(&first).await.unwrap(), Published::Queued);
    q.close().await;
    drop(q);

    let q = h.open().await;
    let (w, handler) = h.worker(&q, Mode::Succeed);
    let replay = keyed("before restart", "github:delivery-r");
    assert_eq!(q.publish(&replay).await.unwrap(), Published::Duplicate);
    assert_eq!(next(&w).await, Outcome::Done);
    nothing_within(&w, Duration::from_millis(800)).await;
    assert_eq!(handler.seen().len(), 1);
    assert_eq!(handler.seen()[0].0.id, first.id);
    h.done(q).await;
}

/// Runs of a job, by repository, as a handler saw them.
#[derive(Default)]
struct Timeline {
    runs: std::sync::Mutex<Vec<(String, uuid::Uuid, Instant, Instant)>>,
}

#[async_trait::async_trait]
impl chartpilot::worker::JobHandler for Timeline {
    async fn handle(&self, _job: &Job, envelope: &JobEnvelope) -> chartpilot::worker::Handled {
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(40)).await;
        self.runs.lock().unwrap().push((
            envelope.lane_key().to_owned(),
            envelope.id,
            start,
            Instant::now(),
        ));
        Ok(Vec::new())
    }
}

/// 50 jobs for 5 repositories on 4 workers (4 processes' connections on
/// RabbitMQ; 4 workers on the one embedded queue), each running up to
/// `queue.prefetch` jobs at once: no two jobs of one repository overlap
/// in time, jobs of different repositories do, and each runs once.
async fn jobs_of_one_repository_never_overlap(backend: Backend) {
    let h = Harness::with(backend, &[("QUEUE__LANES", "8".into())]);
    let repos: Vec<String> = (0..5).map(|i| format!("acme/gitops-{i}")).collect();
    let publisher = h.open().await;
    for i in 0..50 {
        let env = job(&format!("job {i}")).in_repository(repos[i % repos.len()].as_str());
        assert_eq!(publisher.publish(&env).await.unwrap(), Published::Queued);
    }
    let timeline = Arc::new(Timeline::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut queues = vec![Arc::clone(&publisher)];
    let mut workers = Vec::new();
    for n in 0..4 {
        let q = match backend {
            // Another process, as far as RabbitMQ can tell.
            Backend::Amqp if n > 0 => h.open().await,
            _ => Arc::clone(&publisher),
        };
        if n > 0 && backend == Backend::Amqp {
            queues.push(Arc::clone(&q));
        }
        let worker = Worker::new(
            q,
            timeline.clone(),
            Arc::new(Metrics::new()),
            &h.settings.queue,
        );
        workers.push(tokio::spawn(worker.run(stopped.clone())));
    }
    let deadline = Instant::now() + PATIENCE * 2;
    while timeline.runs.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "not every job ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send_replace(true);
    for w in workers {
        w.await.unwrap();
    }
    let runs = timeline.runs.lock().unwrap().clone();
    let ids: std::collections::HashSet<_> = runs.iter().map(|r| r.1).collect();
    assert_eq!((runs.len(), ids.len()), (50, 50), "each job ran once");
    for repo in &repos {
        let mut mine: Vec<_> = runs.iter().filter(|r| &r.0 == repo).collect();
        assert_eq!(mine.len(), 10, "{repo}");
        mine.sort_by_key(|r| r.2);
        for pair in mine.windows(2) {
            assert!(
                pair[1].2 >= pair[0].3,
                "two jobs of {repo} overlapped: one ran {:?}..{:?}, the next started at {:?}",
                pair[0].2,
                pair[0].3,
                pair[1].2
            );
        }
    }
    let across = runs
        .iter()
        .any(|a| runs.iter().any(|b| a.0 != b.0 && a.2 < b.3 && b.2 < a.3));
    assert!(across, "jobs of different repositories never ran at once");
    for q in queues.into_iter().skip(1) {
        q.close().await;
    }
    h.done(publisher).await;
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name(Backend::Embedded).await })*
        }
        mod amqp {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name(Backend::Amqp).await })*
        }
    };
}

suite!(
    each_job_is_handled_exactly_once,
    failing_job_is_retried_with_growing_delay_then_parked,
    recovering_job_succeeds_on_retry,
    rate_limited_job_waits_at_least_its_reset,
    deferred_job_waits_without_using_up_attempts,
    follow_ups_are_queued_in_the_parents_trace,
    unknown_kinds_and_rejected_jobs_are_parked,
    panicking_handler_is_retried,
    pending_jobs_survive_a_restart,
    job_of_a_dead_worker_is_redelivered,
    hanging_job_is_cut_at_the_job_timeout_then_parked,
    a_key_published_twice_is_handed_out_once,
    jobs_of_one_repository_never_overlap,
);

/// The embedded queue remembers keys in its file; RabbitMQ replicas
/// remember them in memory only, so this holds for the embedded queue.
#[tokio::test]
async fn embedded_the_same_key_after_a_restart_is_still_a_duplicate() {
    the_same_key_after_a_restart_is_still_a_duplicate(Backend::Embedded).await;
}

/// Reading `P.parked` (`jobs list`, `jobs retry` of another job) puts the
/// jobs back as fresh copies, not by returning them on a closed channel:
/// RabbitMQ 4.0 to 4.2 count such a return as a delivery, and the parking
/// queue's default delivery limit would drop every parked job on the 20th
/// read. Seen through the broker: after 25 reads, the messages are still
/// there once each, in order, never redelivered.
#[tokio::test]
async fn amqp_reading_parked_jobs_leaves_them_undelivered_and_in_order() {
    use lapin::options::BasicGetOptions;
    let h = Harness::new(Backend::Amqp);
    let q = h.open().await;
    let (w, _handler) = h.worker(&q, Mode::Reject);
    for text in ["first", "second", "third"] {
        q.publish(&job(text)).await.unwrap();
        assert!(matches!(next(&w).await, Outcome::Parked { .. }));
    }
    let before: Vec<String> = q
        .parked()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.body)
        .collect();
    assert_eq!(before.len(), 3);
    for _ in 0..25 {
        let now: Vec<String> = q
            .parked()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.body)
            .collect();
        assert_eq!(now, before, "same jobs, same order, no duplicates");
    }
    // `jobs drop` of the middle one gives the other two back the same way.
    let middle = JobEnvelope::from_bytes(before[1].as_bytes()).unwrap();
    assert!(q
        .unpark(middle.id, chartpilot::queue::Unpark::Drop)
        .await
        .unwrap()
        .is_some());

    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let parked_queue = format!("{}.parked", h.settings.queue.prefix);
    let mut seen = Vec::new();
    while let Some(msg) = ch
        .basic_get(parked_queue.as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        let d = msg.delivery;
        assert!(
            !d.redelivered,
            "a read counted as a delivery: {:?}",
            d.properties.headers()
        );
        let reason = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-park-reason").cloned());
        assert!(reason.is_some(), "the copy keeps its reason");
        // Held unacknowledged until the connection closes.
        seen.push(String::from_utf8(d.data).unwrap());
        assert!(
            seen.len() <= 3,
            "more parked jobs than were parked: {seen:?}"
        );
    }
    assert_eq!(seen, [before[0].clone(), before[2].clone()]);
    let _ = conn.close(200, "done".into()).await;
    h.done(q).await;
}
