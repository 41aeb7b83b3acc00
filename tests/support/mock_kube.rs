//! A stateful mock of the Kubernetes API for Argo CD Applications, in the
//! manner of kube-rs/controller-rs' call scenarios but over real HTTP: the
//! real `KubeClient` (kubeconfig, bearer token, hyper) talks to it. It keeps
//! Application JSON per namespace and name, applies merge patches the way
//! the API server does (RFC 7386, `resourceVersion` as a precondition),
//! records every request and can be told to fail the next ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::contract::{CrdSchema, Violations};

/// The only resource path prefix the mock serves.
const PREFIX: &str = "/apis/argoproj.io/v1alpha1/namespaces/";

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
    pub status: u16,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    token: String,
    objects: HashMap<(String, String), Value>,
    requests: Vec<Recorded>,
    /// (method, status) answered instead of the next matching request.
    faults: Vec<(String, u16)>,
    next_version: u64,
    /// Another writer changes the object right after every GET, so a patch
    /// based on what was read meets a newer `resourceVersion`.
    concurrent_writer: bool,
    /// Objects the Application CRD's schema refuses, whether a patch made
    /// them or a test seeded them.
    violations: Violations,
}

pub struct MockKube {
    pub url: String,
    pub token: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
}

impl MockKube {
    pub async fn start() -> Self {
        let (listener, url) = super::loopback();
        let token = format!("kube-test-{}", uuid::Uuid::new_v4().simple());
        let state = Arc::new(Mutex::new(State {
            token: token.clone(),
            next_version: 1000,
            ..State::default()
        }));
        let data = web::Data::from(state.clone());
        let server = super::serve(listener, move |cfg| {
            cfg.app_data(data.clone()).default_service(web::to(handle));
        });
        MockKube {
            url,
            token,
            state,
            server,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Writes a kubeconfig for this server with `token` into `dir`.
    pub fn write_kubeconfig(&self, dir: &Path, token: &str) -> PathBuf {
        write_kubeconfig(dir, &self.url, token)
    }

    /// Stores an Application (its `metadata.namespace` and `name`), giving
    /// it a `resourceVersion` as the API server would.
    pub fn put(&self, mut app: Value) {
        let ns = app["metadata"]["namespace"].as_str().unwrap().to_owned();
        let name = app["metadata"]["name"].as_str().unwrap().to_owned();
        let mut state = self.state();
        state.next_version += 1;
        app["metadata"]["resourceVersion"] = json!(state.next_version.to_string());
        state.objects.insert((ns, name), app);
    }

    pub fn get(&self, ns: &str, name: &str) -> Option<Value> {
        self.state()
            .objects
            .get(&(ns.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The next request with `method` answers `status` with a `Status` body.
    pub fn fail_next(&self, method: &str, status: u16) {
        self.state().faults.push((method.to_owned(), status));
    }

    /// From now on the object changes under the client after each GET.
    pub fn concurrent_writer(&self) {
        self.state().concurrent_writer = true;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn patches(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .collect()
    }

    /// The contract violations so far, forgotten.
    pub fn take_violations(&self) -> Vec<String> {
        self.state().violations.take()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

impl Drop for MockKube {
    fn drop(&mut self) {
        let violations = match self.state.lock() {
            Ok(state) => state.violations.clone(),
            Err(_) => return,
        };
        violations.assert_none("the mock Kubernetes API");
    }
}

/// Writes a kubeconfig whose one context points at `url` with `token`.
pub fn write_kubeconfig(dir: &Path, url: &str, token: &str) -> PathBuf {
    let path = dir.join("kubeconfig.yaml");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {url}\n\
         contexts:\n- name: mock\n  context:\n    cluster: mock\n    user: chartpilot\n\
         current-context: mock\nusers:\n- name: chartpilot\n  user:\n    token: {token}\n"
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A `metav1.Status` body as the API server sends with every failure.
fn status(code: u16, reason: &str, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(code).unwrap()).json(json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    }))
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut recorded = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: 0,
    };
    let mut state = state.lock().unwrap();
    let response = respond(&mut state, &recorded);
    recorded.status = response.status().as_u16();
    state.requests.push(recorded);
    response
}

fn respond(state: &mut State, req: &Recorded) -> HttpResponse {
    if req.authorization.as_deref() != Some(&format!("Bearer {}", state.token)) {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if let Some(i) = state.faults.iter().position(|(m, _)| *m == req.method) {
        let (_, code) = state.faults.remove(i);
        let reason = match code {
            403 => "Forbidden",
            409 => "Conflict",
            _ => "InternalError",
        };
        return status(code, reason, &format!("injected {code}"));
    }
    let Some((ns, name)) = req
        .path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once("/applications/"))
        .filter(|(ns, name)| !ns.contains('/') && !name.contains('/'))
    else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let key = (ns.to_owned(), name.to_owned());
    let not_found = format!("applications.argoproj.io \"{name}\" not found");
    match req.method.as_str() {
        "GET" => {
            state.next_version += 1;
            let version = state.next_version.to_string();
            let writer = state.concurrent_writer;
            let Some(obj) = state.objects.get_mut(&key) else {
                return status(404, "NotFound", &not_found);
            };
            let found = CrdSchema::application().violations(obj);
            let response = HttpResponse::Ok().json(&*obj);
            state.violations.record(
                found
                    .into_iter()
                    .map(|v| format!("GET {}: the stored Application {v}", req.path))
                    .collect(),
            );
            let Some(obj) = state.objects.get_mut(&key) else {
                return response;
            };
            if writer {
                obj["metadata"]["resourceVersion"] = json!(version);
            }
            response
        }
        "PATCH" => {
            if req.content_type.as_deref() != Some("application/merge-patch+json") {
                return status(415, "UnsupportedMediaType", "only merge patches here");
            }
            let Ok(patch) = serde_json::from_str::<Value>(&req.body) else {
                return status(400, "BadRequest", "patch is not JSON");
            };
            state.next_version += 1;
            let version = state.next_version.to_string();
            let Some(obj) = state.objects.get_mut(&key) else {
                return status(404, "NotFound", &not_found);
            };
            if let Some(want) = patch["metadata"]["resourceVersion"].as_str() {
                if obj["metadata"]["resourceVersion"].as_str() != Some(want) {
                    return status(409, "Conflict", "the object has been modified");
                }
            }
            let mut patched = obj.clone();
            merge(&mut patched, &patch);
            // The API server validates the patched object against the CRD
            // and stores nothing it refuses.
            let found = CrdSchema::application().violations(&patched);
            if !found.is_empty() {
                let message = format!(
                    "Application.argoproj.io \"{name}\" is invalid: {}",
                    found.join("; ")
                );
                state.violations.record(
                    found
                        .into_iter()
                        .map(|v| format!("PATCH {}: the patched Application {v}", req.path))
                        .collect(),
                );
                return status(422, "Invalid", &message);
            }
            patched["metadata"]["resourceVersion"] = json!(version);
            *obj = patched;
            HttpResponse::Ok().json(&*obj)
        }
        _ => status(405, "MethodNotAllowed", "method not allowed"),
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(obj) = target else { return };
    for (key, value) in fields {
        if value.is_null() {
            obj.remove(key);
        } else {
            merge(obj.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
