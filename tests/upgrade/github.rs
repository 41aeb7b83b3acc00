//! GitHub through the stateful fake: branches, PRs, labels and comments as
//! GitHub would hold them, and every API call counted.

use std::collections::HashMap;
use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::upgrade::Upgrader;

use super::fixture;
use super::support::fake_github::{FakeGithub, Fault};
use super::*;

/// The writes one upgrade PR may cost: tree, commit, ref, pull, labels.
const MAX_CALLS_PER_PR: usize = 5;

/// Reads a pass always makes: the base branch, its tarball, open PRs,
/// recently closed PRs, upgrade branches, the dashboard issue.
const READS_PER_PASS: usize = 6;

/// What a pass that opened or closed PRs adds for the dashboard: the open
/// PRs read again.
const DASHBOARD_READS_AFTER_CHANGES: usize = 1;

/// Reads a pass that commits adds: the base commit's tree, once (GitHub
/// takes no commit id as `base_tree`; the host remembers the answer).
const TREE_READS_PER_COMMITTING_PASS: usize = 1;

/// A call for the dashboard issue rather than a pull request.
fn dashboard_call(c: &super::support::fake_github::Recorded) -> bool {
    c.path.ends_with("/issues") || (c.method == "PATCH" && c.path.contains("/issues/"))
}

fn branch_files(fake: &FakeGithub, branch: &str) -> HashMap<String, String> {
    let base = fake.branch("main").expect("main");
    let head = fake.branch(branch).expect("branch exists");
    fake.changed_files(&base, &head)
        .into_iter()
        .map(|f| {
            let text = String::from_utf8(fake.file(&head, &f).expect("file")).expect("utf-8");
            (f, text)
        })
        .collect()
}

#[tokio::test]
async fn github_gets_first_environment_prs_once_and_newer_ones_supersede() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let settings = scratch.github_settings(&fake);
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    fake.clear_requests();

    let first = up.run(false).await.expect("first pass");
    assert_eq!(
        summary(&first),
        pairs(&[("opened", CERT_MANAGER_BRANCH), ("opened", PODINFO_BRANCH)]),
        "{first:#?}"
    );
    let calls = fake.api_calls();
    // The figure docs/upgrades.md quotes.
    eprintln!(
        "upgrade pass opening 2 PRs: {} GitHub API calls:\n{}",
        calls.len(),
        calls
            .iter()
            .map(|c| c.line())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let dashboard_writes: Vec<String> = calls
        .iter()
        .filter(|c| c.method != "GET" && c.path.ends_with("/issues"))
        .map(|c| c.line())
        .collect();
    assert_eq!(dashboard_writes.len(), 1, "the dashboard is opened once");
    let writes: Vec<String> = calls
        .iter()
        .filter(|c| c.method != "GET" && !c.path.ends_with("/issues"))
        .map(|c| c.line())
        .collect();
    assert!(
        writes.len() <= 2 * MAX_CALLS_PER_PR,
        "at most {MAX_CALLS_PER_PR} calls per PR: {writes:#?}"
    );
    for what in ["git/trees", "git/commits", "git/refs", "/pulls", "/labels"] {
        let n = writes.iter().filter(|w| w.ends_with(what)).count();
        assert_eq!(n, 2, "one {what} call per PR: {writes:#?}");
    }
    assert_eq!(
        calls.len(),
        READS_PER_PASS
            + TREE_READS_PER_COMMITTING_PASS
            + DASHBOARD_READS_AFTER_CHANGES
            + writes.len()
            + dashboard_writes.len(),
        "{:#?}",
        calls.iter().map(|c| c.line()).collect::<Vec<_>>()
    );

    assert_first_pass_branches(|branch| branch_files(&fake, branch));
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 2);
    let podinfo = pulls.iter().find(|p| p.head == PODINFO_BRANCH).unwrap();
    assert_eq!(podinfo.state, "open");
    assert_eq!(podinfo.base, "main");
    assert_eq!(
        podinfo.title,
        "chore(deps): upgrade podinfo to 6.6.0 in dev"
    );
    assert_eq!(podinfo.labels, ["chartpilot", "dependencies"]);

    // Again: nothing is written, only the reads happen.
    fake.clear_requests();
    let again = up.run(false).await.expect("second pass");
    assert_eq!(
        summary(&again),
        pairs(&[
            ("unchanged", CERT_MANAGER_BRANCH),
            ("unchanged", PODINFO_BRANCH)
        ])
    );
    let calls = fake.api_calls();
    assert!(calls.iter().all(|c| c.method == "GET"), "{calls:#?}");
    // The base did not move: its tarball is not read again.
    assert_eq!(calls.len(), READS_PER_PASS - 1, "{calls:#?}");
    assert!(!calls.iter().any(|c| c.path.contains("/tarball/")));
    assert_eq!(fake.pulls().len(), 2);
    // Reads whose answer did not change since the first pass are
    // conditional and answered 304, which GitHub does not count.
    let counted: Vec<String> = fake.counted_calls().iter().map(|c| c.line()).collect();
    assert!(counted.len() < calls.len(), "{counted:#?}");
    // A third pass over the unchanged repository costs no counted call.
    fake.clear_requests();
    up.run(false).await.expect("third pass");
    let counted: Vec<String> = fake.counted_calls().iter().map(|c| c.line()).collect();
    assert!(counted.is_empty(), "{counted:#?}");
    assert_eq!(fake.api_calls().len(), READS_PER_PASS - 1);
    // Nothing changed: the dashboard is read, not edited.
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].edits, 0);
    assert_eq!(issues[0].labels, ["chartpilot-dashboard"]);
    assert!(issues[0].body.starts_with("<!-- chartpilot:dashboard -->"));
    assert!(
        issues[0].body.contains(&format!(
            "- #{} chore(deps): upgrade podinfo to 6.6.0 in dev",
            podinfo.number
        )),
        "{}",
        issues[0].body
    );

    // A newer release supersedes the open PR.
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
    let old = fake.pull(podinfo.number);
    assert_eq!(old.state, "closed");
    assert!(!old.merged);
    let newer = fake
        .pulls()
        .into_iter()
        .find(|p| p.head == PODINFO_NEWER_BRANCH)
        .unwrap();
    assert_eq!(
        fake.comments(podinfo.number),
        [format!(
            "Superseded by #{}: chore(deps): upgrade podinfo to 6.6.1 in dev. Closed by chartpilot.",
            newer.number
        )]
    );
}

