//! `AlertmanagerClient` against the real Alertmanager that
//! `scripts/test-services.sh` starts on 127.0.0.1 (Debian's
//! `prometheus-alertmanager`). Every test uses its own random label value,
//! so runs and parallel tests never see each other's alerts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chartpilot::alerts::{
    ActiveAlert, AlertState, AlertmanagerClient, AlertsError, MatchOp, Matcher,
};
use chrono::{SubsecRound, Utc};

/// Alertmanager stores posted alerts asynchronously; ingestion takes
/// milliseconds, this is the point where a test calls it a failure.
const PATIENCE: Duration = Duration::from_secs(15);

/// Short, so a client that hangs fails the test instead of stalling it.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Posted alerts end on their own after this, so the shared instance does
/// not accumulate them across runs.
const ALERT_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

fn alertmanager_url() -> String {
    std::env::var("CHARTPILOT_TEST_ALERTMANAGER_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:19093".to_owned())
}

fn client() -> AlertmanagerClient {
    AlertmanagerClient::new(&alertmanager_url(), TIMEOUT).unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Posts one alert through `POST /api/v2/alerts`, as Prometheus would.
async fn post_alert(labels: &BTreeMap<String, String>, summary: &str) -> chrono::DateTime<Utc> {
    let starts_at = (Utc::now() - chrono::TimeDelta::seconds(30)).trunc_subsecs(3);
    let body = serde_json::json!([{
        "labels": labels,
        "annotations": { "summary": summary },
        "startsAt": starts_at.to_rfc3339(),
        "endsAt": (starts_at + ALERT_LIFETIME).to_rfc3339(),
        "generatorURL": "http://127.0.0.1:9/chartpilot-test",
    }]);
    let url = format!("{}/api/v2/alerts", alertmanager_url());
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e} (start it with `bash scripts/test-services.sh`)"));
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    starts_at
}

/// Polls until `firing` returns something, or PATIENCE runs out.
async fn wait_firing(matchers: &[Matcher]) -> Vec<ActiveAlert> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let alerts = client().firing(matchers).await.unwrap();
        if !alerts.is_empty() || Instant::now() > deadline {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn firing_returns_exactly_the_posted_alert() {
    let app = unique("cp-test");
    let labels: BTreeMap<String, String> = [
        ("alertname", "ChartpilotApiTest"),
        ("app", app.as_str()),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let starts_at = post_alert(&labels, "posted by tests/alertmanager_api.rs").await;

    let alerts = wait_firing(&[Matcher::equal("app", &app)]).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.labels, labels);
    assert_eq!(
        alert.annotations["summary"],
        "posted by tests/alertmanager_api.rs"
    );
    assert_eq!(alert.starts_at, starts_at);
    assert_eq!(alert.generator_url, "http://127.0.0.1:9/chartpilot-test");
    // Unprocessed only in the instant before the dispatcher saw it.
    assert!(
        matches!(alert.state, AlertState::Active | AlertState::Unprocessed),
        "{:?}",
        alert.state
    );

    // Another value, and a second matcher that excludes it: nothing.
    let other = client()
        .firing(&[Matcher::equal("app", unique("cp-test"))])
        .await
        .unwrap();
    assert_eq!(other, []);
    let excluded = client()
        .firing(&[
            Matcher::equal("app", &app),
            Matcher::new("alertname", MatchOp::NotEqual, "ChartpilotApiTest"),
        ])
        .await
        .unwrap();
    assert_eq!(excluded, []);
}

#[tokio::test]
async fn values_that_need_escaping_reach_alertmanager_intact() {
    // Quotes, a backslash, a comma and braces: each breaks a naive filter.
    let app = format!("{} \"quoted\" back\\slash, a=b {{x}}", unique("cp-test"));
    let labels: BTreeMap<String, String> = [("alertname", "ChartpilotEscapeTest"), ("app", &app)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    post_alert(&labels, "escaping").await;

    let alerts = wait_firing(&[Matcher::equal("app", &app)]).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].labels["app"], app);

    // The same alert through a regex on its prefix (the uuid part).
    let prefix = app.split(' ').next().unwrap_or_default();
    let by_regex = client()
        .firing(&[Matcher::new("app", MatchOp::Regex, format!("{prefix} .*"))])
        .await
        .unwrap();
    assert_eq!(by_regex, alerts);
}

#[tokio::test]
async fn an_invalid_regex_is_refused_with_alertmanagers_reason() {
    let err = client()
        .firing(&[Matcher::new("app", MatchOp::Regex, "(unclosed")])
        .await
        .unwrap_err();
    match &err {
        AlertsError::Refused { status, message } => {
            assert_eq!(*status, 400);
            assert!(message.contains("missing closing )"), "{message}");
        }
        other => panic!("expected Refused, got {other}"),
    }
    assert!(!err.is_transient());
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    // Port 9 (discard) is closed on test machines; the connection fails fast.
    let client = AlertmanagerClient::new("http://127.0.0.1:9", TIMEOUT).unwrap();
    let err = client.firing(&[]).await.unwrap_err();
    assert!(matches!(err, AlertsError::Unavailable(_)), "{err}");
    assert!(err.is_transient());
}
