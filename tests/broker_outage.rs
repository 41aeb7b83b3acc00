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

/// A service on RabbitMQ whose broker connection goes through a proxy the
/// test can cut, freeze and restore.
async fn app_behind_proxy() -> (Proxy, support::TestApp) {
    let proxy = Proxy::start(broker_addr()).await;
    let app = spawn_app(Options {
        amqp_url: proxy.url(),
        ..Options::new(Backend::Amqp)
    })
    .await;
    (proxy, app)
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
    let (mut proxy, app) = app_behind_proxy().await;

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

/// A webhook that comes while the connection is being rebuilt (a broker
/// node went away; the next one answers within `queue.confirm_timeout`)
/// waits for the new link and is accepted, rather than answered 503:
/// GitHub does not send a refused delivery again on its own.
#[tokio::test]
async fn a_webhook_during_a_short_outage_waits_for_the_next_link_and_is_accepted() {
    let (mut proxy, app) = app_behind_proxy().await;
    proxy.cut();
    app.wait_ready(false).await;

    let payload = push_payload();
    let res = {
        let post = app.post_github("push", "during-failover", &payload);
        tokio::pin!(post);
        tokio::select! {
            res = &mut post => panic!("answered {} while no broker could take it", res.status()),
            () = tokio::time::sleep(Duration::from_millis(600)) => {}
        }
        proxy.restore().await;
        post.await
    };
    assert_eq!(res.status(), 202, "accepted once the link was back");
    assert_eq!(app.process_one().await, Outcome::Done);
    let seen = app.handler.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0]
            .0
            .delivery_id
            .as_ref()
            .map(|d| d.to_string())
            .as_deref(),
        Some("during-failover")
    );
    app.cleanup().await;
}

