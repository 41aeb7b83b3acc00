//! History through the REST API: the first-parent line from one commit
//! listing, changed paths from one comparison, and the merged pull request
//! of a commit.

use chartpilot::domain::CommitSha;
use chartpilot::git::{ChangeKind, ChangedPath, GitError, GitHost, NewPull};

use super::support::fake_github::FakeGithub;
use super::{host, sha};

/// A base branch with a direct push and a merged pull request:
///
/// ```text
/// main:    root ── pushed ─────────────── merge (#1)
///                     └─ added ── modified ── removed   (feature)
/// ```
struct Merged {
    root: String,
    pushed: String,
    removed: String,
    merge: String,
    number: u64,
}

fn merged_pull(fake: &FakeGithub) -> Merged {
    let root = fake.seed(&[("a.yaml", "1\n"), ("old.yaml", "o\n")]);
    let pushed = fake.commit_files("main", &[("a.yaml", "2\n")]);
    fake.set_branch("feature", &pushed);
    fake.commit_files("feature", &[("c.yaml", "new\n")]);
    fake.commit_files("feature", &[("a.yaml", "3\n")]);
    let removed = fake.delete_files("feature", &["old.yaml"]);
    let number = fake.add_pull("feature", "Add c");
    let merge = fake.merge_into_base(number);
    Merged {
        root,
        pushed,
        removed,
        merge,
        number,
    }
}

fn changed(path: &str, kind: ChangeKind) -> ChangedPath {
    ChangedPath {
        path: path.to_owned(),
        kind,
    }
}

#[tokio::test]
async fn first_parent_history_walks_the_base_branch_in_one_call() {
    let fake = FakeGithub::start().await;
    let m = merged_pull(&fake);
    let gh = host(&fake);
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    fake.clear_requests();

    let line = gh
        .first_parent_history(&sha(&m.merge), since)
        .await
        .unwrap();

    let shas: Vec<&CommitSha> = line.iter().map(|c| &c.sha).collect();
    assert_eq!(shas, [&sha(&m.merge), &sha(&m.pushed), &sha(&m.root)]);
    assert_eq!(line[0].parents, [sha(&m.pushed), sha(&m.removed)]);
    assert_eq!(line[1].parents, [sha(&m.root)]);
    assert!(line[2].parents.is_empty());
    assert_eq!(
        line[0].message,
        format!(
            "Merge pull request #{} from acme/feature\n\nAdd c",
            m.number
        )
    );
    assert_eq!(line[1].message, "seed");
    let now = chrono::Utc::now();
    for c in &line {
        assert!(
            c.committed_at >= since - chrono::Duration::seconds(1) && c.committed_at <= now,
            "{c:?}"
        );
    }
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 1, "one listing: {calls:?}");
    assert_eq!(calls[0].line(), "GET /repos/acme/gitops/commits");
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(&calls[0].query).unwrap();
    assert_eq!(query["sha"], m.merge);
    assert_eq!(query["per_page"], "100");
    assert_eq!(
        query["since"],
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    // From a branch commit the line is the branch's own.
    let from_branch = gh
        .first_parent_history(&sha(&m.removed), since)
        .await
        .unwrap();
    assert_eq!(from_branch.len(), 5, "{from_branch:?}");
    assert_eq!(from_branch[3].sha, sha(&m.pushed));

    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        gh.first_parent_history(&sha(&m.merge), future)
            .await
            .unwrap(),
        []
    );
    let unknown = sha(&"e".repeat(40));
    let err = gh.first_parent_history(&unknown, since).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn changed_paths_reads_one_comparison_sorted() {
    let fake = FakeGithub::start().await;
    let m = merged_pull(&fake);
    let gh = host(&fake);
    fake.clear_requests();

    let merged = gh
        .changed_paths(&sha(&m.pushed), &sha(&m.merge))
        .await
        .unwrap();

    assert_eq!(
        merged,
        [
            changed("a.yaml", ChangeKind::Modified),
            changed("c.yaml", ChangeKind::Added),
            changed("old.yaml", ChangeKind::Removed),
        ]
    );
    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(
        calls,
        [format!(
            "GET /repos/acme/gitops/compare/{}...{}",
            m.pushed, m.merge
        )]
    );
    assert_eq!(
        gh.changed_paths(&sha(&m.root), &sha(&m.pushed))
            .await
            .unwrap(),
        [changed("a.yaml", ChangeKind::Modified)]
    );
    assert_eq!(
        gh.changed_paths(&sha(&m.merge), &sha(&m.merge))
            .await
            .unwrap(),
        []
    );
    // The compare API would list nothing here (the merge base is `to`):
    // refused rather than wrong.
    let err = gh
        .changed_paths(&sha(&m.merge), &sha(&m.pushed))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Refused(_)), "{err:?}");
    let unknown = sha(&"e".repeat(40));
    let err = gh
        .changed_paths(&unknown, &sha(&m.merge))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn changed_paths_refuses_a_comparison_github_cuts_at_300_files() {
    let fake = FakeGithub::start().await;
    let root = fake.seed(&[("README.md", "hi\n")]);
    let names: Vec<String> = (0..300).map(|i| format!("f/{i:03}.yaml")).collect();
    let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x\n")).collect();
    let just_under = fake.commit_files("main", &files[..299]);
    let at_limit = fake.commit_files("main", &files[299..]);
    let gh = host(&fake);

    let listed = gh
        .changed_paths(&sha(&root), &sha(&just_under))
        .await
        .unwrap();
    assert_eq!(listed.len(), 299);
    assert_eq!(listed[0], changed("f/000.yaml", ChangeKind::Added));
    assert_eq!(listed[298], changed("f/298.yaml", ChangeKind::Added));

    let err = gh
        .changed_paths(&sha(&root), &sha(&at_limit))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GitError::Refused(why) if why.contains("too large")),
        "{err:?}"
    );
}

