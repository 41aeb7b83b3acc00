//! Replays of a captured command: the receiver names every copy the same,
//! so the queue can keep one; an old one is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{test, web};
use async_trait::async_trait;
use chartpilot::clock::SystemClock;
use chartpilot::http::signature::{sign_chat, sign_slack};
use chartpilot::http::{self, AppState, Bounds, PreauthBudget, WebhookSecrets};
use chartpilot::jobs::JobEnvelope;
use chartpilot::metrics::Metrics;
use chartpilot::queue::{Delivery, JobQueue, ParkedJob, Published, QueueError, Unpark};
use chartpilot::settings::Secret;

/// Keeps what was published; the dedupe by key is the real queue's job.
#[derive(Default)]
struct Recorder(Mutex<Vec<JobEnvelope>>);

#[async_trait]
impl JobQueue for Recorder {
    async fn publish(&self, job: &JobEnvelope) -> Result<Published, QueueError> {
        self.0.lock().unwrap().push(job.clone());
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
        true
    }
    async fn close(&self) {}
    async fn parked(&self) -> Result<Vec<ParkedJob>, QueueError> {
        Ok(Vec::new())
    }
    async fn parked_preview(&self, _: usize) -> Result<Option<Vec<ParkedJob>>, QueueError> {
        Ok(Some(Vec::new()))
    }
    async fn depth(&self) -> Result<chartpilot::queue::Depth, QueueError> {
        Ok(Default::default())
    }
    async fn unpark(&self, _: uuid::Uuid, _: Unpark) -> Result<Option<ParkedJob>, QueueError> {
        Ok(None)
    }
}

const SECRET: &str = "replay-test-secret";

fn state(queue: Arc<Recorder>) -> web::Data<AppState> {
    let secret = Secret::new(SECRET.to_owned());
    web::Data::new(AppState {
        features: Default::default(),
        status: Default::default(),
        status_auth: chartpilot::settings::StatusAuth::Open,
        repository: "acme/gitops".into(),
        queue,
        metrics: Arc::new(Metrics::new()),
        clock: Arc::new(SystemClock),
        secrets: WebhookSecrets {
            github: secret.clone(),
            alertmanager: secret.clone(),
            alertmanager_allow_unauthenticated: false,
            slack: secret.clone(),
            chat: secret,
        },
        bounds: Bounds {
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(5),
            budget: PreauthBudget::new(4 << 20),
        },
    })
}

fn chat(ts: i64, request_id: Option<&str>, body: &str) -> test::TestRequest {
    let mut req = test::TestRequest::post()
        .uri("/webhooks/chat")
        .insert_header(("X-Chartpilot-Timestamp", ts.to_string()))
        .insert_header((
            "X-Chartpilot-Signature",
            sign_chat(SECRET, ts, request_id, body.as_bytes()),
        ))
        .set_payload(body.to_owned());
    if let Some(id) = request_id {
        req = req.insert_header(("X-Chartpilot-Request-Id", id));
    }
    req
}

const FREEZE: &str =
    r#"{"user":"ann","text":"/chartpilot freeze dev","reply_url":"http://127.0.0.1:9/r"}"#;

#[actix_web::test]
async fn a_replayed_chat_command_carries_the_same_key_and_a_stale_one_is_refused() {
    let queue = Arc::new(Recorder::default());
    let app = test::init_service(http::app(state(queue.clone()), http::receiver_routes)).await;
    let now = chrono::Utc::now().timestamp();
    for _ in 0..3 {
        let res = test::call_service(&app, chat(now, None, FREEZE).to_request()).await;
        assert_eq!(res.status(), 202, "every copy is answered as the first");
    }
    // The hex spelled in capitals is the same signature, so the same key.
    let upper = sign_chat(SECRET, now, None, FREEZE.as_bytes()).to_uppercase();
    let res = test::call_service(
        &app,
        chat(now, None, FREEZE)
            .insert_header((
                "X-Chartpilot-Signature",
                upper.replace("SHA256=", "sha256="),
            ))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 202);
    let keys: Vec<String> = queue
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert!(keys[0].starts_with("chat:sig:"), "{keys:?}");

    // The same command six minutes later is refused, with the reason.
    let stale = now - 6 * 60;
    let res = test::call_service(&app, chat(stale, None, FREEZE).to_request()).await;
    assert_eq!(res.status(), 401);
    let body = test::read_body(res).await;
    assert!(
        String::from_utf8_lossy(&body).contains("5 minute window"),
        "{body:?}"
    );
    let unsigned_ts = test::TestRequest::post()
        .uri("/webhooks/chat")
        .insert_header((
            "X-Chartpilot-Signature",
            sign_chat(SECRET, now, None, FREEZE.as_bytes()),
        ))
        .set_payload(FREEZE)
        .to_request();
    let res = test::call_service(&app, unsigned_ts).await;
    assert_eq!(res.status(), 401);
    let body = test::read_body(res).await;
    assert!(
        String::from_utf8_lossy(&body).contains("missing X-Chartpilot-Timestamp"),
        "{body:?}"
    );
    assert_eq!(queue.0.lock().unwrap().len(), 4, "nothing more was queued");
}

#[actix_web::test]
async fn a_sender_retry_keeps_its_request_id_and_a_changed_id_is_refused() {
    let queue = Arc::new(Recorder::default());
    let app = test::init_service(http::app(state(queue.clone()), http::receiver_routes)).await;
    let now = chrono::Utc::now().timestamp();
    // A retry: re-signed a second later, same request id.
    for ts in [now, now + 1] {
        let res = test::call_service(&app, chat(ts, Some("cmd-42"), FREEZE).to_request()).await;
        assert_eq!(res.status(), 202);
    }
    // A replay with another id: the id is signed, so this is refused.
    let forged = chat(now, Some("cmd-42"), FREEZE)
        .insert_header(("X-Chartpilot-Request-Id", "cmd-43"))
        .to_request();
    assert_eq!(test::call_service(&app, forged).await.status(), 401);
    let keys: Vec<String> = queue
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.idempotency_key.clone())
        .collect();
    assert_eq!(keys, vec!["chat:id:cmd-42".to_owned(); 2]);
}

#[actix_web::test]
async fn a_replayed_slack_command_carries_the_same_key() {
    let queue = Arc::new(Recorder::default());
    let app = test::init_service(http::app(state(queue.clone()), http::receiver_routes)).await;
    let now = chrono::Utc::now().timestamp();
    let body = "user_id=U1&command=%2Fchartpilot&text=freeze+dev&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr&trigger_id=t1";
    for _ in 0..5 {
        let req = test::TestRequest::post()
            .uri("/webhooks/slack")
            .insert_header(("X-Slack-Request-Timestamp", now.to_string()))
            .insert_header((
                "X-Slack-Signature",
                sign_slack(SECRET, now, body.as_bytes()),
            ))
            .set_payload(body)
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), 200);
    }
    let envelopes = queue.0.lock().unwrap().clone();
    assert_eq!(envelopes.len(), 5);
    assert!(envelopes
        .iter()
        .all(|e| e.idempotency_key == envelopes[0].idempotency_key));
    assert!(envelopes[0].idempotency_key.starts_with("slack:"));
}
