//! The rollbacker against the fake GitHub, called directly: what happens
//! when a run stops halfway, and after a revert PR is merged.

use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::jobs::AlertStatus;
use chartpilot::rollback::run::Outcome;
use chartpilot::settings::Settings;
use chartpilot::worker::service::ServiceHandler;

use super::support::fake_github::{FakeGithub, Fault};
use super::*;

/// The fake with podinfo bumped to 6.6.0 in prod by a merged PR (#1), and
/// the handler pointed at it. Returns the merge commit.
async fn world(fake: &FakeGithub, dir: &std::path::Path) -> (ServiceHandler, String) {
    let (merge, _pr) = github_bump(fake);
    let config = dir.join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[git]\nprovider = \"github\"\nrepository = \"{}\"\nbranch = \"main\"\n[github]\ntoken = \"{}\"\napi_url = \"{}\"\n{}",
            fake.repository(),
            fake.token,
            fake.url,
            rule("revert-pr")
        ),
    )
    .unwrap();
    let settings = Settings::load(Some(&config), &Default::default()).unwrap();
    let h = ServiceHandler::from_settings(&settings, Arc::new(SystemClock)).await;
    assert!(h.rollbacker.is_ok(), "{:?}", h.rollbacker.as_ref().err());
    (h, merge)
}

#[tokio::test]
async fn a_run_that_stopped_before_its_pr_is_finished_by_the_next_delivery() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (h, merge) = world(&fake, dir.path()).await;
    let rollbacker = h.rollbacker.as_ref().unwrap();
    let firing = notification(AlertStatus::Firing, "feed01");

    // GitHub fails the PR's part of the mutation once: the branch and
    // its commit are there, the PR is not.
    fake.fail_field("createPullRequest", 1);
    let err = rollbacker.on_notification(&firing).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let branch = format!("chartpilot/revert/{merge}");
    let made = fake.branch(&branch).expect("the branch was made");
    assert!(fake.pulls().iter().all(|p| p.head != branch));

    // The queue retries: the PR opens on that branch, no second commit.
    let outcomes = rollbacker.on_notification(&firing).await.unwrap();
    let Outcome::Reverted { pull: Some(n), .. } = &outcomes[0] else {
        panic!("{outcomes:#?}");
    };
    let pr = fake.pull(*n);
    assert_eq!(pr.head, branch);
    assert_eq!(fake.branch(&branch).as_deref(), Some(made.as_str()));
    assert_eq!(
        String::from_utf8(fake.file(&made, "environments/prod/podinfo.yaml").unwrap()).unwrap(),
        app("prod", "6.5.0")
    );
}

#[tokio::test]
async fn a_pr_github_opened_before_answering_502_is_found_by_the_next_delivery() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (h, merge) = world(&fake, dir.path()).await;
    let rollbacker = h.rollbacker.as_ref().unwrap();
    let firing = notification(AlertStatus::Firing, "feed02");

    // GitHub opens the PR, then the answer is lost: the call made once is
    // not repeated, and the job goes back to the queue.
    fake.fail_after_acting("POST", "graphql:createPullRequest", Fault::BadGateway, 1);
    let err = rollbacker.on_notification(&firing).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let branch = format!("chartpilot/revert/{merge}");
    let opened: Vec<u64> = fake
        .pulls()
        .iter()
        .filter(|p| p.head == branch)
        .map(|p| p.number)
        .collect();
    assert_eq!(opened.len(), 1, "GitHub made the PR once");

    // The retry finds that PR and stops: no second PR, no second commit,
    // and the comment the lost run never made is made now, once
    // (races.rs follows this case through chat and further deliveries).
    let outcomes = rollbacker.on_notification(&firing).await.unwrap();
    let Outcome::Skipped { reason, .. } = &outcomes[0] else {
        panic!("{outcomes:#?}");
    };
    assert!(
        reason.contains(&format!(
            "is already being reverted: revert PR #{}",
            opened[0]
        )),
        "{reason}"
    );
    assert_eq!(fake.pulls().iter().filter(|p| p.head == branch).count(), 1);
    assert_eq!(fake.comments(1).len(), 1, "{:?}", fake.comments(1));
}

