//! A stateful mock of the Argo CD server's REST API: the real `ApiClient`
//! talks HTTP to it. Tests seed Applications, arm faults, and assert on the
//! requests it received and on the state they left (a sync starts an
//! operation). Only the endpoints chartpilot calls exist.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chartpilot::settings::{ArgocdMode, ArgocdSettings, Secret};
use serde_json::{json, Value};

use super::contract::{checked_answer, Contract, Violations};

/// Where the mock's Applications live, as in a default install.
pub const NAMESPACE: &str = "argocd";

/// When every seeded app last deployed, so parsed times can be compared.
pub const DEPLOYED_AT: &str = "2026-11-20T10:15:00Z";

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw path, still percent-encoded.
    pub path: String,
    pub query: String,
    pub body: String,
    pub auth: Option<String>,
}

impl Recorded {
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What the next requests answer instead of doing their work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 401 whose message echoes the Authorization header back: the worst
    /// a server (or proxy) could do with a token.
    Unauthorized,
    /// 409, as a proxy or a newer server answers a conflicting write.
    Conflict,
    /// 503 with an HTML body, as a load balancer sends it.
    Unavailable,
}

/// An Application as a test seeds it.
#[derive(Debug, Clone)]
pub struct MockApp {
    pub name: String,
    pub sync: String,
    pub health: String,
    pub revision: Option<String>,
    pub automated: bool,
    pub labels: BTreeMap<String, String>,
    /// `operationState.phase`; a sync sets it to `Running`.
    pub operation_phase: Option<String>,
    /// The revision the last sync asked for.
    pub operation_revision: Option<String>,
    /// `status.history` as `(id, revision)`, oldest first; empty: one
    /// older commit, then `revision`.
    pub history: Vec<(i64, String)>,
}

impl MockApp {
    /// Synced and Healthy at `revision`, manual sync, no labels.
    pub fn new(name: &str, revision: &str) -> Self {
        Self {
            name: name.to_owned(),
            sync: "Synced".to_owned(),
            health: "Healthy".to_owned(),
            revision: Some(revision.to_owned()),
            automated: false,
            labels: BTreeMap::new(),
            operation_phase: Some("Succeeded".to_owned()),
            operation_revision: Some(revision.to_owned()),
            history: Vec::new(),
        }
    }

    pub fn sync(mut self, sync: &str) -> Self {
        self.sync = sync.to_owned();
        self
    }

    pub fn health(mut self, health: &str) -> Self {
        self.health = health.to_owned();
        self
    }

    pub fn automated(mut self) -> Self {
        self.automated = true;
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The app as `GET /api/v1/applications/{name}` returns it, with the
    /// fields around the ones chartpilot reads that a real server sends;
    /// empty fields are left out, as Go's `omitempty` does.
    pub fn to_json(&self) -> Value {
        let mut app = self.full_json();
        drop_nulls(&mut app);
        app
    }

    fn full_json(&self) -> Value {
        let running = self.operation_phase.as_deref() == Some("Running");
        let sync_policy = if self.automated {
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]})
        } else {
            json!({"syncOptions": ["CreateNamespace=true"]})
        };
        let source = json!({
            "repoURL": "https://github.com/acme/gitops.git",
            "path": format!("apps/{}", self.name),
            "targetRevision": "main",
            "helm": {"valueFiles": ["values.yaml"]}
        });
        json!({
            "metadata": {
                "name": self.name,
                "namespace": NAMESPACE,
                "uid": "8c1f2f4e-0d3b-4c52-9d55-2a3d6f1b7e10",
                "resourceVersion": "48213",
                "generation": 7,
                "creationTimestamp": "2026-10-01T08:00:00Z",
                "labels": if self.labels.is_empty() { Value::Null } else { json!(self.labels) },
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
                "managedFields": [{"manager": "argocd-server", "operation": "Update"}]
            },
            "spec": {
                "project": "default",
                "source": source,
                "destination": {"server": "https://kubernetes.default.svc", "namespace": self.name},
                "syncPolicy": sync_policy
            },
            "status": {
                "resources": [{"group": "apps", "version": "v1", "kind": "Deployment",
                    "namespace": self.name, "name": self.name, "status": self.sync,
                    "health": {"status": self.health}}],
                "sync": {
                    "status": self.sync,
                    "comparedTo": {"source": source, "destination": {"server": "https://kubernetes.default.svc"}},
                    "revision": self.revision
                },
                "health": {"status": self.health, "lastTransitionTime": DEPLOYED_AT},
                "history": if self.history.is_empty() { json!([
                    {"id": 3, "revision": "0000000000000000000000000000000000000003",
                     "deployStartedAt": "2026-11-19T09:00:00Z", "deployedAt": "2026-11-19T09:00:05Z",
                     "source": source, "initiatedBy": {"username": "admin"}},
                    {"id": 4, "revision": self.revision,
                     "deployStartedAt": "2026-11-20T10:14:50Z", "deployedAt": DEPLOYED_AT,
                     "source": source, "initiatedBy": {"automated": true}}
                ]) } else { self.deployments(&source) },
                "reconciledAt": DEPLOYED_AT,
                "operationState": {
                    "operation": {"sync": {"revision": self.operation_revision, "syncStrategy": {"hook": {}}},
                        "initiatedBy": {"username": "chartpilot"}, "retry": {}},
                    "phase": self.operation_phase,
                    "message": if running { "waiting for completion of hook" } else { "successfully synced (all tasks run)" },
                    "startedAt": "2026-11-20T10:14:50Z",
                    "finishedAt": if running { Value::Null } else { json!(DEPLOYED_AT) }
                },
                "sourceType": "Helm",
                "summary": {"images": ["ghcr.io/acme/web:1.2.3"]},
                "controllerNamespace": NAMESPACE
            }
        })
    }
}

