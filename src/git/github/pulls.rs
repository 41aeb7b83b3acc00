//! Pull request listing and labels: paginated reads, forks left out.

use serde_json::json;

use super::transport::Verb;
use super::{wire, GithubHost, MAX_PAGES, PER_PAGE};
use crate::git::{GitError, PullRequest};

impl GithubHost {
    /// `GET issues/{n}/comments?per_page=100&page=`: the ids and bodies
    /// on one page, and the number of the last page (1 when there is one).
    pub(super) async fn comment_page(
        &self,
        number: u64,
        page: u32,
    ) -> Result<(Vec<(u64, String)>, u32), GitError> {
        #[derive(serde::Deserialize)]
        struct Comment {
            id: u64,
            #[serde(default)]
            body: Option<String>,
        }
        let path = format!(
            "{}/issues/{number}/comments?per_page={PER_PAGE}&page={page}",
            self.repo_path
        );
        let reply = self.get(&path).await?;
        match reply.status {
            404 => return Err(GitError::NotFound(format!("pull request #{number}"))),
            _ if reply.is_success() => {}
            _ => return Err(reply.error(&format!("comments of #{number}"))),
        }
        let last = reply.last_page().unwrap_or(page);
        let bodies = reply
            .json::<Vec<Comment>>("comments")?
            .into_iter()
            .filter_map(|c| Some((c.id, c.body?)))
            .collect();
        Ok((bodies, last))
    }

    /// `POST issues/{n}/labels`: adds to the labels a PR has; returns all.
    pub(super) async fn labels(
        &self,
        number: u64,
        labels: &[String],
    ) -> Result<Vec<String>, GitError> {
        let path = format!("{}/issues/{number}/labels", self.repo_path);
        let reply = self
            .send(Verb::Post, &path, json!({ "labels": labels }))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("labelling pull request #{number}")));
        }
        let labels: Vec<wire::Label> = reply.json("labels")?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    /// One page only: for lists where the newest entries are the ones
    /// that matter and older pages would only cost calls.
    pub(super) async fn pulls_page(
        &self,
        query: &[(&str, &str)],
    ) -> Result<Vec<PullRequest>, GitError> {
        self.pulls_pages(query, 1).await
    }

    pub(super) async fn pulls(&self, query: &[(&str, &str)]) -> Result<Vec<PullRequest>, GitError> {
        self.pulls_pages(query, MAX_PAGES).await
    }

    async fn pulls_pages(
        &self,
        query: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Vec<PullRequest>, GitError> {
        let query = serde_urlencoded::to_string(query)
            .map_err(|e| GitError::Refused(format!("pull request query: {e}")))?;
        let mut next = Some(format!("{}/pulls?{query}", self.repo_path));
        let mut pulls = Vec::new();
        for _ in 0..max_pages {
            let Some(path) = next.take() else { break };
            let reply = self.get(&path).await?;
            if !reply.is_success() {
                return Err(reply.error("listing pull requests"));
            }
            let page: Vec<wire::Pull> = reply.json("pull requests")?;
            let repo = self.repo();
            pulls.extend(
                page.into_iter()
                    .filter(|p| p.is_from_repository(&repo))
                    .map(PullRequest::from),
            );
            next = reply.next_page();
        }
        if next.is_some() && max_pages == MAX_PAGES {
            tracing::warn!(repo = %self.repo(), pages = MAX_PAGES, "stopped following pull request pages");
        }
        Ok(pulls)
    }
}
