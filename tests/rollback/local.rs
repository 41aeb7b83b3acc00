//! On a local repository, through the service's own handler.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::jobs::AlertStatus;
use chartpilot::rollback::run::Outcome;
use chartpilot::settings::Settings;
use chartpilot::worker::service::ServiceHandler;

use super::*;

async fn handler(dir: &Path, action: &str) -> ServiceHandler {
    let config = dir.join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[git]\nprovider = \"local\"\npath = \"{}\"\nbranch = \"main\"\n{}",
            dir.join("repo").display(),
            rule(action)
        ),
    )
    .unwrap();
    let settings = Settings::load(Some(&config), &HashMap::new()).unwrap();
    let h = ServiceHandler::from_settings(&settings, Arc::new(SystemClock)).await;
    assert!(h.rollbacker.is_ok(), "{:?}", h.rollbacker.as_ref().err());
    h
}

#[tokio::test]
async fn a_critical_alert_opens_one_revert_pr_restoring_exactly_the_previous_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let bump = local_repository(&repo);
    let h = handler(tmp.path(), "revert-pr").await;
    let rollbacker = h.rollbacker.as_ref().unwrap();
    let firing = notification(AlertStatus::Firing, "a1b2c3d4e5f60718");

    let outcomes = rollbacker.on_notification(&firing).await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
    let Outcome::Reverted {
        commit,
        pull,
        pushed,
        ..
    } = &outcomes[0]
    else {
        panic!("{outcomes:#?}");
    };
    assert_eq!(commit.as_ref(), bump);
    assert_eq!(*pull, Some(8));
    assert!(pushed.is_none());

    // The branch changes exactly the prod pin back, nothing else.
    let branch = format!("chartpilot/revert/{bump}");
    let diff = git(&repo, &["diff", "--unified=0", "main", &branch]);
    assert_only_the_prod_pin_goes_back(&diff);
    assert!(diff.contains("environments/prod/podinfo.yaml"));
    let message = git(&repo, &["log", "-1", "--format=%B", &branch]);
    assert!(
        message.starts_with("Revert \"chore(deps): upgrade podinfo to 6.6.0 in prod (#7)\""),
        "{message}"
    );
    assert!(
        message.contains(&format!("This reverts commit {bump}.")),
        "{message}"
    );
    // main itself is untouched: the revert waits for a person's merge.
    assert_eq!(git(&repo, &["rev-parse", "main"]), bump);

    let log = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    let pr: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(pr["head"], branch.as_str());
    assert_eq!(
        pr["title"],
        "Revert \"chore(deps): upgrade podinfo to 6.6.0 in prod (#7)\""
    );
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("`PodinfoDown`"), "{body}");
    assert!(
        body.contains("[runbook](https://runbooks.example.org/podinfo)"),
        "{body}"
    );
    assert!(body.contains("alerts=a1b2c3d4e5f60718"), "{body}");
    // The PR that brought the change hears about it.
    let comments = std::fs::read_to_string(repo.join(".git/chartpilot/comments.jsonl")).unwrap();
    let comment: serde_json::Value =
        serde_json::from_str(comments.lines().next().unwrap()).unwrap();
    assert_eq!(comment["number"], 7);
    assert!(comment["body"]
        .as_str()
        .unwrap()
        .contains("rolling this change back"));

    // The same alert again (repeat_interval, a second Alertmanager): nothing.
    let again = rollbacker.on_notification(&firing).await.unwrap();
    assert_eq!(
        again,
        [Outcome::Skipped {
            app: "podinfo-prod".into(),
            reason: format!(
                "{} is already being reverted: revert PR #8 (open)",
                &bump[..12]
            ),
        }]
    );
    assert_eq!(
        log.lines().count(),
        std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl"))
            .unwrap()
            .lines()
            .count()
    );

    // Resolved while the revert PR is open: the PR hears it.
    let resolved = notification(AlertStatus::Resolved, "a1b2c3d4e5f60718");
    let noted = rollbacker.on_notification(&resolved).await.unwrap();
    assert!(
        noted.contains(&Outcome::NotedResolved { pull: 8 }),
        "{noted:#?}"
    );
    let comments = std::fs::read_to_string(repo.join(".git/chartpilot/comments.jsonl")).unwrap();
    assert!(
        comments.lines().last().unwrap().contains("resolved"),
        "{comments}"
    );
}

