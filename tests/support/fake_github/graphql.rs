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
enum Out {
    Leaf(Value),
    Node(Option<Node>),
    Nodes(Vec<Node>),
}

/// An object of the fake's repository.
#[derive(Clone)]
enum Node {
    Repository,
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
        }
    }
}

struct Run<'s> {
    st: &'s State,
    schema: &'static GraphqlSchema,
    variables: &'s Value,
    errors: Vec<Value>,
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
        let set = match op {
            OperationDefinition::Query(q) => &q.selection_set,
            OperationDefinition::SelectionSet(s) => s,
            _ => {
                return HttpResponse::Ok().json(json!({
                    "errors": [{ "message": "the fake answers queries only" }]
                }))
            }
        };
        let mut run = Run {
            st: self,
            schema,
            variables: &variables,
            errors: Vec::new(),
        };
        let data = run.select_root(set);
        let mut answer = json!({ "data": data });
        if !run.errors.is_empty() {
            answer["errors"] = Value::Array(run.errors);
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

    fn select(&mut self, node: &Node, set: &SelectionSet<'_, String>, path: &[String]) -> Value {
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
        f.arguments
            .iter()
            .map(|(k, v)| (k.clone(), self.value(v)))
            .collect()
    }

    fn value(&self, v: &query::Value<'_, String>) -> Value {
        match v {
            query::Value::Variable(name) => {
                self.variables.get(name).cloned().unwrap_or(Value::Null)
            }
            query::Value::Int(n) => json!(n.as_i64()),
            query::Value::Float(x) => json!(x),
            query::Value::String(s) => json!(s),
            query::Value::Boolean(b) => json!(b),
            query::Value::Null => Value::Null,
            query::Value::Enum(e) => json!(e),
            query::Value::List(items) => {
                Value::Array(items.iter().map(|i| self.value(i)).collect())
            }
            query::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
        }
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
        let first = usize::try_from(first.unwrap_or(MAX_FIRST)).unwrap_or(100);
        Ok(match (node, name) {
            (Node::Repository, "id") => Out::Leaf(json!(format!(
                "R_{}",
                hex::encode(format!("{}/{}", self.st.owner, self.st.name))
            ))),
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
            _ => return Err(()),
        })
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
