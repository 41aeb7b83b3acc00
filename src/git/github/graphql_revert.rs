//! A revert PR in two GraphQL mutations instead of six REST calls: the
//! first makes the branch, commits the revert on it and opens the PR
//! (`createRef`, `createCommitOnBranch`, `createPullRequest`, run in that
//! order by GitHub, with the label ids asked in the PR's payload); the
//! second labels it and comments on the PR that brought the change, whose
//! node id and comments the rollback's texts query read. Without what it
//! needs (the repository's node id, a label's id, the origin's id and
//! comments) the missing part goes over REST as before.

use std::collections::HashMap;

use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{json, Value};

use super::graphql_pulls::{GqlPull, PULL_FIELDS};
use super::transport::Verb;
use super::GithubHost;
use crate::git::revert_pull::{open_revert_by_calls, tell_by_calls};
use crate::git::{GitError, GitHost, PullRequest, RevertOpened, RevertWrite};

/// Pull request ids kept; past it the map starts again.
const MAX_KNOWN_PULLS: usize = 1_000;

/// How much of GitHub's error messages an error keeps.
const MAX_MESSAGE_CHARS: usize = 200;

/// GraphQL node ids the host learned from earlier answers.
#[derive(Default)]
pub struct NodeIds {
    repository: Option<String>,
    pulls: HashMap<u64, String>,
}

#[derive(Deserialize)]
struct Answer {
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Deserialize, Debug)]
pub struct FieldError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Vec<Value>,
}

impl FieldError {
    fn on(&self, field: &str) -> bool {
        self.path.first().and_then(Value::as_str) == Some(field)
    }

    fn to_git_error(&self, what: &str) -> GitError {
        let message: String = self.message.chars().take(MAX_MESSAGE_CHARS).collect();
        match self.kind.as_deref() {
            Some("NOT_FOUND") => GitError::NotFound(format!("{what}: {message}")),
            Some("UNPROCESSABLE" | "FORBIDDEN" | "UNAUTHORIZED") => {
                GitError::Refused(format!("{what}: GitHub answered: {message}"))
            }
            _ => GitError::Unavailable(format!("{what}: GitHub answered: {message}")),
        }
    }
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

    /// One mutation, sent once (a lost answer may come after GitHub
    /// acted): what GitHub did and its errors, each naming its field.
    async fn mutate(
        &self,
        query: &str,
        variables: Value,
        what: &str,
    ) -> Result<(Value, Vec<FieldError>), GitError> {
        let body = json!({ "query": query, "variables": variables });
        let reply = self.api.call_once(Verb::Post, "/graphql", &body).await?;
        if !reply.is_success() {
            return Err(reply.error(what));
        }
        let answer: Answer = reply.json(what)?;
        Ok((answer.data.unwrap_or(Value::Null), answer.errors))
    }

