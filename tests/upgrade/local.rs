//! The local git host: branches in a repository on disk and PRs as lines
//! of `.git/chartpilot/pulls.jsonl`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::upgrade::Upgrader;

use super::fixture::{self, git};
use super::*;

fn branch_files(repo: &Path, branch: &str) -> HashMap<String, String> {
    git(repo, &["diff", "--name-only", "main", branch])
        .lines()
        .map(|f| (f.to_owned(), git(repo, &["show", &format!("{branch}:{f}")])))
        .collect()
}

fn pull_lines(repo: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn local_repository_gets_first_environment_prs_once_and_newer_ones_supersede() {
    let scratch = scratch("6.6.0");
    let repo = scratch.repo.clone();
    let settings = scratch.local_settings();
    let head_before = git(&repo, &["rev-parse", "main"]);
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");

    // A dry run says what it would do and changes nothing.
    let dry = up.run(true).await.expect("dry run");
    assert_eq!(
        summary(&dry),
        pairs(&[
            ("would-open", CERT_MANAGER_BRANCH),
            ("would-open", PODINFO_BRANCH)
        ])
    );
    assert!(pull_lines(&repo).is_empty());
    assert_eq!(git(&repo, &["branch", "--list", "chartpilot/*"]), "");

    let first = up.run(false).await.expect("first pass");
    assert_eq!(
        summary(&first),
        pairs(&[("opened", CERT_MANAGER_BRANCH), ("opened", PODINFO_BRANCH)]),
        "{first:#?}"
    );
    // Staging and prod wait for promotion; redis is already newest.
    assert!(first
        .skipped
        .iter()
        .any(|s| s.file == "environments/prod/podinfo.yaml"
            && s.reason == "prod is reached by promotion from dev"));
    assert!(first.lookup_errors.is_empty(), "{:?}", first.lookup_errors);

    assert_first_pass_branches(|branch| branch_files(&repo, branch));
    // The base branch and the checkout are untouched.
    assert_eq!(git(&repo, &["rev-parse", "main"]), head_before);
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    let pulls = pull_lines(&repo);
    assert_eq!(pulls.len(), 2);
    let podinfo = pulls
        .iter()
        .find(|p| p["head"] == PODINFO_BRANCH)
        .expect("podinfo PR");
    assert_eq!(podinfo["base"], "main");
    assert_eq!(podinfo["state"], "open");
    assert_eq!(
        podinfo["title"],
        "chore(deps): upgrade podinfo to 6.6.0 in dev"
    );
    let body = podinfo["body"].as_str().unwrap();
    assert!(
        body.contains(
            "| podinfo-dev | `environments/dev/podinfo.yaml:11` | `6.5.0` → `6.6.0` | minor |"
        ),
        "{body}"
    );
    assert!(body.contains("App version: `6.5.0` → `6.6.0`"), "{body}");
    assert!(
        body.contains(
            "**6.6.0**\n\n- added: Readiness gate\n\n**6.5.1**\n\n- added: Fix probe port\n"
        ),
        "release notes of every release after the pin, newest first: {body}"
    );
    assert!(
        !body.contains("7.0.0-rc.1"),
        "pre-releases are never proposed"
    );

    // The same pass again finds everything done.
    let again = up.run(false).await.expect("second pass");
    assert_eq!(
        summary(&again),
        pairs(&[
            ("unchanged", CERT_MANAGER_BRANCH),
            ("unchanged", PODINFO_BRANCH)
        ])
    );
    assert_eq!(pull_lines(&repo).len(), 2, "no new PR lines");

    // A newer release: a new PR, and the old one closed with a pointer.
    fixture::index(&scratch.index_dir, "6.6.1");
    let third = up.run(false).await.expect("third pass");
    assert_eq!(
        summary(&third),
        pairs(&[
            ("closed", PODINFO_BRANCH),
            ("opened", PODINFO_NEWER_BRANCH),
            ("unchanged", CERT_MANAGER_BRANCH)
        ])
    );
    let pulls = pull_lines(&repo);
    let old_number = podinfo["number"].as_u64().unwrap();
    let last_of_old = pulls
        .iter()
        .rev()
        .find(|p| p["number"].as_u64() == Some(old_number))
        .unwrap();
    assert_eq!(last_of_old["state"], "closed");
    let new_number = pulls
        .iter()
        .find(|p| p["head"] == PODINFO_NEWER_BRANCH)
        .and_then(|p| p["number"].as_u64())
        .unwrap();
    let comments =
        std::fs::read_to_string(repo.join(".git/chartpilot/comments.jsonl")).unwrap_or_default();
    assert!(
        comments.contains(&format!("Superseded by #{new_number}")),
        "{comments}"
    );
}

#[tokio::test]
async fn a_pr_whose_pin_was_bumped_by_hand_is_closed_as_no_longer_needed() {
    let scratch = scratch("6.6.0");
    let repo = scratch.repo.clone();
    let settings = scratch.local_settings();
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    up.run(false).await.expect("first pass");
    // A person bumps dev to 6.6.0 on main without the PR.
    let file = repo.join("environments/dev/podinfo.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("6.5.0", "6.6.0")).unwrap();
    git(&repo, &["commit", "-qam", "bump podinfo by hand"]);
    let next = up.run(false).await.expect("second pass");
    assert_eq!(
        summary(&next),
        pairs(&[
            ("obsolete", PODINFO_BRANCH),
            ("unchanged", CERT_MANAGER_BRANCH)
        ])
    );
    let comments =
        std::fs::read_to_string(repo.join(".git/chartpilot/comments.jsonl")).unwrap_or_default();
    assert!(
        comments.contains(
            "No longer needed: podinfo in dev is already at 6.6.0. Closed by chartpilot."
        ),
        "{comments}"
    );
}

#[tokio::test]
async fn a_new_pin_of_the_chart_on_main_brings_the_open_branch_up_to_date() {
    let scratch = scratch("6.6.0");
    let repo = scratch.repo.clone();
    let settings = scratch.local_settings();
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    up.run(false).await.expect("first pass");
    let first_tip = git(&repo, &["rev-parse", PODINFO_BRANCH]);

    // Someone adds a canary of podinfo in dev, pinned at the old version.
    let canary = std::fs::read_to_string(repo.join("environments/dev/podinfo.yaml"))
        .unwrap()
        .replace("name: podinfo-dev", "name: podinfo-canary");
    std::fs::write(repo.join("environments/dev/podinfo-canary.yaml"), &canary).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "podinfo canary"]);

    let second = up.run(false).await.expect("second pass");
    assert!(
        summary(&second).contains(&("updated".to_owned(), PODINFO_BRANCH.to_owned())),
        "{second:#?}"
    );
    let tip = git(&repo, &["rev-parse", PODINFO_BRANCH]);
    // Moved forward without force: the old tip and main are its parents.
    let parents = git(&repo, &["rev-list", "--parents", "-n", "1", tip.trim()]);
    assert!(parents.contains(first_tip.trim()), "{parents}");
    assert!(
        parents.contains(git(&repo, &["rev-parse", "main"]).trim()),
        "{parents}"
    );
    // The PR's diff is again exactly the version tokens of both pins.
    let changed = branch_files(&repo, PODINFO_BRANCH);
    let mut original: HashMap<String, String> = fixture::files().into_iter().collect();
    original.insert("environments/dev/podinfo-canary.yaml".into(), canary);
    assert_only_version_tokens(
        &original,
        &changed,
        &[
            ("environments/dev/podinfo-canary.yaml", "6.5.0", "6.6.0"),
            ("environments/dev/podinfo.yaml", "6.5.0", "6.6.0"),
        ],
    );
    let body = pull_lines(&repo)
        .into_iter()
        .rev()
        .find(|p| p["head"] == PODINFO_BRANCH)
        .map(|p| p["body"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(body.contains("podinfo-canary.yaml:11"), "{body}");
    // And a pass after that finds nothing to do.
    let third = up.run(false).await.expect("third pass");
    assert!(summary(&third).contains(&("unchanged".to_owned(), PODINFO_BRANCH.to_owned())));
}

#[tokio::test]
async fn a_frozen_environment_gets_no_automatic_upgrade() {
    let scratch = scratch("6.6.0");
    let repo = scratch.repo.clone();
    std::fs::create_dir_all(repo.join(".chartpilot")).unwrap();
    std::fs::write(
        repo.join(".chartpilot/freeze.yaml"),
        "environments:\n  dev:\n    by: alice\n    reason: demo day\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "freeze dev"]);
    let up = Upgrader::from_settings(&scratch.local_settings(), Arc::new(SystemClock))
        .expect("upgrader");
    let report = up.run(false).await.expect("pass");
    // Only the pin without an environment moves.
    assert_eq!(
        summary(&report),
        pairs(&[("opened", CERT_MANAGER_BRANCH)]),
        "{report:#?}"
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.file == "environments/dev/podinfo.yaml"
                && s.reason == "dev is frozen by alice: demo day"),
        "{:#?}",
        report.skipped
    );
    assert!(git(&repo, &["branch", "--list", PODINFO_BRANCH]).is_empty());
}

/// A range in dev is left alone by default; with `policy.ranges = "pin"`
/// the same pass opens the usual dev PR replacing exactly the range text
/// with the newest release inside it, and says so in the body.
#[tokio::test]
async fn a_range_is_left_alone_unless_ranges_are_pinned() {
    let scratch = scratch("6.6.0");
    let repo = scratch.repo.clone();
    let file = repo.join("environments/dev/podinfo.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, before.replace("6.5.0", "6.x")).unwrap();
    git(&repo, &["commit", "-qam", "podinfo follows 6.x in dev"]);

    let mut settings = scratch.local_settings();
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    let left = up.run(false).await.expect("pass under leave");
    assert_eq!(
        summary(&left),
        pairs(&[("opened", CERT_MANAGER_BRANCH)]),
        "{left:#?}"
    );
    assert!(git(&repo, &["branch", "--list", PODINFO_BRANCH]).is_empty());

    settings.policy.ranges = chartpilot::settings::RangePolicy::Pin;
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    let pinned = up.run(false).await.expect("pass under pin");
    assert!(
        summary(&pinned).contains(&("opened".to_owned(), PODINFO_BRANCH.to_owned())),
        "{pinned:#?}"
    );
    // Only the range's bytes changed, to the newest stable release in it
    // (never the 7.0.0 pre-release).
    let files = branch_files(&repo, PODINFO_BRANCH);
    assert_eq!(
        files
            .get("environments/dev/podinfo.yaml")
            .map(String::as_str),
        Some(before.replace("6.5.0", "6.6.0").as_str()),
        "{files:#?}"
    );
    assert_eq!(files.len(), 1, "{files:#?}");
    let pull = pull_lines(&repo)
        .into_iter()
        .find(|p| p["head"] == PODINFO_BRANCH)
        .expect("the dev PR");
    let body = pull["body"].as_str().unwrap_or_default();
    assert!(body.contains("`6.x`"), "{body}");
    assert!(body.to_lowercase().contains("range"), "{body}");
}
