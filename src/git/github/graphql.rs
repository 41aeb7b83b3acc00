//! GitHub's GraphQL API where it answers in one request what REST answers
//! in one per fact: which first-parent commits of a window changed some
//! files, and those files' contents before and after (a rollback's history
//! read: two queries, whatever the number of commits; over REST a
//! comparison per commit and a read per file).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{json, Value};

use super::transport::Verb;
use super::{graphql_pulls, history, GithubHost};
use crate::domain::CommitSha;
use crate::git::{CommitInfo, GitError, PathStep, StepPulls};

/// Past this many paths one query would grow too large: the host falls back
/// to the REST reads. A rollback asks for the pin files of one app.
pub const MAX_PATHS: usize = 16;

/// Whether GraphQL is at `/graphql` of `api_url`: an API root without a
/// path (github.com, and the tests' fakes), not GitHub Enterprise Server's
/// `/api/v3`.
pub fn at_root(api_url: &str) -> bool {
    reqwest::Url::parse(api_url).is_ok_and(|u| u.path().trim_end_matches('/').is_empty())
}

/// The newest steps whose pull requests the texts query reads; an older
/// step's are asked over REST when needed.
const MAX_STEP_PULLS: usize = 20;

/// The most blobs one texts query asks for.
const BLOBS_PER_QUERY: usize = 50;

/// GitHub's largest page, and the history's bound (as the REST listing).
const HISTORY: usize = 100;

/// How much of GitHub's error messages an error keeps.
const MAX_MESSAGE_CHARS: usize = 200;

#[derive(Deserialize)]
struct Reply {
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

/// One of GitHub's GraphQL errors: its `type`, message and the path of
/// the field it is about (empty for the whole request).
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
    /// Whether it is about the root field `field` (a mutation's part).
    pub fn on(&self, field: &str) -> bool {
        self.under(&[field])
    }

    /// Whether its path starts with `prefix`.
    pub fn under(&self, prefix: &[&str]) -> bool {
        self.path.len() >= prefix.len()
            && prefix
                .iter()
                .zip(&self.path)
                .all(|(p, v)| v.as_str() == Some(*p))
    }

