//! `GithubHost` against the stateful fake GitHub: real HTTP, a real git
//! repository behind it, assertions on what GitHub ends up holding and on
//! every API call it took.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "github_host/contract.rs"]
mod contract;
#[path = "github_host/history.rs"]
mod history;
#[path = "github_host/limits.rs"]
mod limits;
#[path = "github_host/revert.rs"]
mod revert;
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use chartpilot::domain::CommitSha;
use chartpilot::git::github::GithubHost;
use chartpilot::git::{FileChange, GitError, GitHost, NewPull, PullState};
use support::fake_github::FakeGithub;

fn host(fake: &FakeGithub) -> GithubHost {
    GithubHost::from_settings(&fake.github_settings(), &fake.git_settings()).unwrap()
}

fn sha(s: &str) -> CommitSha {
    CommitSha::parse(s).unwrap()
}

fn change(path: &str, content: &str) -> FileChange {
    FileChange {
        path: path.to_owned(),
        content: content.as_bytes().to_vec(),
    }
}

/// Every file under `dir`, relative path → content.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn snapshot_returns_the_seeded_tree_in_one_call() {
    let fake = FakeGithub::start().await;
    fake.seed(&[
        ("README.md", "hello\n"),
        ("environments/dev/app.yaml", "version: 1.2.3\n"),
    ]);
    let head = fake.commit_with_modes(
        "main",
        &[
            (
                "scripts/bump.sh".into(),
                "100755".into(),
                b"#!/bin/sh\n".to_vec(),
            ),
            // A symlink pointing out of the tree must not be followed or written.
            (
                "escape".into(),
                "120000".into(),
                b"../../../../etc/passwd".to_vec(),
            ),
        ],
    );
    fake.clear_requests();
    let dir = tempfile::tempdir().unwrap();

    host(&fake).snapshot(&sha(&head), dir.path()).await.unwrap();

    let want: BTreeMap<String, String> = [
        ("README.md", "hello\n"),
        ("environments/dev/app.yaml", "version: 1.2.3\n"),
        ("scripts/bump.sh", "#!/bin/sh\n"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(files_under(dir.path()), want);
    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(calls, [format!("GET /repos/acme/gitops/tarball/{head}")]);
}

#[tokio::test]
async fn read_file_returns_the_bytes_or_none() {
    let fake = FakeGithub::start().await;
    let head = sha(&fake.seed(&[("charts/Chart.yaml", "name: umbrella\n")]));
    let host = host(&fake);

    assert_eq!(
        host.read_file(&head, "charts/Chart.yaml")
            .await
            .unwrap()
            .unwrap(),
        b"name: umbrella\n"
    );
    assert_eq!(
        host.read_file(&head, "charts/missing.yaml").await.unwrap(),
        None
    );
    assert_eq!(host.branch_head("main").await.unwrap(), Some(head));
    assert_eq!(host.branch_head("nope").await.unwrap(), None);
}

#[tokio::test]
async fn an_upgrade_pr_changes_only_its_files_and_costs_at_most_six_calls() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[
        ("environments/dev/app.yaml", "targetRevision: 1.2.3\n"),
        ("environments/prod/app.yaml", "targetRevision: 1.2.3\n"),
        ("scripts/check.sh", "old\n"),
    ]);
    let host = host(&fake);
    let dir = tempfile::tempdir().unwrap();
    host.snapshot(&sha(&main), dir.path()).await.unwrap();
    fake.clear_requests();

    let branch = "chartpilot/upgrade/dev/app-1.3.0";
    let commit = host
        .commit(
            &sha(&main),
            "Upgrade app to 1.3.0 in dev",
            &[change(
                "environments/dev/app.yaml",
                "targetRevision: 1.3.0\n",
            )],
        )
        .await
        .unwrap();
    host.create_branch(branch, &commit).await.unwrap();
    let pull = host
        .create_pull(&NewPull {
            head: branch.to_owned(),
            base: "main".to_owned(),
            title: "Upgrade app to 1.3.0 in dev".to_owned(),
            body: "chartpilot".to_owned(),
            labels: vec!["chartpilot".to_owned(), "dev".to_owned()],
        })
        .await
        .unwrap();

    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(
        calls,
        [
            // The base's tree: GitHub takes no commit id as `base_tree`.
            format!("GET /repos/acme/gitops/git/commits/{main}").as_str(),
            "POST /repos/acme/gitops/git/trees",
            "POST /repos/acme/gitops/git/commits",
            "POST /repos/acme/gitops/git/refs",
            "POST /repos/acme/gitops/pulls",
            "POST /repos/acme/gitops/issues/1/labels",
        ]
    );
    assert_eq!(fake.branch(branch).as_deref(), Some(commit.as_ref()));
    assert_eq!(fake.parents(commit.as_ref()), vec![main.clone()]);
    assert_eq!(
        fake.changed_files(&main, branch),
        ["environments/dev/app.yaml"]
    );
    assert_eq!(
        fake.file(branch, "environments/dev/app.yaml").unwrap(),
        b"targetRevision: 1.3.0\n"
    );
    assert_eq!(
        fake.branch("main").as_deref(),
        Some(main.as_str()),
        "main never moves"
    );
    assert_eq!(pull.number, 1);
    assert_eq!(pull.state, PullState::Open);
    assert_eq!(pull.labels, ["chartpilot", "dev"]);
    assert_eq!(fake.pull(1).labels, ["chartpilot", "dev"]);
    assert_eq!(
        (fake.pull(1).head.as_str(), fake.pull(1).base.as_str()),
        (branch, "main")
    );
}

