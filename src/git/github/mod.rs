//! GitHub as the git host, through octocrab's raw requests and the Git Data
//! API: no clone, and a known number of calls per operation (an upgrade PR
//! is at most six: the base's tree, tree, commit, ref, pull, labels).

mod auth;
mod checks;
mod commits;
mod etag;
mod graphql;
mod graphql_pulls;
mod graphql_revert;
mod history;
mod installations;
mod issues;
mod people;
mod pulls;
mod tarball;
mod transport;
mod wire;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use self::transport::{Api, Reply, Verb};
use self::wire::encode_path;
use crate::clock::{Clock, SystemClock};
use crate::domain::CommitSha;
use crate::git::{
    ChangedPath, CommitInfo, FileChange, GitError, GitHost, Issue, NewPull, PullRequest,
};
use crate::settings::{GitSettings, GithubSettings};

pub use self::auth::INSTALLATION_TOKEN_MARGIN;
pub use self::installations::{Installations, InstalledRepository};
pub use self::transport::MAX_INLINE_WAIT;

/// GitHub's largest page: the fewest calls to list open pull requests.
const PER_PAGE: u32 = 100;

/// A bound on pages followed, so a misbehaving `Link` header cannot loop a
/// worker forever; 50 pages are 5000 open pull requests.
const MAX_PAGES: usize = 50;

/// The most pages of one pull request's comments read (the first, then
/// the newest): 1000 comments, more than any PR chartpilot comments on
/// gathers, still a bounded number of calls.
const MAX_COMMENT_PAGES: usize = 10;

/// How GitHub's 404 for a comparison of unrelated histories begins
/// (`No common ancestor between {base} and {head}.`).
const NO_COMMON_ANCESTOR: &str = "No common ancestor between";

/// How many commit → tree pairs a host remembers: a worker's pass lists
/// at most a page of history (100) and makes a few commits; past this
/// the map starts over rather than grow.
const MAX_KNOWN_TREES: usize = 1024;

/// The mode of a file written by `commit` when the last snapshot did not
/// show it executable. Pins live in YAML and HCL, never in scripts.
const FILE_MODE: &str = "100644";
const EXECUTABLE_MODE: &str = "100755";

/// Asks for a file's bytes instead of its JSON description.
const RAW: &str = "application/vnd.github.raw";

pub struct GithubHost {
    api: Api,
    owner: String,
    name: String,
    /// `/repos/{owner}/{name}`, the prefix of nearly every call.
    repo_path: String,
    base: String,
    /// The executable files of the last snapshot, so `commit` keeps their
    /// mode without asking GitHub for the parent's tree.
    executables: Mutex<Option<(CommitSha, HashSet<String>)>>,
    /// Trees of commits this host made or listed, by commit id: what
    /// `commit` sends as `base_tree` without asking again.
    trees: Mutex<HashMap<String, String>>,
    /// GraphQL is at `/graphql` of the API root (github.com, and a root
    /// without a path). GitHub Enterprise Server serves REST under
    /// `/api/v3` and GraphQL at `/api/graphql`, which the client, joined to
    /// the REST root, cannot reach: there the REST reads stand in.
    graphql: bool,
    /// Node ids learned from GraphQL answers, for the mutations.
    nodes: Mutex<graphql_revert::NodeIds>,
}

impl GithubHost {
    /// Builds the client from settings: `api_url` as base (GitHub
    /// Enterprise, tests), a token or an App. Needs a running tokio runtime;
    /// makes no request.
    pub fn from_settings(github: &GithubSettings, git: &GitSettings) -> Result<Self, GitError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(GitError::Refused(
                "the GitHub client must be built inside the tokio runtime".to_owned(),
            ));
        }
        let (owner, name) = git
            .repository
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| {
                GitError::Refused(format!(
                    "git.repository `{}` is not `owner/name`",
                    git.repository
                ))
            })?;
        let repo_path = format!("/repos/{}/{}", encode_path(owner), encode_path(name));
        Ok(Self {
            api: Api {
                credentials: auth::Credentials::from_settings(github, &repo_path)?,
                clock: Arc::new(SystemClock),
                etags: std::sync::Mutex::default(),
                installation: transport::installation_label(github, owner),
                metrics: std::sync::OnceLock::new(),
            },
            owner: owner.to_owned(),
            name: name.to_owned(),
            repo_path,
            base: git.branch.clone(),
            executables: Mutex::new(None),
            trees: Mutex::new(HashMap::new()),
            graphql: graphql::at_root(&github.api_url),
            nodes: Mutex::default(),
        })
    }

    /// Replaces the clock that rate-limit resets are measured against.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.api.clock = clock;
        self
    }

    fn repo(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    async fn get(&self, path: &str) -> Result<Reply, GitError> {
        self.api.call(Verb::Get, path, None, None).await
    }

    async fn send(
        &self,
        verb: Verb,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Reply, GitError> {
        self.api.call(verb, path, Some(&body), None).await
    }

    fn mode(&self, parent: &CommitSha, path: &str) -> &'static str {
        let known = self.executables.lock().ok().and_then(|cache| {
            cache
                .as_ref()
                .filter(|(rev, _)| rev == parent)
                .map(|(_, set)| set.contains(path))
        });
        if known == Some(true) {
            EXECUTABLE_MODE
        } else {
            FILE_MODE
        }
    }

    async fn create_tree(
        &self,
        base_tree: &str,
        entries: &[serde_json::Value],
    ) -> Result<Reply, GitError> {
        let path = format!("{}/git/trees", self.repo_path);
        self.send(
            Verb::Post,
            &path,
            json!({ "base_tree": base_tree, "tree": entries }),
        )
        .await
    }
}

