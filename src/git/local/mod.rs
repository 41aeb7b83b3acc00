//! `git.provider = "local"`: a repository on disk, bare or checked out,
//! changed only through git plumbing. Branches are created and moved with
//! compare-and-swap `update-ref`; commits are built in a private temporary
//! index; a pull request is a branch plus lines in a JSON-lines log (see
//! [`pulls`]). The repository's working tree and index are never touched,
//! so a person may keep it checked out while chartpilot runs.
//!
//! Choices:
//! - Identity: commits are by `chartpilot <chartpilot@localhost>` unless the
//!   repository's own config (`git config --local`) sets both `user.name`
//!   and `user.email`; global config names the person at the machine and is
//!   ignored.
//! - States: this host writes only `open` and `closed`. Nothing here merges,
//!   so nothing writes `merged`; a line saying `merged` (written by a person
//!   or a tool) is honoured and is not open.
//! - Comments go to `comments.jsonl` beside the pull log, as
//!   `{"number","body","created_at"}`.

mod checks;
mod cmd;
mod history;
mod objects;
mod pulls;
mod refs;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pulls;
#[cfg(test)]
mod tests_refs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use self::cmd::{scrubbed_command, spawn_error, stderr_text, Git};
use self::pulls::PullLog;
use crate::clock::{Clock, SystemClock};
use crate::domain::CommitSha;
use crate::git::{
    ChangedPath, CommitInfo, FileChange, GitError, GitHost, Issue, NewPull, PullRequest, PullState,
};
use crate::settings::GitSettings;

/// Where the pull log lives inside the git dir unless `git.pulls_log` says
/// otherwise: inside the git dir, so it is never part of a commit nor shown
/// by `git status`.
const STATE_DIR: &str = "chartpilot";
const PULLS_FILE: &str = "pulls.jsonl";
const COMMENTS_FILE: &str = "comments.jsonl";
const DASHBOARD_FILE: &str = "dashboard.md";

pub struct LocalGit {
    git: Git,
    shown_path: String,
    base: String,
    pulls: Arc<PullLog>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalGit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGit")
            .field("git_dir", &self.git.git_dir())
            .field("base", &self.base)
            .field("pulls_log", &self.pulls.path())
            .finish_non_exhaustive()
    }
}

impl LocalGit {
    /// Records that pull request `number` was merged as `merge_commit`,
    /// for a person or tool that merged its branch (chartpilot itself never
    /// merges); promotion checks then find it by the pushed commit.
    pub async fn record_merge(
        &self,
        number: u64,
        merge_commit: &CommitSha,
    ) -> Result<(), GitError> {
        self.pulls
            .merged(number, merge_commit.to_string(), self.clock.now())
            .await
    }

