//! Against real temporary repositories made with the git CLI, bare and
//! checked out.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use super::LocalGit;
use crate::domain::CommitSha;
use crate::git::{FileChange, GitError, GitHost};
use crate::settings::{GitProvider, GitSettings};

/// Runs the git CLI as a person would, with a test identity.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .args([
            "-c",
            "user.name=Tester",
            "-c",
            "user.email=tester@example.org",
        ])
        .args([
            "-c",
            "commit.gpgSign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

pub(super) fn settings(path: &Path) -> GitSettings {
    GitSettings {
        provider: GitProvider::Local,
        path: path.to_path_buf(),
        repository: String::new(),
        branch: "main".into(),
        pulls_log: None,
    }
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A checked-out repository with a plain file, an executable, a nested
/// file, a symlink and a submodule entry, committed on `main`.
pub(super) fn checkout() -> (TempDir, LocalGit) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    write(root, "apps/dev/app.yaml", "targetRevision: 1.0.0\n");
    write(root, "bin/run.sh", "#!/bin/sh\necho hi\n");
    write(root, "README.md", "hello\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let run = root.join("bin/run.sh");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("README.md", root.join("link.md")).unwrap();
    }
    git(root, &["add", "-A"]);
    // An empty directory is how git shows a submodule not checked out.
    std::fs::create_dir_all(root.join("vendor/sub")).unwrap();
    // A submodule is only a gitlink in the tree; no real repository needed.
    let fake = format!("160000,{},vendor/sub", "a".repeat(40));
    git(root, &["update-index", "--add", "--cacheinfo", &fake]);
    git(root, &["commit", "-q", "-m", "initial"]);
    let local = LocalGit::open(&settings(root)).unwrap();
    (dir, local)
}

/// A bare clone of [`checkout`]'s repository.
pub(super) fn bare() -> (TempDir, LocalGit) {
    let (seed, _) = checkout();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("repo.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.path().to_str().unwrap(),
            "repo.git",
        ],
    );
    let local = LocalGit::open(&settings(&bare)).unwrap();
    (dir, local)
}

pub(super) async fn main_head(local: &LocalGit) -> CommitSha {
    local.branch_head("main").await.unwrap().unwrap()
}

pub(super) fn change(path: &str, content: &str) -> FileChange {
    FileChange {
        path: path.into(),
        content: content.as_bytes().to_vec(),
    }
}

/// Every file under `root`, relative, sorted.
pub(super) fn files_under(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn open_resolves_the_git_dir_and_default_pull_log() {
    let (dir, local) = checkout();
    let git_dir = dir.path().canonicalize().unwrap().join(".git");
    assert_eq!(local.git_dir().canonicalize().unwrap(), git_dir);
    assert_eq!(
        local.pulls_log(),
        local.git_dir().join("chartpilot/pulls.jsonl")
    );
    assert_eq!(local.base_branch(), "main");
    assert!(local.describe().starts_with("local:"));

    let (dir, local) = bare();
    let expected = dir.path().canonicalize().unwrap().join("repo.git");
    assert_eq!(local.git_dir().canonicalize().unwrap(), expected);
}

#[test]
fn open_refuses_a_directory_that_is_no_repository() {
    let dir = tempfile::tempdir().unwrap();
    let err = LocalGit::open(&settings(dir.path())).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitError::Refused(_)), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

#[tokio::test]
async fn snapshot_writes_the_regular_files_of_the_tree() {
    for (dir, local) in [checkout(), bare()] {
        let head = main_head(&local).await;
        let dest = tempfile::tempdir().unwrap();
        local.snapshot(&head, dest.path()).await.unwrap();
        // Symlink and submodule left out.
        assert_eq!(
            files_under(dest.path()),
            ["README.md", "apps/dev/app.yaml", "bin/run.sh"]
        );
        let repo = dir.path();
        let shown = git(
            repo,
            &[
                "--git-dir",
                local.git_dir().to_str().unwrap(),
                "show",
                "main:bin/run.sh",
            ],
        );
        assert_eq!(
            std::fs::read_to_string(dest.path().join("bin/run.sh"))
                .unwrap()
                .trim_end(),
            shown
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dest.path().join("bin/run.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111);
        }
    }
}

#[tokio::test]
async fn snapshot_and_read_file_of_an_unknown_commit_are_not_found() {
    let (_dir, local) = checkout();
    let missing = CommitSha::parse(&"b".repeat(40)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let err = local.snapshot(&missing, dest.path()).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
    let err = local.read_file(&missing, "README.md").await.unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn read_file_finds_files_only() {
    let (_dir, local) = checkout();
    let head = main_head(&local).await;
    let found = local.read_file(&head, "apps/dev/app.yaml").await.unwrap();
    assert_eq!(found.as_deref(), Some(&b"targetRevision: 1.0.0\n"[..]));
    assert_eq!(
        local.read_file(&head, "apps/prod/app.yaml").await.unwrap(),
        None
    );
    assert_eq!(local.read_file(&head, "apps").await.unwrap(), None);
    for bad in ["../etc/passwd", "/abs", ".git/config", "a//b"] {
        assert!(local.read_file(&head, bad).await.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn commit_changes_exactly_the_given_files_and_keeps_modes() {
    for (_dir, local) in [checkout(), bare()] {
        let parent = main_head(&local).await;
        let changes = [
            change("apps/dev/app.yaml", "targetRevision: 1.1.0\n"),
            change("bin/run.sh", "#!/bin/sh\necho bye\n"),
            change("apps/prod/app.yaml", "targetRevision: 1.1.0\n"),
        ];
        let sha = local
            .commit(&parent, "Bump app to 1.1.0", &changes)
            .await
            .unwrap();
        let gd = local.git_dir().to_str().unwrap().to_owned();
        let repo = local.git_dir();
        let at = |args: &[&str]| {
            let mut all = vec!["--git-dir", gd.as_str()];
            all.extend_from_slice(args);
            git(repo, &all)
        };
        let changed = at(&[
            "diff-tree",
            "-r",
            "--name-only",
            "--no-commit-id",
            parent.as_ref(),
            sha.as_ref(),
        ]);
        assert_eq!(changed, "apps/dev/app.yaml\napps/prod/app.yaml\nbin/run.sh");
        assert_eq!(at(&["rev-parse", &format!("{sha}^")]), parent.to_string());
        let modes = at(&["ls-tree", "-r", sha.as_ref()]);
        assert!(
            modes.contains("100755 blob") && modes.contains("\tbin/run.sh"),
            "{modes}"
        );
        let new_line = modes
            .lines()
            .find(|l| l.ends_with("apps/prod/app.yaml"))
            .unwrap();
        assert!(new_line.starts_with("100644 "), "{new_line}");
        assert!(modes.contains("120000 blob"), "symlink kept: {modes}");
        assert!(modes.contains("160000 commit"), "submodule kept: {modes}");
        let content = local.read_file(&sha, "bin/run.sh").await.unwrap().unwrap();
        assert_eq!(content, b"#!/bin/sh\necho bye\n");
        assert_eq!(
            at(&["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", sha.as_ref()]),
            "chartpilot <chartpilot@localhost>|chartpilot <chartpilot@localhost>|Bump app to 1.1.0"
        );
        // Moves no branch.
        assert_eq!(main_head(&local).await, parent);
    }
}

#[tokio::test]
async fn commit_uses_the_repository_identity_when_it_names_one() {
    let (dir, local) = checkout();
    git(dir.path(), &["config", "user.name", "Repo Bot"]);
    git(dir.path(), &["config", "user.email", "bot@example.org"]);
    let parent = main_head(&local).await;
    let sha = local
        .commit(&parent, "x", &[change("README.md", "x\n")])
        .await
        .unwrap();
    let who = git(
        dir.path(),
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>", sha.as_ref()],
    );
    assert_eq!(who, "Repo Bot <bot@example.org>|Repo Bot <bot@example.org>");
}

#[tokio::test]
async fn commit_refuses_unsafe_paths_and_unknown_parents() {
    let (_dir, local) = checkout();
    let parent = main_head(&local).await;
    for bad in [
        "../x",
        "/abs",
        ".git/config",
        "a/.GIT/x",
        "a//b",
        "a/./b",
        "a/",
        "",
        "a\nb",
    ] {
        let err = local
            .commit(&parent, "x", &[change(bad, "x")])
            .await
            .unwrap_err();
        assert!(matches!(err, GitError::Refused(_)), "{bad:?}: {err}");
    }
    let missing = CommitSha::parse(&"c".repeat(40)).unwrap();
    let err = local
        .commit(&missing, "x", &[change("a", "x")])
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn snapshot_refuses_a_tree_that_would_escape_dest() {
    let (dir, local) = checkout();
    let repo = dir.path();
    // git mktree takes names fsck would reject; a hostile repository can
    // hold such a tree.
    let blob = git(repo, &["hash-object", "-w", "README.md"]);
    let bad = run_with_stdin(repo, &["mktree"], &format!("100644 blob {blob}\t..\n"));
    let tree = run_with_stdin(repo, &["mktree"], &format!("040000 tree {bad}\tsub\n"));
    let sha = git(repo, &["commit-tree", &tree, "-m", "hostile"]);
    let sha = CommitSha::parse(&sha).unwrap();
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let err = local.snapshot(&sha, &dest).await.unwrap_err();
    assert!(
        matches!(err, GitError::Refused(ref m) if m.contains("`sub/..`")),
        "{err}"
    );
    assert_eq!(files_under(outer.path()), Vec::<String>::new());
}

fn run_with_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[tokio::test]
async fn history_follows_first_parents_and_changed_paths_list_what_a_step_changed() {
    let (dir, local) = checkout();
    let root = dir.path();
    let initial = main_head(&local).await;
    // A branch with two commits, merged with a merge commit; then a push.
    git(root, &["checkout", "-q", "-b", "feature"]);
    write(root, "apps/dev/app.yaml", "targetRevision: 1.1.0\n");
    git(root, &["commit", "-q", "-am", "bump app"]);
    write(root, "docs/new.md", "new\n");
    git(root, &["add", "docs/new.md"]);
    git(root, &["commit", "-q", "-m", "add docs"]);
    git(root, &["checkout", "-q", "main"]);
    git(
        root,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #7 from acme/feature",
            "feature",
        ],
    );
    let merge = main_head(&local).await;
    git(root, &["rm", "-q", "README.md"]);
    git(root, &["commit", "-q", "-m", "drop readme\n\nbody line"]);
    let head = main_head(&local).await;

    let since = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let steps = local.first_parent_history(&head, since).await.unwrap();
    let shas: Vec<&CommitSha> = steps.iter().map(|c| &c.sha).collect();
    assert_eq!(
        shas,
        [&head, &merge, &initial],
        "first parents only, newest first"
    );
    assert_eq!(steps[0].message, "drop readme\n\nbody line");
    assert_eq!(steps[1].parents.len(), 2);
    assert_eq!(steps[1].parents[0], initial);
    assert!(steps[2].parents.is_empty());
    // Since the epoch: everything (git guesses at a bare `--since=0`).
    for _ in 0..3 {
        let all = local
            .first_parent_history(&head, chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
    }
    let future = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    assert!(local
        .first_parent_history(&head, future)
        .await
        .unwrap()
        .is_empty());

    let changed = local.changed_paths(&initial, &merge).await.unwrap();
    let got: Vec<(&str, crate::git::ChangeKind)> =
        changed.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(
        got,
        [
            ("apps/dev/app.yaml", crate::git::ChangeKind::Modified),
            ("docs/new.md", crate::git::ChangeKind::Added),
        ]
    );
    let removed = local.changed_paths(&merge, &head).await.unwrap();
    assert_eq!(removed[0].path, "README.md");
    assert_eq!(removed[0].kind, crate::git::ChangeKind::Removed);
    let unknown = CommitSha::parse(&"b".repeat(40)).unwrap();
    assert!(matches!(
        local.changed_paths(&unknown, &head).await,
        Err(GitError::NotFound(_))
    ));
}
