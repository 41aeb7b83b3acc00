//! The attacks of issue 13, replayed against the receivers: slow bodies,
//! many large unauthenticated bodies, oversize bodies, replayed commands,
//! malformed requests, and a broker password at trace level.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "../support/mod.rs"]
mod support;

mod logs;
mod replay;
mod status_page;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chartpilot::http::signature::sign_sha256;
use support::{spawn_app, Backend, Options};

/// The smallest push chartpilot queues.
const PUSH: &str = r#"{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222","repository":{"full_name":"o/r"}}"#;

/// A request head for `path` declaring `length` body bytes.
fn head(path: &str, length: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n{extra}\r\n"
    )
}

fn connect(base: &str) -> TcpStream {
    let s = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(support::PATIENCE)).unwrap();
    s
}

/// Reads until the peer closes or the read times out; the text so far.
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408_within_the_body_timeout_and_is_closed() {
    let app =
        spawn_app(Options::new(Backend::Embedded).env("CHARTPILOT__SERVER__BODY_TIMEOUT", "1s"))
            .await;
    let base = app.base.clone();
    let (status, elapsed, rest) = tokio::task::spawn_blocking(move || {
        let mut s = connect(&base);
        s.write_all(head("/webhooks/github", 1000, "").as_bytes())
            .unwrap();
        let start = Instant::now();
        // A byte every 200 ms: never done in time.
        let mut writer = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..100 {
                if writer.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let text = read_all(&mut s);
        (
            text.lines().next().unwrap_or("").to_owned(),
            start.elapsed(),
            text,
        )
    })
    .await
    .unwrap();
    assert!(status.starts_with("HTTP/1.1 408"), "{rest}");
    assert!(rest.contains("body not received within 1s"), "{rest}");
    // Deadline + margin; and read_all returned, so the server closed it.
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    app.assert_no_job(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_unauthenticated_bodies_beyond_the_budget_get_503_while_a_signed_webhook_passes() {
    // Budget 200,000 bytes: large bodies may hold 150,000 of it together.
    let app = spawn_app(
        Options::new(Backend::Embedded)
            .env("CHARTPILOT__SERVER__MAX_BODY_BYTES", "100000")
            .env("CHARTPILOT__SERVER__MAX_UNAUTHENTICATED_BYTES", "200000")
            .env("CHARTPILOT__SERVER__BODY_TIMEOUT", "30s"),
    )
    .await;
    let part = vec![b' '; 60_000];
    // Two strangers each hold 60,000 bytes of a declared 100,000.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&app.base);
        s.write_all(head("/webhooks/github", 100_000, "X-GitHub-Event: push\r\n").as_bytes())
            .unwrap();
        s.write_all(&part).unwrap();
        holders.push(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The third cannot buffer its 60,000: 503, told when to retry.
    let base = app.base.clone();
    let third = tokio::task::spawn_blocking(move || {
        let mut s = connect(&base);
        s.write_all(head("/webhooks/github", 100_000, "").as_bytes())
            .unwrap();
        let _ = s.write_all(&part);
        read_all(&mut s)
    })
    .await
    .unwrap();
    assert!(third.starts_with("HTTP/1.1 503"), "{third}");
    assert!(
        third.to_ascii_lowercase().contains("retry-after: "),
        "{third}"
    );
    assert!(third.contains("unauthenticated bytes"), "{third}");

    // A small signed webhook still fits in the share kept for small ones.
    let ping = br#"{"zen":"x","hook_id":1}"#;
    let res = app.post_github("ping", "d-small", ping).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.post_github("push", "d-push", PUSH.as_bytes())
            .await
            .status(),
        202
    );

    // Closed connections give their bytes back: a large signed body passes.
    drop(holders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut big = br#"{"action":"created"}"#.to_vec();
    big.resize(95_000, b' ');
    assert_eq!(app.post_github("star", "d-big", &big).await.status(), 200);
}

#[tokio::test]
async fn each_route_has_a_body_limit_fitted_to_its_sender() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let max = app.settings.server.max_body_bytes;
    let cases = [
        ("github", max),
        ("alertmanager", 1024 * 1024),
        ("slack", 64 * 1024),
        ("chat", 64 * 1024),
    ];
    for (route, limit) in cases {
        let res = app
            .client
            .post(format!("{}/webhooks/{route}", app.base))
            .bearer_auth(&app.secrets.alertmanager)
            .body(vec![b' '; limit + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{route}");
        let reason = res.text().await.unwrap();
        assert!(
            reason.contains(&format!("{limit} byte limit of /webhooks/{route}")),
            "{route}: {reason}"
        );
    }
    // At the limit, the body is read and judged on its signature.
    let body = vec![b' '; 64 * 1024];
    let res = app
        .client
        .post(format!("{}/webhooks/chat", app.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_bad_signature_is_401_whatever_the_body_size() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let body = vec![b'{'; 10_000];
    let res = app
        .client
        .post(format!("{}/webhooks/github", app.base))
        .header("X-Hub-Signature-256", sign_sha256("wrong", &body))
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "d1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// The reproduced attack end to end: a captured generic `freeze dev`
/// request replayed three times (and a captured GitHub delivery twice)
/// through the real receivers and the real embedded queue gives one job
/// each; the replays are answered as accepted, so nobody retries.
#[tokio::test]
async fn replays_through_the_real_queue_are_one_job_each() {
    let app = spawn_app(Options::new(Backend::Embedded)).await;
    let body = br#"{"user": "U1", "text": "freeze dev demo", "reply_url": "http://127.0.0.1:9/r"}"#;
    let ts = chrono::Utc::now().timestamp();
    for _ in 0..3 {
        let res = app
            .chat_request(&app.secrets.chat, ts, None, body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    for _ in 0..2 {
        let res = app.post_github("push", "captured-1", PUSH.as_bytes()).await;
        assert_eq!(res.status(), 202);
    }
    app.process_one().await;
    app.process_one().await;
    app.assert_no_job(Duration::from_secs(1)).await;
    assert_eq!(app.handler.seen().len(), 2);
    app.cleanup().await;
}
