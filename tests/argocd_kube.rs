//! The kube implementation of `ArgoCd` against a mock Kubernetes API server:
//! exact paths, patch type and bodies, and how API answers map to errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use chartpilot::cluster::kube::KubeClient;
use chartpilot::cluster::{ArgoCd, ArgoError, SyncRequest};
use chartpilot::settings::{ArgocdMode, ArgocdSettings, Secret};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use support::mock_kube::{self, MockKube};

const NS: &str = "argocd";
const APP_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/web-dev";
const MERGE: &str = "application/merge-patch+json";

/// An Application as Argo CD 3.x leaves it after a successful sync.
fn application(name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name, "namespace": NS, "uid": "5e0a6d2c-0000-4000-8000-000000000001",
            "generation": 7, "creationTimestamp": "2026-01-10T08:00:00Z",
            "labels": { "team": "web", "env": "dev" },
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "destination": { "server": "https://kubernetes.default.svc", "namespace": "web" },
            "source": {
                "repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.4.2",
                "helm": { "valueFiles": ["values/web/dev.yaml"] },
            },
            "syncPolicy": { "syncOptions": ["CreateNamespace=true"] },
        },
        "status": {
            "sync": {
                "status": "Synced", "revision": "1.4.2",
                "comparedTo": { "source": { "repoURL": "https://charts.example.com", "chart": "web" },
                                "destination": { "server": "https://kubernetes.default.svc" } },
            },
            "health": { "status": "Healthy", "lastTransitionTime": "2026-03-01T10:05:00Z" },
            "history": [
                { "id": 3, "revision": "1.4.1", "deployedAt": "2026-02-20T09:00:00Z",
                  "deployStartedAt": "2026-02-20T08:59:50Z", "source": { "repoURL": "https://charts.example.com" } },
                { "id": 4, "revision": "1.4.2", "deployedAt": "2026-03-01T10:04:00Z",
                  "deployStartedAt": "2026-03-01T10:03:40Z", "initiatedBy": { "username": "alice" } },
            ],
            "operationState": {
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": "2026-03-01T10:03:40Z", "finishedAt": "2026-03-01T10:04:00Z",
                "operation": { "sync": { "revision": "1.4.2" }, "initiatedBy": { "username": "alice" } },
            },
            "reconciledAt": "2026-03-01T10:10:00Z", "sourceType": "Helm",
            "summary": { "images": ["ghcr.io/example/web:1.4.2"] },
        },
    })
}

struct Setup {
    mock: MockKube,
    client: KubeClient,
    _dir: tempfile::TempDir,
}

async fn setup_with_token(token: Option<&str>) -> Setup {
    let mock = MockKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = mock.write_kubeconfig(dir.path(), token.unwrap_or(&mock.token));
    let client = client(kubeconfig).await;
    Setup {
        mock,
        client,
        _dir: dir,
    }
}

async fn client(kubeconfig: std::path::PathBuf) -> KubeClient {
    let settings = ArgocdSettings {
        mode: ArgocdMode::Kube,
        api_url: String::new(),
        token: Secret::default(),
        token_file: None,
        namespace: NS.into(),
        sync_options: Vec::new(),
        sync_automated: false,
        ca_file: None,
        kubeconfig: Some(kubeconfig),
    };
    KubeClient::new(&settings).await.unwrap()
}

async fn setup() -> Setup {
    setup_with_token(None).await
}

fn request() -> SyncRequest {
    SyncRequest {
        app: "web-dev".into(),
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        initiated_by: "chartpilot".into(),
        sync_options: vec!["CreateNamespace=true".into(), "ServerSideApply=true".into()],
    }
}

#[tokio::test]
async fn status_reads_a_realistic_application() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    let status = s.client.status("web-dev").await.unwrap().unwrap();
    assert_eq!(status.name, "web-dev");
    assert_eq!(status.sync, "Synced");
    assert_eq!(status.health, "Healthy");
    assert_eq!(status.revision.as_deref(), Some("1.4.2"));
    assert_eq!(status.operation_phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        status.operation_finished_at,
        Some(Utc.with_ymd_and_hms(2026, 3, 1, 10, 4, 0).unwrap())
    );
    assert!(!status.automated);
    let history: Vec<_> = status
        .history
        .iter()
        .map(|h| (h.id, h.revision.as_deref(), h.deployed_at))
        .collect();
    assert_eq!(
        history,
        [
            (
                3,
                Some("1.4.1"),
                Some(Utc.with_ymd_and_hms(2026, 2, 20, 9, 0, 0).unwrap())
            ),
            (
                4,
                Some("1.4.2"),
                Some(Utc.with_ymd_and_hms(2026, 3, 1, 10, 4, 0).unwrap())
            ),
        ]
    );
    assert_eq!(status.labels.get("team").map(String::as_str), Some("web"));
    let reqs = s.mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", APP_PATH)
    );
    s.mock.stop().await;
}