#[tokio::test]
async fn commit_keeps_the_mode_of_an_executable_seen_in_the_snapshot() {
    let fake = FakeGithub::start().await;
    let main = fake.commit_with_modes(
        "main",
        &[("run.sh".into(), "100755".into(), b"v1\n".to_vec())],
    );
    let host = host(&fake);
    let dir = tempfile::tempdir().unwrap();
    host.snapshot(&sha(&main), dir.path()).await.unwrap();

    let commit = host
        .commit(
            &sha(&main),
            "m",
            &[change("run.sh", "v2\n"), change("new.yaml", "x\n")],
        )
        .await
        .unwrap();

    assert_eq!(
        fake.mode(commit.as_ref(), "run.sh").as_deref(),
        Some("100755")
    );
    assert_eq!(
        fake.mode(commit.as_ref(), "new.yaml").as_deref(),
        Some("100644")
    );
}

#[tokio::test]
async fn a_commit_sends_its_parents_tree_as_base_tree_and_knows_the_trees_it_made() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a.yaml", "1\n"), ("b.yaml", "1\n")]);
    let host = host(&fake);

    let first = host
        .commit(&sha(&main), "m", &[change("a.yaml", "2\n")])
        .await
        .unwrap();
    let second = host
        .commit(&first, "n", &[change("b.yaml", "2\n")])
        .await
        .unwrap();

    assert_eq!(fake.changed_files(&main, first.as_ref()), ["a.yaml"]);
    assert_eq!(
        fake.changed_files(first.as_ref(), second.as_ref()),
        ["b.yaml"]
    );
    let calls = fake.api_calls();
    let statuses: Vec<(String, u16)> = calls.iter().map(|r| (r.line(), r.status)).collect();
    // GitHub refuses a commit id as `base_tree`: the parent's tree is read
    // once, and the tree of a commit the host made is not read again.
    assert_eq!(
        statuses,
        [
            (format!("GET /repos/acme/gitops/git/commits/{main}"), 200),
            ("POST /repos/acme/gitops/git/trees".to_owned(), 201),
            ("POST /repos/acme/gitops/git/commits".to_owned(), 201),
            ("POST /repos/acme/gitops/git/trees".to_owned(), 201),
            ("POST /repos/acme/gitops/git/commits".to_owned(), 201),
        ]
    );
    assert_ne!(calls[1].json()["base_tree"], main.as_str());
    assert_eq!(calls[3].json()["base_tree"], calls[2].json()["tree"]);
}

#[tokio::test]
async fn create_branch_on_an_existing_branch_is_branch_exists() {
    let fake = FakeGithub::start().await;
    let main = sha(&fake.seed(&[("a", "1")]));
    let host = host(&fake);
    host.create_branch("feature", &main).await.unwrap();

    let err = host.create_branch("feature", &main).await.unwrap_err();

    assert!(
        matches!(&err, GitError::BranchExists(b) if b == "feature"),
        "{err:?}"
    );
}

