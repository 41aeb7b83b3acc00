//! chartpilot against the real RabbitMQ, with a cuttable TCP proxy in
//! between to play connection loss without disturbing other tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use chartpilot::jobs::Job;
use chartpilot::worker::Outcome;
use support::proxy::Proxy;
use support::{corpus, spawn_app, Backend, Options};

fn push_payload() -> Vec<u8> {
    std::fs::read(corpus().join("github/captured/push.gitops-repo.argo-cd-testdata.json")).unwrap()
}

fn broker_addr() -> SocketAddr {
    "127.0.0.1:5672".parse().unwrap()
}

#[tokio::test]
async fn signed_webhook_is_consumed_exactly_once() {
    let app = spawn_app(Options::new(Backend::Amqp)).await;
    let res = app
        .post_github(
            "push",
            "0b989ba4-242f-11e5-81e1-c7b6966d2516",
            &push_payload(),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.process_one().await, Outcome::Done);
    app.assert_no_job(Duration::from_secs(2)).await;
    let seen = app.handler.seen();
    assert_eq!(seen.len(), 1);
    let (env, job) = &seen[0];
    assert_eq!(
        env.delivery_id.as_ref().map(|d| d.to_string()).as_deref(),
        Some("0b989ba4-242f-11e5-81e1-c7b6966d2516")
    );
    assert_eq!(
        env.idempotency_key,
        "github:0b989ba4-242f-11e5-81e1-c7b6966d2516"
    );
    assert!(matches!(job, Job::Push(p) if p.repository == "jessesuen/test-repo"));
    app.cleanup().await;
}

#[tokio::test]
async fn broker_outage_answers_503_and_recovers_without_restart() {
    let mut proxy = Proxy::start(broker_addr()).await;
    let app = spawn_app(Options {
        amqp_url: proxy.url(),
        ..Options::new(Backend::Amqp)
    })
    .await;

    let before = app
        .post_github("push", "before-outage", &push_payload())
        .await;
    assert_eq!(before.status(), 202, "confirmed before the outage");

    proxy.cut();
    app.wait_ready(false).await;
    let during = app
        .post_github("push", "during-outage", &push_payload())
        .await;
    assert_eq!(during.status(), 503);
    assert_eq!(during.headers()["retry-after"], "5");
    let reason: serde_json::Value = during.json().await.unwrap();
    assert!(
        reason["error"]
            .as_str()
            .unwrap()
            .contains("queue unavailable"),
        "{reason}"
    );
    let alert = std::fs::read(
        corpus().join("alertmanager/notifications/01-api-single-critical-firing.body.json"),
    )
    .unwrap();
    assert_eq!(app.post_alertmanager(&alert).await.status(), 503);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l == "chartpilot_queue_connected 0"),
        "{metrics}"
    );

    proxy.restore().await;
    app.wait_ready(true).await;
    let after = app
        .post_github("push", "after-outage", &push_payload())
        .await;
    assert_eq!(after.status(), 202);

    // Both confirmed jobs arrive: the one from before the outage waited in
    // the quorum queue; the one refused with 503 was never accepted.
    assert_eq!(app.process_one().await, Outcome::Done);
    assert_eq!(app.process_one().await, Outcome::Done);
    app.assert_no_job(Duration::from_secs(1)).await;
    let mut deliveries: Vec<String> = app
        .handler
        .seen()
        .iter()
        .map(|(e, _)| e.delivery_id.as_ref().unwrap().to_string())
        .collect();
    deliveries.sort();
    assert_eq!(deliveries, ["after-outage", "before-outage"]);
    app.cleanup().await;
}

#[tokio::test]
async fn job_in_flight_during_connection_loss_is_redelivered() {
    let mut proxy = Proxy::start(broker_addr()).await;
    let app = spawn_app(Options {
        amqp_url: proxy.url(),
        ..Options::new(Backend::Amqp)
    })
    .await;
    assert_eq!(
        app.post_github("push", "in-flight", &push_payload())
            .await
            .status(),
        202
    );
    let delivery = tokio::time::timeout(support::PATIENCE, app.queue.receive())
        .await
        .unwrap()
        .unwrap();
    proxy.cut();
    app.wait_ready(false).await;
    // The ack of the dead connection's delivery fails; nothing is lost.
    assert!(app.queue.ack(delivery).await.is_err());
    proxy.restore().await;
    app.wait_ready(true).await;
    assert_eq!(app.process_one().await, Outcome::Done);
    let (env, _) = app.handler.seen().pop().unwrap();
    assert_eq!(env.delivery_id.unwrap().to_string(), "in-flight");
    app.cleanup().await;
}

#[tokio::test]
async fn unroutable_job_is_refused_not_reported_as_queued() {
    use chartpilot::jobs::{ChatCommand, ChatSource, Job, JobEnvelope};
    use lapin::options::QueueDeleteOptions;

    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets {
        github: String::new(),
        alertmanager: String::new(),
        slack: String::new(),
        chat: String::new(),
    };
    let settings = support::test_settings(
        Backend::Amqp,
        &support::amqp_url(),
        dir.path(),
        &secrets,
        &[],
    );
    // A receiver-only queue: it publishes and never consumes.
    let metrics = std::sync::Arc::new(chartpilot::metrics::Metrics::new());
    let queue = chartpilot::queue::open(&settings.queue, metrics, false)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !queue.is_ready() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job = Job::Chat(ChatCommand {
        source: ChatSource::Generic,
        user: "ann".into(),
        user_name: None,
        text: "help".into(),
        reply_url: None,
        channel: None,
    });
    let env = JobEnvelope::new(&job, "k".into(), None, chrono::Utc::now()).unwrap();
    queue.publish(&env).await.unwrap();

    // Someone deletes the work queue: the broker can no longer store jobs.
    let conn =
        lapin::Connection::connect(&support::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let jobs = format!("{}.jobs", settings.queue.prefix);
    ch.queue_delete(jobs.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    // A new key: the same one would be answered as a duplicate unsent.
    let env = JobEnvelope::new(&job, "k2".into(), None, chrono::Utc::now()).unwrap();
    let err = queue.publish(&env).await.unwrap_err().to_string();
    assert!(err.contains("no queue bound"), "{err}");
    queue.close().await;
    support::delete_topology(&settings).await;
}
