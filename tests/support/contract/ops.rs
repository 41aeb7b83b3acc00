//! One description's operations: which route a request takes, whether its
//! parameters and body are what the description asks, and whether an
//! answer's body is what it promises.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

use super::schema::{self, Dialect};

/// The operations of GitHub's REST API that chartpilot calls: the fake
/// serves these and nothing else.
const GITHUB_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/app/installations"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/installation/repositories"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    (
        "GET",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
    ),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("GET", "/repos/{owner}/{repo}/commits"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("GET", "/repos/{owner}/{repo}/tarball/{ref}"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    // The dashboard issue.
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    (
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    ),
    // The pull request check: Check Runs (App), statuses and the one
    // comment (token).
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}"),
    (
        "PATCH",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    ),
];

/// The Argo CD server operations chartpilot calls (`argocd.mode = "api"`).
const ARGOCD_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/api/v1/applications/{name}"),
    ("POST", "/api/v1/applications/{name}/sync"),
];

/// Query parameters GitHub takes that its description leaves out.
/// `matching-refs` pages like every listing (older releases of the
/// description listed `per_page` and `page` for it, and octokit's paginate
/// plugin lists it among the paginated routes).
const UNDESCRIBED_QUERY: &[(&str, &str)] = &[
    ("/repos/{owner}/{repo}/git/matching-refs/{ref}", "per_page"),
    ("/repos/{owner}/{repo}/git/matching-refs/{ref}", "page"),
];

/// Path parameters that take the rest of the path, slashes included
/// (`heads/a/b`, `dir/file.yaml`, `main...topic`).
const GREEDY_PARAMETERS: &[&str] = &["{ref}", "{path}", "{basehead}"];

struct Operation {
    method: &'static str,
    template: &'static str,
    /// The operation object, path-level parameters merged in.
    spec: Value,
}

pub struct Contract {
    name: &'static str,
    dialect: Dialect,
    doc: Value,
    ops: Vec<Operation>,
    /// Compiled validators by operation and part, and converted
    /// definitions by name: compiling GitHub's pull request schema once
    /// per test binary is enough.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    definitions: Mutex<Map<String, Value>>,
}

