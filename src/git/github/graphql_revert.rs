//! A revert PR in two GraphQL mutations instead of six REST calls: the
//! first makes the branch, commits the revert on it and opens the PR
//! (`createRef`, `createCommitOnBranch`, `createPullRequest`, run in that
//! order by GitHub, each failing alone; the label ids asked in the PR's
//! payload); the second labels it and comments on the PR that brought the
//! change, whose node id the rollback's texts query read. Without what it
//! needs (the repository's node id, a label that exists, the origin's id)
//! the missing part goes over REST, and so does a revert of an executable
//! file (`createCommitOnBranch` takes no file mode).
//!
//! A branch without the revert commit never gets a PR (nothing between it
//! and the base): the branch this mutation made is removed when its commit
//! failed, and an earlier run's left so is removed before the retry. Jobs of
//! one repository run one at a time (lanes), so no other run is working on
//! the branch meanwhile.

use std::collections::HashMap;

use data_encoding::BASE64;
use serde_json::{json, Value};

use super::graphql::FieldError;
use super::graphql_pulls::{GqlPull, PULL_FIELDS};
use super::{GithubHost, EXECUTABLE_MODE};
use crate::domain::CommitSha;
use crate::git::revert_pull::{open_revert_by_calls, tell_by_calls};
use crate::git::{FileChange, GitError, GitHost, PullRequest, RevertOpened, RevertWrite};

/// Pull request ids kept; past it the map starts again.
const MAX_KNOWN_PULLS: usize = 1_000;

/// The fields of the first mutation, in the order GitHub runs them.
const OPEN_FIELDS: [&str; 3] = ["createRef", "createCommitOnBranch", "createPullRequest"];

/// GraphQL node ids the host learned from earlier answers.
#[derive(Default)]
pub struct NodeIds {
    repository: Option<String>,
    pulls: HashMap<u64, String>,
}

/// A commit message as `createCommitOnBranch` takes it: the first line,
/// and the rest without the blank line between.
fn commit_message(message: &str) -> Value {
    let (headline, body) = message.split_once('\n').unwrap_or((message, ""));
    let body = body.trim_start_matches('\n').trim_end();
    if body.is_empty() {
        json!({ "headline": headline })
    } else {
        json!({ "headline": headline, "body": body })
    }
}

/// `createCommitOnBranch`'s input: `changes` on `branch`, whose head must
/// be `parent`.
fn commit_input(
    repository: &str,
    branch: &str,
    parent: &CommitSha,
    message: &str,
    changes: &[FileChange],
) -> Value {
    let additions: Vec<Value> = changes
        .iter()
        .map(|c| json!({ "path": c.path, "contents": BASE64.encode(&c.content) }))
        .collect();
    json!({
        "branch": { "repositoryNameWithOwner": repository, "branchName": branch },
        "expectedHeadOid": parent.to_string(),
        "message": commit_message(message),
        "fileChanges": { "additions": additions },
    })
}

/// The first mutation for `labels` labels (`$l0`, …, asked in the PR's
/// payload).
fn open_mutation(labels: usize) -> String {
    let vars: String = (0..labels).map(|i| format!(", $l{i}: String!")).collect();
    let asked: String = (0..labels)
        .map(|i| format!(" l{i}: label(name: $l{i}) {{ id }}"))
        .collect();
    let repository = if labels == 0 {
        String::new()
    } else {
        format!(" repository {{{asked} }}")
    };
    format!(
        "mutation($ref: CreateRefInput!, $commit: CreateCommitOnBranchInput!, \
           $pull: CreatePullRequestInput!{vars}) {{ \
           createRef(input: $ref) {{ ref {{ id }} }} \
           createCommitOnBranch(input: $commit) {{ commit {{ oid }} }} \
           createPullRequest(input: $pull) {{ pullRequest {{ {PULL_FIELDS}{repository} }} }} \
         }}"
    )
}

/// The second mutation: labels, a comment, or both.
fn tell_mutation(labels: bool, comment: bool) -> String {
    let mut vars = Vec::new();
    let mut fields = String::new();
    if labels {
        vars.push("$labels: AddLabelsToLabelableInput!");
        fields.push_str(" addLabelsToLabelable(input: $labels) { clientMutationId }");
    }
    if comment {
        vars.push("$comment: AddCommentInput!");
        fields.push_str(" addComment(input: $comment) { clientMutationId }");
    }
    format!("mutation({}) {{{fields} }}", vars.join(", "))
}

