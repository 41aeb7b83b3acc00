//! `POST /graphql`: the request is checked against GitHub's published
//! schema (a request GitHub would refuse is a contract violation, answered
//! with GitHub's `errors`), then answered from the bare repository by
//! walking its selection: aliases, variables, inline fragments. The fields
//! the fake models are the ones chartpilot reads; any other field of the
//! schema is answered with an error naming it, so a test that needs more
//! fails loudly instead of reading nothing.

use std::collections::HashMap;

use actix_web::HttpResponse;
use graphql_parser::query::{self, Definition, OperationDefinition, Selection, SelectionSet};
use serde_json::{json, Map, Value};

use super::State;
use crate::support::contract::graphql::GraphqlSchema;

/// GitHub's largest page of a connection.
const MAX_FIRST: i64 = 100;

/// What a field resolves to: a value, or an object to select from.
pub(super) enum Out {
    Leaf(Value),
    Node(Option<Node>),
    Nodes(Vec<Node>),
}

/// An object of the fake's repository.
#[derive(Clone)]
pub(super) enum Node {
    Repository,
    Pull(u64),
    /// A connection's pull requests.
    Pulls(Vec<u64>),
    Label(String),
    Labels(Vec<String>),
    /// An index into the fake's comments.
    Comment(usize),
    Comments(Vec<usize>),
    /// A branch.
    Ref(String),
    /// What a mutation answers: its type and its fields.
    Payload(&'static str, Vec<(&'static str, Node)>),
    Commit(String),
    Tree(String),
    Blob(String),
    TreeEntry {
        oid: String,
        path: String,
    },
    /// A connection's commits (`history`, `parents`).
    Commits(Vec<String>),
}

impl Node {
    fn type_name(&self) -> &'static str {
        match self {
            Node::Repository => "Repository",
            Node::Commit(_) => "Commit",
            Node::Tree(_) => "Tree",
            Node::Blob(_) => "Blob",
            Node::TreeEntry { .. } => "TreeEntry",
            Node::Commits(_) => "CommitConnection",
            Node::Pull(_) => "PullRequest",
            Node::Pulls(_) => "PullRequestConnection",
            Node::Label(_) => "Label",
            Node::Labels(_) => "LabelConnection",
            Node::Comment(_) => "IssueComment",
            Node::Comments(_) => "IssueCommentConnection",
            Node::Ref(_) => "Ref",
            Node::Payload(ty, _) => ty,
        }
    }
}

pub(super) struct Run<'s> {
    pub(super) st: &'s State,
    pub(super) schema: &'static GraphqlSchema,
    pub(super) variables: &'s Value,
    pub(super) errors: Vec<Value>,
}

impl State {
    pub(super) fn graphql(&mut self, body: &[u8]) -> HttpResponse {
        let schema = GraphqlSchema::github();
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                self.violations
                    .record(vec![format!("POST /graphql: not JSON: {e}")]);
                return HttpResponse::BadRequest()
                    .json(json!({ "message": "Problems parsing JSON" }));
            }
        };
        let text = request["query"].as_str().unwrap_or_default().to_owned();
        let variables = request.get("variables").cloned().unwrap_or(Value::Null);
        let document = match query::parse_query::<String>(&text) {
            Ok(d) => d,
            Err(e) => {
                let why = format!("Parse error: {e}");
                self.violations
                    .record(vec![format!("POST /graphql: {why}")]);
                return HttpResponse::Ok().json(json!({ "errors": [{ "message": why }] }));
            }
        };
        let broken = schema.violations(&document, &variables);
        if !broken.is_empty() {
            let errors: Vec<Value> = broken.iter().map(|m| json!({ "message": m })).collect();
            self.violations.record(
                broken
                    .into_iter()
                    .map(|m| format!("POST /graphql: {m}"))
                    .collect(),
            );
            return HttpResponse::Ok().json(json!({ "errors": errors }));
        }
        let Some(Definition::Operation(op)) = document.definitions.first() else {
            unreachable!("validated")
        };
        let (set, mutation) = match op {
            OperationDefinition::Query(q) => (&q.selection_set, false),
            OperationDefinition::SelectionSet(s) => (s, false),
            OperationDefinition::Mutation(m) => (&m.selection_set, true),
            OperationDefinition::Subscription(_) => unreachable!("validated"),
        };
        let (data, errors) = if mutation {
            self.mutate_root(schema, &variables, set)
        } else {
            let mut run = Run {
                st: self,
                schema,
                variables: &variables,
                errors: Vec::new(),
            };
            let data = run.select_root(set);
            (data, run.errors)
        };
        let mut answer = json!({ "data": data });
        if !errors.is_empty() {
            answer["errors"] = Value::Array(errors);
        }
        HttpResponse::Ok().json(answer)
    }
}

