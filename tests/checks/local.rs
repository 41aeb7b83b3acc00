//! The check on the local host: lines in the pull log.

use chartpilot::worker::Outcome;

use super::support::git;
use super::*;

#[tokio::test]
async fn the_local_host_appends_a_line_per_finding_and_a_summary_to_the_pull_log() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    for (p, text) in files() {
        let f = repo.join(&p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "pins"]);
    git(&repo, &["checkout", "-q", "-b", "bump-prod"]);
    std::fs::write(repo.join(path("prod")), app("prod", "1.2.0")).unwrap();
    git(&repo, &["commit", "-q", "-am", "prod to 1.2.0"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);

    let secrets = TestSecrets::random();
    let s = settings(
        dir.path(),
        &secrets,
        &[
            ("GIT__PROVIDER", "local".to_owned()),
            ("GIT__PATH", repo.display().to_string()),
        ],
    );
    let (port, worker) = support::start_service(&s).await;
    let body = pull_event("opened", "acme/gitops", 7, ("bump-prod", &head), &[]);
    for _ in 0..2 {
        // The second delivery (a new id) finds the check in the log.
        let status = support::post_github_event(port, &secrets.github, "pull_request", &body).await;
        assert_eq!(status, 202);
        assert_eq!(support::next_outcome(&worker).await, Outcome::Done);
    }
    let log = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let finding = &lines[0];
    assert_eq!(finding["check"], "chartpilot");
    assert_eq!(finding["number"], 7);
    assert_eq!(finding["sha"], head.as_str());
    assert_eq!(finding["rule"], "promotion-order");
    assert_eq!(finding["level"], "failure");
    assert_eq!(finding["file"], path("prod").as_str());
    assert_eq!(finding["line"], VERSION_LINE);
    let summary = &lines[1];
    assert_eq!(summary["conclusion"], "failure");
    assert_eq!(summary["message"], "1 changed pin: 1 error");
}