#[async_trait]
impl GitHost for GithubHost {
    fn attach_metrics(&self, metrics: &Arc<crate::metrics::Metrics>) {
        let _ = self.api.metrics.set(Arc::clone(metrics));
    }

    fn describe(&self) -> String {
        format!("github:{}", self.repo())
    }

    fn base_branch(&self) -> &str {
        &self.base
    }

    async fn branch_head(&self, branch: &str) -> Result<Option<CommitSha>, GitError> {
        let path = format!("{}/git/ref/heads/{}", self.repo_path, encode_path(branch));
        let reply = self.get(&path).await?;
        match reply.status {
            404 => Ok(None),
            _ if reply.is_success() => {
                Ok(Some(reply.json::<wire::Ref>("branch")?.object.commit()?))
            }
            _ => Err(reply.error(&format!("branch {branch}"))),
        }
    }

    async fn branches(&self, prefix: &str) -> Result<Vec<String>, GitError> {
        let mut next = Some(format!(
            "{}/git/matching-refs/heads/{}?per_page={PER_PAGE}",
            self.repo_path,
            encode_path(prefix)
        ));
        let mut names = Vec::new();
        for _ in 0..MAX_PAGES {
            let Some(path) = next.take() else { break };
            let reply = self.get(&path).await?;
            if !reply.is_success() {
                return Err(reply.error(&format!("branches under {prefix}")));
            }
            let page: Vec<wire::Ref> = reply.json("branches")?;
            names.extend(
                page.into_iter()
                    .filter_map(|r| r.name.strip_prefix("refs/heads/").map(str::to_owned))
                    .filter(|b| b.starts_with(prefix)),
            );
            next = reply.next_page();
        }
        Ok(names)
    }

    async fn contains(
        &self,
        descendant: &CommitSha,
        ancestor: &CommitSha,
    ) -> Result<bool, GitError> {
        // The compare API's `status` says how `descendant` relates to
        // `ancestor`: `ahead` or `identical` means it contains it.
        let path = format!("{}/compare/{ancestor}...{descendant}", self.repo_path);
        let reply = self.get(&path).await?;
        match reply.status {
            // Unrelated histories: neither contains the other.
            404 if reply.message().starts_with(NO_COMMON_ANCESTOR) => Ok(false),
            404 => Err(GitError::NotFound(format!(
                "commit {ancestor} or {descendant}"
            ))),
            _ if reply.is_success() => {
                let c: wire::Compare = reply.json("comparison")?;
                Ok(matches!(c.status.as_str(), "ahead" | "identical"))
            }
            _ => Err(reply.error(&format!("comparing {ancestor}...{descendant}"))),
        }
    }