#[tokio::test]
async fn revert_push_commits_on_main_and_the_next_alert_never_reverts_the_revert() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let bump = local_repository(&repo);
    let h = handler(tmp.path(), "revert-push").await;
    let rollbacker = h.rollbacker.as_ref().unwrap();

    let outcomes = rollbacker
        .on_notification(&notification(AlertStatus::Firing, "0f0f0f0f"))
        .await
        .unwrap();
    let Outcome::Reverted {
        pushed: Some(pushed),
        pull: None,
        ..
    } = &outcomes[0]
    else {
        panic!("{outcomes:#?}");
    };
    assert_eq!(git(&repo, &["rev-parse", "main"]), pushed.as_ref());
    assert_eq!(
        git(&repo, &["rev-parse", "main^"]),
        bump,
        "a plain commit on top"
    );
    let message = git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("This reverts commit {bump}.")),
        "{message}"
    );
    let prod = git(&repo, &["show", "main:environments/prod/podinfo.yaml"]);
    assert_eq!(format!("{prod}\n"), app("prod", "6.5.0"));

    // Another alert for the same app: the newest change is the revert.
    let again = rollbacker
        .on_notification(&notification(AlertStatus::Firing, "0f0f0f0e"))
        .await
        .unwrap();
    match &again[0] {
        Outcome::Skipped { reason, .. } => {
            assert!(reason.contains("is itself a revert"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(git(&repo, &["rev-parse", "main"]), pushed.as_ref());
}

#[tokio::test]
async fn a_frozen_environment_is_never_rolled_back_automatically() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    local_repository(&repo);
    std::fs::create_dir_all(repo.join(".chartpilot")).unwrap();
    std::fs::write(
        repo.join(".chartpilot/freeze.yaml"),
        "environments:\n  prod:\n    by: alice\n    reason: release week\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "freeze prod"]);
    let h = handler(tmp.path(), "revert-pr").await;
    let outcomes = h
        .rollbacker
        .as_ref()
        .unwrap()
        .on_notification(&notification(AlertStatus::Firing, "abcdef"))
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [Outcome::Skipped {
            app: "podinfo-prod".into(),
            reason: "prod is frozen by alice: release week".into(),
        }]
    );
    let branches = git(&repo, &["branch", "--list", "chartpilot/*"]);
    assert!(branches.is_empty(), "{branches}");
}

#[tokio::test]
async fn a_platform_release_without_an_environment_answers_for_the_alerts_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("platform")).unwrap();
    let tf = |v: &str| {
        format!(
            "resource \"helm_release\" \"cert_manager\" {{\n  name       = \"cert-manager\"\n  repository = \"https://charts.jetstack.io\"\n  chart      = \"cert-manager\"\n  version    = \"{v}\"\n}}\n"
        )
    };
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("platform/main.tf"), tf("v1.13.2")).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "platform"]);
    std::fs::write(repo.join("platform/main.tf"), tf("v1.14.0")).unwrap();
    git(&repo, &["commit", "-q", "-am", "cert-manager v1.14.0"]);
    let bump = git(&repo, &["rev-parse", "HEAD"]);
    let h = handler(tmp.path(), "revert-pr").await;
    let mut n = notification(AlertStatus::Firing, "c0ffee");
    n.alerts[0]
        .labels
        .insert("argocd_app".into(), "cert-manager".into());
    let outcomes = h
        .rollbacker
        .as_ref()
        .unwrap()
        .on_notification(&n)
        .await
        .unwrap();
    let Outcome::Reverted { commit, .. } = &outcomes[0] else {
        panic!("{outcomes:#?}");
    };
    assert_eq!(commit.as_ref(), bump);
    let reverted = git(
        &repo,
        &[
            "show",
            &format!("chartpilot/revert/{bump}:platform/main.tf"),
        ],
    );
    assert_eq!(format!("{reverted}\n"), tf("v1.13.2"));
}

/// The decision is one INFO line operators can query: words and a short
/// commit, not Rust's `Debug` (`Reverted { …CommitSha(…) }`).
#[tokio::test]
async fn the_rollback_decision_is_logged_as_words_with_the_short_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let bump = local_repository(&repo);
    let h = handler(tmp.path(), "revert-pr").await;
    let logs = super::support::logs::capture();
    let firing = notification(AlertStatus::Firing, "a1b2c3d4e5f60718");
    h.rollbacker
        .as_ref()
        .unwrap()
        .on_notification(&firing)
        .await
        .unwrap();

    let decided = logs.events("rollback_decision");
    assert_eq!(decided.len(), 1, "{:#?}", logs.lines());
    let fields = &decided[0]["fields"];
    assert_eq!(fields["app"], "podinfo-prod");
    assert_eq!(fields["outcome"], "reverted");
    assert_eq!(fields["commit"], &bump[..12]);
    assert_eq!(fields["pull"], 8);
    for line in logs.lines() {
        let text = line.to_string();
        assert!(
            !text.contains("CommitSha(") && !text.contains(" { ") && !text.contains("Some("),
            "{text}"
        );
    }
}
