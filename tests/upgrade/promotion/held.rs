//! What holds a promotion or ends it without a PR: Argo CD or
//! Alertmanager not answering, an unreadable freeze file, `argocd.mode =
//! "none"`, a yanked version, a check that cannot run. Deadlines pass on
//! the service's clock, which the tests move.

use super::*;

impl World {
    /// Texts posted to the Slack webhook so far.
    fn said(&self) -> Vec<String> {
        self.slack
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The push went through: dev synced to the merge and Synced, Healthy,
    /// so only what a test adds can hold the promotion.
    async fn merged_and_deployed(&self) {
        self.push_merge().await;
        assert_eq!(self.next().await, Outcome::Done, "the push job");
        self.argocd.finish_operation("podinfo-dev", "Succeeded");
    }

    /// Runs jobs until the promotion check is deferred, and checks that it
    /// left no trace: no staging branch, no note on the merged PR.
    async fn deferred(&self) {
        self.run_until(3, |o| matches!(o, Outcome::Deferred { .. }))
            .await;
        assert!(self.fake.branch(STAGING_BRANCH).is_none(), "no staging PR");
        assert!(self.fake.comments(self.dev_pr).is_empty(), "no note yet");
    }

    /// Moves the service's clock past `promotion.deadline` and runs the
    /// check once more; returns the one note it left on the merged PR.
    async fn past_the_deadline(&self) -> String {
        self.clock.advance(chrono::TimeDelta::hours(2));
        self.run_until(3, |o| {
            *o == Outcome::Done && !self.fake.comments(self.dev_pr).is_empty()
        })
        .await;
        assert!(self.fake.branch(STAGING_BRANCH).is_none(), "no staging PR");
        let notes = self.fake.comments(self.dev_pr);
        assert_eq!(notes.len(), 1, "{notes:#?}");
        notes[0].clone()
    }
}

/// A firing alert holds the check; once the service's clock passes the
/// deadline the check gives up, says why on the merged PR and in chat,
/// and ends: no job is left.
#[tokio::test]
async fn a_firing_alert_holds_the_promotion_and_the_deadline_gives_up_with_the_reason() {
    let w = world("10m").await;
    w.fire_alert().await;
    w.merged_and_deployed().await;

    w.deferred().await;
    // Still inside the deadline: it waits again, whatever the real time.
    w.clock.advance(chrono::TimeDelta::minutes(5));
    w.deferred().await;
    let note = w.past_the_deadline().await;

    assert!(
        note.contains("Not promoting `podinfo` `6.6.0` to **staging**"),
        "{note}"
    );
    assert!(
        note.contains("alert PodinfoErrorBudgetBurn is firing for podinfo-dev"),
        "{note}"
    );
    assert!(w
        .fake
        .pulls()
        .iter()
        .all(|p| !p.head.starts_with("chartpilot/upgrade/staging/")));
    assert_eq!(
        w.said(),
        ["chartpilot did not promote podinfo 6.6.0 from dev to staging: gave up waiting: alert PodinfoErrorBudgetBurn is firing for podinfo-dev"]
    );
    // Nothing else is queued: the check ended with its comment.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), w.worker.process_one())
            .await
            .is_err(),
        "no job left"
    );
}

/// Argo CD answering 503, 401 (echoing the token, as a bad proxy would),
/// or 403 "permission denied" for the app: each time the check waits
/// (without the fault it would promote: dev is synced, healthy, quiet),
/// and only the deadline turns waiting into giving up. The token never
/// reaches the PR.
#[tokio::test]
async fn argocd_errors_while_gating_wait_and_only_the_deadline_gives_up() {
    use super::support::mock_argocd::Fault;
    let w = world("10m").await;
    w.merged_and_deployed().await;

    w.argocd.inject(Fault::Unavailable, 1);
    w.deferred().await;
    w.argocd.inject(Fault::Unauthorized, 1);
    w.deferred().await;
    // Argo CD's answer for an app the token may not see, or that is gone.
    w.argocd.remove("podinfo-dev");
    w.argocd.forbid_unknown();
    w.deferred().await;
    let note = w.past_the_deadline().await;

    assert!(
        note.contains("gave up waiting: Argo CD has no application podinfo-dev yet"),
        "{note}"
    );
    assert!(!note.contains(&w.argocd.token), "{note}");
    assert!(w.said().iter().all(|t| !t.contains(&w.argocd.token)));
}

/// Alertmanager answering 500: the check cannot tell whether dev is quiet,
/// so it waits rather than promoting on half the facts, and gives up at
/// the deadline naming Alertmanager.
#[tokio::test]
async fn an_alertmanager_error_waits_and_the_deadline_gives_up_naming_it() {
    use actix_web::{web, HttpResponse};
    let (listener, url) = support::loopback();
    let broken = support::serve(listener, |cfg| {
        cfg.default_service(web::to(|| async {
            HttpResponse::InternalServerError().body("alertmanager: internal error")
        }));
    });
    let w = world_with(Setup {
        alertmanager: Some(url),
        ..Setup::new("10m")
    })
    .await;
    w.merged_and_deployed().await;

    w.deferred().await;
    let note = w.past_the_deadline().await;

    assert!(
        note.contains("gave up waiting: Alertmanager did not answer"),
        "{note}"
    );
    assert_eq!(
        w.said(),
        ["chartpilot did not promote podinfo 6.6.0 from dev to staging: gave up waiting: Alertmanager did not answer"]
    );
    broken.stop(false).await;
}

