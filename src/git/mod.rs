//! The git host chartpilot changes the GitOps repository through: GitHub
//! (octocrab, Git Data API, no clone) or a local repository changed only
//! through git plumbing. One trait, so upgrade, promotion and revert code
//! runs unchanged against either.

pub mod check;
pub mod github;
pub mod local;
pub mod revert_pull;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::CommitSha;

pub use check::{CheckReport, PullChanges};
pub use revert_pull::{RevertOpened, RevertWrite, Tell};

/// One file written by a commit (created or replaced), path relative to the
/// repository root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub content: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullState {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: PullState,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Where a person opens it (GitHub's `html_url`); None for local.
    #[serde(default)]
    pub url: Option<String>,
    /// The commit the merge made on the base branch (GitHub's
    /// `merge_commit_sha` once merged: the merge, squash or last rebased
    /// commit). None while open, and on the local host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<CommitSha>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One commit as history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: CommitSha,
    /// First parent first; empty for a root commit.
    pub parents: Vec<CommitSha>,
    pub message: String,
    /// The committer date. For merge, squash and rebase merges it is when
    /// the change reached the branch.
    pub committed_at: chrono::DateTime<chrono::Utc>,
}

/// A file's contents `(at a commit, at its first parent)`; None: absent.
pub type BeforeAfter = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A first-parent commit that changed some of the paths asked about (see
/// [`GitHost::path_steps`]), with their contents at the commit and at its
/// first parent (None: the path is absent there).
#[derive(Debug, Clone)]
pub struct PathStep {
    pub commit: CommitInfo,
    pub parent: CommitSha,
    /// Only the asked paths this commit changed.
    pub contents: std::collections::BTreeMap<String, BeforeAfter>,
    /// The step's pull requests when the host read them with the history
    /// (see `pulls_of` of [`GitHost::path_steps`]); None: not read, ask.
    pub pulls: Option<StepPulls>,
}

/// The pull requests of a [`PathStep`].
#[derive(Debug, Clone, Default)]
pub struct StepPulls {
    /// The newest pull request in any state whose head is the asked prefix
    /// followed by the step's full id, in the repository itself.
    pub by_branch: Option<PullRequest>,
    /// The merged pull request that brought the step.
    pub origin: Option<OriginPull>,
}

/// A merged pull request, with its newest comments (oldest first) when
/// they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPull {
    pub number: u64,
    pub comments: Option<Vec<String>>,
}

/// How a path differs between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedPath {
    pub path: String,
    pub kind: ChangeKind,
}

/// What [`GitHost::create_pull`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPull {
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("branch `{0}` already exists")]
    BranchExists(String),
    #[error("branch `{0}` moved to a commit that is not an ancestor of the new one; not forcing")]
    NotFastForward(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The host asked to wait; the job is retried after at least this long.
    #[error("rate limited by the git host; retry in {0:?}")]
    RateLimited(Duration),
    /// Network trouble or a 5xx: worth retrying.
    #[error("git host unavailable: {0}")]
    Unavailable(String),
    /// Bad credentials, missing permission, a broken repository: a person
    /// has to act, retrying will not help.
    #[error("git host refused: {0}")]
    Refused(String),
}

impl GitError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, GitError::RateLimited(_) | GitError::Unavailable(_))
    }
}

#[async_trait]
pub trait GitHost: Send + Sync {
    /// `github:owner/name` or `local:/path`, for logs and CLI output.
    fn describe(&self) -> String;

    /// The branch pull requests target (`git.branch`).
    fn base_branch(&self) -> &str;

    /// The commit a branch points at, or None when there is no such branch.
    async fn branch_head(&self, branch: &str) -> Result<Option<CommitSha>, GitError>;

    /// The branches whose names start with `prefix`: one call for a whole
    /// pass, so existing work is known before anything is written.
    async fn branches(&self, prefix: &str) -> Result<Vec<String>, GitError>;

    /// Whether `descendant` contains `ancestor`: the same commit, or one
    /// with it in its history (has Argo CD deployed a revision that
    /// includes a merge?).
    async fn contains(
        &self,
        descendant: &CommitSha,
        ancestor: &CommitSha,
    ) -> Result<bool, GitError>;