#[tokio::test]
async fn pull_of_commit_names_only_a_pull_merged_into_the_base_branch() {
    let fake = FakeGithub::start().await;
    let m = merged_pull(&fake);
    // An open pull request whose head is the commit asked about.
    fake.set_branch("open-work", &m.merge);
    let open_head = fake.commit_files("open-work", &[("d.yaml", "d\n")]);
    fake.add_pull("open-work", "Not merged");
    // A pull request merged into another branch.
    fake.set_branch("staging", &m.merge);
    fake.set_branch("to-staging", &m.merge);
    fake.commit_files("to-staging", &[("e.yaml", "e\n")]);
    let gh = host(&fake);
    let elsewhere = gh
        .create_pull(&NewPull {
            head: "to-staging".to_owned(),
            base: "staging".to_owned(),
            title: "To staging".to_owned(),
            body: String::new(),
            labels: Vec::new(),
        })
        .await
        .unwrap();
    let staging_merge = fake.merge_into_base(elsewhere.number);
    fake.clear_requests();

    assert_eq!(
        gh.pull_of_commit(&sha(&m.merge)).await.unwrap(),
        Some(m.number)
    );
    let calls: Vec<String> = fake.api_calls().iter().map(|r| r.line()).collect();
    assert_eq!(
        calls,
        [format!("GET /repos/acme/gitops/commits/{}/pulls", m.merge)]
    );
    assert_eq!(gh.pull_of_commit(&sha(&m.pushed)).await.unwrap(), None);
    assert_eq!(gh.pull_of_commit(&sha(&open_head)).await.unwrap(), None);
    assert_eq!(gh.pull_of_commit(&sha(&staging_merge)).await.unwrap(), None);
    assert_eq!(
        gh.pull_of_commit(&sha(&"e".repeat(40))).await.unwrap(),
        None
    );
    // An unknown commit is GitHub's 422, read as no pull request.
    let statuses: Vec<u16> = fake.api_calls().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 422]);
    // GitHub does list the open and the staging pull requests for their
    // commits: the filter, not an empty answer, left them out.
    for (commit, number) in [(&open_head, 2), (&staging_merge, elsewhere.number)] {
        let listed = raw_pulls_of(&fake, commit).await;
        assert_eq!(listed, [number], "{commit}");
    }
}

/// The numbers `GET commits/{sha}/pulls` answers, asked directly.
async fn raw_pulls_of(fake: &FakeGithub, commit: &str) -> Vec<u64> {
    let reply = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/gitops/commits/{commit}/pulls",
            fake.url
        ))
        .bearer_auth(&fake.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
    body.as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect()
}

/// The branch's tarball names its commit (the pax header `git archive`
/// writes): one call for the files and the commit. A tarball without it
/// is read again by the branch's ref.
#[tokio::test]
async fn snapshot_branch_takes_the_commit_from_the_tarball() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a.yaml", "1\n")]);
    let head = fake.commit_files("main", &[("b/c.yaml", "2\n")]);
    let gh = host(&fake);
    for plain in [false, true] {
        if plain {
            fake.serve_plain_tarballs();
        }
        fake.clear_requests();
        let dir = tempfile::tempdir().unwrap();
        let got = gh.snapshot_branch("main", dir.path()).await.unwrap();
        assert_eq!(got, Some(sha(&head)), "plain: {plain}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b/c.yaml")).unwrap(),
            "2\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let calls: Vec<String> = fake.api_calls().iter().map(|c| c.line()).collect();
        let want: &[&str] = if plain {
            &[
                "GET /repos/acme/gitops/tarball/main",
                "GET /repos/acme/gitops/git/ref/heads/main",
                &format!("GET /repos/acme/gitops/tarball/{head}"),
            ]
        } else {
            &["GET /repos/acme/gitops/tarball/main"]
        };
        assert_eq!(calls, want, "plain: {plain}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(gh.snapshot_branch("gone", dir.path()).await.unwrap(), None);
}
