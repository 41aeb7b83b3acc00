//! A revert PR as one host operation: the revert commit on a new branch,
//! its pull request with labels, and the one comment on the PR that brought
//! the change. Any host composes it from single calls
//! ([`open_revert_by_calls`]); GitHub writes it in two GraphQL mutations.

use super::{FileChange, GitError, GitHost, NewPull, PullRequest};
use crate::domain::CommitSha;

/// What [`GitHost::open_revert`] writes.
pub struct RevertWrite<'a> {
    /// The branch head the revert commit is made on.
    pub parent: &'a CommitSha,
    pub message: &'a str,
    pub changes: &'a [FileChange],
    /// `head` is the new branch the commit goes on.
    pub pull: &'a NewPull,
    /// Said once on the PR that brought the change, when there is one.
    pub tell: Option<Tell<'a>>,
}

/// The comment on pull request `number` (the PR that brought the change)
/// about the revert PR just opened. It carries the marker of
/// [`comment_once`] (keyed by the new PR), so a later run that finds the PR
/// open knows it was told; a new PR cannot have been told yet, so it is
/// written without reading the comments first.
pub struct Tell<'a> {
    pub number: u64,
    /// The marker's key and the text, given the revert PR just opened.
    pub say: &'a (dyn Fn(&PullRequest) -> (String, String) + Send + Sync),
}

impl Tell<'_> {
    /// The comment's full body for `pull`, marker included.
    pub fn body(&self, pull: &PullRequest) -> String {
        let (key, text) = (self.say)(pull);
        marked(&text, &key)
    }
}

/// `text` with the marker of `key`.
pub(super) fn marked(text: &str, key: &str) -> String {
    format!("{text}\n\n{}", marker(key))
}

/// The HTML comment that marks a comment said once.
pub(super) fn marker(key: &str) -> String {
    format!("<!-- chartpilot:{key} -->")
}

/// What [`GitHost::open_revert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOpened {
    /// The PR is open. `told`: Some(true) when the comment was written;
    /// None when there was nothing to tell or the comment failed.
    Opened {
        pull: PullRequest,
        told: Option<bool>,
    },
    /// The branch was there with its PR: another run made it.
    Existing(PullRequest),
}

/// [`GitHost::open_revert`] in single calls: the commit, the branch (one
/// left without its PR by a run that stopped is used as it was made), the
/// pull request and its labels, the comment.
pub async fn open_revert_by_calls<H: GitHost + ?Sized>(
    host: &H,
    w: &RevertWrite<'_>,
) -> Result<RevertOpened, GitError> {
    let sha = host.commit(w.parent, w.message, w.changes).await?;
    match host.create_branch(&w.pull.head, &sha).await {
        Ok(()) => {}
        Err(GitError::BranchExists(_)) => {
            if let Some(pr) = host.find_pull(&w.pull.head).await? {
                return Ok(RevertOpened::Existing(pr));
            }
            tracing::info!(branch = %w.pull.head, "revert branch without its PR: opening it");
        }
        Err(e) => return Err(e),
    }
    let pull = host.create_pull(w.pull).await?;
    let told = match &w.tell {
        Some(t) => tell_by_calls(host, t, &pull).await,
        None => None,
    };
    Ok(RevertOpened::Opened { pull, told })
}

/// The comment of `t` for the opened `pull`; None when it failed (logged:
/// the revert stands without it).
pub async fn tell_by_calls<H: GitHost + ?Sized>(
    host: &H,
    t: &Tell<'_>,
    pull: &PullRequest,
) -> Option<bool> {
    match host.comment(t.number, &t.body(pull)).await {
        Ok(()) => Some(true),
        Err(e) => {
            tracing::warn!(pr = t.number, error = %e, "comment on the PR that brought the change failed");
            None
        }
    }
}