#[tokio::test]
async fn a_merged_revert_pr_is_a_revert_and_never_reverted_in_turn() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (h, _merge) = world(&fake, dir.path()).await;
    let rollbacker = h.rollbacker.as_ref().unwrap();
    let outcomes = rollbacker
        .on_notification(&notification(AlertStatus::Firing, "feed02"))
        .await
        .unwrap();
    let Outcome::Reverted {
        pull: Some(revert_pr),
        ..
    } = &outcomes[0]
    else {
        panic!("{outcomes:#?}");
    };
    // A person merges the revert with GitHub's merge button; the branch
    // is deleted, as GitHub can do on merge.
    let merged = fake.merge_into_base(*revert_pr);
    let head = fake.branch("main").unwrap();
    assert_eq!(head, merged);
    fake.delete_branch(&fake.pull(*revert_pr).head);

    // Podinfo (back at 6.5.0) alerts again: the newest change of its pin
    // is the merged revert, which chartpilot does not revert.
    let again = rollbacker
        .on_notification(&notification(AlertStatus::Firing, "feed03"))
        .await
        .unwrap();
    match &again[0] {
        Outcome::Skipped { reason, .. } => {
            assert!(reason.contains("is itself a revert"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.branch("main").unwrap(), merged, "main untouched");
    let reverts = fake
        .pulls()
        .into_iter()
        .filter(|p| p.head.starts_with("chartpilot/revert/"))
        .count();
    assert_eq!(reverts, 1);
}

/// The first mutation fails partway: where the branch could not be made or
/// its commit failed, the job is retried (never dropped) and no branch
/// without the revert commit stays behind; an earlier run's such branch,
/// left while main moved on, is removed so the retry opens the PR.
#[tokio::test]
async fn a_revert_branch_without_its_commit_never_blocks_the_retry() {
    enum Before {
        FailField(&'static str),
        EmptyBranchThenMainMoves,
    }
    for before in [
        Before::FailField("createRef"),
        Before::FailField("createCommitOnBranch"),
        Before::EmptyBranchThenMainMoves,
    ] {
        let fake = FakeGithub::start().await;
        let dir = tempfile::tempdir().unwrap();
        let (h, merge) = world(&fake, dir.path()).await;
        let rollbacker = h.rollbacker.as_ref().unwrap();
        let firing = notification(AlertStatus::Firing, "feed04");
        let branch = format!("chartpilot/revert/{merge}");
        let case = match before {
            Before::FailField(field) => {
                fake.fail_field(field, 1);
                field
            }
            Before::EmptyBranchThenMainMoves => {
                fake.set_branch(&branch, &merge);
                fake.commit_files("main", &[("docs/notes.md", "later\n")]);
                "empty branch"
            }
        };
        let err = rollbacker.on_notification(&firing).await.unwrap_err();
        assert!(err.is_transient(), "{case}: {err}");
        assert_eq!(fake.branch(&branch), None, "{case}: no branch left behind");
        assert!(fake.pulls().iter().all(|p| p.head != branch), "{case}");

        let outcomes = rollbacker.on_notification(&firing).await.unwrap();
        let Outcome::Reverted { pull: Some(n), .. } = &outcomes[0] else {
            panic!("{case}: {outcomes:#?}");
        };
        let head = fake.branch(&branch).unwrap();
        assert_eq!(fake.pull(*n).head, branch, "{case}");
        assert_eq!(
            fake.parents(&head),
            [fake.branch("main").unwrap()],
            "{case}: the revert commit on main's head"
        );
        assert_eq!(
            String::from_utf8(fake.file(&head, "environments/prod/podinfo.yaml").unwrap()).unwrap(),
            app("prod", "6.5.0"),
            "{case}"
        );
        assert_eq!(fake.comments(1).len(), 1, "{case}: told once");
    }
}