impl Run<'_> {
    fn select_root(&mut self, set: &SelectionSet<'_, String>) -> Value {
        let mut out = Map::new();
        for item in &set.items {
            let Selection::Field(f) = item else { continue };
            let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
            let args = self.args(f);
            let value = match f.name.as_str() {
                "repository" => {
                    let owner = args
                        .get("owner")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
                    if owner.eq_ignore_ascii_case(&self.st.owner)
                        && name.eq_ignore_ascii_case(&self.st.name)
                    {
                        self.select(
                            &Node::Repository,
                            &f.selection_set,
                            std::slice::from_ref(&key),
                        )
                    } else {
                        self.errors.push(json!({
                            "type": "NOT_FOUND",
                            "path": [key],
                            "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'."),
                        }));
                        Value::Null
                    }
                }
                other => self.unmodelled("Query", other, std::slice::from_ref(&key)),
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }

    pub(super) fn select(
        &mut self,
        node: &Node,
        set: &SelectionSet<'_, String>,
        path: &[String],
    ) -> Value {
        let mut out = Map::new();
        self.select_into(node, set, path, &mut out);
        Value::Object(out)
    }

    fn select_into(
        &mut self,
        node: &Node,
        set: &SelectionSet<'_, String>,
        path: &[String],
        out: &mut Map<String, Value>,
    ) {
        for item in &set.items {
            match item {
                Selection::Field(f) => {
                    let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                    let mut here = path.to_vec();
                    here.push(key.clone());
                    let value = if f.name == "__typename" {
                        json!(node.type_name())
                    } else {
                        let args = self.args(f);
                        match self.field(node, &f.name, &args) {
                            Ok(Out::Leaf(v)) => v,
                            Ok(Out::Node(None)) => Value::Null,
                            Ok(Out::Node(Some(n))) => self.select(&n, &f.selection_set, &here),
                            Ok(Out::Nodes(list)) => Value::Array(
                                list.iter()
                                    .map(|n| self.select(n, &f.selection_set, &here))
                                    .collect(),
                            ),
                            Err(()) => self.unmodelled(node.type_name(), &f.name, &here),
                        }
                    };
                    out.insert(key, value);
                }
                Selection::InlineFragment(i) => {
                    let applies = match &i.type_condition {
                        None => true,
                        Some(query::TypeCondition::On(t)) => self.schema.is_a(node.type_name(), t),
                    };
                    if applies {
                        self.select_into(node, &i.selection_set, path, out);
                    }
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    fn unmodelled(&mut self, ty: &str, field: &str, path: &[String]) -> Value {
        self.errors.push(json!({
            "path": path,
            "message": format!("the fake GitHub does not model {ty}.{field}; add it to tests/support/fake_github/graphql.rs"),
        }));
        Value::Null
    }

    /// The field's arguments with variables put in.
    fn args(&self, f: &query::Field<'_, String>) -> HashMap<String, Value> {
        args_of(self.variables, f)
    }

    /// One field of `node`; Err for a field the fake does not model.
    fn field(&mut self, node: &Node, name: &str, args: &HashMap<String, Value>) -> Result<Out, ()> {
        let repo = &self.st.repo;
        let first = args.get("first").and_then(Value::as_i64);
        if first.is_some_and(|n| !(1..=MAX_FIRST).contains(&n)) {
            self.errors.push(json!({
                "message": format!("Requesting {} records on the `{name}` connection exceeds the `first` limit of {MAX_FIRST} records.", first.unwrap_or_default()),
            }));
            return Ok(Out::Node(None));
        }
        let last = args.get("last").and_then(Value::as_i64);
        if last.is_some_and(|n| !(1..=MAX_FIRST).contains(&n)) {
            self.errors.push(json!({
                "message": format!("Requesting {} records on the `{name}` connection exceeds the `last` limit of {MAX_FIRST} records.", last.unwrap_or_default()),
            }));
            return Ok(Out::Node(None));
        }
        let (pg_first, pg_last) = (first, last);
        let first = usize::try_from(first.unwrap_or(MAX_FIRST)).unwrap_or(100);
        Ok(match (node, name) {
            (Node::Repository, "id") => Out::Leaf(json!(repository_id(self.st))),
            (Node::Repository, "nameWithOwner") => {
                Out::Leaf(json!(format!("{}/{}", self.st.owner, self.st.name)))
            }
            (Node::Repository, "object") => {
                let oid = args.get("oid").and_then(Value::as_str).unwrap_or_default();
                Out::Node(object(self.st, oid))
            }
            (Node::Commit(sha) | Node::Tree(sha) | Node::Blob(sha), "oid") => Out::Leaf(json!(sha)),
            (Node::Commit(sha), "message") => Out::Leaf(json!(
                commit(self.st, sha).map(|c| c.message.trim_end().to_owned())
            )),
            (Node::Commit(sha), "committedDate") => Out::Leaf(json!(
                commit(self.st, sha).and_then(|c| iso(&c.committed_at))
            )),
            (Node::Commit(sha), "tree") => {
                Out::Node(commit(self.st, sha).map(|c| Node::Tree(c.tree)))
            }
            (Node::Commit(sha), "parents") => {
                let parents = commit(self.st, sha).map(|c| c.parents).unwrap_or_default();
                Out::Node(Some(Node::Commits(
                    parents.into_iter().take(first).collect(),
                )))
            }
            (Node::Commit(sha), "history") => {
                if args.contains_key("after")
                    || args.contains_key("path")
                    || args.contains_key("author")
                    || args.contains_key("until")
                {
                    return Err(());
                }
                let since = match args.get("since").and_then(Value::as_str) {
                    None => None,
                    Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                        Ok(t) => Some(t.timestamp()),
                        Err(_) => {
                            self.errors.push(json!({ "message": format!("Argument 'since' on Field 'history' has an invalid value ({s}). Expected type 'GitTimestamp'.") }));
                            return Ok(Out::Node(None));
                        }
                    },
                };
                let shas = repo
                    .log(sha, since, first, None)
                    .map(|l| l.into_iter().map(|c| c.sha).collect())
                    .unwrap_or_default();
                Out::Node(Some(Node::Commits(shas)))
            }
            (Node::Commit(sha), "file") => {
                let path = args.get("path").and_then(Value::as_str).unwrap_or_default();
                let spec = format!("{sha}:{path}");
                let oid = repo
                    .git(&["rev-parse", "--verify", "--quiet", &spec], None, None)
                    .ok()
                    .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
                    .filter(|o| repo.object_type(o).as_deref() == Some("blob"));
                Out::Node(oid.map(|oid| Node::TreeEntry {
                    oid,
                    path: path.to_owned(),
                }))
            }
            (Node::Commits(shas), "nodes") => {
                Out::Nodes(shas.iter().cloned().map(Node::Commit).collect())
            }
            (Node::Commits(shas), "totalCount") => Out::Leaf(json!(shas.len())),
            (Node::TreeEntry { oid, .. }, "oid") => Out::Leaf(json!(oid)),
            (Node::TreeEntry { path, .. }, "path") => Out::Leaf(json!(path)),
            (Node::TreeEntry { oid, .. }, "object") => Out::Node(Some(Node::Blob(oid.clone()))),
            (Node::Blob(oid), "text") => Out::Leaf(
                blob(self.st, oid)
                    .and_then(|b| String::from_utf8(b).ok())
                    .map_or(Value::Null, Value::from),
            ),
            (Node::Blob(oid), "isBinary") => Out::Leaf(json!(
                blob(self.st, oid).map(|b| std::str::from_utf8(&b).is_err())
            )),
            (Node::Blob(_), "isTruncated") => Out::Leaf(json!(false)),
            (Node::Blob(oid), "byteSize") => Out::Leaf(json!(blob(self.st, oid).map(|b| b.len()))),
            (Node::Repository, "pullRequests") => {
                let Some(numbers) = self.pull_list(args) else {
                    return Err(());
                };
                Out::Node(Some(Node::Pulls(page(numbers, pg_first, pg_last))))
            }
            (Node::Repository, "pullRequest") => {
                let n = args.get("number").and_then(Value::as_u64).unwrap_or(0);
                Out::Node(
                    self.st
                        .pulls
                        .iter()
                        .any(|p| p.number == n)
                        .then_some(Node::Pull(n)),
                )
            }
            (Node::Repository, "label") => {
                let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
                Out::Node(
                    self.st
                        .labels
                        .iter()
                        .find(|l| l.eq_ignore_ascii_case(name))
                        .map(|l| Node::Label(l.clone())),
                )
            }
            (Node::Commit(sha), "associatedPullRequests") => {
                // As `GET /commits/{sha}/pulls`: the PRs it merged, then
                // open PRs whose head it is.
                let mut merged = Vec::new();
                let mut heads = Vec::new();
                for p in self.st.pulls.iter().rev() {
                    if p.merge_commit_sha.as_deref() == Some(sha.as_str()) {
                        merged.push(p.number);
                    } else if p.fork_owner.is_none()
                        && self.st.repo.branch(&p.head).as_deref() == Some(sha.as_str())
                    {
                        heads.push(p.number);
                    }
                }
                merged.extend(heads);
                Out::Node(Some(Node::Pulls(page(merged, pg_first, pg_last))))
            }
            (Node::Pulls(list), "nodes") => {
                Out::Nodes(list.iter().map(|n| Node::Pull(*n)).collect())
            }
            (Node::Pulls(list), "totalCount") => Out::Leaf(json!(list.len())),
            (Node::Pull(n), field) => {
                let Some(p) = self.st.pulls.iter().find(|p| p.number == *n).cloned() else {
                    return Ok(Out::Node(None));
                };
                match field {
                    "id" => Out::Leaf(json!(pull_id(self.st, p.number))),
                    "number" => Out::Leaf(json!(p.number)),
                    "title" => Out::Leaf(json!(p.title)),
                    "body" => Out::Leaf(json!(p.body)),
                    "state" => Out::Leaf(json!(match (p.state.as_str(), p.merged) {
                        ("open", _) => "OPEN",
                        (_, true) => "MERGED",
                        _ => "CLOSED",
                    })),
                    "merged" => Out::Leaf(json!(p.merged)),
                    "url" => Out::Leaf(json!(format!(
                        "https://github.example/{}/{}/pull/{}",
                        self.st.owner, self.st.name, p.number
                    ))),
                    "headRefName" => Out::Leaf(json!(p.head)),
                    "baseRefName" => Out::Leaf(json!(p.base)),
                    "isCrossRepository" => Out::Leaf(json!(p.fork_owner.is_some())),
                    "mergedAt" => Out::Leaf(json!(p.merged.then(|| p
                        .merged_at
                        .clone()
                        .unwrap_or_else(|| "2024-01-01T00:00:00Z".to_owned())))),
                    "mergeCommit" => Out::Node(
                        p.merge_commit_sha
                            .clone()
                            .filter(|_| p.merged)
                            .map(Node::Commit),
                    ),
                    "labels" => Out::Node(Some(Node::Labels(page(
                        p.labels.clone(),
                        pg_first,
                        pg_last,
                    )))),
                    "comments" => {
                        let ids: Vec<usize> = (0..self.st.comments.len())
                            .filter(|i| self.st.comments[*i].0 == p.number)
                            .collect();
                        Out::Node(Some(Node::Comments(page(ids, pg_first, pg_last))))
                    }
                    "repository" => Out::Node(Some(Node::Repository)),
                    _ => return Err(()),
                }
            }
            (Node::Labels(list), "nodes") => {
                Out::Nodes(list.iter().cloned().map(Node::Label).collect())
            }
            (Node::Labels(list), "totalCount") => Out::Leaf(json!(list.len())),
            (Node::Label(name), "name") => Out::Leaf(json!(name)),
            (Node::Label(name), "id") => Out::Leaf(json!(label_id(name))),
            (Node::Comments(list), "nodes") => {
                Out::Nodes(list.iter().map(|i| Node::Comment(*i)).collect())
            }
            (Node::Comments(list), "totalCount") => Out::Leaf(json!(list.len())),
            (Node::Comment(i), "body") => Out::Leaf(json!(self.st.comments.get(*i).map(|c| &c.1))),
            (Node::Comment(i), "id") => Out::Leaf(json!(format!("IC_{i}"))),
            (Node::Repository, "ref") => {
                let name = args
                    .get("qualifiedName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let branch = name.strip_prefix("refs/heads/").unwrap_or(name);
                Out::Node(repo.branch(branch).map(|_| Node::Ref(branch.to_owned())))
            }
            (Node::Ref(name), "target") => Out::Node(repo.branch(name).map(Node::Commit)),
            (Node::Ref(name), "name") => Out::Leaf(json!(name)),
            (Node::Ref(name), "id") => Out::Leaf(json!(ref_id(name))),
            (Node::Payload(_, fields), name) => match fields.iter().find(|(f, _)| *f == name) {
                Some((_, node)) => Out::Node(Some(node.clone())),
                None if name == "clientMutationId" => Out::Leaf(Value::Null),
                None => return Err(()),
            },
            _ => return Err(()),
        })
    }
}

/// A connection's page: the first `first`, or the last `last`.
fn page<T>(list: Vec<T>, first: Option<i64>, last: Option<i64>) -> Vec<T> {
    let bound = |n: i64| usize::try_from(n).unwrap_or(0);
    match (first, last) {
        (_, Some(n)) => {
            let skip = list.len().saturating_sub(bound(n));
            list.into_iter().skip(skip).collect()
        }
        (n, None) => list
            .into_iter()
            .take(bound(n.unwrap_or(MAX_FIRST)))
            .collect(),
    }
}

/// A field's arguments with `variables` put in.
pub(super) fn args_of(variables: &Value, f: &query::Field<'_, String>) -> HashMap<String, Value> {
    f.arguments
        .iter()
        .map(|(k, v)| (k.clone(), value_of(variables, v)))
        .collect()
}

fn value_of(variables: &Value, v: &query::Value<'_, String>) -> Value {
    match v {
        query::Value::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Null),
        query::Value::Int(n) => json!(n.as_i64()),
        query::Value::Float(x) => json!(x),
        query::Value::String(s) => json!(s),
        query::Value::Boolean(b) => json!(b),
        query::Value::Null => Value::Null,
        query::Value::Enum(e) => json!(e),
        query::Value::List(items) => {
            Value::Array(items.iter().map(|i| value_of(variables, i)).collect())
        }
        query::Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value_of(variables, v)))
                .collect(),
        ),
    }
}

