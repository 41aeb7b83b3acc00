//! The webhook receivers as an actix test service, fed arbitrary requests.
//! A request must never panic the service nor get a 5xx, except the 503 a
//! sender gets when the queue is down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::Method;
use actix_web::{test, web};
use async_trait::async_trait;
use chartpilot::clock::SystemClock;
use chartpilot::http::signature::{sign_chat, sign_sha256, sign_slack};
use chartpilot::http::{self, AppState, Bounds, PreauthBudget, WebhookSecrets};
use chartpilot::jobs::JobEnvelope;
use chartpilot::metrics::Metrics;
use chartpilot::queue::{Delivery, JobQueue, ParkedJob, Published, QueueError};
use chartpilot::settings::Secret;

const SECRET: &str = "fuzz-secret";

/// A queue that takes every job, or refuses all while `down`.
#[derive(Default)]
struct Queue {
    down: AtomicBool,
}

#[async_trait]
impl JobQueue for Queue {
    async fn publish(&self, _: &JobEnvelope) -> Result<Published, QueueError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(QueueError::Unavailable("fuzz: broker down".into()));
        }
        Ok(Published::Queued)
    }
    async fn receive(&self) -> Option<Delivery> {
        None
    }
    async fn ack(&self, _: Delivery) -> Result<(), QueueError> {
        Ok(())
    }
    async fn retry(&self, _: Delivery, _: &JobEnvelope, _: Duration) -> Result<(), QueueError> {
        Ok(())
    }
    async fn park(&self, _: Delivery, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
    fn is_ready(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }
    async fn close(&self) {}
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError> {
        Ok(Vec::new())
    }
}

const PATHS: [&str; 9] = [
    "/webhooks/github",
    "/webhooks/alertmanager",
    "/webhooks/slack",
    "/webhooks/chat",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/webhooks/github/../chat",
];

const HEADERS: [&str; 10] = [
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-Hub-Signature-256",
    "Authorization",
    "X-Slack-Request-Timestamp",
    "X-Slack-Signature",
    "X-Chartpilot-Timestamp",
    "X-Chartpilot-Signature",
    "X-Chartpilot-Request-Id",
    "Content-Length",
];

const EVENTS: [&str; 5] = ["push", "pull_request", "issue_comment", "ping", "star"];

/// Reads the input as: flags, method, path, up to 8 headers (name index,
/// value length, value), then the body. Flag bits sign the request
/// correctly, so the parsers behind the signatures are reached too.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs one input; panics when the service breaks its promise.
pub async fn check(data: &[u8]) {
    let queue = Arc::new(Queue::default());
    let mut input = Input { data };
    let flags = input.byte();
    queue.down.store(flags & 0x80 != 0, Ordering::Relaxed);
    let secret = Secret::new(SECRET);
    let state = web::Data::new(AppState {
        features: Default::default(),
        queue: queue.clone(),
        metrics: Arc::new(Metrics::new()),
        clock: Arc::new(SystemClock),
        secrets: WebhookSecrets {
            github: secret.clone(),
            alertmanager: secret.clone(),
            alertmanager_allow_unauthenticated: flags & 0x40 != 0,
            slack: secret.clone(),
            chat: secret,
        },
        bounds: Bounds {
            max_body_bytes: 64 * 1024,
            body_timeout: Duration::from_secs(5),
            budget: PreauthBudget::new(1 << 20),
        },
    });
    let app = test::init_service(http::app(state, http::receiver_routes)).await;
    let method = match input.byte() % 4 {
        0 | 1 => Method::POST,
        2 => Method::GET,
        _ => Method::PUT,
    };
    let path_byte = input.byte();
    let path = match PATHS.get(path_byte as usize % 12) {
        Some(p) => (*p).to_owned(),
        None => {
            let raw = input.take(16);
            // Only what a URI can hold; actix's test builder panics otherwise.
            let s: String = raw
                .iter()
                .map(|b| char::from(b"abc/%.-_?=&~09"[*b as usize % 14]))
                .collect();
            format!("/{s}")
        }
    };
    let mut req = test::TestRequest::default().method(method).uri(&path);
    let header_count = input.byte() % 9;
    let mut headers = Vec::new();
    for _ in 0..header_count {
        let name = HEADERS[input.byte() as usize % HEADERS.len()];
        let len = input.byte() as usize % 64;
        let value = input.take(len);
        if let Ok(v) = actix_web::http::header::HeaderValue::from_bytes(value) {
            if name != "Content-Length" {
                headers.push((name, v));
            }
        }
    }
    let body = input.data.to_vec();
    let ts = now();
    if flags & 0x01 != 0 {
        req = req
            .insert_header(("X-Hub-Signature-256", sign_sha256(SECRET, &body)))
            .insert_header(("X-GitHub-Event", EVENTS[(flags >> 1) as usize % 5]))
            .insert_header(("X-GitHub-Delivery", "fuzz-delivery"));
    }
    if flags & 0x08 != 0 {
        req = req
            .insert_header(("X-Slack-Request-Timestamp", ts.to_string()))
            .insert_header(("X-Slack-Signature", sign_slack(SECRET, ts, &body)));
    }
    if flags & 0x10 != 0 {
        req = req
            .insert_header(("X-Chartpilot-Timestamp", ts.to_string()))
            .insert_header(("X-Chartpilot-Signature", sign_chat(SECRET, ts, None, &body)));
    }
    if flags & 0x20 != 0 {
        req = req.insert_header(("Authorization", format!("Bearer {SECRET}")));
    }
    for (name, value) in headers {
        req = req.append_header((name, value));
    }
    let res = test::call_service(&app, req.set_payload(body).to_request()).await;
    let status = res.status();
    let text = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
    let broker_down = queue.down.load(Ordering::Relaxed);
    assert!(
        !status.is_server_error()
            || (status.as_u16() == 503 && (broker_down || text.contains("queue unavailable"))),
        "{status} for {path}: {text}"
    );
}
