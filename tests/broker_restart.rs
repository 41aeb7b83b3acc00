//! A real RabbitMQ restart (`rabbitmqctl stop_app` / `start_app`): confirmed
//! jobs survive it in the quorum queue and chartpilot reconnects by itself.
//! Its own test binary, because it takes the broker away from every
//! connection; cargo runs test binaries one after another.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::process::Command;
use std::time::Duration;

use chartpilot::worker::Outcome;
use support::{corpus, spawn_app, Backend, Options};

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(["-n", "rabbit@localhost"])
        .args(args)
        .output()
        .expect("rabbitmqctl is installed by scripts/test-services.sh");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the broker again when a test that stopped it ends, passing or
/// not: a panic must not leave every later test without RabbitMQ.
struct BrokerBack;

impl Drop for BrokerBack {
    fn drop(&mut self) {
        for args in [&["start_app"][..], &["await_startup"][..]] {
            let _ = Command::new("rabbitmqctl")
                .args(["-n", "rabbit@localhost"])
                .args(args)
                .output();
        }
    }
}

/// Signed webhooks keep coming while the broker is stopped and started:
/// every one answered 202 is handled exactly once, every other one got
/// 503 (so GitHub retries it), and nothing else happens to any of them.
#[tokio::test]
async fn a_stream_of_webhooks_across_a_broker_restart_is_handled_once_or_refused() {
    /// Webhooks sent in all: before, during and after the outage.
    const SENT: usize = 60;
    /// The outage starts after this many.
    const BEFORE: usize = 15;
    let app = spawn_app(Options::new(Backend::Amqp)).await;
    let body =
        std::fs::read(corpus().join("github/captured/push.gitops-repo.argo-cd-testdata.json"))
            .unwrap();
    let _back = BrokerBack;
    let mut answers: Vec<(String, u16)> = Vec::new();
    for i in 0..SENT {
        if i == BEFORE {
            rabbitmqctl(&["stop_app"]);
        }
        // Keep sending while the broker is away, then bring it back and
        // wait until chartpilot says it is ready again.
        if i == BEFORE + 15 {
            rabbitmqctl(&["start_app"]);
            rabbitmqctl(&["await_startup"]);
            app.wait_ready(true).await;
        }
        let delivery = format!("stream-{i}");
        let status = app.post_github("push", &delivery, &body).await.status();
        answers.push((delivery, status.as_u16()));
    }
    let odd: Vec<&(String, u16)> = answers
        .iter()
        .filter(|(_, s)| *s != 202 && *s != 503)
        .collect();
    assert!(odd.is_empty(), "only 202 or 503: {odd:?}");
    let mut accepted: Vec<String> = answers
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(d, _)| d.clone())
        .collect();
    let refused = SENT - accepted.len();
    assert!(refused >= 1, "the outage refused nothing: {answers:?}");
    assert!(
        answers[BEFORE + 15..].iter().all(|(_, s)| *s == 202),
        "after the restart everything is taken: {answers:?}"
    );
    for _ in 0..accepted.len() {
        assert_eq!(app.process_one().await, Outcome::Done);
    }
    app.assert_no_job(Duration::from_secs(2)).await;
    let mut handled: Vec<String> = app
        .handler
        .seen()
        .iter()
        .map(|(e, _)| e.delivery_id.as_ref().unwrap().to_string())
        .collect();
    handled.sort();
    accepted.sort();
    assert_eq!(handled, accepted, "each 202 handled once, nothing else");
    app.cleanup().await;
}

#[tokio::test]
async fn confirmed_jobs_survive_a_broker_restart() {
    let app = spawn_app(Options::new(Backend::Amqp)).await;
    let body =
        std::fs::read(corpus().join("github/captured/push.gitops-repo.argo-cd-testdata.json"))
            .unwrap();
    for i in 0..3 {
        let res = app
            .post_github("push", &format!("before-restart-{i}"), &body)
            .await;
        assert_eq!(res.status(), 202);
    }

    let _back = BrokerBack;
    rabbitmqctl(&["stop_app"]);
    app.wait_ready(false).await;
    assert_eq!(
        app.post_github("push", "while-down", &body).await.status(),
        503
    );
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);
    app.wait_ready(true).await;

    assert_eq!(
        app.post_github("push", "after-restart", &body)
            .await
            .status(),
        202
    );
    for _ in 0..4 {
        assert_eq!(app.process_one().await, Outcome::Done);
    }
    app.assert_no_job(Duration::from_secs(1)).await;
    let mut got: Vec<String> = app
        .handler
        .seen()
        .iter()
        .map(|(e, _)| e.delivery_id.as_ref().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "after-restart",
            "before-restart-0",
            "before-restart-1",
            "before-restart-2"
        ]
    );
    app.cleanup().await;
}