impl Contract {
    /// GitHub's description, read once per test binary.
    pub fn github() -> &'static Contract {
        static GITHUB: OnceLock<Contract> = OnceLock::new();
        GITHUB.get_or_init(|| {
            let path = super::github_description();
            let text = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "GitHub's OpenAPI description is not at {}: {e}; run scripts/test-services.sh \
                     (or scripts/fetch-specs.sh) once",
                    path.display()
                )
            });
            let doc = serde_json::from_slice(&text).unwrap();
            Contract::new("GitHub", Dialect::OpenApi3, doc, GITHUB_OPERATIONS)
        })
    }

    /// Argo CD's Swagger, from the corpus.
    pub fn argocd() -> &'static Contract {
        static ARGOCD: OnceLock<Contract> = OnceLock::new();
        ARGOCD.get_or_init(|| {
            let path = crate::support::corpus().join("specs/argocd-api.swagger.json");
            let doc = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            Contract::new("Argo CD", Dialect::Swagger2, doc, ARGOCD_OPERATIONS)
        })
    }

    fn new(
        name: &'static str,
        dialect: Dialect,
        doc: Value,
        wanted: &[(&'static str, &'static str)],
    ) -> Contract {
        let ops = wanted
            .iter()
            .map(|&(method, template)| {
                let item = &doc["paths"][template];
                let mut spec = item[method.to_ascii_lowercase()].clone();
                assert!(spec.is_object(), "{name} describes no {method} {template}");
                let shared = item["parameters"].as_array().cloned().unwrap_or_default();
                if let Some(params) = spec["parameters"].as_array_mut() {
                    params.extend(shared);
                }
                Operation {
                    method,
                    template,
                    spec,
                }
            })
            .collect();
        Contract {
            name,
            dialect,
            doc,
            ops,
            validators: Mutex::new(HashMap::new()),
            definitions: Mutex::new(Map::new()),
        }
    }

    /// Follows a `$ref` inside the description (parameters, responses).
    fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
            Some(pointer) => self
                .doc
                .pointer(&format!("/{pointer}"))
                .unwrap_or(&Value::Null),
            None => value,
        }
    }

    /// A validator for `schema` (in the description's dialect), cached
    /// under `key`.
    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        if let Some(v) = self.validators.lock().unwrap().get(key) {
            return v.clone();
        }
        let mut refs = BTreeSet::new();
        let converted = schema::convert(schema, self.dialect, &mut refs);
        let definitions = self.definitions_for(refs);
        let validator = Arc::new(schema::compile(converted, definitions));
        self.validators
            .lock()
            .unwrap()
            .insert(key.to_owned(), validator.clone());
        validator
    }

    /// The converted definitions `refs` name, and those they name in turn.
    fn definitions_for(&self, mut refs: BTreeSet<String>) -> Map<String, Value> {
        let mut cache = self.definitions.lock().unwrap();
        let mut out = Map::new();
        while let Some(name) = refs.pop_first() {
            if out.contains_key(&name) {
                continue;
            }
            let converted = cache.entry(name.clone()).or_insert_with(|| {
                let raw = match self.dialect {
                    Dialect::OpenApi3 => &self.doc["components"]["schemas"][&name],
                    _ => &self.doc["definitions"][&name],
                };
                schema::convert(raw, self.dialect, &mut BTreeSet::new())
            });
            collect_refs(converted, &mut refs);
            out.insert(name, converted.clone());
        }
        out
    }

    /// The operation `method path` takes, and what in the request breaks
    /// the description. An unknown route is itself a violation.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> (Option<usize>, Vec<String>) {
        let what = if query.is_empty() {
            format!("{method} {path}")
        } else {
            format!("{method} {path}?{query}")
        };
        let Some((index, params)) = self.route(method, path) else {
            return (
                None,
                vec![format!(
                    "{what}: no operation of {} chartpilot uses",
                    self.name
                )],
            );
        };
        let op = &self.ops[index];
        let mut found = Vec::new();
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let declared: Vec<&Value> = op.spec["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| self.deref(p))
            .collect();
        for p in &declared {
            let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str()) else {
                continue;
            };
            let given = match place {
                "path" => params.get(name).cloned(),
                "query" => query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone()),
                _ => continue,
            };
            let schema = if p.get("schema").is_some() {
                &p["schema"]
            } else {
                *p
            };
            match given {
                None if p["required"] == json!(true) => {
                    found.push(format!(
                        "{what}: required {place} parameter `{name}` missing"
                    ));
                }
                None => {}
                Some(text) => {
                    let value = typed(&text, self.deref(schema));
                    let key = format!("{} {} param {name}", op.method, op.template);
                    let v = self.validator(&key, &param_schema(schema));
                    for e in schema::violations(&v, &value) {
                        found.push(format!("{what}: {place} parameter `{name}`={text}: {e}"));
                    }
                }
            }
        }
        for (key, _) in &query {
            let described = declared
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == json!(key));
            if !described && !UNDESCRIBED_QUERY.contains(&(op.template, key.as_str())) {
                found.push(format!(
                    "{what}: query parameter `{key}` is not in the description"
                ));
            }
        }
        if let Some((required, schema)) = self.request_body(op) {
            if body.is_empty() {
                if required {
                    found.push(format!("{what}: the request body is required"));
                }
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Err(e) => found.push(format!("{what}: the body is not JSON: {e}")),
                    Ok(value) => {
                        let key = format!("{} {} body", op.method, op.template);
                        let v = self.validator(&key, &schema);
                        for e in schema::violations(&v, &value) {
                            found.push(format!("{what}: body {e}"));
                        }
                    }
                }
            }
        } else if !body.is_empty() && op.method != "GET" {
            found.push(format!("{what}: sends a body the operation does not take"));
        }
        (Some(index), found)
    }

    fn request_body(&self, op: &Operation) -> Option<(bool, Value)> {
        match self.dialect {
            Dialect::OpenApi3 => {
                let body = self.deref(&op.spec["requestBody"]);
                let schema = body["content"]["application/json"]["schema"].clone();
                (!schema.is_null()).then(|| (body["required"] == json!(true), schema))
            }
            _ => op.spec["parameters"]
                .as_array()?
                .iter()
                .find(|p| p["in"] == "body")
                .map(|p| (p["required"] == json!(true), p["schema"].clone())),
        }
    }

    /// The operation whose template fits best (most literal segments),
    /// and the path parameters it reads.
    fn route(&self, method: &str, path: &str) -> Option<(usize, HashMap<String, String>)> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, usize, HashMap<String, String>)> = None;
        for (i, op) in self.ops.iter().enumerate() {
            if op.method != method {
                continue;
            }
            if let Some((literals, params)) = fit(op.template, &segments) {
                if best.as_ref().is_none_or(|(_, l, _)| literals > *l) {
                    best = Some((i, literals, params));
                }
            }
        }
        best.map(|(i, _, p)| (i, p))
    }

    /// Checks an answer to operation `op`; a JSON success is completed
    /// with the required fields the fake leaves out (returned when it
    /// changed). A status the description does not list is a violation
    /// for successes; failures fall back to the generic error shape.
    pub fn response(
        &self,
        op: usize,
        status: u16,
        json_body: bool,
        body: &[u8],
    ) -> (Option<Vec<u8>>, Vec<String>) {
        let op = &self.ops[op];
        let responses = &op.spec["responses"];
        let code = status.to_string();
        let described = match responses.get(&code) {
            Some(r) => self.deref(r),
            None if status >= 400 => match responses.get("default") {
                Some(r) => self.deref(r),
                None => &self.doc["components"]["responses"]["not_found"],
            },
            None => {
                return (
                    None,
                    vec![format!("{status} is not an answer {} lists", op.template)],
                )
            }
        };
        let schema = match self.dialect {
            Dialect::OpenApi3 => described["content"]
                .as_object()
                .and_then(|c| {
                    c.iter()
                        .find(|(t, _)| t.starts_with("application/json"))
                        .map(|(_, m)| m["schema"].clone())
                })
                .unwrap_or(Value::Null),
            _ => described["schema"].clone(),
        };
        if schema.is_null() || !json_body || body.is_empty() {
            return (None, Vec::new());
        }
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return (None, vec![format!("the body is not JSON: {e}")]),
        };
        let key = format!("{} {} {code}", op.method, op.template);
        let validator = self.validator(&key, &schema);
        let mut refs = BTreeSet::new();
        let converted = schema::convert(&schema, self.dialect, &mut refs);
        let definitions = self.definitions_for(refs);
        let filled = schema::fill(&converted, Some(&value), &definitions);
        let found = schema::violations(&validator, &filled);
        let bytes = (filled != value).then(|| serde_json::to_vec(&filled).unwrap());
        (bytes, found)
    }
}