    /// Writes every file of the tree at `rev` under `dest` (an existing,
    /// empty directory). Symlinks and submodules are skipped.
    async fn snapshot(&self, rev: &CommitSha, dest: &Path) -> Result<(), GitError>;

    /// The commit `branch` points at, with its tree written under `dest`
    /// as [`GitHost::snapshot`] writes it; None when there is no such
    /// branch. By default the branch's ref, then the snapshot; a host may
    /// answer both in one request (GitHub: the tarball of the branch, which
    /// names its commit).
    async fn snapshot_branch(
        &self,
        branch: &str,
        dest: &Path,
    ) -> Result<Option<CommitSha>, GitError> {
        let Some(sha) = self.branch_head(branch).await? else {
            return Ok(None);
        };
        self.snapshot(&sha, dest).await?;
        Ok(Some(sha))
    }

    /// One file at `rev`, or None when it does not exist there.
    async fn read_file(&self, rev: &CommitSha, path: &str) -> Result<Option<Vec<u8>>, GitError>;

    /// Makes one commit whose parent is `parent` and whose tree is the
    /// parent's with `changes` written; moves no branch.
    async fn commit(
        &self,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError>;

    /// Commits `changes` on `parent` and moves `branch`, whose head must
    /// still be `parent`, to it: never forces ([`GitError::NotFastForward`]
    /// when the branch moved). By default [`GitHost::commit`] then
    /// [`GitHost::update_branch`]; GitHub in one mutation
    /// (`createCommitOnBranch`, a commit GitHub signs).
    async fn push_commit(
        &self,
        branch: &str,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        push_commit_by_calls(self, branch, parent, message, changes).await
    }

    /// A commit whose tree is `base`'s with `changes` written and whose
    /// parents are `branch_head` and `base`: it brings a branch up to its
    /// base without force, and the branch's diff against the base stays
    /// `changes` alone.
    async fn merge_commit(
        &self,
        branch_head: &CommitSha,
        base: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError>;

    /// The first-parent line of `head` back to `since` (by committer
    /// date), newest first: the states the branch went through, one per
    /// merge, squash, rebase or push. At most 100 commits.
    async fn first_parent_history(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CommitInfo>, GitError>;

    /// The first-parent commits of `head` back to `since` (at most 100, as
    /// [`GitHost::first_parent_history`]) that changed any of `paths`,
    /// newest first, each with those paths' contents at the commit and at
    /// its first parent. By default a comparison per commit and a read per
    /// changed path; a host may answer it in fewer requests (GitHub: two
    /// GraphQL queries, whatever the number of commits).
    ///
    /// `pulls_of`: a branch prefix; a host that can read them in the same
    /// requests also gives each step's [`StepPulls`] (the PR whose head is
    /// the prefix and the step's id, the PR that brought the step). The
    /// default leaves them None.
    async fn path_steps(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
        paths: &[String],
        _pulls_of: Option<&str>,
    ) -> Result<Vec<PathStep>, GitError> {
        path_steps_by_reads(self, head, since, paths).await
    }

    /// The files that differ between two commits, sorted by path; a rename
    /// is a removal and an addition.
    async fn changed_paths(
        &self,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Vec<ChangedPath>, GitError>;

    /// The merged pull request that brought `sha` to the base branch, when
    /// the host can tell (GitHub); None otherwise.
    async fn pull_of_commit(&self, sha: &CommitSha) -> Result<Option<u64>, GitError>;

    /// Creates `branch` at `sha`; [`GitError::BranchExists`] if it exists.
    async fn create_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError>;

    /// Moves `branch` to `sha`, which must descend from its current head:
    /// never forces ([`GitError::NotFastForward`] otherwise).
    async fn update_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError>;

    /// Every open pull request whose head branch lives in the repository
    /// itself (never one from a fork, whatever its branch is called).
    async fn open_pulls(&self) -> Result<Vec<PullRequest>, GitError>;

    /// Pull requests closed or merged most recently (GitHub: the first page
    /// by last update), heads in the repository itself: one call that
    /// tells which upgrades a person declined even after the branch was
    /// deleted.
    async fn recently_closed_pulls(&self) -> Result<Vec<PullRequest>, GitError>;

    /// The newest pull request, in any state, whose head is `branch` of
    /// the repository itself.
    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>, GitError>;

    /// Opens a pull request with its labels.
    async fn create_pull(&self, new: &NewPull) -> Result<PullRequest, GitError>;

    /// Replaces an open pull request's title and body.
    async fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<(), GitError>;

    /// Adds labels a pull request lacks (GitHub creates unknown labels).
    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GitError>;

    /// Opens a revert PR: `w.changes` committed on `w.parent`, on the new
    /// branch `w.pull.head`, the pull request with its labels, then the
    /// comment of `w.tell` once. By default in single calls
    /// ([`revert_pull::open_revert_by_calls`]); GitHub in two GraphQL
    /// mutations.
    async fn open_revert(&self, w: &RevertWrite<'_>) -> Result<RevertOpened, GitError> {
        revert_pull::open_revert_by_calls(self, w).await
    }

    /// Comments on a pull request (or issue).
    async fn comment(&self, number: u64, body: &str) -> Result<(), GitError>;

    /// The bodies of a pull request's comments, oldest first (GitHub: the
    /// first page and the newest pages, up to a bound).
    async fn comments(&self, number: u64) -> Result<Vec<String>, GitError>;

    /// Reacts to an issue comment (`eyes` on receipt of a command). Hosts
    /// without reactions do nothing.
    async fn react(&self, comment_id: u64, reaction: &str) -> Result<(), GitError>;

    /// Whether `user` is an active member of GitHub team `org/slug`;
    /// false on hosts without teams.
    async fn team_member(&self, team: &str, user: &str) -> Result<bool, GitError>;

    /// `user`'s permission on the repository (`none` on hosts without
    /// people).
    async fn permission(&self, user: &str) -> Result<crate::settings::RepoPermission, GitError>;

    /// Closes a pull request without merging, after commenting `comment`.
    async fn close_pull(&self, number: u64, comment: &str) -> Result<(), GitError>;

    /// The oldest open issue labelled `label` whose body holds `marker`
    /// (the dashboard). The local host keeps one file instead.
    async fn find_issue(&self, label: &str, marker: &str) -> Result<Option<Issue>, GitError>;

    /// Opens an issue (not a pull request); returns its number.
    async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<u64, GitError>;

    /// Replaces an issue's body.
    async fn edit_issue(&self, number: u64, body: &str) -> Result<(), GitError>;

    /// What a pull request from `head` into `base_branch` changed: their
    /// merge base and the files `head` changed since it. `head` may live
    /// in a fork; it is read by id, never checked out.
    async fn pull_changes(
        &self,
        base_branch: &str,
        head: &CommitSha,
    ) -> Result<PullChanges, GitError>;

    /// Up to `max` commits reachable from `rev` that changed `path`,
    /// newest first (one listing call on GitHub).
    async fn file_commits(
        &self,
        rev: &CommitSha,
        path: &str,
        max: usize,
    ) -> Result<Vec<CommitSha>, GitError>;

    /// Publishes the `chartpilot` check of a pull request's head: a Check
    /// Run (GitHub App), a commit status and one comment kept current
    /// (token), lines in the pull log (local). A repeat for the same head
    /// replaces what the first said rather than adding a second result.
    async fn report_check(&self, report: &CheckReport) -> Result<(), GitError>;

    /// Hands the service's metrics to hosts that count their calls (the
    /// GitHub budget); others ignore them.
    fn attach_metrics(&self, _metrics: &std::sync::Arc<crate::metrics::Metrics>) {}
}

/// An issue that is not a pull request: the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// 0 on the local host.
    pub number: u64,
    pub body: String,
}

/// The git host `git.provider` names. GitHub needs a running tokio runtime.
pub fn from_settings(
    settings: &crate::settings::Settings,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> Result<std::sync::Arc<dyn GitHost>, GitError> {
    use crate::settings::GitProvider;
    Ok(match settings.git.provider {
        GitProvider::Local => {
            std::sync::Arc::new(local::LocalGit::open(&settings.git)?.with_clock(clock))
        }
        GitProvider::Github => std::sync::Arc::new(
            github::GithubHost::from_settings(&settings.github, &settings.git)?.with_clock(clock),
        ),
    })
}

/// Why [`read_files`] could not hand over a commit's files.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Git(#[from] GitError),
    /// The temporary snapshot on this machine could not be made or read.
    #[error("cannot read the snapshot: {0}")]
    Local(String),
}

/// [`GitHost::push_commit`] as a commit and a branch update.
pub async fn push_commit_by_calls<H: GitHost + ?Sized>(
    host: &H,
    branch: &str,
    parent: &CommitSha,
    message: &str,
    changes: &[FileChange],
) -> Result<CommitSha, GitError> {
    let sha = host.commit(parent, message, changes).await?;
    host.update_branch(branch, &sha).await?;
    Ok(sha)
}

/// [`GitHost::path_steps`] from the history, a comparison per commit and
/// a read per changed path: what any host can answer.
pub async fn path_steps_by_reads<H: GitHost + ?Sized>(
    host: &H,
    head: &CommitSha,
    since: chrono::DateTime<chrono::Utc>,
    paths: &[String],
) -> Result<Vec<PathStep>, GitError> {
    let mut out = Vec::new();
    for commit in host.first_parent_history(head, since).await? {
        let Some(parent) = commit.parents.first().cloned() else {
            continue;
        };
        let changed = host.changed_paths(&parent, &commit.sha).await?;
        let mut contents = std::collections::BTreeMap::new();
        for c in changed.iter().filter(|c| paths.contains(&c.path)) {
            let at_step = host.read_file(&commit.sha, &c.path).await?;
            let at_parent = host.read_file(&parent, &c.path).await?;
            contents.insert(c.path.clone(), (at_step, at_parent));
        }
        if !contents.is_empty() {
            out.push(PathStep {
                commit,
                parent,
                contents,
                pulls: None,
            });
        }
    }
    Ok(out)
}

/// The files of the tree at `rev` that may hold pins or Application
/// manifests (as `pins::collect` reads them), with the warnings for files
/// that could not be read: a temporary snapshot, read off the reactor.
pub async fn read_files(
    host: &dyn GitHost,
    rev: &CommitSha,
) -> Result<(Vec<crate::pins::SourceFile>, Vec<crate::pins::Warning>), ReadError> {
    let dir = tempfile::tempdir().map_err(|e| ReadError::Local(e.to_string()))?;
    host.snapshot(rev, dir.path()).await?;
    collect_snapshot(dir).await
}

/// [`read_files`] of the commit `branch` points at, with that commit; None
/// when there is no such branch.
pub async fn read_branch_files(
    host: &dyn GitHost,
    branch: &str,
) -> Result<Option<(CommitSha, Vec<crate::pins::SourceFile>)>, ReadError> {
    let dir = tempfile::tempdir().map_err(|e| ReadError::Local(e.to_string()))?;
    let Some(sha) = host.snapshot_branch(branch, dir.path()).await? else {
        return Ok(None);
    };
    let (files, _) = collect_snapshot(dir).await?;
    Ok(Some((sha, files)))
}

/// The pin-bearing files of a snapshot written under `dir` (removed after),
/// read off the reactor.
async fn collect_snapshot(
    dir: tempfile::TempDir,
) -> Result<(Vec<crate::pins::SourceFile>, Vec<crate::pins::Warning>), ReadError> {
    tokio::task::spawn_blocking(move || {
        crate::pins::collect(dir.path()).map_err(|e| ReadError::Local(e.to_string()))
    })
    .await
    .map_err(|e| ReadError::Local(e.to_string()))?
}

/// Comments `body` on `number` unless a comment carrying `key` is there
/// already: a redelivered job says its piece once. The key travels as an
/// HTML comment, invisible in the rendered text. Returns whether it wrote.
pub async fn comment_once<H: GitHost + ?Sized>(
    host: &H,
    number: u64,
    key: &str,
    body: &str,
) -> Result<bool, GitError> {
    let comments = host.comments(number).await?;
    comment_once_among(host, number, key, body, &comments).await
}

/// [`comment_once`] with the pull request's comments already read.
pub async fn comment_once_among<H: GitHost + ?Sized>(
    host: &H,
    number: u64,
    key: &str,
    body: &str,
    comments: &[String],
) -> Result<bool, GitError> {
    let marker = revert_pull::marker(key);
    if comments.iter().any(|c| c.contains(&marker)) {
        return Ok(false);
    }
    host.comment(number, &revert_pull::marked(body, key))
        .await?;
    Ok(true)
}