/// Removes null members, recursively.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

struct State {
    token: String,
    /// Answer 403 "permission denied" for apps that do not exist, as Argo
    /// CD does so that an account cannot probe for names it may not see.
    forbid_unknown: bool,
    apps: BTreeMap<String, MockApp>,
    requests: Vec<Recorded>,
    faults: VecDeque<Fault>,
}

pub struct MockArgoCd {
    /// What `argocd.api_url` is set to.
    pub url: String,
    /// The token the mock accepts.
    pub token: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
    violations: Violations,
}

impl MockArgoCd {
    pub async fn start() -> MockArgoCd {
        let (listener, url) = super::loopback();
        let token = format!("argocd-{}", uuid::Uuid::new_v4().simple());
        let state = Arc::new(Mutex::new(State {
            token: token.clone(),
            forbid_unknown: false,
            apps: BTreeMap::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
        }));
        let data = web::Data::from(state.clone());
        let violations = Violations::default();
        let checked = web::Data::new(violations.clone());
        let server = super::serve(listener, move |cfg| {
            cfg.app_data(data.clone())
                .app_data(checked.clone())
                .default_service(web::to(handle));
        });
        MockArgoCd {
            url,
            token,
            state,
            server,
            violations,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// `mode = "api"` settings pointing at the mock with its token.
    pub fn settings(&self) -> ArgocdSettings {
        ArgocdSettings {
            mode: ArgocdMode::Api,
            api_url: self.url.clone(),
            token: Secret::new(self.token.clone()),
            token_file: None,
            namespace: NAMESPACE.to_owned(),
            sync_options: Vec::new(),
            sync_automated: false,
            ca_file: None,
            kubeconfig: None,
        }
    }

    pub fn seed(&self, app: MockApp) {
        self.state().apps.insert(app.name.clone(), app);
    }

    pub fn app(&self, name: &str) -> Option<MockApp> {
        self.state().apps.get(name).cloned()
    }

    /// Ends a running operation, as the controller would.
    pub fn finish_operation(&self, name: &str, phase: &str) {
        if let Some(app) = self.state().apps.get_mut(name) {
            app.operation_phase = Some(phase.to_owned());
            if phase == "Succeeded" {
                app.revision = app.operation_revision.clone();
                app.sync = "Synced".to_owned();
            }
        }
    }

    /// The next `times` requests answer with `fault`.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.state()
            .faults
            .extend(std::iter::repeat_n(fault, times));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// From now on an unknown app answers 403 "permission denied", as Argo
    /// CD answers an account for an app it cannot see or that does not
    /// exist (the server does not tell the two apart).
    pub fn forbid_unknown(&self) {
        self.state().forbid_unknown = true;
    }

    /// The contract violations so far, forgotten.
    pub fn take_violations(&self) -> Vec<String> {
        self.violations.take()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

impl Drop for MockArgoCd {
    fn drop(&mut self) {
        self.violations.assert_none("the mock Argo CD");
    }
}

/// A gRPC-gateway error body, as the server sends one.
fn error(status: StatusCode, code: u8, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": message, "code": code, "message": message}))
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    data: web::Data<Mutex<State>>,
    violations: web::Data<Violations>,
) -> HttpResponse {
    let contract = Contract::argocd();
    let (op, broken) = contract.request(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        &body,
    );
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or("").to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        auth: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    data.lock().unwrap().requests.push(recorded.clone());
    let answer = if broken.is_empty() {
        respond(recorded, &data)
    } else {
        violations.record(broken.clone());
        match op {
            // InvalidArgument, as the gateway answers a body it cannot read.
            Some(_) => error(StatusCode::BAD_REQUEST, 3, &broken.join("; ")),
            None => HttpResponse::NotFound().body("404 page not found\n"),
        }
    };
    match op {
        Some(op) => {
            let what = format!("{} {}", req.method(), req.uri());
            checked_answer(contract, op, &what, answer, &violations)
        }
        None => answer,
    }
}

fn respond(recorded: Recorded, data: &web::Data<Mutex<State>>) -> HttpResponse {
    let mut state = data.lock().unwrap();
    if let Some(fault) = state.faults.pop_front() {
        return match fault {
            Fault::Unauthorized => error(
                StatusCode::UNAUTHORIZED,
                16,
                &format!("invalid session: {}", recorded.auth.unwrap_or_default()),
            ),
            Fault::Conflict => error(StatusCode::CONFLICT, 10, "the object has been modified"),
            Fault::Unavailable => HttpResponse::ServiceUnavailable()
                .content_type("text/html")
                .body("<html><body>503 Service Temporarily Unavailable</body></html>"),
        };
    }
    if recorded.auth.as_deref() != Some(format!("Bearer {}", state.token).as_str()) {
        return error(StatusCode::UNAUTHORIZED, 16, "no session information");
    }
    let rest = recorded.path.strip_prefix("/api/v1/applications/");
    let (name, action) = match rest.map(|r| r.split_once('/').unwrap_or((r, ""))) {
        Some(parts) => parts,
        // What Go's mux answers for a path nothing serves.
        None => return HttpResponse::NotFound().body("404 page not found\n"),
    };
    let forbid_unknown = state.forbid_unknown;
    let Some(app) = state.apps.get_mut(name) else {
        if forbid_unknown {
            // PermissionDenied; the gateway answers 403.
            return error(StatusCode::FORBIDDEN, 7, "permission denied");
        }
        let message = format!("applications.argoproj.io \"{name}\" not found");
        return error(StatusCode::NOT_FOUND, 5, &message);
    };
    match (recorded.method.as_str(), action) {
        ("GET", "") => HttpResponse::Ok().json(app.to_json()),
        ("POST", "sync") => {
            if app.operation_phase.as_deref() == Some("Running") {
                // FailedPrecondition, which the gateway answers with 400.
                let message = "another operation is already in progress";
                return error(StatusCode::BAD_REQUEST, 9, message);
            }
            let revision = recorded.json()["revision"].as_str().map(str::to_owned);
            app.operation_phase = Some("Running".to_owned());
            app.operation_revision = revision.or_else(|| app.revision.clone());
            HttpResponse::Ok().json(app.to_json())
        }
        _ => error(StatusCode::NOT_IMPLEMENTED, 12, "mock: no such route"),
    }
}

impl MockApp {
    /// `status.history` as these `(id, revision)` deployments, oldest
    /// first (a Helm app's revisions are chart versions).
    pub fn deployed(mut self, history: &[(i64, &str)]) -> Self {
        self.history = history
            .iter()
            .map(|(id, r)| (*id, (*r).to_owned()))
            .collect();
        self
    }

    fn deployments(&self, source: &Value) -> Value {
        Value::Array(
            self.history
                .iter()
                .map(|(id, revision)| {
                    json!({"id": id, "revision": revision,
                        "deployStartedAt": "2026-11-19T09:00:00Z", "deployedAt": "2026-11-19T09:00:05Z",
                        "source": source, "initiatedBy": {"username": "admin"}})
                })
                .collect(),
        )
    }
}

impl MockArgoCd {
    /// Deletes an Application, as `argocd app delete` would.
    pub fn remove(&self, name: &str) {
        self.state().apps.remove(name);
    }
}