#[tokio::test]
async fn status_of_multi_source_automated_app_without_operation() {
    let s = setup().await;
    let mut app = application("web-dev");
    app["spec"]["syncPolicy"]["automated"] = json!({ "prune": true, "selfHeal": true });
    app["status"]["sync"] = json!({ "status": "OutOfSync", "revisions": ["abc123", "1.4.2"] });
    app["status"]["health"] = json!({ "status": "Progressing" });
    app["status"]
        .as_object_mut()
        .unwrap()
        .remove("operationState");
    s.mock.put(app);
    let status = s.client.status("web-dev").await.unwrap().unwrap();
    assert!(status.automated);
    assert_eq!(status.sync, "OutOfSync");
    assert_eq!(status.health, "Progressing");
    assert_eq!(status.revision.as_deref(), Some("abc123"));
    assert_eq!(status.operation_phase, None);
    s.mock.stop().await;
}

#[tokio::test]
async fn status_of_unknown_app_is_none() {
    let s = setup().await;
    assert!(s.client.status("web-dev").await.unwrap().is_none());
    s.mock.stop().await;
}

#[tokio::test]
async fn sync_sends_the_operation_as_a_merge_patch() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    let version = s.mock.get(NS, "web-dev").unwrap()["metadata"]["resourceVersion"].clone();
    s.client.sync(&request()).await.unwrap();

    let patches = s.mock.patches();
    assert_eq!(patches.len(), 1);
    let patch = &patches[0];
    assert_eq!(patch.path, APP_PATH);
    assert_eq!(patch.content_type.as_deref(), Some(MERGE));
    assert_eq!(
        patch.json(),
        json!({
            "metadata": { "resourceVersion": version },
            "operation": {
                "initiatedBy": { "username": "chartpilot" },
                "sync": {
                    "revision": "0123456789abcdef0123456789abcdef01234567",
                    "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                },
            },
            "status": { "operationState": null },
        })
    );
    // What the controller will find: the operation, no stale finished state.
    let stored = s.mock.get(NS, "web-dev").unwrap();
    assert_eq!(stored["operation"]["initiatedBy"]["username"], "chartpilot");
    assert!(stored["status"].get("operationState").is_none());
    assert_eq!(stored["status"]["health"]["status"], "Healthy");
    s.mock.stop().await;
}

#[tokio::test]
async fn sync_while_an_operation_runs_is_unavailable_and_patches_nothing() {
    let s = setup().await;
    let mut running = application("web-dev");
    running["status"]["operationState"]["phase"] = json!("Running");
    s.mock.put(running);
    let err = s.client.sync(&request()).await.unwrap_err();
    assert!(
        matches!(err, ArgoError::Unavailable(ref m) if m.contains("operation in progress")),
        "{err}"
    );

    // An `operation` the controller has not picked up yet counts too.
    let mut pending = application("web-dev");
    pending["operation"] =
        json!({ "sync": { "revision": "HEAD" }, "initiatedBy": { "username": "bob" } });
    s.mock.put(pending);
    let err = s.client.sync(&request()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(s.mock.patches().is_empty());
    s.mock.stop().await;
}

#[tokio::test]
async fn sync_of_unknown_app_is_not_found() {
    let s = setup().await;
    let err = s.client.sync(&request()).await.unwrap_err();
    assert!(
        matches!(err, ArgoError::NotFound(ref a) if a == "web-dev"),
        "{err}"
    );
    assert!(s.mock.patches().is_empty());
    s.mock.stop().await;
}

#[tokio::test]
async fn sync_conflict_is_unavailable() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.mock.fail_next("PATCH", 409);
    let err = s.client.sync(&request()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    s.mock.stop().await;
}

#[tokio::test]
async fn sync_racing_another_writer_conflicts_and_writes_nothing() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.mock.concurrent_writer();
    let err = s.client.sync(&request()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let patches = s.mock.patches();
    assert_eq!(patches.iter().map(|p| p.status).collect::<Vec<_>>(), [409]);
    assert!(s
        .mock
        .get(NS, "web-dev")
        .unwrap()
        .get("operation")
        .is_none());
    s.mock.stop().await;
}

#[tokio::test]
async fn refresh_patches_the_annotation() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.client.refresh("web-dev").await.unwrap();
    let patches = s.mock.patches();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].path, APP_PATH);
    assert_eq!(patches[0].content_type.as_deref(), Some(MERGE));
    assert_eq!(
        patches[0].json(),
        json!({ "metadata": { "annotations": { "argocd.argoproj.io/refresh": "normal" } } })
    );
    let stored = s.mock.get(NS, "web-dev").unwrap();
    assert_eq!(
        stored["metadata"]["annotations"]["argocd.argoproj.io/refresh"],
        "normal"
    );
    assert_eq!(stored["metadata"]["labels"]["team"], "web");
    s.mock.stop().await;
}