#[tokio::test]
async fn a_major_update_is_labelled_and_a_pr_a_person_closed_is_not_reopened() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("7.0.0");
    let settings = scratch.github_settings(&fake);
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    up.run(false).await.expect("first pass");
    let major = fake
        .pulls()
        .into_iter()
        .find(|p| p.head == "chartpilot/upgrade/dev/podinfo-7.0.0")
        .expect("major PR");
    assert_eq!(major.labels, ["chartpilot", "dependencies", "major-update"]);
    assert!(major.body.contains("A major update"), "{}", major.body);

    // A person closes it and deletes the branch: the next pass leaves it
    // closed, writing nothing, and a dry run says the same.
    fake.close_pull_as_person(major.number);
    fake.delete_branch("chartpilot/upgrade/dev/podinfo-7.0.0");
    fake.clear_requests();
    let declined = (
        "declined".to_owned(),
        "chartpilot/upgrade/dev/podinfo-7.0.0".to_owned(),
    );
    let dry = up.run(true).await.expect("dry run");
    assert!(summary(&dry).contains(&declined), "{dry:#?}");
    let next = up.run(false).await.expect("second pass");
    assert!(summary(&next).contains(&declined), "{next:#?}");
    assert_eq!(fake.pull(major.number).state, "closed");
    assert_eq!(fake.pulls().len(), 2);
    let writes: Vec<String> = fake
        .api_calls()
        .iter()
        .filter(|c| c.method != "GET" && !dashboard_call(c))
        .map(|c| c.line())
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
}

#[tokio::test]
async fn a_branch_left_without_its_pr_gets_the_pr_and_no_second_commit() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let settings = scratch.github_settings(&fake);
    // An earlier pass died after creating the branch, before the PR.
    let edited = fixture::files()
        .into_iter()
        .find(|(p, _)| p == "environments/dev/podinfo.yaml")
        .map(|(_, t)| t.replace("targetRevision: 6.5.0", "targetRevision: 6.6.0"))
        .unwrap();
    let main = fake.branch("main").unwrap();
    fake.set_branch(PODINFO_BRANCH, &main);
    let left = fake.commit_files(
        PODINFO_BRANCH,
        &[("environments/dev/podinfo.yaml", edited.as_str())],
    );
    assert_eq!(fake.parents(&left), [main]);
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    fake.clear_requests();
    let report = up.run(false).await.expect("pass");
    assert!(
        summary(&report).contains(&("opened".to_owned(), PODINFO_BRANCH.to_owned())),
        "{report:#?}"
    );
    assert_eq!(fake.branch(PODINFO_BRANCH).unwrap(), left, "branch kept");
    let podinfo_writes = fake
        .api_calls()
        .iter()
        .filter(|c| c.method == "POST" && c.body.contains("podinfo") && !dashboard_call(c))
        .count();
    assert_eq!(podinfo_writes, 1, "only the pull request itself");
}

#[tokio::test]
async fn labels_that_failed_at_opening_are_added_by_the_next_pass() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let settings = scratch.github_settings(&fake);
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    // Every labels call of the first pass fails, retries included.
    fake.fail("POST", "/labels", Fault::BadGateway, 100);
    let first = up.run(false).await.expect("the PRs open without labels");
    assert_eq!(
        summary(&first),
        pairs(&[("opened", CERT_MANAGER_BRANCH), ("opened", PODINFO_BRANCH)])
    );
    assert!(fake.pulls().iter().all(|p| p.labels.is_empty()));
    fake.clear_faults();
    up.run(false).await.expect("second pass");
    for p in fake.pulls() {
        assert_eq!(p.labels, ["chartpilot", "dependencies"], "#{}", p.number);
    }
}

#[tokio::test]
async fn a_pull_request_from_a_fork_is_never_taken_for_chartpilots_own() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let settings = scratch.github_settings(&fake);
    // Anyone who can fork may name a branch like chartpilot's.
    let fork_same = fake.add_fork_pull("mallory", PODINFO_BRANCH, "looks official");
    let fork_older = fake.add_fork_pull("mallory", "chartpilot/upgrade/dev/podinfo-6.5.1", "older");
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).expect("upgrader");
    let report = up.run(false).await.expect("pass");
    assert!(
        summary(&report).contains(&("opened".to_owned(), PODINFO_BRANCH.to_owned())),
        "{report:#?}"
    );
    for n in [fork_same, fork_older] {
        let p = fake.pull(n);
        assert_eq!(p.state, "open", "#{n} left alone");
        assert!(fake.comments(n).is_empty());
    }
    assert_eq!(fake.pull(fork_same).title, "looks official");
}