    /// Opens the repository at `settings.path`: checks that `git` runs and
    /// that the path is inside a repository, and resolves its git dir.
    pub fn open(settings: &GitSettings) -> Result<Self, GitError> {
        let path = &settings.path;
        let out = scrubbed_command()
            .arg("-C")
            .arg(path)
            .args(["rev-parse", "--absolute-git-dir"])
            .output()
            .map_err(|e| match spawn_error("rev-parse", &e) {
                GitError::Refused(m) => {
                    GitError::Refused(format!("git.path {}: {m}", path.display()))
                }
                other => other,
            })?;
        if !out.status.success() {
            return Err(GitError::Refused(format!(
                "git.path {} is not a git repository: {}",
                path.display(),
                stderr_text(&out.stderr)
            )));
        }
        let git_dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
        let pulls_path = settings
            .pulls_log
            .clone()
            .unwrap_or_else(|| git_dir.join(STATE_DIR).join(PULLS_FILE));
        let comments_path = pulls_path.with_file_name(COMMENTS_FILE);
        tracing::info!(
            git_dir = %git_dir.display(),
            pulls_log = %pulls_path.display(),
            base = %settings.branch,
            "local git repository opened"
        );
        Ok(Self {
            git: Git::new(git_dir),
            shown_path: path.display().to_string(),
            base: settings.branch.clone(),
            pulls: PullLog::new(pulls_path, comments_path),
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the clock that stamps comments (tests pin it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The repository's absolute git dir (`.git` of a checkout, or the bare
    /// repository itself).
    pub fn git_dir(&self) -> &Path {
        self.git.git_dir()
    }

    /// The pull log this host appends to.
    pub fn pulls_log(&self) -> &Path {
        self.pulls.path()
    }

    /// The dashboard "issue" of this host: a Markdown file beside the
    /// pull log.
    pub fn dashboard_path(&self) -> PathBuf {
        self.pulls.path().with_file_name(DASHBOARD_FILE)
    }

    async fn require_branch(&self, branch: &str) -> Result<(), GitError> {
        match refs::branch_head(&self.git, branch).await? {
            Some(_) => Ok(()),
            None => Err(GitError::NotFound(format!("branch {branch}"))),
        }
    }
}

#[async_trait]
impl GitHost for LocalGit {
    fn describe(&self) -> String {
        format!("local:{}", self.shown_path)
    }

    fn base_branch(&self) -> &str {
        &self.base
    }

    async fn branch_head(&self, branch: &str) -> Result<Option<CommitSha>, GitError> {
        refs::branch_head(&self.git, branch).await
    }

    async fn branches(&self, prefix: &str) -> Result<Vec<String>, GitError> {
        refs::branches(&self.git, prefix).await
    }

    async fn contains(
        &self,
        descendant: &CommitSha,
        ancestor: &CommitSha,
    ) -> Result<bool, GitError> {
        for rev in [descendant, ancestor] {
            if !objects::commit_exists(&self.git, rev.as_ref()).await? {
                return Err(GitError::NotFound(format!("commit {rev}")));
            }
        }
        refs::is_ancestor(&self.git, ancestor, descendant).await
    }

    async fn snapshot(&self, rev: &CommitSha, dest: &Path) -> Result<(), GitError> {
        objects::snapshot(&self.git, rev, dest).await
    }

    async fn first_parent_history(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CommitInfo>, GitError> {
        history::first_parent_history(&self.git, head, since).await
    }

    async fn changed_paths(
        &self,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Vec<ChangedPath>, GitError> {
        history::changed_paths(&self.git, from, to).await
    }

    /// A local repository keeps no record of which pull request merged what.
    async fn pull_of_commit(&self, _sha: &CommitSha) -> Result<Option<u64>, GitError> {
        Ok(None)
    }

    async fn read_file(&self, rev: &CommitSha, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        objects::read_file(&self.git, rev, path).await
    }

    async fn commit(
        &self,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        objects::commit(&self.git, parent, message, changes).await
    }

    async fn merge_commit(
        &self,
        branch_head: &CommitSha,
        base: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        objects::commit_with(&self.git, base, &[branch_head], message, changes).await
    }

    async fn create_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError> {
        refs::create_branch(&self.git, branch, sha).await
    }

    async fn update_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError> {
        refs::update_branch(&self.git, branch, sha).await
    }

    async fn open_pulls(&self) -> Result<Vec<PullRequest>, GitError> {
        let all = self.pulls.read().await?;
        Ok(all
            .into_iter()
            .filter(|p| p.state == PullState::Open)
            .collect())
    }

    async fn recently_closed_pulls(&self) -> Result<Vec<PullRequest>, GitError> {
        let mut pulls = self.pulls.read().await?;
        pulls.retain(|p| p.state != PullState::Open);
        Ok(pulls)
    }

    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>, GitError> {
        let all = self.pulls.read().await?;
        Ok(all.into_iter().rev().find(|p| p.head == branch))
    }

    async fn create_pull(&self, new: &NewPull) -> Result<PullRequest, GitError> {
        // Like GitHub, both ends must exist; unlike it, nothing compares them.
        self.require_branch(&new.head).await?;
        self.require_branch(&new.base).await?;
        let pull = self.pulls.create(new.clone()).await?;
        tracing::info!(number = pull.number, head = %pull.head, base = %pull.base, "pull request opened");
        Ok(pull)
    }

    async fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<(), GitError> {
        self.pulls
            .update(number, title.to_owned(), body.to_owned())
            .await
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GitError> {
        self.pulls.add_labels(number, labels.to_vec()).await
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), GitError> {
        self.pulls
            .comment(number, body.to_owned(), self.clock.now())
            .await
    }

    async fn comments(&self, number: u64) -> Result<Vec<String>, GitError> {
        self.pulls.comments(number).await
    }

    /// A local repository has no reactions.
    async fn react(&self, _comment_id: u64, _reaction: &str) -> Result<(), GitError> {
        Ok(())
    }

    /// Nor teams.
    async fn team_member(&self, _team: &str, _user: &str) -> Result<bool, GitError> {
        Ok(false)
    }

    /// Nor permissions: rules must name people.
    async fn permission(&self, _user: &str) -> Result<crate::settings::RepoPermission, GitError> {
        Ok(crate::settings::RepoPermission::None)
    }

    async fn close_pull(&self, number: u64, comment: &str) -> Result<(), GitError> {
        self.pulls
            .close(number, comment.to_owned(), self.clock.now())
            .await?;
        tracing::info!(number, "pull request closed");
        Ok(())
    }

    async fn find_issue(&self, _label: &str, marker: &str) -> Result<Option<Issue>, GitError> {
        let path = self.dashboard_path();
        match tokio::fs::read_to_string(&path).await {
            Ok(body) if body.contains(marker) => Ok(Some(Issue { number: 0, body })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(GitError::Refused(format!(
                "dashboard {}: {e}",
                path.display()
            ))),
        }
    }

    async fn create_issue(
        &self,
        _title: &str,
        body: &str,
        _labels: &[String],
    ) -> Result<u64, GitError> {
        self.edit_issue(0, body).await.map(|()| 0)
    }

    /// Written whole through a temporary file: a reader never sees half.
    async fn edit_issue(&self, _number: u64, body: &str) -> Result<(), GitError> {
        let path = self.dashboard_path();
        let tmp = path.with_extension("md.tmp");
        let io =
            |e: std::io::Error| GitError::Refused(format!("dashboard {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        tokio::fs::write(&tmp, body).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn pull_changes(
        &self,
        base_branch: &str,
        head: &CommitSha,
    ) -> Result<crate::git::PullChanges, GitError> {
        history::pull_changes(&self.git, base_branch, head).await
    }

    async fn file_commits(
        &self,
        rev: &CommitSha,
        path: &str,
        max: usize,
    ) -> Result<Vec<CommitSha>, GitError> {
        history::file_commits(&self.git, rev, path, max).await
    }

    async fn report_check(&self, report: &crate::git::CheckReport) -> Result<(), GitError> {
        let report = report.clone();
        let (pull, sha) = (report.pull, report.head_sha.clone());
        let wrote = self
            .pulls
            .change(move |log| checks::append(log, &report))
            .await?;
        tracing::info!(pr = pull, %sha, wrote, "check written to the pull log");
        Ok(())
    }
}
