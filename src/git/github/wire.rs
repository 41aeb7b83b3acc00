//! The few fields chartpilot reads from GitHub's answers.

use serde::Deserialize;

use crate::domain::CommitSha;
use crate::git::{GitError, PullRequest, PullState};

#[derive(Deserialize)]
pub struct Sha {
    pub sha: String,
}

impl Sha {
    pub fn commit(&self) -> Result<CommitSha, GitError> {
        CommitSha::parse(&self.sha)
            .map_err(|e| GitError::Unavailable(format!("unexpected answer from GitHub: {e}")))
    }
}

#[derive(Deserialize)]
pub struct Ref {
    /// `refs/heads/<branch>`.
    #[serde(rename = "ref", default)]
    pub name: String,
    pub object: Sha,
}

#[derive(Deserialize)]
pub struct Commit {
    pub tree: Sha,
}

/// `GET compare/{base}...{head}`: how the two relate, and the files that
/// differ between their merge base and `head`.
#[derive(Deserialize)]
pub struct Compare {
    /// `ahead`, `behind`, `identical` or `diverged`.
    pub status: String,
    /// At most [`MAX_COMPARE_FILES`]; GitHub stops listing there.
    #[serde(default)]
    pub files: Vec<ComparedFile>,
    /// Where the two histories meet.
    #[serde(default)]
    pub merge_base_commit: Option<Sha>,
}

/// The most files GitHub lists in one comparison.
pub const MAX_COMPARE_FILES: usize = 300;

#[derive(Deserialize)]
pub struct ComparedFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or
    /// `unchanged`.
    pub status: String,
    /// The old path of a rename.
    #[serde(default)]
    pub previous_filename: Option<String>,
    /// The file's diff hunks; GitHub leaves it out for binary files and
    /// large diffs.
    #[serde(default)]
    pub patch: Option<String>,
}

/// One entry of `GET commits?sha=…`.
#[derive(Deserialize)]
pub struct ListedCommit {
    pub sha: String,
    #[serde(default)]
    pub parents: Vec<Sha>,
    pub commit: CommitDetail,
}

#[derive(Deserialize)]
pub struct CommitDetail {
    pub message: String,
    /// The commit's tree, which a later commit on it sends as `base_tree`.
    #[serde(default)]
    pub tree: Option<Sha>,
    /// GitHub's schema allows null; a git commit always has one.
    #[serde(default)]
    pub committer: Option<Signature>,
}

#[derive(Deserialize)]
pub struct Signature {
    /// RFC 3339.
    pub date: String,
}

#[derive(Deserialize)]
pub struct Label {
    pub name: String,
}

#[derive(Deserialize)]
pub struct Branch {
    #[serde(rename = "ref")]
    pub name: String,
    /// Where the branch lives: null when a fork was deleted.
    #[serde(default)]
    pub repo: Option<RepoName>,
}

#[derive(Deserialize)]
pub struct RepoName {
    pub full_name: String,
}

impl Pull {
    /// Whether the head branch lives in `owner/name` itself. A pull request
    /// from a fork may carry any branch name, `chartpilot/upgrade/…`
    /// included; it is never taken for chartpilot's own.
    pub fn is_from_repository(&self, repo: &str) -> bool {
        self.head
            .repo
            .as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(repo))
    }
}

#[derive(Deserialize)]
pub struct Pull {
    pub number: u64,
    pub head: Branch,
    pub base: Branch,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl From<Pull> for PullRequest {
    fn from(p: Pull) -> Self {
        // GitHub reports a merged pull request as `closed`; `merged_at`
        // tells the two apart.
        let state = match (p.state.as_str(), &p.merged_at) {
            ("open", _) => PullState::Open,
            (_, Some(_)) => PullState::Merged,
            _ => PullState::Closed,
        };
        PullRequest {
            number: p.number,
            head: p.head.name,
            base: p.base.name,
            title: p.title,
            body: p.body.unwrap_or_default(),
            state,
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            url: p.html_url,
            // GitHub fills `merge_commit_sha` with a test merge while the
            // pull request is open; only a merged one's counts.
            merge_commit: p
                .merge_commit_sha
                .filter(|_| state == PullState::Merged)
                .and_then(|s| CommitSha::parse(&s).ok()),
            merged_at: p
                .merged_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        }
    }
}

/// The `rel="next"` target of a `Link` header, as a path and query: the
/// request stays on the configured host whatever the header names.
pub fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == "rel=\"next\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = reqwest::Url::parse(target).ok()?;
        Some(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        })
    })
}

/// The page number of the `rel="last"` target of a `Link` header.
pub fn last_page(link: &str) -> Option<u32> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == "rel=\"last\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = reqwest::Url::parse(target).ok()?;
        let page = url.query_pairs().find(|(k, _)| k == "page")?.1;
        page.parse().ok()
    })
}

/// Percent-encodes what may not appear raw in a URL path; `/` stays, as
/// branch names and file paths use it between segments.
pub fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let link =
            "<https://api.github.com/repositories/1/pulls?state=open&page=2>; rel=\"next\", \
                    <https://api.github.com/repositories/1/pulls?state=open&page=5>; rel=\"last\"";
        assert_eq!(
            next_page(link).as_deref(),
            Some("/repositories/1/pulls?state=open&page=2")
        );
        assert_eq!(next_page("<https://x/y?page=1>; rel=\"prev\""), None);
        assert_eq!(next_page("garbage"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            encode_path("chartpilot/upgrade/dev/a-1.2.3"),
            "chartpilot/upgrade/dev/a-1.2.3"
        );
        assert_eq!(encode_path("a b#?"), "a%20b%23%3F");
    }
}