    /// [`GitHost::open_revert`] in two mutations; in single REST calls
    /// where GraphQL is not at hand or the repository's id is not known.
    pub(super) async fn open_revert_graphql(
        &self,
        w: &RevertWrite<'_>,
    ) -> Result<RevertOpened, GitError> {
        let origin = w.tell.as_ref().map(|t| t.number).unwrap_or_default();
        let (Some(repository), origin_id) = self.node_ids(origin) else {
            return open_revert_by_calls(self, w).await;
        };
        let branch = &w.pull.head;
        let what = format!("opening the revert PR from {branch}");
        let additions: Vec<Value> = w
            .changes
            .iter()
            .map(|c| json!({ "path": c.path, "contents": BASE64.encode(&c.content) }))
            .collect();
        let mut variables = json!({
            "ref": { "repositoryId": repository, "name": format!("refs/heads/{branch}"), "oid": w.parent.to_string() },
            "commit": {
                "branch": { "repositoryNameWithOwner": self.repo(), "branchName": branch },
                "expectedHeadOid": w.parent.to_string(),
                "message": commit_message(w.message),
                "fileChanges": { "additions": additions },
            },
            "pull": {
                "repositoryId": repository, "baseRefName": w.pull.base, "headRefName": branch,
                "title": w.pull.title, "body": w.pull.body,
            },
        });
        for (i, l) in w.pull.labels.iter().enumerate() {
            variables[format!("l{i}")] = json!(l);
        }
        let (data, errors) = self
            .mutate(&open_mutation(w.pull.labels.len()), variables, &what)
            .await?;
        let opened: Option<GqlPull> = data
            .pointer("/createPullRequest/pullRequest")
            .filter(|v| !v.is_null())
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| GitError::Unavailable(format!("{what}: unexpected answer: {e}")))?;
        let Some(opened) = opened else {
            return self.not_opened(&data, &errors, branch, &what).await;
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

    /// The PR was not opened: a branch of another run with its PR (that
    /// PR), else the first error. A branch made here whose commit failed is
    /// removed, so a retry starts clean.
    async fn not_opened(
        &self,
        data: &Value,
        errors: &[FieldError],
        branch: &str,
        what: &str,
    ) -> Result<RevertOpened, GitError> {
        let made = data
            .pointer("/createRef/ref/id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let committed = data
            .pointer("/createCommitOnBranch/commit/oid")
            .is_some_and(|v| !v.is_null());
        if let (Some(ref_id), false) = (&made, committed) {
            let query = "mutation($input: DeleteRefInput!) { deleteRef(input: $input) { clientMutationId } }";
            if let Err(e) = self
                .mutate(
                    query,
                    json!({ "input": { "refId": ref_id } }),
                    "removing the branch",
                )
                .await
            {
                tracing::warn!(branch, error = %e, "the revert branch without its commit was not removed");
            }
        }
        // A branch that was not made here (GitHub's words for "it exists"
        // are not a contract) may be another run's, with its PR.
        if made.is_none() {
            if let Some(pr) = self.find_pull(branch).await? {
                return Ok(RevertOpened::Existing(pr));
            }
        }
        let first = ["createCommitOnBranch", "createPullRequest", "createRef"]
            .iter()
            .find_map(|f| errors.iter().find(|e| e.on(f)))
            .or(errors.first());
        Err(match first {
            Some(e) => e.to_git_error(what),
            None => GitError::Unavailable(format!("{what}: GitHub opened no pull request")),
        })
    }

    /// The second mutation: the labels (REST when a label does not exist
    /// yet: GitHub creates it there) and the comment on the PR that
    /// brought the change (REST when its id or comments were not read).
    async fn label_and_tell(
        &self,
        w: &RevertWrite<'_>,
        pull: &mut PullRequest,
        pull_id: &str,
        label_ids: Option<Vec<String>>,
        origin_id: Option<String>,
    ) -> Option<bool> {
        let labels = !w.pull.labels.is_empty() && label_ids.is_some();
        let tell = w.tell.as_ref();
        let already = tell.and_then(|t| t.known.map(|k| t.marked_in(k, pull)));
        let comment = match (tell, already, &origin_id) {
            (Some(t), Some(false), Some(id)) => Some((t, id)),
            _ => None,
        };
        if !w.pull.labels.is_empty() && !labels {
            match self.add_labels(pull.number, &w.pull.labels).await {
                Ok(()) => pull.labels = w.pull.labels.clone(),
                Err(e) => tracing::warn!(pr = pull.number, error = %e, "labels not added"),
            }
        }
        let mut told = match (tell, already) {
            (None, _) => None,
            (Some(_), Some(true)) => Some(false),
            (Some(t), _) if comment.is_none() => tell_by_calls(self, t, pull).await,
            (Some(_), _) => None,
        };
        if !labels && comment.is_none() {
            return told;
        }
        let mut variables = json!({});
        if let Some(ids) = label_ids.filter(|_| labels) {
            variables["labels"] = json!({ "labelableId": pull_id, "labelIds": ids });
        }
        if let Some((t, id)) = comment {
            variables["comment"] = json!({ "subjectId": id, "body": t.body(pull) });
        }
        let what = format!("labelling #{}", pull.number);
        match self
            .mutate(&tell_mutation(labels, comment.is_some()), variables, &what)
            .await
        {
            Ok((_, errors)) => {
                if labels {
                    match errors.iter().find(|e| e.on("addLabelsToLabelable")) {
                        None => pull.labels = w.pull.labels.clone(),
                        Some(e) => {
                            tracing::warn!(pr = pull.number, error = %e.to_git_error(&what), "labels not added")
                        }
                    }
                }
                if let Some((t, _)) = comment {
                    told = match errors.iter().find(|e| e.on("addComment")) {
                        None => Some(true),
                        Some(e) => {
                            tracing::warn!(pr = t.number, error = %e.to_git_error("commenting"), "comment on the PR that brought the change failed");
                            None
                        }
                    };
                }
            }
            Err(e) => {
                tracing::warn!(pr = pull.number, error = %e, "labels and comment not written");
                if comment.is_some() {
                    told = None;
                }
            }
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