    /// As a [`GitError`]: a missing object, a refusal a retry cannot
    /// change, or (anything else, GitHub's "something went wrong" among
    /// them) worth retrying.
    pub fn to_git_error(&self, what: &str) -> GitError {
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

#[derive(Deserialize)]
struct Entry {
    oid: String,
}

#[derive(Deserialize)]
struct Parent {
    oid: String,
    #[serde(flatten)]
    files: HashMap<String, Option<Entry>>,
}

#[derive(Deserialize)]
struct Parents {
    nodes: Vec<Parent>,
}

#[derive(Deserialize)]
struct Tree {
    oid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryCommit {
    oid: String,
    committed_date: String,
    message: String,
    tree: Tree,
    parents: Parents,
    #[serde(flatten)]
    files: HashMap<String, Option<Entry>>,
}

#[derive(Deserialize)]
struct BlobText {
    text: Option<String>,
    #[serde(rename = "isBinary")]
    is_binary: Option<bool>,
    #[serde(rename = "isTruncated")]
    is_truncated: bool,
}

/// For each path index a step changed: its blob `(at the step, at the
/// parent)`.
type ChangedBlobs = BTreeMap<usize, (Option<String>, Option<String>)>;

/// The query for the history of `paths` (as `$p0`, `$p1`, …).
fn history_query(paths: usize) -> String {
    let vars: String = (0..paths).map(|i| format!(", $p{i}: String!")).collect();
    let files: String = (0..paths)
        .map(|i| format!(" f{i}: file(path: $p{i}) {{ oid }}"))
        .collect();
    format!(
        "query($owner: String!, $name: String!, $head: GitObjectID!, $since: GitTimestamp!{vars}) {{ \
           repository(owner: $owner, name: $name) {{ id \
             object(oid: $head) {{ ... on Commit {{ \
               history(first: {HISTORY}, since: $since) {{ nodes {{ \
                 oid committedDate message tree {{ oid }} \
                 parents(first: 2) {{ nodes {{ oid{files} }} }}{files} \
               }} }} \
             }} }} \
           }} \
         }}"
    )
}

/// The query for the texts of `blobs` (as `$b0`, `$b1`, …), and the pull
/// requests of `steps` steps (see [`graphql_pulls::step_selections`]).
fn texts_query(blobs: usize, steps: usize) -> String {
    let mut vars: String = (0..blobs)
        .map(|i| format!(", $b{i}: GitObjectID!"))
        .collect();
    vars.push_str(&graphql_pulls::step_vars(steps));
    let objects: String = (0..blobs)
        .map(|i| {
            format!(" b{i}: object(oid: $b{i}) {{ ... on Blob {{ text isBinary isTruncated }} }}")
        })
        .collect();
    let pulls = graphql_pulls::step_selections(steps);
    format!(
        "query($owner: String!, $name: String!{vars}) {{ \
           repository(owner: $owner, name: $name) {{{objects}{pulls} }} \
         }}"
    )
}

/// The blob of `alias` (`f0`, …) in `files`, None when the path is absent.
fn blob_of(files: &HashMap<String, Option<Entry>>, alias: &str) -> Option<String> {
    files
        .get(alias)
        .and_then(Option::as_ref)
        .map(|e| e.oid.clone())
}

/// The first-parent steps of `listed` from `head` that changed a path:
/// `(commit, its first parent, for each changed path index its blob at the
/// commit and at the parent)`. Pure: the part of the answer chartpilot
/// decides on.
fn steps_of(
    head: &str,
    listed: Vec<HistoryCommit>,
    paths: usize,
) -> Vec<(HistoryCommit, ChangedBlobs)> {
    let mut by_oid: HashMap<String, HistoryCommit> =
        listed.into_iter().map(|c| (c.oid.clone(), c)).collect();
    let mut out = Vec::new();
    let mut next = Some(head.to_owned());
    while let Some(commit) = next.take().and_then(|oid| by_oid.remove(&oid)) {
        next = commit.parents.nodes.first().map(|p| p.oid.clone());
        let Some(parent) = commit.parents.nodes.first() else {
            continue;
        };
        let changed: ChangedBlobs = (0..paths)
            .filter_map(|i| {
                let alias = format!("f{i}");
                let at = blob_of(&commit.files, &alias);
                let before = blob_of(&parent.files, &alias);
                (at != before).then_some((i, (at, before)))
            })
            .collect();
        if !changed.is_empty() {
            out.push((commit, changed));
        }
    }
    out
}

impl GithubHost {
    /// One GraphQL request; `data` when GitHub answered without errors.
    pub(super) async fn graphql(
        &self,
        query: &str,
        variables: Value,
        what: &str,
    ) -> Result<Value, GitError> {
        let (data, errors) = self.graphql_answer(query, variables, what, false).await?;
        match errors.first() {
            Some(e) => Err(e.to_git_error(what)),
            None if data.is_null() => Err(GitError::Unavailable(format!(
                "{what}: unexpected answer from GitHub: no data"
            ))),
            None => Ok(data),
        }
    }

    /// One GraphQL request, answered in part or whole: `data` (null when
    /// none) and the errors, each naming its field. `once`: a mutation, sent
    /// once (a lost answer may come after GitHub acted); a query is retried
    /// on server errors as any read.
    pub(super) async fn graphql_answer(
        &self,
        query: &str,
        variables: Value,
        what: &str,
        once: bool,
    ) -> Result<(Value, Vec<FieldError>), GitError> {
        let body = json!({ "query": query, "variables": variables });
        let reply = if once {
            self.api.call_once(Verb::Post, "/graphql", &body).await?
        } else {
            self.api
                .call(Verb::Post, "/graphql", Some(&body), None)
                .await?
        };
        if !reply.is_success() {
            return Err(reply.error(what));
        }
        let answer: Reply = reply.json(what)?;
        Ok((answer.data.unwrap_or(Value::Null), answer.errors))
    }

    /// [`crate::git::GitHost::path_steps`] in two queries: the window's
    /// history with the paths' blob ids at each commit and its first
    /// parent, then the texts of the blobs that differ (with the steps'
    /// pull requests when `pulls_of` asks).
    pub(super) async fn path_steps_graphql(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
        paths: &[String],
        pulls_of: Option<&str>,
    ) -> Result<Vec<PathStep>, GitError> {
        let mut variables = json!({
            "owner": self.owner,
            "name": self.name,
            "head": head.to_string(),
            "since": since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        for (i, p) in paths.iter().enumerate() {
            variables[format!("p{i}")] = json!(p);
        }
        let what = format!("history of {head}");
        let data = self
            .graphql(&history_query(paths.len()), variables, &what)
            .await?;
        let nodes = data
            .pointer("/repository/object/history/nodes")
            .cloned()
            .ok_or_else(|| GitError::NotFound(format!("commit {head}")))?;
        let listed: Vec<HistoryCommit> = serde_json::from_value(nodes).map_err(|e| {
            GitError::Unavailable(format!("{what}: unexpected answer from GitHub: {e}"))
        })?;
        for c in &listed {
            self.remember_tree(&c.oid, &c.tree.oid);
        }
        if let Some(id) = data.pointer("/repository/id").and_then(Value::as_str) {
            self.remember_repository_id(id);
        }
        let found = steps_of(head.as_ref(), listed, paths.len());
        let mut blobs: Vec<String> = found
            .iter()
            .flat_map(|(_, changed)| changed.values())
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .flatten()
            .collect();
        blobs.sort();
        blobs.dedup();
        let asked = pulls_of.map(|prefix| {
            let shas: Vec<String> = found
                .iter()
                .take(MAX_STEP_PULLS)
                .map(|(c, _)| c.oid.clone())
                .collect();
            (prefix, shas)
        });
        let (texts, mut pulls) = self.blob_texts(&blobs, asked).await?;
        let mut out = Vec::with_capacity(found.len());
        for (i, (commit, changed)) in found.into_iter().enumerate() {
            let info = commit_info(&commit)?;
            let parent = info.parents.first().cloned().ok_or_else(|| {
                GitError::Unavailable(format!("{what}: a step without its parent"))
            })?;
            let mut contents = BTreeMap::new();
            for (i, (at, before)) in changed {
                let path = &paths[i];
                let at_step = self.content(at.as_deref(), &texts, &info.sha, path).await?;
                let at_parent = self
                    .content(before.as_deref(), &texts, &parent, path)
                    .await?;
                contents.insert(path.clone(), (at_step, at_parent));
            }
            out.push(PathStep {
                commit: info,
                parent,
                contents,
                pulls: pulls.get_mut(i).and_then(Option::take),
            });
        }
        Ok(out)
    }

    /// `path` at `rev` whose blob is `blob` (None: absent there), from the
    /// `texts` read; a blob GraphQL did not give whole (binary, or too long
    /// for `text`) is read over REST.
    async fn content(
        &self,
        blob: Option<&str>,
        texts: &HashMap<String, Option<String>>,
        rev: &CommitSha,
        path: &str,
    ) -> Result<Option<Vec<u8>>, GitError> {
        let Some(blob) = blob else {
            return Ok(None);
        };
        match texts.get(blob) {
            Some(Some(text)) => Ok(Some(text.clone().into_bytes())),
            _ => crate::git::GitHost::read_file(self, rev, path).await,
        }
    }

    /// The texts of `blobs`; None for a blob GraphQL does not give whole
    /// (binary, or truncated). With `pulls` (a branch prefix and the
    /// steps), the first query also reads each step's pull requests.
    async fn blob_texts(
        &self,
        blobs: &[String],
        pulls: Option<(&str, Vec<String>)>,
    ) -> Result<(HashMap<String, Option<String>>, Vec<Option<StepPulls>>), GitError> {
        let mut out = HashMap::new();
        let mut steps = Vec::new();
        // A window of many steps asks in several queries, each of a size
        // GitHub answers.
        let mut pulls = pulls;
        for chunk in blobs.chunks(BLOBS_PER_QUERY) {
            let (texts, found) = self.blob_texts_once(chunk, pulls.take()).await?;
            out.extend(texts);
            steps.extend(found);
        }
        Ok((out, steps))
    }

    async fn blob_texts_once(
        &self,
        blobs: &[String],
        pulls: Option<(&str, Vec<String>)>,
    ) -> Result<(HashMap<String, Option<String>>, Vec<Option<StepPulls>>), GitError> {
        let mut variables = json!({ "owner": self.owner, "name": self.name });
        for (i, b) in blobs.iter().enumerate() {
            variables[format!("b{i}")] = json!(b);
        }
        let shas = pulls
            .as_ref()
            .map(|(_, s)| s.as_slice())
            .unwrap_or_default();
        for (i, sha) in shas.iter().enumerate() {
            let prefix = pulls.as_ref().map(|(p, _)| *p).unwrap_or_default();
            variables[format!("h{i}")] = json!(format!("{prefix}{sha}"));
            variables[format!("c{i}")] = json!(sha);
        }
        let query = texts_query(blobs.len(), shas.len());
        let what = "file contents";
        let (data, errors) = self.graphql_answer(&query, variables, what, false).await?;
        // The pull requests are a convenience: a step whose part failed
        // has them asked over REST. Anything else fails the read.
        let of_step = |e: &FieldError, i: usize| {
            e.under(&["repository", &format!("r{i}")]) || e.under(&["repository", &format!("o{i}")])
        };
        if let Some(e) = errors
            .iter()
            .find(|e| !(0..shas.len()).any(|i| of_step(e, i)))
        {
            return Err(e.to_git_error(what));
        }
        if data.is_null() {
            return Err(GitError::Unavailable(format!(
                "{what}: unexpected answer from GitHub: no data"
            )));
        }
        let mut steps = Vec::with_capacity(shas.len());
        let repository = data.get("repository").cloned().unwrap_or(Value::Null);
        for (i, sha) in shas.iter().enumerate() {
            let read = if errors.iter().any(|e| of_step(e, i)) {
                None
            } else {
                graphql_pulls::step_pulls_of(&repository, i, &self.base)
            };
            if let Some((number, id)) = read.as_ref().and_then(|(_, origin)| origin.clone()) {
                self.remember_pull_id(number, &id);
            }
            if read.is_none() {
                tracing::debug!(step = %sha, "the step's pull requests are asked over REST");
            }
            steps.push(read.map(|(pulls, _)| pulls));
        }
        let mut out = HashMap::new();
        for (i, b) in blobs.iter().enumerate() {
            let blob: Option<BlobText> = data
                .pointer(&format!("/repository/b{i}"))
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| {
                    GitError::Unavailable(format!(
                        "file contents: unexpected answer from GitHub: {e}"
                    ))
                })?;
            let text = blob
                .filter(|b| !b.is_truncated && b.is_binary != Some(true))
                .and_then(|b| b.text);
            out.insert(b.clone(), text);
        }
        Ok((out, steps))
    }
}

fn commit_info(c: &HistoryCommit) -> Result<CommitInfo, GitError> {
    let parents = c
        .parents
        .nodes
        .iter()
        .map(|p| {
            CommitSha::parse(&p.oid).map_err(|_| {
                GitError::Unavailable(format!(
                    "unexpected answer from GitHub: a bad parent for commit {}",
                    c.oid
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    history::commit_info_of(&c.oid, parents, Some(&c.committed_date), &c.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(oid: &str, parent: &str, at: Option<&str>, before: Option<&str>) -> HistoryCommit {
        let file = |b: Option<&str>| {
            HashMap::from([("f0".to_owned(), b.map(|b| Entry { oid: b.to_owned() }))])
        };
        HistoryCommit {
            oid: oid.to_owned(),
            committed_date: "2026-12-01T00:00:00Z".to_owned(),
            message: format!("commit {oid}"),
            tree: Tree {
                oid: format!("t{oid}"),
            },
            parents: Parents {
                nodes: vec![Parent {
                    oid: parent.to_owned(),
                    files: file(before),
                }],
            },
            files: file(at),
        }
    }

    #[test]
    fn steps_follow_first_parents_and_keep_the_commits_whose_blob_moved() {
        // c4 → c3 → c2 → c1 (first parents); m is on a merged branch.
        let listed = vec![
            commit("c4", "c3", Some("B2"), Some("B2")),
            commit("m", "c1", Some("B9"), Some("B1")),
            commit("c3", "c2", Some("B2"), Some("B1")),
            commit("c2", "c1", Some("B1"), None),
            commit("c1", "c0", None, None),
        ];
        let steps = steps_of("c4", listed, 1);
        let got: Vec<(&str, ChangedBlobs)> = steps
            .iter()
            .map(|(c, ch)| (c.oid.as_str(), ch.clone()))
            .collect();
        let pair = |a: Option<&str>, b: Option<&str>| {
            BTreeMap::from([(0, (a.map(str::to_owned), b.map(str::to_owned)))])
        };
        assert_eq!(
            got,
            [
                ("c3", pair(Some("B2"), Some("B1"))),
                ("c2", pair(Some("B1"), None)),
            ],
            "unchanged c4 and c1 left out, the merged branch's m not on the line"
        );
        // A head missing from the listing (older than the window): nothing.
        assert!(steps_of("zz", vec![commit("c1", "c0", Some("B"), None)], 1).is_empty());
    }

    #[test]
    fn graphql_is_used_where_the_api_root_has_no_path() {
        let cases = [
            ("https://api.github.com", true),
            ("https://api.github.com/", true),
            ("http://127.0.0.1:4567", true),
            ("https://ghe.example.com/api/v3", false),
            ("https://ghe.example.com/api/v3/", false),
            ("not a url", false),
        ];
        for (url, want) in cases {
            assert_eq!(at_root(url), want, "{url}");
        }
    }

    #[test]
    fn the_queries_name_each_path_and_blob_once() {
        let q = history_query(2);
        assert!(q.contains("$p0: String!, $p1: String!"), "{q}");
        assert_eq!(q.matches("f1: file(path: $p1)").count(), 2, "{q}");
        let b = texts_query(3, 2);
        assert!(b.contains("b2: object(oid: $b2)"), "{b}");
        assert!(b.contains("$h1: String!, $c1: GitObjectID!"), "{b}");
        assert!(b.contains("r1: pullRequests(headRefName: $h1"), "{b}");
        assert!(!texts_query(1, 0).contains("pullRequests"));
    }
}
