//! Rate limits, server errors and credentials: what `GithubHost` waits
//! for, what it hands back to the queue, and what it never reveals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::clock::ManualClock;

use chartpilot::git::github::{GithubHost, INSTALLATION_TOKEN_MARGIN, MAX_INLINE_WAIT};
use chartpilot::git::{GitError, GitHost};

use super::support::fake_github::{FakeGithub, Fault};
use super::support::random_secret;
use super::{host, sha};
#[tokio::test]
async fn a_rate_limit_that_resets_in_a_second_is_waited_out() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    fake.fail(
        "GET",
        "/git/ref/heads/main",
        Fault::RateLimit {
            reset_in: Duration::from_secs(1),
        },
        1,
    );
    fake.clear_requests();
    let started = Instant::now();

    let head = host(&fake).branch_head("main").await.unwrap();

    assert_eq!(head, Some(sha(&main)));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = fake.api_calls().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_goes_back_to_the_queue() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let far = MAX_INLINE_WAIT.as_secs() * 10;
    fake.fail("GET", "/pulls", Fault::TooMany { retry_after: far }, 1);
    fake.clear_requests();
    let started = Instant::now();

    let err = host(&fake).open_pulls().await.unwrap_err();

    assert!(
        matches!(err, GitError::RateLimited(d) if d == Duration::from_secs(far)),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "must not sleep in-process"
    );
    assert_eq!(fake.api_calls().len(), 1);
}

#[tokio::test]
async fn a_secondary_rate_limit_honours_retry_after() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    fake.fail(
        "POST",
        "/issues/1/comments",
        Fault::SecondaryRateLimit { retry_after: 1 },
        1,
    );
    let number = fake.add_pull("feature", "t");

    host(&fake).comment(number, "hello").await.unwrap();

    assert_eq!(
        fake.comments(number),
        ["hello"],
        "commented once, after the wait"
    );
}

#[tokio::test]
async fn a_bad_gateway_is_retried_then_reported_unavailable() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    let host = host(&fake);
    fake.fail("GET", "/git/ref/heads/main", Fault::BadGateway, 2);
    assert_eq!(host.branch_head("main").await.unwrap(), Some(sha(&main)));

    fake.fail("GET", "/git/ref/heads/main", Fault::BadGateway, 100);
    let err = host.branch_head("main").await.unwrap_err();
    assert!(matches!(err, GitError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("<html>"), "{err}");

    // A comment may have been posted before the 502: not sent again.
    let number = fake.add_pull("feature", "t");
    fake.clear_requests();
    fake.fail("POST", "/comments", Fault::BadGateway, 1);
    let err = host.comment(number, "once").await.unwrap_err();
    assert!(matches!(err, GitError::Unavailable(_)), "{err:?}");
    assert_eq!(fake.api_calls().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_refused_without_revealing_it() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let wrong = format!("ghp_wrong{}", random_secret());
    let host = GithubHost::from_settings(
        &fake.github_settings_with_token(&wrong),
        &fake.git_settings(),
    )
    .unwrap();

    let err = host.branch_head("main").await.unwrap_err();

    assert!(matches!(err, GitError::Refused(_)), "{err:?}");
    assert!(!err.is_transient());
    assert!(
        !err.to_string().contains(&wrong) && !format!("{err:?}").contains(&wrong),
        "{err}"
    );
    assert_eq!(
        fake.api_calls().last().unwrap().auth.as_deref(),
        Some(format!("Bearer {wrong}").as_str()),
        "the fake saw the token"
    );
}

/// The token's life is measured on the host's clock, which the test moves:
/// reused while more than the margin is left, renewed once less is, and
/// no request goes out with an expired one.
#[tokio::test]
async fn app_installation_token_is_fetched_once_and_renewed_before_it_expires() {
    let fake = FakeGithub::start().await;
    let main = sha(&fake.seed(&[("a", "1")]));
    let app = fake.enable_app(31337);
    // Ten minutes of use before the renewal margin is reached.
    fake.set_token_lifetime(INSTALLATION_TOKEN_MARGIN + Duration::from_secs(600));
    fake.clear_requests();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let host = GithubHost::from_settings(&fake.app_settings(&app), &fake.git_settings())
        .unwrap()
        .with_clock(clock.clone());
    let renewals = || {
        fake.api_calls()
            .iter()
            .filter(|r| r.path.ends_with("/access_tokens"))
            .count()
    };

    host.branch_head("main").await.unwrap();
    host.read_file(&main, "a").await.unwrap();
    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(
        calls[..2],
        [
            "GET /repos/acme/gitops/installation",
            "POST /app/installations/4242/access_tokens"
        ]
    );
    assert_eq!(calls.len(), 4, "token reused: {calls:?}");
    let first_token = fake.api_calls()[2].auth.clone().unwrap();
    assert!(first_token.starts_with("Bearer ghs_"));

    // Nine minutes on: a minute more than the margin is left.
    clock.advance(chrono::TimeDelta::minutes(9));
    host.branch_head("main").await.unwrap();
    assert_eq!(renewals(), 1, "still reused outside the margin");
    assert_eq!(
        fake.api_calls().last().unwrap().auth,
        Some(first_token.clone())
    );

    // Two more: inside the margin.
    clock.advance(chrono::TimeDelta::minutes(2));
    host.branch_head("main").await.unwrap();

    let calls = fake.api_calls();
    assert_eq!(renewals(), 2, "renewed once, inside the margin");
    assert_eq!(
        calls
            .iter()
            .filter(|r| r.path.ends_with("/installation"))
            .count(),
        1
    );
    assert!(
        calls.iter().all(|r| r.status != 401),
        "no request went out with an expired token"
    );
    assert_ne!(calls.last().unwrap().auth.as_ref(), Some(&first_token));
}

#[tokio::test]
async fn an_app_key_github_does_not_know_is_refused() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let mut app = fake.enable_app(31337);
    let dir = tempfile::tempdir().unwrap();
    app.key_file = dir.path().join("other.pem");
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-out", app.key_file.to_str().unwrap(), "2048"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let host = GithubHost::from_settings(&fake.app_settings(&app), &fake.git_settings()).unwrap();

    let err = host.branch_head("main").await.unwrap_err();

    assert!(matches!(err, GitError::Refused(_)), "{err:?}");
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 1, "no token request after the JWT was refused");
    assert_eq!(calls[0].status, 401);
}

#[tokio::test]
async fn a_rate_limited_token_request_goes_back_to_the_queue() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let app = fake.enable_app(7);
    fake.fail(
        "POST",
        "/access_tokens",
        Fault::RateLimit {
            reset_in: Duration::from_secs(1800),
        },
        1,
    );
    let host = GithubHost::from_settings(&fake.app_settings(&app), &fake.git_settings()).unwrap();

    let err = host.branch_head("main").await.unwrap_err();

    assert!(
        matches!(err, GitError::RateLimited(d) if d > MAX_INLINE_WAIT),
        "{err:?}"
    );
    // The next attempt (the queue's retry) gets a token and goes through.
    assert!(host.branch_head("main").await.unwrap().is_some());
}
