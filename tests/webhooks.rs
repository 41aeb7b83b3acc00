//! The receivers over real HTTP with the embedded queue: every corpus
//! payload, every way a request can be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::sync::Arc;
use std::time::Duration;

use chartpilot::clock::FixedClock;
use chartpilot::jobs::{AlertStatus, ChatSource, Job};
use chartpilot::worker::Outcome;
use chrono::{TimeZone, Utc};
use support::{corpus, spawn_app, Backend, Options, TestApp};

/// GitHub's documented test secret, which signed the corpus files.
const CORPUS_GITHUB_SECRET: &str = "It's a Secret to Everybody";
/// Slack's documented signing secret and timestamp for its example.
const SLACK_DOCS_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_DOCS_TIMESTAMP: i64 = 1_531_420_618;

async fn drain(app: &TestApp) -> Vec<Job> {
    let mut n = 0;
    while tokio::time::timeout(Duration::from_millis(300), app.worker.process_one())
        .await
        .is_ok()
    {
        n += 1;
    }
    let seen: Vec<Job> = app.handler.seen().into_iter().map(|(_, j)| j).collect();
    assert_eq!(seen.len(), n);
    seen
}

#[tokio::test]
async fn every_github_corpus_payload_verifies_and_parses() {
    let app = spawn_app(
        Options::new(Backend::Embedded)
            .env("CHARTPILOT__GITHUB__WEBHOOK_SECRET", CORPUS_GITHUB_SECRET),
    )
    .await;
    let dir = corpus().join("github");
    let list = std::fs::read_to_string(dir.join("signature/corpus-file-signatures.txt")).unwrap();
    let mut queued = 0;
    let mut files = 0;
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (sig, path) = line.split_once("  ").unwrap();
        let body = std::fs::read(dir.join(path)).unwrap();
        let name = path.rsplit('/').next().unwrap();
        let event = name.split('.').next().unwrap();
        let res = app
            .client
            .post(format!("{}/webhooks/github", app.base))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", format!("d-{files}"))
            .header("X-Hub-Signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        files += 1;
        if event == "ping" {
            assert_eq!(
                (status, text.as_str()),
                (200, r#"{"status":"pong"}"#),
                "{path}"
            );
        } else {
            assert_eq!(status, 202, "{path}: {text}");
            queued += 1;
        }
    }
    assert_eq!(files, 28, "every corpus file is listed");
    let jobs = drain(&app).await;
    assert_eq!(jobs.len(), queued);

    let argo_push = jobs.iter().find_map(|j| match j {
        Job::Push(p) if p.repository == "jessesuen/test-repo" => Some(p),
        _ => None,
    });
    let argo_push = argo_push.expect("the Argo CD test push");
    assert_eq!(argo_push.git_ref, "refs/heads/master");
    assert!(argo_push.commits[0]
        .modified
        .contains(&"ksapps/test-app/app.yaml".to_owned()));
    let tag_deletes = jobs
        .iter()
        .filter(|j| matches!(j, Job::Push(p) if p.deleted && p.after.is_zero()))
        .count();
    // push.2, .3, .4 and .7 delete a tag (corpus README).
    assert_eq!(tag_deletes, 4);
    assert!(jobs
        .iter()
        .any(|j| matches!(j, Job::PullRequest(p) if p.merged && p.action == "closed")));
    assert!(jobs
        .iter()
        .any(|j| matches!(j, Job::IssueComment(c) if c.on_pull_request)));
    assert!(jobs
        .iter()
        .any(|j| matches!(j, Job::IssueComment(c) if c.body == "/create-issue-branch")));
}

#[tokio::test]
async fn every_alertmanager_notification_parses() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let dir = corpus().join("alertmanager/notifications");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".body.json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10);
    for name in &names {
        let res = app
            .post_alertmanager(&std::fs::read(dir.join(name)).unwrap())
            .await;
        assert_eq!(res.status(), 202, "{name}");
    }
    let alerts: Vec<_> = drain(&app)
        .await
        .into_iter()
        .map(|j| match j {
            Job::Alert(a) => a,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(alerts.len(), 10);
    let truncated = alerts
        .iter()
        .find(|a| a.receiver == "chartpilot-truncated")
        .unwrap();
    assert_eq!((truncated.truncated_alerts, truncated.alerts.len()), (2, 2));
    // 04: the group still fires while one alert in it resolved.
    assert!(alerts.iter().any(|a| a.status == AlertStatus::Firing
        && a.alerts.iter().any(|x| x.status == AlertStatus::Resolved)));
    for a in alerts.iter().flat_map(|n| &n.alerts) {
        assert_eq!(
            a.ends_at.is_none(),
            a.status == AlertStatus::Firing,
            "{a:?}"
        );
    }
    // 07 was resolved by resolve_timeout, with a nanosecond end time.
    let nanos = alerts
        .iter()
        .flat_map(|n| &n.alerts)
        .filter_map(|a| a.ends_at)
        .any(|t| t.timestamp_subsec_nanos() == 365_494_574);
    assert!(nanos);
}

#[tokio::test]
async fn slack_documented_example_and_samples_verify() {
    let clock = Utc.timestamp_opt(SLACK_DOCS_TIMESTAMP, 0).unwrap();
    let app = spawn_app(
        Options {
            clock: Arc::new(FixedClock(clock)),
            ..Options::new(Backend::Embedded)
        }
        .env("CHARTPILOT__SLACK__SIGNING_SECRET", SLACK_DOCS_SECRET),
    )
    .await;
    let slack = corpus().join("slack");
    let vector: serde_json::Value =
        serde_json::from_slice(&std::fs::read(slack.join("signing-test-vector.json")).unwrap())
            .unwrap();
    let documented = vector.to_string();
    assert!(
        documented.contains("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
    );
    let body = std::fs::read(slack.join("signing-test-vector.body.txt")).unwrap();
    let res = app
        .client
        .post(format!("{}/webhooks/slack", app.base))
        .header("X-Slack-Request-Timestamp", "1531420618")
        .header(
            "X-Slack-Signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ack: serde_json::Value = res.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");

    let samples = slack.join("chartpilot-samples");
    let mut texts = Vec::new();
    for i in 1..=5 {
        let prefix = std::fs::read_dir(&samples)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .find(|n| n.starts_with(&format!("0{i}-")) && n.ends_with(".request.json"))
            .unwrap();
        let req: serde_json::Value =
            serde_json::from_slice(&std::fs::read(samples.join(&prefix)).unwrap()).unwrap();
        let body = std::fs::read(samples.join(req["body_file"].as_str().unwrap())).unwrap();
        let res = app
            .client
            .post(format!("{}/webhooks/slack", app.base))
            .header(
                "X-Slack-Request-Timestamp",
                req["headers"]["X-Slack-Request-Timestamp"]
                    .as_str()
                    .unwrap(),
            )
            .header(
                "X-Slack-Signature",
                req["headers"]["X-Slack-Signature"].as_str().unwrap(),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{prefix}");
        texts.push(req["decoded"]["text"].as_str().unwrap().to_owned());
    }
    let jobs = drain(&app).await;
    let got: Vec<String> = jobs
        .iter()
        .filter_map(|j| match j {
            Job::Chat(c) if c.source == ChatSource::Slack => Some(c.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 6);
    assert_eq!(&got[1..], &texts[..]);
    assert!(got.iter().any(|t| t.contains("Ünïcode ✓")));
}

#[tokio::test]
async fn refused_requests_get_401_and_queue_nothing() {
    // The real clock: the 2018 Slack vector is now far outside the window.
    let app = spawn_app(
        Options::new(Backend::Embedded).env("CHARTPILOT__SLACK__SIGNING_SECRET", SLACK_DOCS_SECRET),
    )
    .await;
    let body = br#"{"zen":"x","hook_id":1}"#;
    let url = |p: &str| format!("{}{p}", app.base);
    let good = chartpilot::http::signature::sign_sha256(&app.secrets.github, body);
    let wrong = chartpilot::http::signature::sign_sha256("not-the-secret", body);
    let cases = vec![
        (
            "tampered body",
            app.client
                .post(url("/webhooks/github"))
                .header("X-Hub-Signature-256", &good)
                .body(&b"{\"zen\":\"y\",\"hook_id\":1}"[..]),
        ),
        (
            "wrong secret",
            app.client
                .post(url("/webhooks/github"))
                .header("X-Hub-Signature-256", &wrong)
                .body(&body[..]),
        ),
        (
            "missing header",
            app.client.post(url("/webhooks/github")).body(&body[..]),
        ),
        (
            "no sha256= prefix",
            app.client
                .post(url("/webhooks/github"))
                .header("X-Hub-Signature-256", &good[7..])
                .body(&body[..]),
        ),
        (
            "bad bearer",
            app.client
                .post(url("/webhooks/alertmanager"))
                .bearer_auth("nope")
                .body(&body[..]),
        ),
        (
            "no bearer",
            app.client
                .post(url("/webhooks/alertmanager"))
                .body(&body[..]),
        ),
        (
            "chat wrong secret",
            app.client
                .post(url("/webhooks/chat"))
                .header("X-Chartpilot-Signature", &wrong)
                .body(&body[..]),
        ),
        (
            "stale slack",
            app.client
                .post(url("/webhooks/slack"))
                .header("X-Slack-Request-Timestamp", "1531420618")
                .header(
                    "X-Slack-Signature",
                    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                )
                .body(std::fs::read(corpus().join("slack/signing-test-vector.body.txt")).unwrap()),
        ),
    ];
    for (what, req) in cases {
        let res = req
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", "abc")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{what}");
        let reason: serde_json::Value = res.json().await.unwrap();
        assert!(
            reason["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    app.assert_no_job(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn slack_fresh_signature_and_stale_replay() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let body = b"user_id=U1&user_name=ann&command=%2Fchartpilot&text=help&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr&trigger_id=t1";
    let now = Utc::now().timestamp();
    assert_eq!(app.post_slack(now, body).await.status(), 200);
    assert_eq!(app.post_slack(now - 301, body).await.status(), 401);
    assert_eq!(app.post_slack(now + 301, body).await.status(), 401);
    let jobs = drain(&app).await;
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn malformed_requests_get_400_with_a_reason() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let check = |res: reqwest::Response, needle: &'static str| async move {
        assert_eq!(res.status(), 400, "{needle}");
        let body: serde_json::Value = res.json().await.unwrap();
        let reason = body["error"].as_str().unwrap().to_owned();
        assert!(reason.contains(needle), "{reason} lacks {needle}");
    };
    check(
        app.post_github("push", "d1", b"{\"ref\": 5}").await,
        "malformed `push` payload",
    )
    .await;
    check(
        app.post_github("push", "d1", b"not json").await,
        "malformed `push` payload",
    )
    .await;
    check(
        app.post_github("push", "bad id!", b"{}").await,
        "X-GitHub-Delivery",
    )
    .await;
    let sig = chartpilot::http::signature::sign_sha256(&app.secrets.github, b"{}");
    let no_event = app
        .client
        .post(format!("{}/webhooks/github", app.base))
        .header("X-Hub-Signature-256", sig)
        .header("X-GitHub-Delivery", "d2")
        .body("{}")
        .send()
        .await
        .unwrap();
    check(no_event, "missing X-GitHub-Event").await;
    check(
        app.post_alertmanager(br#"{"version":"3"}"#).await,
        "malformed",
    )
    .await;
    let v3 = br#"{"version":"3","status":"firing","groupKey":"g","alerts":[]}"#;
    check(app.post_alertmanager(v3).await, "version `3`").await;
    let now = Utc::now().timestamp();
    check(
        app.post_slack(now, b"text=help").await,
        "malformed Slack slash command",
    )
    .await;
    check(
        app.post_chat(br#"{"user":"ann"}"#).await,
        "malformed chat command",
    )
    .await;
    check(
        app.post_chat(br#"{"user":"ann","text":"  "}"#).await,
        "`text` is empty",
    )
    .await;
    check(
        app.post_chat(br#"{"user":"ann","text":"help","reply_url":"file:///etc/passwd"}"#)
            .await,
        "reply_url",
    )
    .await;
    app.assert_no_job(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app(
        Options::new(Backend::Embedded).env("CHARTPILOT__SERVER__MAX_BODY_BYTES", "2048"),
    )
    .await;
    let big = vec![b' '; 4096];
    for route in ["github", "alertmanager", "slack", "chat"] {
        // Alertmanager's token is a header, checked before the body is read.
        let res = app
            .client
            .post(format!("{}/webhooks/{route}", app.base))
            .bearer_auth(&app.secrets.alertmanager)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{route}");
    }
    // Streamed without a Content-Length: the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let res = app
        .client
        .post(format!("{}/webhooks/chat", app.base))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    app.assert_no_job(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn other_events_are_ignored_and_empty_secrets_disable_routes() {
    let app = spawn_app(Options::new(Backend::Embedded).env("CHARTPILOT__CHAT__SECRET", "")).await;
    let res = app
        .post_github("star", "d1", b"{\"action\":\"created\"}")
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ignored", "event": "star"})
    );
    let res = app
        .client
        .post(format!("{}/webhooks/chat", app.base))
        .header(
            "X-Chartpilot-Signature",
            chartpilot::http::signature::sign_sha256("", b"{}"),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("disabled"));
    assert_eq!(app.get("/nowhere").await.status(), 404);
    assert_eq!(app.get("/webhooks/github").await.status(), 405);
    app.assert_no_job(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn unauthenticated_alertmanager_only_when_allowed() {
    let app = spawn_app(
        Options::new(Backend::Embedded)
            .env("CHARTPILOT__ALERTMANAGER__TOKEN", "")
            .env("CHARTPILOT__ALERTMANAGER__ALLOW_UNAUTHENTICATED", "true"),
    )
    .await;
    let body = std::fs::read(
        corpus().join("alertmanager/notifications/01-api-single-critical-firing.body.json"),
    )
    .unwrap();
    let res = app
        .client
        .post(format!("{}/webhooks/alertmanager", app.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(app.process_one().await, Outcome::Done);
}

#[tokio::test]
async fn chat_commands_and_metrics() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let res = app
        .post_chat(br#"{"user":"ann","text":"/chartpilot sync frontend-app prod","reply_url":"http://127.0.0.1:9/r"}"#)
        .await;
    assert_eq!(res.status(), 202);
    let queued: serde_json::Value = res.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    assert_eq!(app.process_one().await, Outcome::Done);
    let (env, job) = app.handler.seen().pop().unwrap();
    assert_eq!(env.id.to_string(), queued["job"].as_str().unwrap());
    assert!(matches!(job, Job::Chat(c) if c.user == "ann" && c.source == ChatSource::Generic));
    assert_eq!(app.post_chat(b"{}").await.status(), 400);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"chartpilot_http_requests_total{route="/webhooks/chat",status="202"} 1"#,
        r#"chartpilot_http_requests_total{route="/webhooks/chat",status="400"} 1"#,
        r#"chartpilot_jobs_published_total{kind="chat.command"} 1"#,
        r#"chartpilot_jobs_consumed_total{kind="chat.command"} 1"#,
        r#"chartpilot_job_duration_seconds_count{kind="chat.command"} 1"#,
        "chartpilot_queue_connected 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_redelivered_webhook_is_answered_and_counted_but_not_queued_twice() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let body =
        std::fs::read(corpus().join("github/captured/push.gitops-repo.argo-cd-testdata.json"))
            .unwrap();
    for delivery in ["first", "first", "second"] {
        assert_eq!(app.post_github("push", delivery, &body).await.status(), 202);
    }
    let jobs = drain(&app).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"chartpilot_jobs_published_total{kind="github.push"} 2"#,
        r#"chartpilot_jobs_duplicate_total{kind="github.push"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
}
