//! Commits through the Git Data API: one tree (contents inline) and one
//! commit object, no clone.

use serde_json::json;

use super::transport::Verb;
use super::{wire, GithubHost, MAX_KNOWN_TREES};
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
        // GitHub takes only a tree id as `base_tree`: a commit id is
        // answered 422, so the parent's tree is looked up first.
        let base_tree = self.tree_of(parent).await?;
        let reply = self.create_tree(&base_tree, &entries).await?;
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
        self.remember_tree(sha.as_ref(), &tree);
        tracing::info!(repo = %self.repo(), %parent, commit = %sha, files = changes.len(), "committed");
        Ok(sha)
    }

    /// The tree of `commit`: known when this host made or listed it (a
    /// commit on a commit it just made, a revert on a listed head), else
    /// one `GET git/commits/{sha}`.
    async fn tree_of(&self, commit: &CommitSha) -> Result<String, GitError> {
        let known = self
            .trees
            .lock()
            .ok()
            .and_then(|t| t.get(commit.as_ref()).cloned());
        if let Some(tree) = known {
            return Ok(tree);
        }
        let reply = self
            .get(&format!("{}/git/commits/{commit}", self.repo_path))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("commit {commit}")));
        }
        let tree = reply.json::<wire::Commit>("commit")?.tree.sha;
        self.remember_tree(commit.as_ref(), &tree);
        Ok(tree)
    }

    /// Notes the tree of a commit; commits never change, so an entry is
    /// never stale, only forgotten when the map is full.
    pub(super) fn remember_tree(&self, commit: &str, tree: &str) {
        if let Ok(mut trees) = self.trees.lock() {
            if trees.len() >= MAX_KNOWN_TREES {
                trees.clear();
            }
            trees.insert(commit.to_owned(), tree.to_owned());
        }
    }
}