#[tokio::test]
async fn job_in_flight_during_connection_loss_is_redelivered() {
    let (mut proxy, app) = app_behind_proxy().await;
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
        &[("CHARTPILOT__QUEUE__LANES".into(), "1".into())],
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

    // Someone deletes the (one) lane queue: the broker can no longer store
    // jobs.
    let conn =
        lapin::Connection::connect(&support::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let jobs = format!("{}.lane.0", settings.queue.prefix);
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

/// A signed Slack slash command (`text` replaced) for `app`.
async fn post_slack_command(app: &support::TestApp, text: &str) -> reqwest::Response {
    slack_command(&app.base, &app.secrets.slack, text).await
}

/// The corpus's Slack command with `text`, signed now with `secret`, to
/// the service at `base`.
async fn slack_command(base: &str, secret: &str, text: &str) -> reqwest::Response {
    slack_command_to(base, secret, text, None).await
}

/// Like [`slack_command`], answering on `response_url` when given.
async fn slack_command_to(
    base: &str,
    secret: &str,
    text: &str,
    response_url: Option<&str>,
) -> reqwest::Response {
    let raw = std::fs::read_to_string(corpus().join("slack/chartpilot-samples/01-help.body.txt"))
        .unwrap();
    let mut fields: Vec<(String, String)> = serde_urlencoded::from_str(raw.trim()).unwrap();
    for (k, v) in &mut fields {
        if k == "text" {
            *v = text.to_owned();
        }
        if let (Some(url), "response_url") = (response_url, k.as_str()) {
            *v = url.to_owned();
        }
    }
    let body = serde_urlencoded::to_string(&fields).unwrap();
    let ts = chrono::Utc::now().timestamp();
    reqwest::Client::new()
        .post(format!("{base}/webhooks/slack"))
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header(
            "X-Slack-Signature",
            chartpilot::http::signature::sign_slack(secret, ts, body.as_bytes()),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// What the Slack route answers when nothing was queued: 200 (Slack shows
/// any other status as a bare "failed with the error"), an ephemeral
/// reply saying so in words, as DESIGN.md has it.
async fn assert_slack_not_accepted(res: reqwest::Response) {
    assert_eq!(res.status(), 200, "Slack wants 200 and a message");
    let reply: serde_json::Value = res.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("cannot take commands right now") && text.contains("Nothing was done"),
        "{reply}"
    );
}

/// The broker is gone: a Slack command gets the ephemeral "not accepted"
/// reply, not "Working on it", and is never run (the only job the worker
/// sees once the broker is back is the one sent after).
#[tokio::test]
async fn a_slack_command_while_the_queue_is_down_is_answered_not_accepted() {
    let (mut proxy, app) = app_behind_proxy().await;
    proxy.cut();
    app.wait_ready(false).await;

    assert_slack_not_accepted(post_slack_command(&app, "sync web prod").await).await;

    proxy.restore().await;
    app.wait_ready(true).await;
    let res = post_slack_command(&app, "status web").await;
    assert_eq!(res.status(), 200);
    let ack: serde_json::Value = res.json().await.unwrap();
    assert_eq!(ack["text"], "Working on `/chartpilot status web`…", "{ack}");
    assert_eq!(app.process_one().await, Outcome::Done);
    let texts: Vec<String> = app
        .handler
        .seen()
        .iter()
        .filter_map(|(_, job)| match job {
            Job::Chat(c) => Some(c.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["status web"]);
    app.cleanup().await;
}

/// A real nack: the (one) lane queue exists already with `x-max-length = 1` and
/// `x-overflow = reject-publish` (chartpilot keeps an existing queue's
/// arguments), so once the queue is full, RabbitMQ nacks the next publish.
/// The receiver (no worker, so jobs stay in the queue) answers GitHub 503
/// with Retry-After (GitHub redelivers) and Slack its "not accepted"
/// reply; the queue holds the one job it confirmed.
#[tokio::test]
async fn a_job_the_broker_nacks_is_not_answered_2xx() {
    use std::sync::Arc;

    use chartpilot::clock::SystemClock;
    use chartpilot::http::signature::sign_sha256;
    use chartpilot::startup::{Application, Role};
    use lapin::options::QueueDeclareOptions;
    use lapin::types::{AMQPValue, FieldTable, ShortString};

    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets::random();
    let settings = support::test_settings(
        Backend::Amqp,
        &support::amqp_url(),
        dir.path(),
        &secrets,
        &[("CHARTPILOT__QUEUE__LANES".into(), "1".into())],
    );
    let jobs = format!("{}.lane.0", settings.queue.prefix);
    let conn =
        lapin::Connection::connect(&support::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut args = FieldTable::default();
    let text = |s: &str| AMQPValue::LongString(s.as_bytes().to_vec().into());
    args.insert(ShortString::from("x-queue-type"), text("quorum"));
    args.insert(ShortString::from("x-max-length"), AMQPValue::LongLongInt(1));
    args.insert(ShortString::from("x-overflow"), text("reject-publish"));
    ch.queue_declare(jobs.as_str().into(), durable, args)
        .await
        .unwrap();
    let handler = Arc::new(support::RecordingHandler::new(support::Mode::Succeed));
    let app = Application::build_with(&settings, Role::Receiver, handler, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (server, _, queue) = app.into_parts();
    let server_handle = server.handle();
    tokio::spawn(server);
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !queue.is_ready() {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let push = |delivery: &'static str| {
        let body = push_payload();
        reqwest::Client::new()
            .post(format!("{base}/webhooks/github"))
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", sign_sha256(&secrets.github, &body))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };

    // Quorum queues refuse once a queue is over its limit (3.10) or at it
    // (later versions): fill it until the broker says no.
    const DELIVERIES: [&str; 3] = ["first", "second", "third"];
    let mut accepted = 0;
    let nacked = loop {
        let res = push(DELIVERIES[accepted]).await.unwrap();
        if res.status() != 202 {
            break res;
        }
        accepted += 1;
        assert!(accepted < DELIVERIES.len(), "the broker never refused");
    };

    assert_eq!(nacked.status(), 503, "the broker refused it");
    assert_eq!(nacked.headers()["retry-after"], "5");
    let reason: serde_json::Value = nacked.json().await.unwrap();
    assert!(
        reason["error"].as_str().unwrap().contains("nack"),
        "{reason}"
    );
    assert_slack_not_accepted(slack_command(&base, &secrets.slack, "status web").await).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..durable
    };
    let held = ch
        .queue_declare(jobs.as_str().into(), passive, FieldTable::default())
        .await
        .unwrap();
    assert!(accepted >= 1, "a job fitted before the queue was full");
    assert_eq!(
        held.message_count() as usize,
        accepted,
        "the queue holds the jobs answered 202, and only those"
    );
    // Each nack had the receiver open a new publish channel and try once
    // more there; with room in the queue again, the next webhook is taken
    // on the channel that replaced the nacked one.
    ch.queue_purge(
        jobs.as_str().into(),
        lapin::options::QueuePurgeOptions::default(),
    )
    .await
    .unwrap();
    let res = push("after-room").await.unwrap();
    assert_eq!(res.status(), 202, "taken once the queue has room");
    let held = ch
        .queue_declare(jobs.as_str().into(), passive, FieldTable::default())
        .await
        .unwrap();
    assert_eq!(held.message_count(), 1);
    let _ = conn.close(200, "test done".into()).await;
    queue.close().await;
    server_handle.stop(false).await;
    support::delete_topology(&settings).await;
}

/// The broker takes the message but never confirms it (a stalled link):
/// after `queue.confirm_timeout` the receiver answers 503, not 202, and
/// says it is not ready until the broker confirms again.
#[tokio::test]
async fn a_job_the_broker_does_not_confirm_in_time_is_not_answered_2xx() {
    let (proxy, app) = app_behind_proxy().await;
    proxy.freeze();

    let res = app
        .post_github("push", "unconfirmed", &push_payload())
        .await;

    assert_eq!(res.status(), 503);
    let reason: serde_json::Value = res.json().await.unwrap();
    assert!(
        reason["error"]
            .as_str()
            .unwrap()
            .contains("did not confirm"),
        "{reason}"
    );
    app.wait_ready(false).await;
    assert_slack_not_accepted(post_slack_command(&app, "status web").await).await;
    proxy.thaw();
    app.wait_ready(true).await;
    app.cleanup().await;
}

/// The broker takes a Slack command and is slow to confirm it (a stalled
/// link, `queue.confirm_timeout` not yet reached): Slack, which gives up
/// after 3 s, hears that the command may still run rather than nothing,
/// and once the broker confirms, the command runs: nothing accepted is
/// lost.
#[tokio::test]
async fn a_slack_command_the_broker_is_slow_to_confirm_is_answered_in_time_and_still_runs() {
    let proxy = Proxy::start(broker_addr()).await;
    let app = spawn_app(
        Options {
            amqp_url: proxy.url(),
            ..Options::new(Backend::Amqp)
        }
        .env("CHARTPILOT__QUEUE__CONFIRM_TIMEOUT", "60s"),
    )
    .await;
    proxy.freeze();
    let res = post_slack_command(&app, "status web").await;
    assert_eq!(res.status(), 200);
    let reply: serde_json::Value = res.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("slow to confirm") && text.contains("it may still run"),
        "{reply}"
    );
    proxy.thaw();
    assert_eq!(app.process_one().await, chartpilot::worker::Outcome::Done);
    let ran = app.handler.seen();
    assert_eq!(ran.len(), 1, "{ran:?}");
    app.cleanup().await;
}

/// The broker takes a Slack command and never confirms it: Slack first
/// hears it may still run (its 3 s are up), then, once the queue gives up
/// (`queue.confirm_timeout`, 3 s in tests), that nothing was done, on the
/// command's `response_url`.
#[tokio::test]
async fn a_slack_command_the_broker_never_confirms_is_told_so_where_its_answer_would_come() {
    let (proxy, app) = app_behind_proxy().await;
    let (url, seen, _listener) = support::json_listener();
    proxy.freeze();
    let res = slack_command_to(&app.base, &app.secrets.slack, "status web", Some(&url)).await;
    assert_eq!(res.status(), 200);
    let first: serde_json::Value = res.json().await.unwrap();
    assert!(
        first["text"].as_str().unwrap().contains("it may still run"),
        "{first}"
    );
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    let late = loop {
        if let Some(v) = seen.lock().unwrap().first().cloned() {
            break v;
        }
        assert!(tokio::time::Instant::now() < deadline, "no late answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(late["response_type"], "ephemeral", "{late}");
    assert!(
        late.to_string().contains("cannot take commands right now")
            && late.to_string().contains("Nothing was done"),
        "{late}"
    );
    proxy.thaw();
    app.cleanup().await;
}
