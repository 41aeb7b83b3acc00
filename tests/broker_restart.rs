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
