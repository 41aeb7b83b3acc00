//! Commits through the Git Data API: one tree (contents inline) and one
//! commit object, no clone.

use serde_json::json;

use super::transport::Verb;
use super::{wire, GithubHost};
use crate::domain::CommitSha;
use crate::git::{FileChange, GitError};

impl GithubHost {
    /// A commit of `parent`'s tree with `changes`, whose parents are
    /// `first_parents` and then `parent`: tree and commit, two calls.
    pub(super) async fn commit_on(
        &self,
        parent: &CommitSha,
        first_parents: &[&CommitSha],
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        let entries = changes
            .iter()
            .map(|c| {
                // Inline `content` saves a blob call per file but must be
                // UTF-8; pins are text.
                let content = std::str::from_utf8(&c.content).map_err(|_| {
                    GitError::Refused(format!("{} is not UTF-8 text; chartpilot writes only text", c.path))
                })?;
                Ok(json!({ "path": c.path, "mode": self.mode(parent, &c.path), "type": "blob", "content": content }))
            })
            .collect::<Result<Vec<_>, GitError>>()?;
        // A commit as `base_tree` saves reading the parent first; should a
        // host insist on a tree id, pay that one read and try again.
        let mut reply = self.create_tree(parent.as_ref(), &entries).await?;
        if reply.status == 422 && reply.message().contains("base_tree") {
            tracing::warn!(repo = %self.repo(), %parent, "base_tree refused a commit id; reading its tree");
            let commit = self
                .get(&format!("{}/git/commits/{parent}", self.repo_path))
                .await?;
            if !commit.is_success() {
                return Err(commit.error(&format!("commit {parent}")));
            }
            let tree = commit.json::<wire::Commit>("commit")?.tree.sha;
            reply = self.create_tree(&tree, &entries).await?;
        }
        if !reply.is_success() {
            return Err(reply.error(&format!("tree on {parent}")));
        }
        let tree = reply.json::<wire::Sha>("tree")?.sha;
        let parents: Vec<&str> = first_parents
            .iter()
            .map(|p| p.as_ref())
            .chain([parent.as_ref()])
            .collect();
        let body = json!({ "message": message, "tree": tree, "parents": parents });
        let reply = self
            .send(Verb::Post, &format!("{}/git/commits", self.repo_path), body)
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("commit on {parent}")));
        }
        let sha = reply.json::<wire::Sha>("commit")?.commit()?;
        tracing::info!(repo = %self.repo(), %parent, commit = %sha, files = changes.len(), "committed");
        Ok(sha)
    }
}