    async fn first_parent_history(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CommitInfo>, GitError> {
        self.history(head, since).await
    }

    async fn path_steps(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
        paths: &[String],
        pulls_of: Option<&str>,
    ) -> Result<Vec<crate::git::PathStep>, GitError> {
        if !self.graphql || paths.is_empty() || paths.len() > graphql::MAX_PATHS {
            return crate::git::path_steps_by_reads(self, head, since, paths).await;
        }
        self.path_steps_graphql(head, since, paths, pulls_of).await
    }

    async fn changed_paths(
        &self,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Vec<ChangedPath>, GitError> {
        self.compare_paths(from, to).await
    }

    async fn pull_of_commit(&self, sha: &CommitSha) -> Result<Option<u64>, GitError> {
        self.merged_pull_of(sha).await
    }

    async fn snapshot(&self, rev: &CommitSha, dest: &Path) -> Result<(), GitError> {
        let path = format!("{}/tarball/{rev}", self.repo_path);
        let unpacked = self
            .tarball(&path, dest, &format!("tarball of {rev}"))
            .await?
            .ok_or_else(|| GitError::NotFound(format!("tarball of {rev}")))?;
        self.remember_executables(rev, unpacked.executables);
        Ok(())
    }

    async fn snapshot_branch(
        &self,
        branch: &str,
        dest: &Path,
    ) -> Result<Option<CommitSha>, GitError> {
        self.branch_tarball(branch, dest).await
    }

    async fn read_file(&self, rev: &CommitSha, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let query = serde_urlencoded::to_string([("ref", rev.as_ref())])
            .map_err(|e| GitError::Refused(format!("contents query: {e}")))?;
        let url = format!("{}/contents/{}?{query}", self.repo_path, encode_path(path));
        let reply = self.api.call(Verb::Get, &url, None, Some(RAW)).await?;
        match reply.status {
            404 => Ok(None),
            _ if reply.is_success() => Ok(Some(reply.body.to_vec())),
            _ => Err(reply.error(&format!("{path} at {rev}"))),
        }
    }

    async fn commit(
        &self,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        self.commit_on(parent, &[], message, changes).await
    }

    async fn merge_commit(
        &self,
        branch_head: &CommitSha,
        base: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        self.commit_on(base, &[branch_head], message, changes).await
    }

    async fn create_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError> {
        let body = json!({ "ref": format!("refs/heads/{branch}"), "sha": sha.as_ref() });
        let reply = self
            .send(Verb::Post, &format!("{}/git/refs", self.repo_path), body)
            .await?;
        match reply.status {
            _ if reply.is_success() => {
                tracing::info!(repo = %self.repo(), branch, %sha, "created branch");
                Ok(())
            }
            422 if reply.message().contains("already exists") => {
                Err(GitError::BranchExists(branch.to_owned()))
            }
            _ => Err(reply.error(&format!("creating branch {branch}"))),
        }
    }

    async fn update_branch(&self, branch: &str, sha: &CommitSha) -> Result<(), GitError> {
        let path = format!("{}/git/refs/heads/{}", self.repo_path, encode_path(branch));
        let reply = self
            .send(
                Verb::Patch,
                &path,
                json!({ "sha": sha.as_ref(), "force": false }),
            )
            .await?;
        let message = reply.message();
        match reply.status {
            _ if reply.is_success() => {
                tracing::info!(repo = %self.repo(), branch, %sha, "moved branch");
                Ok(())
            }
            422 if message.contains("fast forward") => {
                Err(GitError::NotFastForward(branch.to_owned()))
            }
            422 if message.contains("does not exist") => {
                Err(GitError::NotFound(format!("branch {branch}")))
            }
            _ => Err(reply.error(&format!("moving branch {branch}"))),
        }
    }

    async fn open_pulls(&self) -> Result<Vec<PullRequest>, GitError> {
        let per_page = PER_PAGE.to_string();
        self.pulls(&[("state", "open"), ("per_page", &per_page)])
            .await
    }

    async fn recently_closed_pulls(&self) -> Result<Vec<PullRequest>, GitError> {
        let per_page = PER_PAGE.to_string();
        self.pulls_page(&[
            ("state", "closed"),
            ("sort", "updated"),
            ("direction", "desc"),
            ("per_page", &per_page),
        ])
        .await
    }

    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>, GitError> {
        let head = format!("{}:{branch}", self.owner);
        let pulls = self.pulls(&[("state", "all"), ("head", &head)]).await?;
        // The head filter is exact on GitHub; checking again costs nothing.
        Ok(pulls
            .into_iter()
            .filter(|p| p.head == branch)
            .max_by_key(|p| p.number))
    }

    async fn create_pull(&self, new: &NewPull) -> Result<PullRequest, GitError> {
        let body =
            json!({ "title": new.title, "body": new.body, "head": new.head, "base": new.base });
        let path = format!("{}/pulls", self.repo_path);
        let reply = self.api.call_once(Verb::Post, &path, &body).await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("opening a pull request from {}", new.head)));
        }
        let mut pull = PullRequest::from(reply.json::<wire::Pull>("pull request")?);
        tracing::info!(repo = %self.repo(), branch = %new.head, pr = pull.number, "opened pull request");
        if !new.labels.is_empty() {
            // The PR exists now: a labelling failure is reported, and the
            // next pass adds the labels an open PR lacks.
            match self.labels(pull.number, &new.labels).await {
                Ok(labels) => pull.labels = labels,
                Err(e) => {
                    tracing::warn!(pr = pull.number, error = %e, "labels not added; the next pass retries");
                }
            }
        }
        Ok(pull)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GitError> {
        self.labels(number, labels).await.map(|_| ())
    }