/// The error a failed first mutation reports: the first failed field in
/// the order GitHub ran them, leaving out `createRef`'s when the branch was
/// there already (the fields after it then tell what went wrong).
fn first_failure(errors: &[FieldError], branch_there: bool) -> Option<&FieldError> {
    OPEN_FIELDS
        .iter()
        .filter(|f| !(branch_there && **f == "createRef"))
        .find_map(|f| errors.iter().find(|e| e.on(f)))
        .or_else(|| errors.first())
}

impl GithubHost {
    pub(super) fn remember_repository_id(&self, id: &str) {
        if let Ok(mut ids) = self.nodes.lock() {
            ids.repository = Some(id.to_owned());
        }
    }

    pub(super) fn remember_pull_id(&self, number: u64, id: &str) {
        if let Ok(mut ids) = self.nodes.lock() {
            if ids.pulls.len() >= MAX_KNOWN_PULLS {
                ids.pulls.clear();
            }
            ids.pulls.insert(number, id.to_owned());
        }
    }

    fn node_ids(&self, pull: u64) -> (Option<String>, Option<String>) {
        self.nodes
            .lock()
            .map(|ids| (ids.repository.clone(), ids.pulls.get(&pull).cloned()))
            .unwrap_or_default()
    }

    /// [`GitHost::open_revert`] in two mutations; in single REST calls
    /// without GraphQL (GHES), where the repository's id is not known, or
    /// for an executable file.
    pub(super) async fn open_revert_graphql(
        &self,
        w: &RevertWrite<'_>,
    ) -> Result<RevertOpened, GitError> {
        if !self.graphql || self.any_executable(w.parent, w.changes) {
            return open_revert_by_calls(self, w).await;
        }
        let origin = w.tell.as_ref().map(|t| t.number).unwrap_or_default();
        let (Some(repository), origin_id) = self.node_ids(origin) else {
            return open_revert_by_calls(self, w).await;
        };
        let branch = &w.pull.head;
        let what = format!("opening the revert PR from {branch}");
        let mut variables = json!({
            "ref": { "repositoryId": repository, "name": format!("refs/heads/{branch}"), "oid": w.parent.to_string() },
            "commit": commit_input(&self.repo(), branch, w.parent, w.message, w.changes),
            "pull": {
                "repositoryId": repository, "baseRefName": w.pull.base, "headRefName": branch,
                "title": w.pull.title, "body": w.pull.body,
            },
        });
        for (i, l) in w.pull.labels.iter().enumerate() {
            variables[format!("l{i}")] = json!(l);
        }
        let (data, errors) = self
            .graphql_answer(&open_mutation(w.pull.labels.len()), variables, &what, true)
            .await?;
        let opened: Option<GqlPull> = data
            .pointer("/createPullRequest/pullRequest")
            .filter(|v| !v.is_null())
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| GitError::Unavailable(format!("{what}: unexpected answer: {e}")))?;
        let Some(opened) = opened else {
            return self.not_opened(w, &data, &errors, &what).await;
        };
        let label_ids: Option<Vec<String>> = (0..w.pull.labels.len())
            .map(|i| {
                data.pointer(&format!(
                    "/createPullRequest/pullRequest/repository/l{i}/id"
                ))
                .and_then(Value::as_str)
                .map(str::to_owned)
            })
            .collect();
        let pull_id = opened.id.clone();
        let mut pull = opened.into_pull();
        self.remember_pull_id(pull.number, &pull_id);
        tracing::info!(repo = %self.repo(), branch = %branch, pr = pull.number, "opened pull request");
        let told = self
            .label_and_tell(w, &mut pull, &pull_id, label_ids, origin_id)
            .await;
        Ok(RevertOpened::Opened { pull, told })
    }

    /// Whether a change rewrites an executable file (its mode known from
    /// the snapshot of `parent`): `createCommitOnBranch` takes no mode.
    fn any_executable(&self, parent: &CommitSha, changes: &[FileChange]) -> bool {
        changes
            .iter()
            .any(|c| self.mode(parent, &c.path) == EXECUTABLE_MODE)
    }

    /// [`GitHost::push_commit`] in one mutation (REST without GraphQL, or
    /// for an executable file). A refused commit on a branch that moved is
    /// [`GitError::NotFastForward`], as over REST.
    pub(super) async fn push_commit_graphql(
        &self,
        branch: &str,
        parent: &CommitSha,
        message: &str,
        changes: &[FileChange],
    ) -> Result<CommitSha, GitError> {
        if !self.graphql || self.any_executable(parent, changes) {
            return crate::git::push_commit_by_calls(self, branch, parent, message, changes).await;
        }
        let what = format!("committing on {branch}");
        let query = "mutation($input: CreateCommitOnBranchInput!) { \
             createCommitOnBranch(input: $input) { commit { oid } } }";
        let input = commit_input(&self.repo(), branch, parent, message, changes);
        let (data, errors) = self
            .graphql_answer(query, json!({ "input": input }), &what, true)
            .await?;
        if let Some(oid) = data
            .pointer("/createCommitOnBranch/commit/oid")
            .and_then(Value::as_str)
        {
            let sha = CommitSha::parse(oid)
                .map_err(|e| GitError::Unavailable(format!("{what}: unexpected answer: {e}")))?;
            tracing::info!(repo = %self.repo(), branch, commit = %sha, "committed on the branch");
            return Ok(sha);
        }
        if self.branch_head(branch).await?.as_ref() != Some(parent) {
            return Err(GitError::NotFastForward(branch.to_owned()));
        }
        Err(match errors.first() {
            Some(e) => e.to_git_error(&what),
            None => GitError::Unavailable(format!("{what}: GitHub made no commit")),
        })
    }

    /// The PR was not opened: another run's PR for the branch (or this
    /// one's, whose answer failed), else the error, after removing a branch
    /// left without the revert commit.
    async fn not_opened(
        &self,
        w: &RevertWrite<'_>,
        data: &Value,
        errors: &[FieldError],
        what: &str,
    ) -> Result<RevertOpened, GitError> {
        let branch = &w.pull.head;
        if let Some(pr) = self.find_pull(branch).await? {
            return Ok(RevertOpened::Existing(pr));
        }
        let made = data.pointer("/createRef/ref/id").and_then(Value::as_str);
        let committed = data
            .pointer("/createCommitOnBranch/commit/oid")
            .is_some_and(|v| !v.is_null());
        let mut branch_there = made.is_some();
        if !committed {
            match made {
                Some(id) => self.delete_ref(id, branch).await,
                None => {
                    if let Some((id, head)) = self.branch_ref(branch).await? {
                        branch_there = true;
                        // An earlier run's branch without its commit: in the
                        // base's history, it holds nothing of its own.
                        if self.contains(w.parent, &head).await? {
                            self.delete_ref(&id, branch).await;
                            return Err(GitError::Unavailable(format!(
                                "{what}: removed the revert branch an earlier run left without its commit; retrying"
                            )));
                        }
                    }
                }
            }
        }
        Err(
            match first_failure(errors, branch_there && made.is_none()) {
                Some(e) => e.to_git_error(what),
                None => GitError::Unavailable(format!("{what}: GitHub opened no pull request")),
            },
        )
    }

    /// The node id and commit of `branch`, None when there is none.
    async fn branch_ref(&self, branch: &str) -> Result<Option<(String, CommitSha)>, GitError> {
        let query = "query($owner: String!, $name: String!, $ref: String!) { \
             repository(owner: $owner, name: $name) { ref(qualifiedName: $ref) { id target { oid } } } }";
        let variables = json!({
            "owner": self.owner, "name": self.name, "ref": format!("refs/heads/{branch}"),
        });
        let data = self
            .graphql(query, variables, &format!("branch {branch}"))
            .await?;
        let Some(found) = data.pointer("/repository/ref").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let id = found["id"].as_str().unwrap_or_default().to_owned();
        let head =
            crate::domain::CommitSha::parse(found["target"]["oid"].as_str().unwrap_or_default())
                .map_err(|e| {
                    GitError::Unavailable(format!("branch {branch}: unexpected answer: {e}"))
                })?;
        Ok(Some((id, head)))
    }

    /// Removes a branch by its node id; a failure is logged (the next
    /// attempt finds the branch and removes it then).
    async fn delete_ref(&self, id: &str, branch: &str) {
        let query =
            "mutation($input: DeleteRefInput!) { deleteRef(input: $input) { clientMutationId } }";
        let variables = json!({ "input": { "refId": id } });
        let why = match self
            .graphql_answer(query, variables, "removing the branch", true)
            .await
        {
            Ok((_, errors)) => errors
                .first()
                .map(|e| e.to_git_error("removing the branch").to_string()),
            Err(e) => Some(e.to_string()),
        };
        match why {
            None => {
                tracing::info!(repo = %self.repo(), branch, "removed a revert branch without its commit")
            }
            Some(why) => {
                tracing::warn!(repo = %self.repo(), branch, error = %why, "the revert branch without its commit was not removed")
            }
        }
    }

    /// The second mutation: the labels (over REST when a label does not
    /// exist yet: GitHub creates it there) and the comment on the PR that
    /// brought the change (over REST when its id was not read). Returns
    /// whether the comment was written (None: nothing to tell, or failed).
    async fn label_and_tell(
        &self,
        w: &RevertWrite<'_>,
        pull: &mut PullRequest,
        pull_id: &str,
        label_ids: Option<Vec<String>>,
        origin_id: Option<String>,
    ) -> Option<bool> {
        let labels = &w.pull.labels;
        let label_ids = label_ids.filter(|_| !labels.is_empty());
        if label_ids.is_none() && !labels.is_empty() {
            match self.add_labels(pull.number, labels).await {
                Ok(()) => pull.labels = labels.clone(),
                Err(e) => tracing::warn!(pr = pull.number, error = %e, "labels not added"),
            }
        }
        let comment = w.tell.as_ref().zip(origin_id);
        let mut told = match (&w.tell, &comment) {
            (Some(t), None) => tell_by_calls(self, t, pull).await,
            _ => None,
        };
        if label_ids.is_none() && comment.is_none() {
            return told;
        }
        let mut variables = json!({});
        if let Some(ids) = &label_ids {
            variables["labels"] = json!({ "labelableId": pull_id, "labelIds": ids });
        }
        if let Some((t, id)) = &comment {
            variables["comment"] = json!({ "subjectId": id, "body": t.body(pull) });
        }
        let what = format!("labelling and telling about #{}", pull.number);
        let query = tell_mutation(label_ids.is_some(), comment.is_some());
        let answer = self.graphql_answer(&query, variables, &what, true).await;
        let failed = |field: &str| match &answer {
            Ok((_, errors)) => errors
                .iter()
                .find(|e| e.on(field))
                .map(|e| e.to_git_error(&what).to_string()),
            Err(e) => Some(e.to_string()),
        };
        if label_ids.is_some() {
            match failed("addLabelsToLabelable") {
                None => pull.labels = labels.clone(),
                Some(why) => tracing::warn!(pr = pull.number, error = %why, "labels not added"),
            }
        }
        if let Some((t, _)) = &comment {
            told = match failed("addComment") {
                None => Some(true),
                Some(why) => {
                    tracing::warn!(pr = t.number, error = %why, "comment on the PR that brought the change failed");
                    None
                }
            };
        }
        told
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_messages_split_into_headline_and_body() {
        let cases = [
            ("one line", json!({ "headline": "one line" })),
            (
                "subject\n\nbody\nmore\n",
                json!({ "headline": "subject", "body": "body\nmore" }),
            ),
            ("subject\n", json!({ "headline": "subject" })),
        ];
        for (message, want) in cases {
            assert_eq!(commit_message(message), want, "{message:?}");
        }
    }

    #[test]
    fn the_mutations_ask_for_what_they_are_given() {
        let q = open_mutation(2);
        assert!(q.contains("$l1: String!"), "{q}");
        assert!(q.contains("l1: label(name: $l1) { id }"), "{q}");
        assert!(!open_mutation(0).contains("repository {"));
        assert_eq!(
            tell_mutation(false, true),
            "mutation($comment: AddCommentInput!) { addComment(input: $comment) { clientMutationId } }"
        );
        assert!(tell_mutation(true, true).contains("$labels: AddLabelsToLabelableInput!, $comment"));
    }

    #[test]
    fn errors_name_their_field_and_say_whether_to_retry() {
        let e: FieldError = serde_json::from_value(json!({
            "type": "UNPROCESSABLE", "path": ["createRef"], "message": "A ref named x already exists",
        }))
        .unwrap();
        assert!(e.on("createRef") && !e.on("createPullRequest"));
        assert!(!e.to_git_error("w").is_transient());
        let e: FieldError =
            serde_json::from_value(json!({ "message": "Something went wrong" })).unwrap();
        assert!(e.to_git_error("w").is_transient());
    }
}
