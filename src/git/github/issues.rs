//! Issues that are not pull requests: the dashboard's find, create, edit.

use serde_json::json;

use super::transport::Verb;
use super::{GithubHost, PER_PAGE};
use crate::git::{GitError, Issue};

#[derive(serde::Deserialize)]
struct IssueWire {
    number: u64,
    #[serde(default)]
    body: Option<String>,
    /// Set when the "issue" is a pull request.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

impl GithubHost {
    /// One page of open issues with `label`, newest first: the dashboard is
    /// one of a handful, and the oldest holding the marker wins so two
    /// replicas that raced to create it settle on the same one.
    pub(super) async fn find_labelled_issue(
        &self,
        label: &str,
        marker: &str,
    ) -> Result<Option<Issue>, GitError> {
        let query = serde_urlencoded::to_string([
            ("state", "open"),
            ("labels", label),
            ("per_page", &PER_PAGE.to_string()),
        ])
        .map_err(|e| GitError::Refused(format!("label `{label}`: {e}")))?;
        let path = format!("{}/issues?{query}", self.repo_path);
        let reply = self.get(&path).await?;
        if !reply.is_success() {
            return Err(reply.error("listing the dashboard issue"));
        }
        let issues: Vec<IssueWire> = reply.json("issues")?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .filter_map(|i| {
                let body = i.body?;
                body.contains(marker).then_some(Issue {
                    number: i.number,
                    body,
                })
            })
            .min_by_key(|i| i.number))
    }

    pub(super) async fn open_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<u64, GitError> {
        let path = format!("{}/issues", self.repo_path);
        let request = json!({ "title": title, "body": body, "labels": labels });
        // Not repeated on a lost answer: a second issue is worse than a
        // pass that tries again.
        let reply = self.api.call_once(Verb::Post, &path, &request).await?;
        if !reply.is_success() {
            return Err(reply.error("opening the dashboard issue"));
        }
        let issue: IssueWire = reply.json("issue")?;
        tracing::info!(repo = %self.repo(), issue = issue.number, "opened issue");
        Ok(issue.number)
    }

    pub(super) async fn edit_issue_body(&self, number: u64, body: &str) -> Result<(), GitError> {
        let path = format!("{}/issues/{number}", self.repo_path);
        let reply = self
            .send(Verb::Patch, &path, json!({ "body": body }))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("issue #{number}")));
        }
        tracing::info!(repo = %self.repo(), issue = number, "edited issue");
        Ok(())
    }
}