/// Whether `template` fits `segments`: the number of literal segments and
/// the parameters read.
fn fit(template: &str, segments: &[&str]) -> Option<(usize, HashMap<String, String>)> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut params = HashMap::new();
    let mut literals = 0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let value = if last && GREEDY_PARAMETERS.contains(part) {
                segments.get(i..).map(|s| s.join("/"))
            } else {
                segments.get(i).map(|s| s.to_string())
            }?;
            if value.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), decode(&value));
        } else if segments.get(i) == Some(part) {
            literals += 1;
        } else {
            return None;
        }
    }
    let greedy = parts.last().is_some_and(|p| GREEDY_PARAMETERS.contains(p));
    (greedy || parts.len() == segments.len()).then_some((literals, params))
}

fn decode(text: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={}", text.replace('+', "%2B")))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_else(|| text.to_owned())
}

/// A parameter's text as the JSON value its schema types it as.
fn typed(text: &str, schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("integer") => text
            .parse::<i64>()
            .map_or_else(|_| json!(text), |n| json!(n)),
        Some("boolean") => text
            .parse::<bool>()
            .map_or_else(|_| json!(text), |b| json!(b)),
        Some("array") => json!([text]),
        _ => json!(text),
    }
}

/// Swagger 2.0 puts a parameter's type on the parameter itself.
fn param_schema(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Value::Object(fields) = &mut s {
        for key in ["name", "in", "required", "description", "collectionFormat"] {
            fields.remove(key);
        }
    }
    s
}

fn collect_refs(schema: &Value, refs: &mut BTreeSet<String>) {
    match schema {
        Value::Object(fields) => {
            if let Some(name) = fields
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
            {
                refs.insert(name.to_owned());
            }
            fields.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}
