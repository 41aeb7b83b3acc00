//! Branches, moved only with `update-ref` and an expected old value, so a
//! branch is never created twice nor moved past a concurrent writer.

use super::cmd::{failed, Git};
use super::objects::commit_exists;
use crate::domain::CommitSha;
use crate::git::GitError;

/// The message in the branch's reflog, so a person reading it sees who
/// moved it.
const REFLOG_MESSAGE: &str = "chartpilot";

/// Checks a branch name with git's own rules (`check-ref-format --branch`),
/// after refusing what that command would expand rather than reject.
pub(super) async fn validate_branch(git: &Git, branch: &str) -> Result<(), GitError> {
    let refuse = || {
        Err(GitError::Refused(format!(
            "`{branch}` is not a valid branch name"
        )))
    };
    // `@{-1}` and friends name other branches; `-x` reads like an option.
    if branch.is_empty() || branch.starts_with('-') || branch.contains("@{") {
        return refuse();
    }
    let out = git
        .cmd("check-ref-format")
        .args(["--branch", branch])
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && printed.trim_end_matches('\n') == branch {
        Ok(())
    } else {
        refuse()
    }
}

fn full_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

pub(super) async fn branch_head(git: &Git, branch: &str) -> Result<Option<CommitSha>, GitError> {
    validate_branch(git, branch).await?;
    let out = git
        .cmd("rev-parse")
        .args(["--verify", "--quiet"])
        .arg(format!("{}^{{commit}}", full_ref(branch)))
        .output()
        .await?;
    if !out.status.success() {
        // `--quiet` makes "no such branch" a silent exit 1; anything on
        // stderr is a real failure.
        return if out.stderr.is_empty() {
            Ok(None)
        } else {
            Err(failed("rev-parse", &out))
        };
    }
    let text = String::from_utf8_lossy(&out.stdout);
    CommitSha::parse(text.trim())
        .map(Some)
        .map_err(|e| GitError::Refused(format!("git rev-parse printed {e}")))
}

pub(super) async fn branches(git: &Git, prefix: &str) -> Result<Vec<String>, GitError> {
    // All branches, filtered here: for-each-ref patterns match whole path
    // components only, and a repository has few enough branches.
    let text = git
        .cmd("for-each-ref")
        .arg("--format=%(refname)")
        .arg("refs/heads/")
        .run()
        .await?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|r| r.strip_prefix("refs/heads/"))
        .filter(|b| b.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

async fn require_commit(git: &Git, sha: &CommitSha) -> Result<(), GitError> {
    if commit_exists(git, sha.as_ref()).await? {
        Ok(())
    } else {
        Err(GitError::NotFound(format!("commit {sha}")))
    }
}

pub(super) async fn create_branch(
    git: &Git,
    branch: &str,
    sha: &CommitSha,
) -> Result<(), GitError> {
    validate_branch(git, branch).await?;
    require_commit(git, sha).await?;
    // The empty old value makes git refuse when the ref already exists,
    // atomically, even against another process.
    let out = git
        .cmd("update-ref")
        .args(["-m", REFLOG_MESSAGE, &full_ref(branch), sha.as_ref(), ""])
        .output()
        .await?;
    if out.status.success() {
        tracing::info!(branch, commit = %sha, "branch created");
        return Ok(());
    }
    if branch_head(git, branch).await?.is_some() {
        Err(GitError::BranchExists(branch.to_owned()))
    } else {
        Err(failed("update-ref", &out))
    }
}

pub(super) async fn update_branch(
    git: &Git,
    branch: &str,
    sha: &CommitSha,
) -> Result<(), GitError> {
    let old = branch_head(git, branch)
        .await?
        .ok_or_else(|| GitError::NotFound(format!("branch {branch}")))?;
    if &old == sha {
        return Ok(());
    }
    require_commit(git, sha).await?;
    if !is_ancestor(git, &old, sha).await? {
        return Err(GitError::NotFastForward(branch.to_owned()));
    }
    swap_branch(git, branch, sha, &old).await
}

/// Whether `ancestor` is `descendant` or in its history.
pub(super) async fn is_ancestor(
    git: &Git,
    ancestor: &CommitSha,
    descendant: &CommitSha,
) -> Result<bool, GitError> {
    let out = git
        .cmd("merge-base")
        .args(["--is-ancestor", ancestor.as_ref(), descendant.as_ref()])
        .output()
        .await?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(failed("merge-base", &out)),
    }
}

/// Moves `branch` from `old` to `new` only if it still points at `old`:
/// another writer that moved it in between is detected, not overwritten.
pub(super) async fn swap_branch(
    git: &Git,
    branch: &str,
    new: &CommitSha,
    old: &CommitSha,
) -> Result<(), GitError> {
    let out = git
        .cmd("update-ref")
        .args([
            "-m",
            REFLOG_MESSAGE,
            &full_ref(branch),
            new.as_ref(),
            old.as_ref(),
        ])
        .output()
        .await?;
    if out.status.success() {
        tracing::info!(branch, from = %old, to = %new, "branch moved");
        return Ok(());
    }
    match branch_head(git, branch).await? {
        Some(now) if &now != old => {
            tracing::warn!(branch, expected = %old, found = %now, "branch moved concurrently");
            Err(GitError::NotFastForward(branch.to_owned()))
        }
        None => Err(GitError::NotFound(format!("branch {branch}"))),
        Some(_) => Err(failed("update-ref", &out)),
    }
}
