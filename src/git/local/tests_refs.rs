//! Branches against real repositories: created once, moved only forward,
//! never past a concurrent writer; and the checkout left as a person left it.

use std::path::Path;

use super::refs;
use super::tests::{bare, change, checkout, files_under, git, main_head};
use crate::domain::CommitSha;
use crate::git::{GitError, GitHost, NewPull};

#[tokio::test]
async fn branch_head_reads_branches() {
    let (dir, local) = checkout();
    let head = main_head(&local).await;
    assert_eq!(head.to_string(), git(dir.path(), &["rev-parse", "main"]));
    assert_eq!(local.branch_head("nope").await.unwrap(), None);
    for bad in ["", "-x", "a..b", "@{-1}", "a b", "x.lock"] {
        let err = local.branch_head(bad).await.unwrap_err();
        assert!(matches!(err, GitError::Refused(_)), "{bad}: {err}");
    }
}

fn fingerprint(root: &Path) -> (String, Vec<u8>, Vec<u8>, Vec<String>) {
    // Files first: `git status` may rewrite the index to refresh stat data.
    let head = std::fs::read(root.join(".git/HEAD")).unwrap();
    let index = std::fs::read(root.join(".git/index")).unwrap();
    let mut files = files_under(root);
    files.retain(|f| !f.starts_with(".git"));
    let status = git(root, &["status", "--porcelain", "--ignored"]);
    (status, head, index, files)
}

#[tokio::test]
async fn work_tree_and_index_stay_untouched() {
    let (dir, local) = checkout();
    let before = fingerprint(dir.path());
    assert_eq!(before.0, "");
    let parent = main_head(&local).await;
    let sha = local
        .commit(
            &parent,
            "x",
            &[change("README.md", "changed\n"), change("new.txt", "n\n")],
        )
        .await
        .unwrap();
    local
        .create_branch("chartpilot/upgrade/dev/app-1.1.0", &sha)
        .await
        .unwrap();
    let next = local
        .commit(&sha, "y", &[change("README.md", "again\n")])
        .await
        .unwrap();
    local
        .update_branch("chartpilot/upgrade/dev/app-1.1.0", &next)
        .await
        .unwrap();
    local.update_branch("main", &next).await.unwrap();
    let pull = NewPull {
        head: "chartpilot/upgrade/dev/app-1.1.0".into(),
        base: "main".into(),
        title: "t".into(),
        body: "b".into(),
        labels: vec![],
    };
    local.create_pull(&pull).await.unwrap();
    let dest = tempfile::tempdir().unwrap();
    local.snapshot(&next, dest.path()).await.unwrap();
    // Moving the checked-out branch changes what HEAD resolves to, but not
    // the HEAD file, the index or a single file of the work tree.
    let after = fingerprint(dir.path());
    assert_eq!(
        (&after.1, &after.2, &after.3),
        (&before.1, &before.2, &before.3)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "hello\n"
    );
}

#[tokio::test]
async fn status_stays_clean_when_no_checked_out_branch_moves() {
    let (dir, local) = checkout();
    let parent = main_head(&local).await;
    let sha = local
        .commit(&parent, "x", &[change("README.md", "changed\n")])
        .await
        .unwrap();
    local.create_branch("feature", &sha).await.unwrap();
    assert_eq!(git(dir.path(), &["status", "--porcelain", "--ignored"]), "");
}

#[tokio::test]
async fn create_branch_twice_is_branch_exists() {
    for (_dir, local) in [checkout(), bare()] {
        let head = main_head(&local).await;
        local
            .create_branch("chartpilot/revert/x", &head)
            .await
            .unwrap();
        assert_eq!(
            local.branch_head("chartpilot/revert/x").await.unwrap(),
            Some(head.clone())
        );
        let err = local
            .create_branch("chartpilot/revert/x", &head)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GitError::BranchExists(ref b) if b == "chartpilot/revert/x"),
            "{err}"
        );
        let err = local.create_branch("bad..name", &head).await.unwrap_err();
        assert!(matches!(err, GitError::Refused(_)), "{err}");
        let missing = CommitSha::parse(&"d".repeat(40)).unwrap();
        let err = local.create_branch("other", &missing).await.unwrap_err();
        assert!(matches!(err, GitError::NotFound(_)), "{err}");
    }
}

#[tokio::test]
async fn update_branch_only_fast_forwards() {
    let (_dir, local) = checkout();
    let base = main_head(&local).await;
    let a = local.commit(&base, "a", &[change("a", "a")]).await.unwrap();
    let b = local.commit(&a, "b", &[change("b", "b")]).await.unwrap();
    let side = local
        .commit(&base, "side", &[change("s", "s")])
        .await
        .unwrap();
    local.create_branch("work", &a).await.unwrap();
    local.update_branch("work", &b).await.unwrap();
    assert_eq!(local.branch_head("work").await.unwrap(), Some(b.clone()));
    // Same commit again: nothing to do, no error.
    local.update_branch("work", &b).await.unwrap();
    let err = local.update_branch("work", &side).await.unwrap_err();
    assert!(matches!(err, GitError::NotFastForward(_)), "{err}");
    let err = local.update_branch("work", &a).await.unwrap_err();
    assert!(
        matches!(err, GitError::NotFastForward(_)),
        "backwards: {err}"
    );
    assert_eq!(local.branch_head("work").await.unwrap(), Some(b));
    let err = local.update_branch("absent", &a).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn update_branch_detects_a_concurrent_move() {
    let (dir, local) = checkout();
    let base = main_head(&local).await;
    let a = local.commit(&base, "a", &[change("a", "a")]).await.unwrap();
    let b = local.commit(&a, "b", &[change("b", "b")]).await.unwrap();
    local.create_branch("work", &base).await.unwrap();
    // Someone else moves the branch after chartpilot read `base` as its head.
    git(dir.path(), &["update-ref", "refs/heads/work", a.as_ref()]);
    let err = refs::swap_branch(&local.git, "work", &b, &base)
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::NotFastForward(_)), "{err}");
    assert_eq!(local.branch_head("work").await.unwrap(), Some(a));
}

#[tokio::test]
async fn branches_lists_those_under_a_prefix() {
    let (_dir, local) = checkout();
    let head = main_head(&local).await;
    for b in [
        "chartpilot/upgrade/dev/a-1.0.0",
        "chartpilot/upgrade/any/b-2.0.0",
        "chartpilot/revert/x",
        "chartpilot-upgrade-lookalike",
    ] {
        local.create_branch(b, &head).await.unwrap();
    }
    let mut found = local.branches("chartpilot/upgrade/").await.unwrap();
    found.sort();
    assert_eq!(
        found,
        [
            "chartpilot/upgrade/any/b-2.0.0",
            "chartpilot/upgrade/dev/a-1.0.0"
        ]
    );
    assert!(local.branches("nothing/").await.unwrap().is_empty());
}

#[tokio::test]
async fn contains_follows_history_one_way() {
    let (_dir, local) = checkout();
    let first = main_head(&local).await;
    let second = local
        .commit(&first, "next", &[change("later.txt", "x\n")])
        .await
        .unwrap();
    assert!(local.contains(&second, &first).await.unwrap());
    assert!(local.contains(&first, &first).await.unwrap());
    assert!(!local.contains(&first, &second).await.unwrap());
    let unknown = CommitSha::parse(&"e".repeat(40)).unwrap();
    assert!(matches!(
        local.contains(&unknown, &first).await,
        Err(GitError::NotFound(_))
    ));
}
