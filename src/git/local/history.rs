//! History through plumbing: the first-parent line of a branch and what
//! two commits differ in.

use super::cmd::Git;
use super::objects::commit_exists;
use crate::domain::CommitSha;
use crate::git::{ChangeKind, ChangedPath, CommitInfo, GitError};

/// The most commits one history call returns, as on GitHub.
const MAX_COMMITS: usize = 100;

/// Field and record separators git never writes in a commit header.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

pub(super) async fn first_parent_history(
    git: &Git,
    head: &CommitSha,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<CommitInfo>, GitError> {
    if !commit_exists(git, head.as_ref()).await? {
        return Err(GitError::NotFound(format!("commit {head}")));
    }
    let mut cmd = git
        .cmd("log")
        .args(["--first-parent", "--no-color"])
        .arg(format!("--max-count={MAX_COMMITS}"));
    // `@<seconds>` is git's raw date; a bare number is guessed at (a bare
    // `0` sometimes reads as "now"). Nothing to cut before 1970.
    if since.timestamp() > 0 {
        cmd = cmd.arg(format!("--since=@{}", since.timestamp()));
    }
    let out = cmd
        .arg("--format=%H%x1f%P%x1f%cI%x1f%B%x1e")
        .arg(head.as_ref())
        .arg("--")
        .run()
        .await?;
    let text = String::from_utf8_lossy(&out);
    let mut commits = Vec::new();
    for record in text.split(RECORD) {
        let record = record.trim_start_matches('\n');
        if record.is_empty() {
            continue;
        }
        let mut fields = record.splitn(4, FIELD);
        let (Some(sha), Some(parents), Some(date), Some(message)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(GitError::Refused(format!("git log wrote `{record}`")));
        };
        let bad = |what: &str| GitError::Refused(format!("git log wrote a bad {what} for {sha}"));
        commits.push(CommitInfo {
            sha: CommitSha::parse(sha).map_err(|_| bad("id"))?,
            parents: parents
                .split_whitespace()
                .map(CommitSha::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad("parent"))?,
            committed_at: chrono::DateTime::parse_from_rfc3339(date)
                .map_err(|_| bad("date"))?
                .with_timezone(&chrono::Utc),
            message: message.trim_end().to_owned(),
        });
    }
    Ok(commits)
}

pub(super) async fn changed_paths(
    git: &Git,
    from: &CommitSha,
    to: &CommitSha,
) -> Result<Vec<ChangedPath>, GitError> {
    for rev in [from, to] {
        if !commit_exists(git, rev.as_ref()).await? {
            return Err(GitError::NotFound(format!("commit {rev}")));
        }
    }
    let out = git
        .cmd("diff-tree")
        .args(["-r", "-z", "--no-renames", "--name-status"])
        .arg(from.as_ref())
        .arg(to.as_ref())
        .run()
        .await?;
    let text = String::from_utf8_lossy(&out);
    let mut parts = text.split('\0').filter(|p| !p.is_empty());
    let mut changed = Vec::new();
    while let (Some(status), Some(path)) = (parts.next(), parts.next()) {
        let kind = match status.chars().next() {
            Some('A') => ChangeKind::Added,
            Some('D') => ChangeKind::Removed,
            _ => ChangeKind::Modified,
        };
        changed.push(ChangedPath {
            path: path.to_owned(),
            kind,
        });
    }
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changed)
}

/// `git merge-base` of the base branch and `head`, and what `head` changed
/// since.
pub(super) async fn pull_changes(
    git: &Git,
    base_branch: &str,
    head: &CommitSha,
) -> Result<crate::git::PullChanges, GitError> {
    if !commit_exists(git, head.as_ref()).await? {
        return Err(GitError::NotFound(format!("commit {head}")));
    }
    let base = super::refs::branch_head(git, base_branch)
        .await?
        .ok_or_else(|| GitError::NotFound(format!("branch {base_branch}")))?;
    let line = git
        .cmd("merge-base")
        .arg(base.as_ref())
        .arg(head.as_ref())
        .run_line()
        .await
        .map_err(|_| {
            GitError::NotFound(format!("a common ancestor of {base_branch} and {head}"))
        })?;
    let merge_base = CommitSha::parse(line.trim())
        .map_err(|e| GitError::Refused(format!("git merge-base answered `{line}`: {e}")))?;
    let paths = changed_paths(git, &merge_base, head).await?;
    Ok(crate::git::PullChanges {
        merge_base,
        paths,
        patches: Default::default(),
    })
}

/// `git log -n max --format=%H rev -- path`.
pub(super) async fn file_commits(
    git: &Git,
    rev: &CommitSha,
    path: &str,
    max: usize,
) -> Result<Vec<CommitSha>, GitError> {
    if !commit_exists(git, rev.as_ref()).await? {
        return Err(GitError::NotFound(format!("commit {rev}")));
    }
    let out = git
        .cmd("log")
        .arg(format!("--max-count={max}"))
        .arg("--format=%H")
        .arg(rev.as_ref())
        .arg("--")
        .arg(path)
        .run()
        .await?;
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            CommitSha::parse(l.trim())
                .map_err(|e| GitError::Refused(format!("git log answered `{l}`: {e}")))
        })
        .collect()
}