/// A freeze file that does not parse may well freeze staging: the check
/// waits for a person to fix it, and at the deadline says so.
#[tokio::test]
async fn an_unreadable_freeze_file_holds_the_promotion() {
    let w = world("10m").await;
    w.fake.commit_files(
        "main",
        &[(".chartpilot/freeze.yaml", "staging: [by: alice\n")],
    );
    w.merged_and_deployed().await;

    w.deferred().await;
    let note = w.past_the_deadline().await;

    assert!(
        note.contains("gave up waiting: the freeze file does not read"),
        "{note}"
    );
}

/// With `argocd.mode = "none"` nobody can tell whether dev runs the
/// version: the check gives up at once (no waiting for nothing), with the
/// reason on the merged PR and in chat, and the job ends (a give-up is an
/// answer, not a failure to park).
#[tokio::test]
async fn argocd_mode_none_gives_up_at_once_with_the_reason() {
    let w = world_with(Setup {
        argocd_mode: "none",
        ..Setup::new("10m")
    })
    .await;
    w.push_merge().await;
    assert_eq!(w.next().await, Outcome::Done, "the push job");
    assert!(
        w.argocd.requests().is_empty(),
        "mode none sends nothing to Argo CD"
    );

    let seen = w
        .run_until(3, |o| {
            *o == Outcome::Done && !w.fake.comments(w.dev_pr).is_empty()
        })
        .await;

    assert!(
        seen.iter().all(|o| *o == Outcome::Done),
        "no wait, no retry, no park: {seen:?}"
    );
    let notes = w.fake.comments(w.dev_pr);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(
        notes[0].contains(
            "`argocd.mode is \"none\": chartpilot cannot see whether the apps are synced and healthy`"
        ),
        "{}",
        notes[0]
    );
    assert!(w.fake.branch(STAGING_BRANCH).is_none());
    let said = w.said();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with(
            "chartpilot did not promote podinfo 6.6.0 from dev to staging: argocd.mode is"
        ),
        "{said:?}"
    );
}

/// Removes `chart` `version` from the index at `path`, as a repository
/// that yanked a release; section headers stay.
fn yank(path: &std::path::Path, chart: &str, version: &str) {
    const ENTRY: &str = "  - apiVersion: v2\n";
    let text = std::fs::read_to_string(path).unwrap();
    let mut parts = text.split(ENTRY);
    let mut out = parts.next().unwrap().to_owned();
    let mut yanked = false;
    for part in parts {
        if part.starts_with(&format!("    name: {chart}\n    version: {version}\n")) {
            yanked = true;
            // Keep what follows the entry: the next chart's header.
            for line in part
                .lines()
                .filter(|l| !l.starts_with("   ") && !l.starts_with("  -"))
            {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(ENTRY);
            out.push_str(part);
        }
    }
    assert!(yanked, "{chart} {version} is not in the index");
    std::fs::write(path, out).unwrap();
}

/// The gate says go, but the version was yanked from the chart repository
/// since the merge: waiting will not bring it back, so the check gives up
/// at once with the reason on the merged PR and in chat, and opens
/// nothing. The job is done: the give-up is its answer.
#[tokio::test]
async fn a_version_yanked_since_the_merge_is_given_up_at_once() {
    let w = world("10m").await;
    w.merged_and_deployed().await;
    yank(&w.scratch.index_dir.join("index.yaml"), "podinfo", "6.6.0");

    let seen = w
        .run_until(3, |o| {
            *o == Outcome::Done && !w.fake.comments(w.dev_pr).is_empty()
        })
        .await;

    assert!(
        seen.iter().all(|o| *o == Outcome::Done),
        "no wait, no retry, no park: {seen:?}"
    );
    assert!(w.fake.branch(STAGING_BRANCH).is_none());
    let notes = w.fake.comments(w.dev_pr);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(
        notes[0].contains(
            "Not promoting `podinfo` `6.6.0` to **staging**: `podinfo 6.6.0 is not published in "
        ),
        "{}",
        notes[0]
    );
    let said = w.said();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with(
            "chartpilot did not promote podinfo 6.6.0 from dev to staging: podinfo 6.6.0 is not published in "
        ),
        "{said:?}"
    );
}

/// A failure no retry can fix (the base branch was renamed away): the
/// check is parked with its reason for a person, at once, and leaves no
/// PR and no note (nothing was decided about the version).
#[tokio::test]
async fn a_check_that_cannot_run_is_parked_with_its_reason() {
    let w = world("10m").await;
    w.merged_and_deployed().await;
    w.fake.delete_branch("main");

    let seen = w
        .run_until(
            3,
            |o| matches!(o, Outcome::Parked { reason } if reason.starts_with("promotion of")),
        )
        .await;

    let Some(Outcome::Parked { reason }) = seen.last() else {
        panic!("{seen:?}")
    };
    assert_eq!(
        reason,
        "promotion of podinfo 6.6.0 from dev to staging: base branch `main` does not exist in the repository"
    );
    assert!(
        seen.iter()
            .all(|o| !matches!(o, Outcome::Retried { .. } | Outcome::Deferred { .. })),
        "parked at the first attempt: {seen:?}"
    );
    assert!(w.fake.branch(STAGING_BRANCH).is_none());
    assert!(w.fake.comments(w.dev_pr).is_empty());
    assert!(w.said().is_empty());
}
