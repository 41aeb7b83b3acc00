//! Pull requests as GitHub's GraphQL API gives them: the selection
//! chartpilot reads, and the answer turned into a [`PullRequest`]. A
//! rollback's texts query asks, per step, for the revert PR of the step
//! and the PR that brought it, so neither costs a REST call.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::CommitSha;
use crate::git::{OriginPull, PullRequest, PullState, StepPulls};

/// The fields of a pull request chartpilot reads.
pub const PULL_FIELDS: &str = "id number title body state url headRefName baseRefName \
     isCrossRepository mergedAt mergeCommit { oid } labels(first: 100) { nodes { name } }";

/// PRs read per connection: a fork may name a branch like ours.
const PULLS_PER_BRANCH: usize = 5;

/// The newest comments of the PR that brought the newest step (where the
/// marker of a run that opened its revert PR and stopped before telling
/// would be); read for that step only, as comments can be long.
const ORIGIN_COMMENTS: usize = 50;

#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

#[derive(Deserialize)]
struct Oid {
    oid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlPull {
    pub id: String,
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    state: String,
    #[serde(default)]
    url: Option<String>,
    head_ref_name: String,
    base_ref_name: String,
    #[serde(default)]
    is_cross_repository: bool,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merge_commit: Option<Oid>,
    labels: Option<Nodes<Name>>,
}

impl GqlPull {
    pub fn into_pull(self) -> PullRequest {
        let state = match self.state.as_str() {
            "OPEN" => PullState::Open,
            "MERGED" => PullState::Merged,
            _ => PullState::Closed,
        };
        PullRequest {
            number: self.number,
            head: self.head_ref_name,
            base: self.base_ref_name,
            title: self.title,
            body: self.body.unwrap_or_default(),
            state,
            labels: self
                .labels
                .map(|l| l.nodes.into_iter().map(|n| n.name).collect())
                .unwrap_or_default(),
            url: self.url,
            merge_commit: self
                .merge_commit
                .filter(|_| state == PullState::Merged)
                .and_then(|c| CommitSha::parse(&c.oid).ok()),
            merged_at: self
                .merged_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlOrigin {
    id: String,
    number: u64,
    base_ref_name: String,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    comments: Option<Nodes<Body>>,
}

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Associated {
    associated_pull_requests: Option<Nodes<GqlOrigin>>,
}

/// Variables `$h{i}` (the branch) and `$c{i}` (the step) of step `i`.
pub fn step_vars(steps: usize) -> String {
    (0..steps)
        .map(|i| format!(", $h{i}: String!, $c{i}: GitObjectID!"))
        .collect()
}

/// The selections, under `repository`, of the PRs of `steps` steps: `r{i}`
/// the PRs whose head is `$h{i}`, `o{i}` the PRs the commit `$c{i}` is
/// associated with (with their newest comments for the newest step).
pub fn step_selections(steps: usize) -> String {
    (0..steps)
        .map(|i| {
            let comments = if i == 0 {
                format!(" comments(last: {ORIGIN_COMMENTS}) {{ nodes {{ body }} }}")
            } else {
                String::new()
            };
            format!(
                " r{i}: pullRequests(headRefName: $h{i}, first: {PULLS_PER_BRANCH}, \
                   states: [OPEN, CLOSED, MERGED], orderBy: {{field: CREATED_AT, direction: DESC}}) \
                   {{ nodes {{ {PULL_FIELDS} }} }} \
                 o{i}: object(oid: $c{i}) {{ ... on Commit {{ \
                   associatedPullRequests(first: {PULLS_PER_BRANCH}) {{ nodes {{ \
                     id number baseRefName mergedAt{comments} \
                   }} }} \
                 }} }}"
            )
        })
        .collect()
}

/// Step `i`'s pulls from the answer's `repository` object, with the node
/// id of the PR that brought it (for a comment by mutation); None when the
/// answer does not tell (unreadable, or a full page of PRs from forks that
/// may hide the repository's own): then they are asked over REST.
pub fn step_pulls_of(
    repository: &Value,
    i: usize,
    base: &str,
) -> Option<(StepPulls, Option<(u64, String)>)> {
    let by_branch: Nodes<GqlPull> =
        serde_json::from_value(repository.get(format!("r{i}"))?.clone()).ok()?;
    if by_branch.nodes.len() >= PULLS_PER_BRANCH
        && by_branch.nodes.iter().all(|p| p.is_cross_repository)
    {
        return None;
    }
    let by_branch = by_branch
        .nodes
        .into_iter()
        .filter(|p| !p.is_cross_repository)
        .max_by_key(|p| p.number)
        .map(GqlPull::into_pull);
    let associated: Associated =
        serde_json::from_value(repository.get(format!("o{i}"))?.clone()).ok()?;
    // As the REST reader: the PR merged into the base branch.
    let origin = associated
        .associated_pull_requests?
        .nodes
        .into_iter()
        .find(|p| p.merged_at.is_some() && p.base_ref_name == base);
    let id = origin.as_ref().map(|p| (p.number, p.id.clone()));
    let origin = origin.map(|p| OriginPull {
        number: p.number,
        comments: p
            .comments
            .map(|c| c.nodes.into_iter().map(|c| c.body).collect()),
    });
    Some((StepPulls { by_branch, origin }, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pull(number: u64, cross: bool) -> Value {
        json!({
            "id": format!("PR_{number}"), "number": number, "title": "t", "body": null,
            "state": "MERGED", "url": "https://github.example/p", "headRefName": "chartpilot/revert/x",
            "baseRefName": "main", "isCrossRepository": cross, "mergedAt": "2026-12-01T00:00:00Z",
            "mergeCommit": { "oid": "a".repeat(40) }, "labels": { "nodes": [{ "name": "rollback" }] },
        })
    }

    #[test]
    fn the_newest_own_pull_and_the_merged_origin_are_taken() {
        let repository = json!({
            "r0": { "nodes": [pull(9, true), pull(4, false), pull(7, false)] },
            "o0": { "associatedPullRequests": { "nodes": [
                { "id": "PR_2", "number": 2, "baseRefName": "main", "mergedAt": null, "comments": { "nodes": [] } },
                { "id": "PR_3", "number": 3, "baseRefName": "release", "mergedAt": "2026-12-01T00:00:00Z", "comments": { "nodes": [] } },
                { "id": "PR_5", "number": 5, "baseRefName": "main", "mergedAt": "2026-12-01T00:00:00Z", "comments": { "nodes": [{ "body": "hi" }] } },
            ] } },
            "r1": { "nodes": [pull(9, true)] },
            "o1": { "associatedPullRequests": { "nodes": [] } },
            "r2": { "nodes": [pull(9, true), pull(10, true), pull(11, true), pull(12, true), pull(13, true)] },
            "o2": { "associatedPullRequests": { "nodes": [] } },
            "r3": null,
            "o3": { "associatedPullRequests": { "nodes": [] } },
        });
        let (first, id) = step_pulls_of(&repository, 0, "main").unwrap();
        let own = first.by_branch.unwrap();
        assert_eq!(own.number, 7, "the fork's #9 is not ours; #7 is the newest");
        assert_eq!(own.state, PullState::Merged);
        assert_eq!(own.labels, ["rollback"]);
        assert_eq!(own.merge_commit.unwrap().as_ref(), "a".repeat(40));
        assert_eq!(
            first.origin,
            Some(OriginPull {
                number: 5,
                comments: Some(vec!["hi".into()])
            }),
            "unmerged #2 and #3 into another branch are not the origin"
        );
        assert_eq!(id, Some((5, "PR_5".to_owned())));
        let (second, id) = step_pulls_of(&repository, 1, "main").unwrap();
        assert!(second.by_branch.is_none() && second.origin.is_none() && id.is_none());
        assert!(
            step_pulls_of(&repository, 2, "main").is_none(),
            "a full page of forks' PRs may hide ours: asked over REST"
        );
        assert!(step_pulls_of(&repository, 3, "main").is_none(), "not read");
        let broken = json!({ "r0": { "nodes": [{ "number": "x" }] }, "o0": null });
        assert!(step_pulls_of(&broken, 0, "main").is_none());
    }
}