    async fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<(), GitError> {
        let path = format!("{}/pulls/{number}", self.repo_path);
        let reply = self
            .send(Verb::Patch, &path, json!({ "title": title, "body": body }))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("pull request #{number}")));
        }
        tracing::info!(repo = %self.repo(), pr = number, "updated pull request");
        Ok(())
    }

    async fn push_commit(
        &self,
        branch: &str,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        self.push_commit_graphql(branch, parent, message, changes)
            .await
    }

    async fn open_revert(
        &self,
        w: &crate::git::RevertWrite<'_>,
    ) -> Result<crate::git::RevertOpened, GitError> {
        self.open_revert_graphql(w).await
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), GitError> {
        let path = format!("{}/issues/{number}/comments", self.repo_path);
        let body = json!({ "body": body });
        let reply = self.api.call_once(Verb::Post, &path, &body).await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("commenting on #{number}")));
        }
        tracing::info!(repo = %self.repo(), pr = number, "commented");
        Ok(())
    }

    async fn comments(&self, number: u64) -> Result<Vec<String>, GitError> {
        // GitHub lists an issue's comments oldest first and cannot sort
        // them; the newest (where a redelivered job's own marker is) are
        // on the last pages, so those are read first after page one.
        let (oldest, last) = self.comment_page(number, 1).await?;
        let mut oldest: Vec<String> = oldest.into_iter().map(|(_, body)| body).collect();
        let mut newer = Vec::new();
        for page in (2..=last).rev().take(MAX_COMMENT_PAGES.saturating_sub(1)) {
            let bodies = self.comment_page(number, page).await?.0;
            newer.push(bodies.into_iter().map(|(_, body)| body));
        }
        if last > MAX_COMMENT_PAGES as u32 {
            tracing::warn!(
                pr = number,
                pages = last,
                "comments beyond the pages read are not seen"
            );
        }
        oldest.extend(newer.into_iter().rev().flatten());
        Ok(oldest)
    }

    async fn react(&self, comment_id: u64, reaction: &str) -> Result<(), GitError> {
        let path = format!("{}/issues/comments/{comment_id}/reactions", self.repo_path);
        let reply = self
            .send(Verb::Post, &path, json!({ "content": reaction }))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("reacting to comment {comment_id}")));
        }
        Ok(())
    }

    async fn team_member(&self, team: &str, user: &str) -> Result<bool, GitError> {
        self.membership(team, user).await
    }

    async fn permission(&self, user: &str) -> Result<crate::settings::RepoPermission, GitError> {
        self.permission_of(user).await
    }

    async fn close_pull(&self, number: u64, comment: &str) -> Result<(), GitError> {
        self.comment(number, comment).await?;
        let path = format!("{}/pulls/{number}", self.repo_path);
        let reply = self
            .send(Verb::Patch, &path, json!({ "state": "closed" }))
            .await?;
        if !reply.is_success() {
            return Err(reply.error(&format!("closing pull request #{number}")));
        }
        tracing::info!(repo = %self.repo(), pr = number, "closed pull request");
        Ok(())
    }

    async fn find_issue(&self, label: &str, marker: &str) -> Result<Option<Issue>, GitError> {
        self.find_labelled_issue(label, marker).await
    }

    async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<u64, GitError> {
        self.open_issue(title, body, labels).await
    }

    async fn edit_issue(&self, number: u64, body: &str) -> Result<(), GitError> {
        self.edit_issue_body(number, body).await
    }

    async fn pull_changes(
        &self,
        base_branch: &str,
        head: &CommitSha,
    ) -> Result<crate::git::PullChanges, GitError> {
        self.compare_pull(base_branch, head).await
    }

    async fn file_commits(
        &self,
        rev: &CommitSha,
        path: &str,
        max: usize,
    ) -> Result<Vec<CommitSha>, GitError> {
        self.commits_touching(rev, path, max).await
    }

    async fn report_check(&self, report: &crate::git::CheckReport) -> Result<(), GitError> {
        if self.api.credentials.is_app() {
            self.check_run(report).await
        } else {
            self.commit_status(report).await
        }
    }
}
