//! GitHub's rate limits as the worker meets them on a real job: the push
//! job's first GitHub call answers 429 the two ways GitHub does, and the
//! job goes back to the queue for at least the wait GitHub asked for (the
//! delay the worker hands the queue), not for the first retry delay and
//! not to the parking queue.

use std::time::Duration;

use chartpilot::worker::Outcome;

use super::promotion::{world_with, Setup};
use super::support::fake_github::Fault;

/// The delays the queue has; a rate limit picks the first one at least as
/// long as GitHub's wait.
const DELAYS: &str = "\"300ms\", \"15m\", \"2h\"";

#[tokio::test]
async fn a_github_429_sends_the_push_job_back_for_the_wait_github_asked() {
    let cases = [
        // A secondary limit: `retry-after` in seconds, past what a call
        // waits in-process.
        (
            Fault::TooMany { retry_after: 120 },
            Duration::from_secs(15 * 60),
        ),
        // An exhausted primary limit: no `retry-after`, the reset as a
        // Unix time, twenty minutes ahead.
        (
            Fault::TooManyUntilReset {
                reset_in: Duration::from_secs(20 * 60),
            },
            Duration::from_secs(2 * 3600),
        ),
    ];
    for (fault, delay) in cases {
        let w = world_with(Setup {
            retry_delays: DELAYS,
            ..Setup::new("10m")
        })
        .await;
        w.fake.clear_requests();
        w.fake.fail("GET", "/repos/acme/gitops", fault.clone(), 1);
        w.push_merge().await;

        let outcome = w.next().await;

        assert_eq!(outcome, Outcome::Retried { attempt: 2, delay }, "{fault:?}");
        let statuses: Vec<u16> = w.fake.api_calls().iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [429],
            "no wait in-process, no second call: {fault:?}"
        );
        assert!(
            w.argocd.requests().is_empty(),
            "nothing synced before the limit lifts"
        );
    }
}