#[tokio::test]
async fn update_branch_moves_forward_and_never_forces() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    let host = host(&fake);
    host.create_branch("feature", &sha(&main)).await.unwrap();
    let ahead = host
        .commit(&sha(&main), "forward", &[change("a", "2")])
        .await
        .unwrap();
    host.update_branch("feature", &ahead).await.unwrap();
    assert_eq!(fake.branch("feature").as_deref(), Some(ahead.as_ref()));

    // A commit on main's line that does not contain `ahead`.
    let sideways = host
        .commit(&sha(&main), "sideways", &[change("a", "3")])
        .await
        .unwrap();
    let err = host.update_branch("feature", &sideways).await.unwrap_err();

    assert!(
        matches!(&err, GitError::NotFastForward(b) if b == "feature"),
        "{err:?}"
    );
    assert_eq!(fake.branch("feature").as_deref(), Some(ahead.as_ref()));
    let patch = fake
        .api_calls()
        .into_iter()
        .rfind(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.json()["force"], serde_json::json!(false));
    let missing = host.update_branch("nope", &ahead).await.unwrap_err();
    assert!(matches!(missing, GitError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn open_pulls_follows_every_page() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    for i in 0..130 {
        fake.add_pull(
            &format!("chartpilot/upgrade/dev/c-{i}"),
            &format!("pull {i}"),
        );
    }
    fake.merge_pull(7);
    fake.clear_requests();

    let pulls = host(&fake).open_pulls().await.unwrap();

    assert_eq!(pulls.len(), 129);
    assert!(pulls
        .iter()
        .all(|p| p.state == PullState::Open && p.number != 7));
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].query.contains("per_page=100") && calls[0].query.contains("state=open"));
    assert!(calls[1].query.contains("page=2"));
}

#[tokio::test]
async fn find_pull_asks_by_head_and_reports_merges() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let branch = "chartpilot/upgrade/prod/app-2.0.0";
    fake.add_pull("other", "other");
    let first = fake.add_pull(branch, "first try");
    fake.merge_pull(first);
    fake.clear_requests();
    let host = host(&fake);

    let found = host.find_pull(branch).await.unwrap().unwrap();

    assert_eq!((found.number, found.state), (first, PullState::Merged));
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .query
            .contains("head=acme%3Achartpilot%2Fupgrade%2Fprod%2Fapp-2.0.0"),
        "{}",
        calls[0].query
    );
    assert!(calls[0].query.contains("state=all"));
    assert_eq!(host.find_pull("never-opened").await.unwrap(), None);
}

#[tokio::test]
async fn close_pull_comments_then_closes() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let number = fake.add_pull("feature", "stale");
    fake.clear_requests();

    host(&fake)
        .close_pull(number, "Superseded by #9")
        .await
        .unwrap();

    assert_eq!(fake.comments(number), ["Superseded by #9"]);
    assert_eq!(fake.pull(number).state, "closed");
    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(
        calls,
        [
            format!("POST /repos/acme/gitops/issues/{number}/comments"),
            format!("PATCH /repos/acme/gitops/pulls/{number}")
        ]
    );
    let err = host(&fake).close_pull(999, "x").await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn contains_asks_the_compare_api_once() {
    let fake = FakeGithub::start().await;
    let first = sha(&fake.seed(&[("a.txt", "1\n")]));
    let second = sha(&fake.commit_files("main", &[("a.txt", "2\n")]));
    let side = sha(&fake.commit_files("side", &[("b.txt", "x\n")]));
    let gh = host(&fake);
    fake.clear_requests();
    assert!(gh.contains(&second, &first).await.unwrap());
    assert_eq!(fake.api_calls().len(), 1, "one call per question");
    assert!(gh.contains(&first, &first).await.unwrap());
    assert!(!gh.contains(&first, &second).await.unwrap());
    assert!(!gh.contains(&side, &second).await.unwrap());
    let unknown = sha(&"e".repeat(40));
    assert!(matches!(
        gh.contains(&unknown, &first).await,
        Err(GitError::NotFound(_))
    ));
}
