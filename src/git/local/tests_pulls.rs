//! The pull log: contract fields, last line wins, crash tolerance, and
//! concurrent writers in one process and across instances.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures_util::future::join_all;

use super::tests::{checkout, main_head, settings};
use super::LocalGit;
use crate::clock::FixedClock;
use crate::git::{GitError, GitHost, NewPull, PullState};

fn new_pull(head: &str) -> NewPull {
    NewPull {
        head: head.into(),
        base: "main".into(),
        title: format!("Upgrade {head}"),
        body: "Because.".into(),
        labels: vec!["chartpilot".into()],
    }
}

/// `count` branches named `b0`, `b1`… at main's head.
async fn branches(local: &LocalGit, count: usize) -> Vec<String> {
    let head = main_head(local).await;
    let mut names = Vec::new();
    for i in 0..count {
        let name = format!("b{i}");
        local.create_branch(&name, &head).await.unwrap();
        names.push(name);
    }
    names
}

fn log_lines(local: &LocalGit) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(local.pulls_log()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn pull_lines_hold_exactly_the_contract_fields() {
    let (_dir, local) = checkout();
    branches(&local, 1).await;
    let pull = local.create_pull(&new_pull("b0")).await.unwrap();
    assert_eq!(
        (pull.number, pull.state, pull.url.clone()),
        (1, PullState::Open, None)
    );
    let lines = log_lines(&local);
    assert_eq!(lines.len(), 1);
    let keys: BTreeSet<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = ["base", "body", "head", "labels", "number", "state", "title"];
    assert_eq!(keys, expected.into_iter().collect());
    assert_eq!(lines[0]["state"], "open");
    assert_eq!(lines[0]["labels"], serde_json::json!(["chartpilot"]));
}

#[tokio::test]
async fn the_last_line_for_a_number_wins() {
    let (_dir, local) = checkout();
    let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    let local = local.with_clock(Arc::new(FixedClock(at)));
    branches(&local, 2).await;
    let first = local.create_pull(&new_pull("b0")).await.unwrap();
    let second = local.create_pull(&new_pull("b1")).await.unwrap();
    assert_eq!(second.number, 2);
    local
        .update_pull(first.number, "New title", "New body")
        .await
        .unwrap();
    // Repeating an update appends nothing.
    local
        .update_pull(first.number, "New title", "New body")
        .await
        .unwrap();
    local.comment(first.number, "Note").await.unwrap();
    local
        .close_pull(first.number, "Superseded by #2")
        .await
        .unwrap();
    assert_eq!(log_lines(&local).len(), 4);

    let found = local.find_pull("b0").await.unwrap().unwrap();
    assert_eq!(
        (found.title.as_str(), found.body.as_str()),
        ("New title", "New body")
    );
    assert_eq!(found.state, PullState::Closed);
    let open: Vec<u64> = local
        .open_pulls()
        .await
        .unwrap()
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(open, [2]);

    let comments =
        std::fs::read_to_string(local.pulls_log().with_file_name("comments.jsonl")).unwrap();
    let comments: Vec<serde_json::Value> = comments
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1]["number"], 1);
    assert_eq!(comments[1]["body"], "Superseded by #2");
    assert_eq!(comments[1]["created_at"], "2024-05-01T12:00:00Z");

    let err = local.comment(99, "x").await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
    let err = local.update_pull(99, "x", "y").await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn a_truncated_last_line_is_skipped() {
    let (_dir, local) = checkout();
    branches(&local, 2).await;
    local.create_pull(&new_pull("b0")).await.unwrap();
    // A crash in the middle of writing pull request #2.
    let mut text = std::fs::read_to_string(local.pulls_log()).unwrap();
    text.push_str(r#"{"number":2,"head":"b1","ba"#);
    std::fs::write(local.pulls_log(), text).unwrap();

    assert_eq!(local.open_pulls().await.unwrap().len(), 1);
    let pull = local.create_pull(&new_pull("b1")).await.unwrap();
    assert_eq!(pull.number, 2);
    // The new line starts on a line of its own and reads back.
    let text = std::fs::read_to_string(local.pulls_log()).unwrap();
    assert!(text.ends_with("\n"), "{text}");
    let open: Vec<u64> = local
        .open_pulls()
        .await
        .unwrap()
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(open, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_get_distinct_numbers() {
    let (dir, local) = checkout();
    // A second instance has its own mutex: only the file lock orders them.
    let other = LocalGit::open(&settings(dir.path())).unwrap();
    let heads = branches(&local, 12).await;
    let calls = heads.iter().enumerate().map(|(i, head)| {
        let host = if i % 2 == 0 { &local } else { &other };
        async move { host.create_pull(&new_pull(head)).await.unwrap().number }
    });
    let numbers: BTreeSet<u64> = join_all(calls).await.into_iter().collect();
    assert_eq!(numbers, (1..=12).collect());
    assert_eq!(log_lines(&local).len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_head_never_gets_two_open_pulls() {
    let (_dir, local) = checkout();
    branches(&local, 1).await;
    let pull = new_pull("b0");
    let calls = (0..6).map(|_| local.create_pull(&pull));
    let results = join_all(calls).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for err in results.into_iter().filter_map(Result::err) {
        assert!(
            matches!(err, GitError::Refused(ref m) if m.contains("already open")),
            "{err}"
        );
    }
    assert_eq!(local.open_pulls().await.unwrap().len(), 1);

    // Once closed, the branch may be proposed again, under a new number.
    local.close_pull(1, "").await.unwrap();
    let again = local.create_pull(&new_pull("b0")).await.unwrap();
    assert_eq!(again.number, 2);
    assert_eq!(local.find_pull("b0").await.unwrap().unwrap().number, 2);
    assert_eq!(local.find_pull("b9").await.unwrap(), None);
}

#[tokio::test]
async fn create_pull_needs_both_branches() {
    let (_dir, local) = checkout();
    let err = local.create_pull(&new_pull("absent")).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
    assert!(!local.pulls_log().exists());
    assert!(local.open_pulls().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_pull_log_path_can_be_configured() {
    let (dir, _) = checkout();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut config = settings(dir.path());
    config.pulls_log = Some(elsewhere.path().join("state/pulls.jsonl"));
    let local = LocalGit::open(&config).unwrap();
    branches(&local, 1).await;
    local.create_pull(&new_pull("b0")).await.unwrap();
    local.comment(1, "hi").await.unwrap();
    assert!(elsewhere.path().join("state/pulls.jsonl").is_file());
    assert!(elsewhere.path().join("state/comments.jsonl").is_file());
    assert!(!local.git_dir().join("chartpilot").exists());
}

#[tokio::test]
async fn comments_read_back_per_pull_and_comment_once_says_its_piece_once() {
    let (_dir, local) = checkout();
    let names = branches(&local, 2).await;
    let a = local
        .create_pull(&new_pull(&names[0]))
        .await
        .unwrap()
        .number;
    let b = local
        .create_pull(&new_pull(&names[1]))
        .await
        .unwrap()
        .number;
    assert!(local.comments(a).await.unwrap().is_empty());
    local.comment(a, "first").await.unwrap();
    local.comment(b, "other").await.unwrap();
    assert_eq!(local.comments(a).await.unwrap(), ["first"]);

    let wrote = crate::git::comment_once(&local, a, "k-1", "gave up")
        .await
        .unwrap();
    assert!(wrote);
    let again = crate::git::comment_once(&local, a, "k-1", "gave up")
        .await
        .unwrap();
    assert!(!again, "the same key writes nothing");
    let other = crate::git::comment_once(&local, a, "k-2", "gave up")
        .await
        .unwrap();
    assert!(other, "another key writes");
    let all = local.comments(a).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], "gave up\n\n<!-- chartpilot:k-1 -->");
}

#[tokio::test]
async fn a_recorded_merge_names_its_commit_once() {
    let (_dir, local) = checkout();
    branches(&local, 1).await;
    let pull = local.create_pull(&new_pull("b0")).await.unwrap();
    let head = main_head(&local).await;
    local.record_merge(pull.number, &head).await.unwrap();
    // A repeated record (a resent push) adds no line.
    local.record_merge(pull.number, &head).await.unwrap();
    let lines = log_lines(&local);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["state"], "merged");
    assert_eq!(lines[1]["merge_commit"], head.to_string());
    assert!(lines[1]["merged_at"].is_string());
    let closed = local.recently_closed_pulls().await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].state, PullState::Merged);
    assert_eq!(closed[0].merge_commit.as_ref(), Some(&head));
    assert!(local.open_pulls().await.unwrap().is_empty());
}
