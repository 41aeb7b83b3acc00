//! The `chartpilot` pull request check on GitHub: what a pull request
//! changed (one comparison), which commits touched a file (one listing),
//! and the result as a Check Run (App) or a commit status plus one comment
//! kept current (token).

use serde::Deserialize;
use serde_json::json;

use super::transport::Verb;
use super::{wire, GithubHost, MAX_COMMENT_PAGES};
use crate::domain::CommitSha;
use crate::git::check::{CheckReport, Conclusion, PullChanges, CHECK_NAME};
use crate::git::GitError;

/// GitHub takes at most 50 annotations per Check Run request; more go in
/// further updates of the same run.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;

/// GitHub's limit on a commit status description.
const MAX_STATUS_DESCRIPTION: usize = 140;

/// The invisible key of the one comment a token-only check keeps current.
const COMMENT_MARKER: &str = "<!-- chartpilot:check -->";

#[derive(Deserialize)]
struct CheckRuns {
    #[serde(default)]
    check_runs: Vec<CheckRun>,
}

#[derive(Deserialize)]
struct CheckRun {
    id: u64,
    name: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    output: Option<RunOutput>,
}

#[derive(Deserialize)]
struct RunOutput {
    #[serde(default)]
    title: Option<String>,
}

impl GithubHost {
    /// `GET compare/{base}...{head}`, one call: the merge base and the
    /// files the pull request changed since it. A diverged base is normal
    /// for a pull request; more than GitHub lists (300 files) is refused
    /// rather than read as "no pins changed".
    pub(super) async fn compare_pull(
        &self,
        base_branch: &str,
        head: &CommitSha,
    ) -> Result<PullChanges, GitError> {
        let path = format!(
            "{}/compare/{}...{head}",
            self.repo_path,
            wire::encode_path(base_branch)
        );
        let reply = self.get(&path).await?;
        match reply.status {
            404 | 422 => {
                return Err(GitError::NotFound(format!(
                    "{base_branch} or commit {head}"
                )))
            }
            _ if reply.is_success() => {}
            _ => return Err(reply.error(&format!("comparing {base_branch}...{head}"))),
        }
        let compare: wire::Compare = reply.json("comparison")?;
        if compare.files.len() >= wire::MAX_COMPARE_FILES {
            return Err(GitError::Refused(format!(
                "{base_branch}...{head} changes {} files or more: too large to check through \
                 GitHub's compare API",
                wire::MAX_COMPARE_FILES
            )));
        }
        let merge_base = compare
            .merge_base_commit
            .as_ref()
            .ok_or_else(|| {
                GitError::Unavailable(
                    "unexpected answer from GitHub: a comparison without its merge base".into(),
                )
            })?
            .commit()?;
        // Renames and copies are left out: their hunks are against
        // another path.
        let patches = compare
            .files
            .iter()
            .filter(|f| {
                matches!(
                    f.status.as_str(),
                    "added" | "modified" | "changed" | "removed"
                )
            })
            .filter_map(|f| Some((f.filename.clone(), f.patch.clone()?)))
            .collect();
        Ok(PullChanges {
            merge_base,
            paths: super::history::changed_paths(compare.files)?,
            patches,
        })
    }

    /// `GET commits?sha=&path=&per_page=`, one call.
    pub(super) async fn commits_touching(
        &self,
        rev: &CommitSha,
        path: &str,
        max: usize,
    ) -> Result<Vec<CommitSha>, GitError> {
        let per_page = max.clamp(1, super::PER_PAGE as usize).to_string();
        let listed = self
            .list_commits(
                rev,
                &[("path", path), ("per_page", per_page.as_str())],
                &format!("history of {path}"),
            )
            .await?;
        listed
            .iter()
            .take(max)
            .map(|c| {
                CommitSha::parse(&c.sha).map_err(|e| {
                    GitError::Unavailable(format!("unexpected answer from GitHub: {e}"))
                })
            })
            .collect()
    }