/// A pull request's node id (opaque to chartpilot, as GitHub's).
pub(super) fn pull_id(st: &State, number: u64) -> String {
    format!(
        "PR_{}_{number}",
        hex::encode(format!("{}/{}", st.owner, st.name))
    )
}

pub(super) fn label_id(name: &str) -> String {
    format!("LA_{}", hex::encode(name.to_ascii_lowercase()))
}

pub(super) fn ref_id(branch: &str) -> String {
    format!("REF_{}", hex::encode(branch))
}

/// The repository's node id.
pub(super) fn repository_id(st: &State) -> String {
    format!("R_{}", hex::encode(format!("{}/{}", st.owner, st.name)))
}

impl Run<'_> {
    /// `Repository.pullRequests`: the numbers matching the filters, in the
    /// asked order (GitHub's default: oldest first). None for a filter the
    /// fake does not model.
    fn pull_list(&self, args: &HashMap<String, Value>) -> Option<Vec<u64>> {
        if args.contains_key("labels") || args.contains_key("after") || args.contains_key("before")
        {
            return None;
        }
        let states: Option<Vec<String>> = args.get("states").filter(|v| !v.is_null()).map(|v| {
            let list = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
        let text = |k: &str| args.get(k).and_then(Value::as_str);
        let mut pulls: Vec<&super::FakePull> = self
            .st
            .pulls
            .iter()
            .filter(|p| text("headRefName").is_none_or(|h| h == p.head))
            .filter(|p| text("baseRefName").is_none_or(|b| b == p.base))
            .filter(|p| {
                let state = match (p.state.as_str(), p.merged) {
                    ("open", _) => "OPEN",
                    (_, true) => "MERGED",
                    _ => "CLOSED",
                };
                states.as_ref().is_none_or(|s| s.iter().any(|x| x == state))
            })
            .collect();
        let order = args.get("orderBy").filter(|v| !v.is_null());
        match order.and_then(|o| o["field"].as_str()) {
            Some("UPDATED_AT") => pulls.sort_by_key(|p| (p.updated, p.number)),
            _ => pulls.sort_by_key(|p| p.number),
        }
        if order.and_then(|o| o["direction"].as_str()) == Some("DESC") {
            pulls.reverse();
        }
        Some(pulls.iter().map(|p| p.number).collect())
    }
}

/// The object `oid` names, as its GraphQL type.
fn object(st: &State, oid: &str) -> Option<Node> {
    match st.repo.object_type(oid)?.as_str() {
        "commit" => Some(Node::Commit(oid.to_owned())),
        "tree" => Some(Node::Tree(oid.to_owned())),
        "blob" => Some(Node::Blob(oid.to_owned())),
        _ => None,
    }
}

fn commit(st: &State, sha: &str) -> Option<super::git::LoggedCommit> {
    st.repo.log(sha, None, 1, None).ok()?.into_iter().next()
}

fn blob(st: &State, oid: &str) -> Option<Vec<u8>> {
    st.repo.git(&["cat-file", "blob", oid], None, None).ok()
}

/// A git date as GitHub writes it: UTC, whole seconds.
fn iso(date: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(date).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}
