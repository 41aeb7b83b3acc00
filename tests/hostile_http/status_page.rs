//! `GET /`: the status page behind `server.status_auth`, and its queue
//! section counting real jobs on both queues.

use chartpilot::worker::Outcome;

use crate::support::{random_secret, spawn_app, Backend, Mode, Options};

#[tokio::test]
async fn the_status_page_asks_for_the_configured_credentials_and_nothing_else_does() {
    let token = random_secret();
    let app = spawn_app(Options::new(Backend::Embedded).env(
        "CHARTPILOT__SERVER__STATUS_AUTH",
        &format!("bearer:{token}"),
    ))
    .await;
    let url = format!("{}/", app.base);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"chartpilot\""
    );
    let body = none.text().await.unwrap();
    assert!(body.contains("server.status_auth"), "{body}");
    assert!(!body.contains(&token), "{body}");
    for wrong in [
        format!("Bearer {token}x"),
        format!("Basic {token}"),
        format!("Bearer{token}"),
        "Bearer ".to_owned(),
    ] {
        let res = app
            .client
            .get(&url)
            .header("Authorization", wrong.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "text/html; charset=utf-8");
    assert!(ok.text().await.unwrap().contains("<h2>Queue</h2>"));
    // The other routes are as they were.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 200);
    app.cleanup().await;

    let password = random_secret();
    let app = spawn_app(Options::new(Backend::Embedded).env(
        "CHARTPILOT__SERVER__STATUS_AUTH",
        &format!("basic:ops:{password}"),
    ))
    .await;
    let url = format!("{}/", app.base);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm="));
    let wrong = app
        .client
        .get(&url)
        .basic_auth("ops", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = app
        .client
        .get(&url)
        .basic_auth("ops", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.cleanup().await;
}

/// The numbers in the queue table, by `data-count`.
fn count(page: &str, what: &str) -> u64 {
    let marker = format!("<td data-count=\"{what}\">");
    page.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {what} count in {page}"))
}

/// One chat job through a handler in `mode`, then the page.
async fn page_after_one_job(backend: Backend, mode: Mode) -> String {
    let app = spawn_app(
        Options {
            mode,
            ..Options::new(backend)
        }
        // A failed job waits out its retry long after the page is read.
        .env("CHARTPILOT__QUEUE__RETRY_DELAYS", "1h"),
    )
    .await;
    let accepted = app
        .post_chat(br#"{"user":"ann","text":"status web <b>x</b>"}"#)
        .await;
    assert_eq!(accepted.status(), 202);
    let outcome = app.process_one().await;
    assert!(
        matches!(outcome, Outcome::Retried { .. } | Outcome::Parked { .. }),
        "{outcome:?}"
    );
    let page = app.get("/").await.text().await.unwrap();
    app.cleanup().await;
    page
}

async fn queue_counts(backend: Backend) {
    let page = page_after_one_job(backend, Mode::Reject).await;
    assert_eq!(
        (
            count(&page, "pending"),
            count(&page, "retrying"),
            count(&page, "parked")
        ),
        (0, 0, 1),
        "{page}"
    );
    if backend == Backend::Embedded {
        let parked = page.split("<table id=\"parked\">").nth(1).unwrap();
        assert!(
            parked.contains("</code></td><td>chat.command</td><td>1</td>")
                && parked.contains("cannot ever work"),
            "{parked}"
        );
    } else {
        // Reading them from RabbitMQ hands them out: the page leaves that
        // to `chartpilot jobs list`.
        assert!(
            page.contains("<p id=\"parked\">RabbitMQ hands a message out to show it"),
            "{page}"
        );
    }

    let page = page_after_one_job(backend, Mode::FailAlways).await;
    assert_eq!(
        (
            count(&page, "pending"),
            count(&page, "retrying"),
            count(&page, "parked")
        ),
        (0, 1, 0),
        "{page}"
    );
    assert!(!page.contains("<table id=\"parked\">"), "{page}");
}

#[tokio::test]
async fn the_queue_section_counts_retrying_and_parked_jobs_on_the_embedded_queue() {
    queue_counts(Backend::Embedded).await;
}

#[tokio::test]
async fn the_queue_section_counts_retrying_and_parked_jobs_on_rabbitmq() {
    queue_counts(Backend::Amqp).await;
}