#[tokio::test]
async fn refresh_of_unknown_app_is_not_found() {
    let s = setup().await;
    let err = s.client.refresh("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::NotFound(_)), "{err}");
    s.mock.stop().await;
}

#[tokio::test]
async fn forbidden_is_refused() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.mock.fail_next("GET", 403);
    let err = s.client.status("web-dev").await.unwrap_err();
    assert!(
        matches!(err, ArgoError::Refused(ref m) if m.contains("403")),
        "{err}"
    );
    s.mock.fail_next("PATCH", 403);
    let err = s.client.refresh("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Refused(_)), "{err}");
    s.mock.stop().await;
}

#[tokio::test]
async fn server_errors_and_transport_failures_are_unavailable() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.mock.fail_next("GET", 500);
    assert!(s.client.status("web-dev").await.unwrap_err().is_transient());
    s.mock.stop().await;

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let dead = client(mock_kube::write_kubeconfig(dir.path(), &url, "unused")).await;
    let err = dead.status("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Unavailable(_)), "{err}");
}

#[tokio::test]
async fn kubeconfig_token_reaches_the_server_and_never_an_error() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    s.client.status("web-dev").await.unwrap();
    let auth = s.mock.requests()[0].authorization.clone();
    assert_eq!(auth, Some(format!("Bearer {}", s.mock.token)));

    for code in [403, 409, 500] {
        s.mock.fail_next("GET", code);
        let err = s.client.status("web-dev").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&s.mock.token), "token leaked: {text}");
    }
    assert!(!format!("{:?}", s.client).contains(&s.mock.token));
    s.mock.stop().await;

    // A wrong token: 401, refused, and neither token in the message.
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let s = setup_with_token(Some(&wrong)).await;
    let err = s.client.status("web-dev").await.unwrap_err();
    assert!(
        matches!(err, ArgoError::Refused(ref m) if m.contains("401")),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(&wrong) && !text.contains(&s.mock.token),
        "{text}"
    );
    s.mock.stop().await;
}

#[tokio::test]
async fn describe_names_the_namespace() {
    let s = setup().await;
    assert_eq!(s.client.describe(), "kube:argocd");
    s.mock.stop().await;
}

#[tokio::test]
async fn https_cluster_builds_a_tls_client_without_panicking() {
    // The TLS stack (rustls on ring) is set up when the client is built.
    let dir = tempfile::tempdir().unwrap();
    let dead = client(mock_kube::write_kubeconfig(
        dir.path(),
        "https://127.0.0.1:9",
        "unused",
    ))
    .await;
    let err = dead.status("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Unavailable(_)), "{err}");
}

#[tokio::test]
async fn a_patch_the_application_crd_refuses_is_422_and_a_contract_violation() {
    let s = setup().await;
    s.mock.put(application("web-dev"));
    let before = s.mock.get(NS, "web-dev").unwrap();

    // `operation.sync.revision` is a string in the CRD's schema.
    let answer = reqwest::Client::new()
        .patch(format!("{}{APP_PATH}", s.mock.url))
        .bearer_auth(&s.mock.token)
        .header("content-type", MERGE)
        .body(r#"{"operation":{"sync":{"revision":5}}}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 422);
    assert_eq!(s.mock.get(NS, "web-dev").unwrap(), before, "nothing stored");
    let violations = s.mock.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("/operation/sync/revision"),
        "{violations:?}"
    );
    s.mock.stop().await;
}