    /// A completed Check Run on the head: the run chartpilot made for the
    /// same head before is left alone when it says the same, and updated
    /// otherwise (a redelivery makes no second run); without one, one is
    /// created, with the annotations past the first 50
    /// sent in further updates.
    pub(super) async fn check_run(&self, report: &CheckReport) -> Result<(), GitError> {
        let sha = &report.head_sha;
        let query = serde_urlencoded::to_string([("check_name", CHECK_NAME)])
            .map_err(|e| GitError::Refused(format!("check runs query: {e}")))?;
        let reply = self
            .get(&format!(
                "{}/commits/{sha}/check-runs?{query}",
                self.repo_path
            ))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("check runs of {sha}")));
        }
        let existing = reply
            .json::<CheckRuns>("check runs")?
            .check_runs
            .into_iter()
            .find(|r| r.name == CHECK_NAME);
        let output = |annotations: &[crate::git::check::Annotation]| {
            json!({
                "title": report.title,
                "summary": report.summary,
                "annotations": annotations.iter().map(|a| json!({
                    "path": a.path,
                    "start_line": a.line,
                    "end_line": a.line,
                    "annotation_level": a.level.as_str(),
                    "title": a.title,
                    "message": a.message,
                })).collect::<Vec<_>>(),
            })
        };
        let mut chunks = report.annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let id = match existing {
            // Annotations add up on GitHub: the run keeps those of its
            // first report, and the outcome is brought up to date.
            // The same result again (a redelivery): nothing to write.
            Some(run)
                if run.conclusion.as_deref() == Some(report.conclusion.as_str())
                    && run.output.as_ref().and_then(|o| o.title.as_deref())
                        == Some(report.title.as_str()) =>
            {
                tracing::info!(repo = %self.repo(), pr = report.pull, %sha, run = run.id, "check run already says this");
                return Ok(());
            }
            Some(run) => {
                self.patch_run(
                    run.id,
                    json!({
                        "status": "completed",
                        "conclusion": report.conclusion.as_str(),
                        "output": output(&[]),
                    }),
                )
                .await?;
                tracing::info!(repo = %self.repo(), pr = report.pull, %sha, run = run.id, "check run updated");
                return Ok(());
            }
            None => {
                let body = json!({
                    "name": CHECK_NAME,
                    "head_sha": sha.as_ref(),
                    "status": "completed",
                    "conclusion": report.conclusion.as_str(),
                    "output": output(chunks.next().unwrap_or_default()),
                });
                let path = format!("{}/check-runs", self.repo_path);
                let reply = self.api.call_once(Verb::Post, &path, &body).await?;
                if !reply.is_success() {
                    return Err(reply.error(&format!("creating the check run on {sha}")));
                }
                reply.json::<CheckRun>("check run")?.id
            }
        };
        for chunk in chunks {
            self.patch_run(id, json!({ "output": output(chunk) }))
                .await?;
        }
        tracing::info!(repo = %self.repo(), pr = report.pull, %sha, run = id, conclusion = report.conclusion.as_str(), "check run created");
        Ok(())
    }

    async fn patch_run(&self, id: u64, body: serde_json::Value) -> Result<(), GitError> {
        let path = format!("{}/check-runs/{id}", self.repo_path);
        let reply = self.send(Verb::Patch, &path, body).await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("updating check run {id}")));
        }
        Ok(())
    }

    /// With a token only (no Checks API): a commit status, and the
    /// findings in one comment on the pull request that later runs edit.
    pub(super) async fn commit_status(&self, report: &CheckReport) -> Result<(), GitError> {
        let sha = &report.head_sha;
        // A status has no neutral: warnings do not block, so `success`,
        // and the description says there are warnings.
        let state = match report.conclusion {
            Conclusion::Failure => "failure",
            Conclusion::Neutral | Conclusion::Success => "success",
        };
        let description: String = report.title.chars().take(MAX_STATUS_DESCRIPTION).collect();
        let path = format!("{}/statuses/{sha}", self.repo_path);
        let body = json!({ "state": state, "description": description, "context": CHECK_NAME });
        let reply = self.send(Verb::Post, &path, body).await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("commit status on {sha}")));
        }
        let existing = self.marked_comment(report.pull).await?;
        let text = format!("{}\n\n{}\n\n{COMMENT_MARKER}", report.title, report.summary);
        match existing {
            // A redelivery: the comment says this already.
            Some((_, body)) if body == text => {}
            Some((id, _)) => {
                let path = format!("{}/issues/comments/{id}", self.repo_path);
                let reply = self
                    .send(Verb::Patch, &path, json!({ "body": text }))
                    .await?;
                if !reply.is_success() {
                    return Err(reply.error(&format!("updating comment {id}")));
                }
            }
            // Nothing to say and nothing said before: no comment.
            None if report.annotations.is_empty() => {}
            None => crate::git::GitHost::comment(self, report.pull, &text).await?,
        }
        tracing::info!(repo = %self.repo(), pr = report.pull, %sha, state, "commit status set");
        Ok(())
    }

    /// The id and text of the comment a previous check left, on the first
    /// page or the newest pages (bounded as `comments` is).
    async fn marked_comment(&self, number: u64) -> Result<Option<(u64, String)>, GitError> {
        let (first, last) = self.comment_page(number, 1).await?;
        let find = |page: Vec<(u64, String)>| {
            page.into_iter()
                .find(|(_, body)| body.contains(COMMENT_MARKER))
        };
        if let Some(found) = find(first) {
            return Ok(Some(found));
        }
        for page in (2..=last).rev().take(MAX_COMMENT_PAGES.saturating_sub(1)) {
            if let Some(found) = find(self.comment_page(number, page).await?.0) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}
