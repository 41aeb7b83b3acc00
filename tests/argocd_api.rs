//! The `api` Argo CD client against a mock Argo CD server: exact requests
//! out, typed status and errors back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use chartpilot::cluster::api::ApiClient;
use chartpilot::cluster::{ArgoCd, ArgoError, SyncRequest};
use support::mock_argocd::{Fault, MockApp, MockArgoCd, DEPLOYED_AT};

const REV: &str = "4f6c1b2a9d0e8c7b6a5f4e3d2c1b0a9f8e7d6c5b";
const NEW_REV: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

async fn mock_with(apps: &[MockApp]) -> (MockArgoCd, ApiClient) {
    let mock = MockArgoCd::start().await;
    for app in apps {
        mock.seed(app.clone());
    }
    let client = ApiClient::new(&mock.settings()).unwrap();
    (mock, client)
}

fn sync_request(app: &str) -> SyncRequest {
    SyncRequest {
        app: app.to_owned(),
        revision: Some(NEW_REV.to_owned()),
        initiated_by: "chartpilot".to_owned(),
        sync_options: vec![
            "CreateNamespace=true".to_owned(),
            "ServerSideApply=true".to_owned(),
        ],
    }
}

#[tokio::test]
async fn status_reads_the_fields_chartpilot_uses() {
    let app = MockApp::new("web-dev", REV)
        .sync("OutOfSync")
        .health("Progressing")
        .automated()
        .label("env", "dev")
        .label("team", "payments");
    let (mock, client) = mock_with(&[app]).await;

    let status = client.status("web-dev").await.unwrap().unwrap();
    assert_eq!(status.name, "web-dev");
    assert_eq!(status.sync, "OutOfSync");
    assert_eq!(status.health, "Progressing");
    assert_eq!(status.revision.as_deref(), Some(REV));
    assert!(status.automated);
    assert_eq!(status.operation_phase.as_deref(), Some("Succeeded"));
    let deployed: chrono::DateTime<chrono::Utc> = DEPLOYED_AT.parse().unwrap();
    assert_eq!(status.operation_finished_at, Some(deployed));
    assert_eq!(status.labels.get("env").map(String::as_str), Some("dev"));
    assert_eq!(status.labels.len(), 2);
    let ids: Vec<i64> = status.history.iter().map(|h| h.id).collect();
    assert_eq!(ids, [3, 4]);
    assert_eq!(status.history[1].revision.as_deref(), Some(REV));
    assert_eq!(status.history[1].deployed_at, Some(deployed));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].line(), "GET /api/v1/applications/web-dev");
    assert_eq!(requests[0].auth, Some(format!("Bearer {}", mock.token)));
    mock.stop().await;
}

#[tokio::test]
async fn manual_app_without_labels_reads_as_such() {
    let (mock, client) = mock_with(&[MockApp::new("api", REV)]).await;
    let status = client.status("api").await.unwrap().unwrap();
    assert!(!status.automated);
    assert!(status.labels.is_empty());
    assert_eq!(
        (status.sync.as_str(), status.health.as_str()),
        ("Synced", "Healthy")
    );
    mock.stop().await;
}

#[tokio::test]
async fn unknown_app_is_none_and_sync_of_it_is_not_found() {
    let (mock, client) = mock_with(&[]).await;
    assert_eq!(client.status("ghost").await.unwrap(), None);
    let err = client.sync(&sync_request("ghost")).await.unwrap_err();
    assert!(
        matches!(err, ArgoError::NotFound(ref a) if a == "ghost"),
        "{err}"
    );
    let err = client.refresh("ghost").await.unwrap_err();
    assert!(matches!(err, ArgoError::NotFound(_)), "{err}");
    mock.stop().await;
}

#[tokio::test]
async fn sync_posts_revision_and_options() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    client.sync(&sync_request("web-dev")).await.unwrap();

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.line(), "POST /api/v1/applications/web-dev/sync");
    assert_eq!(sent.auth, Some(format!("Bearer {}", mock.token)));
    assert_eq!(
        sent.json(),
        serde_json::json!({
            "revision": NEW_REV,
            "prune": false,
            "syncOptions": {"items": ["CreateNamespace=true", "ServerSideApply=true"]}
        })
    );
    let app = mock.app("web-dev").unwrap();
    assert_eq!(app.operation_phase.as_deref(), Some("Running"));
    assert_eq!(app.operation_revision.as_deref(), Some(NEW_REV));
    mock.stop().await;
}

#[tokio::test]
async fn sync_without_revision_or_options_sends_neither() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    let mut request = sync_request("web-dev");
    request.revision = None;
    request.sync_options.clear();
    client.sync(&request).await.unwrap();
    assert_eq!(
        mock.requests()[0].json(),
        serde_json::json!({"prune": false})
    );
    mock.stop().await;
}

#[tokio::test]
async fn sync_while_one_runs_is_unavailable() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    client.sync(&sync_request("web-dev")).await.unwrap();
    let err = client.sync(&sync_request("web-dev")).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("another operation"), "{err}");

    mock.finish_operation("web-dev", "Succeeded");
    client.sync(&sync_request("web-dev")).await.unwrap();
    mock.stop().await;
}

#[tokio::test]
async fn refresh_asks_for_a_normal_refresh() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    client.refresh("web-dev").await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].line(),
        "GET /api/v1/applications/web-dev?refresh=normal"
    );
    assert_eq!(requests[0].body, "");
    mock.stop().await;
}

#[tokio::test]
async fn unauthorized_is_refused_without_the_token() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    mock.inject(Fault::Unauthorized, 3);
    let errors = [
        client.status("web-dev").await.unwrap_err(),
        client.sync(&sync_request("web-dev")).await.unwrap_err(),
        client.refresh("web-dev").await.unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, ArgoError::Refused(_)), "{err}");
        let text = format!("{err} {err:?}");
        assert!(text.contains("401"), "{text}");
        assert!(!text.contains(&mock.token), "token leaked: {text}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused() {
    let mock = MockArgoCd::start().await;
    mock.seed(MockApp::new("web-dev", REV));
    let mut settings = mock.settings();
    settings.token = chartpilot::settings::Secret::new("not-the-token");
    let client = ApiClient::new(&settings).unwrap();
    let err = client.status("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Refused(_)), "{err}");
    assert!(!err.to_string().contains("not-the-token"), "{err}");
    mock.stop().await;
}

#[tokio::test]
async fn conflict_and_5xx_are_unavailable() {
    let (mock, client) = mock_with(&[MockApp::new("web-dev", REV)]).await;
    mock.inject(Fault::Conflict, 1);
    let err = client.sync(&sync_request("web-dev")).await.unwrap_err();
    assert!(matches!(err, ArgoError::Unavailable(_)), "{err}");
    mock.inject(Fault::Unavailable, 1);
    let err = client.status("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Unavailable(_)), "{err}");
    // The faults are used up: the next call works.
    assert!(client.status("web-dev").await.unwrap().is_some());
    mock.stop().await;
}

#[tokio::test]
async fn a_404_from_a_wrong_base_path_is_not_a_missing_app() {
    let mock = MockArgoCd::start().await;
    let mut settings = mock.settings();
    settings.api_url = format!("{}/wrong", mock.url);
    let client = ApiClient::new(&settings).unwrap();
    let err = client.status("web-dev").await.unwrap_err();
    assert!(matches!(err, ArgoError::Refused(_)), "{err}");
    assert_eq!(
        mock.requests()[0].path,
        "/wrong/api/v1/applications/web-dev"
    );
    // A route Argo CD does not have is a contract violation of the mock's.
    let violations = mock.take_violations();
    assert!(
        violations[0].contains("no operation of Argo CD"),
        "{violations:?}"
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_app_argocd_will_not_show_is_not_found() {
    let mock = MockArgoCd::start().await;
    mock.forbid_unknown();
    let client = ApiClient::new(&mock.settings()).unwrap();

    // Argo CD answers 403 "permission denied" for an app that does not
    // exist as for one the token may not see: both read as not found.
    assert!(client.status("ghost").await.unwrap().is_none());
    let err = client.sync(&sync_request("ghost")).await.unwrap_err();
    assert!(matches!(err, ArgoError::NotFound(_)), "{err}");
    assert_eq!(mock.requests().len(), 2);
    mock.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mock = MockArgoCd::start().await;
    let mut settings = mock.settings();
    settings.api_url = url;
    let client = ApiClient::new(&settings).unwrap();
    let err = client.status("web-dev").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    mock.stop().await;
}

#[tokio::test]
async fn names_that_are_not_kubernetes_names_never_leave() {
    let (mock, client) = mock_with(&[]).await;
    for name in ["../../settings", "web/sync", "Web", "a?b=c", ""] {
        let err = client.status(name).await.unwrap_err();
        assert!(matches!(err, ArgoError::Refused(_)), "{name}: {err}");
        let err = client.sync(&sync_request(name)).await.unwrap_err();
        assert!(matches!(err, ArgoError::Refused(_)), "{name}: {err}");
    }
    assert!(mock.requests().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn ca_file_errors_name_the_file() {
    let mock = MockArgoCd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let garbage = dir.path().join("garbage-ca.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    for path in [missing, garbage] {
        let mut settings = mock.settings();
        settings.ca_file = Some(path.clone());
        let err = ApiClient::new(&settings).unwrap_err();
        assert!(matches!(err, ArgoError::Refused(_)), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    mock.stop().await;
}

/// A TLS server from `openssl s_server` with a leaf signed by a throwaway
/// CA: no TLS server crate is needed, and the client's real verifier runs.
mod tls {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    use super::*;
    use support::PATIENCE;

    /// Kills `openssl s_server` however the test ends.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Runs `openssl` with whitespace-separated arguments.
    fn openssl(dir: &Path, args: &str) -> bool {
        Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// CA and leaf for 127.0.0.1; None when openssl could not make them.
    fn pki(dir: &Path) -> Option<PathBuf> {
        let ext =
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
        std::fs::write(dir.join("leaf.ext"), ext).unwrap();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let ok = openssl(
            dir,
            &format!("req -x509 {ec} -keyout ca.key -out ca.pem -subj /CN=test-ca -days 1"),
        ) && openssl(
            dir,
            &format!("req {ec} -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1"),
        ) && openssl(
            dir,
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out leaf.pem -days 1 -extfile leaf.ext",
        );
        ok.then(|| dir.join("ca.pem"))
    }

    async fn serve(dir: &Path) -> (Server, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let child = Command::new("openssl")
            .args([
                "s_server", "-quiet", "-www", "-cert", "leaf.pem", "-key", "leaf.key", "-accept",
            ])
            .arg(addr.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "s_server never listened"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        (server, format!("https://{addr}"))
    }

    #[tokio::test]
    async fn an_untrusted_certificate_fails_and_ca_file_trusts_it() {
        let dir = tempfile::tempdir().unwrap();
        // Skipping would pass without testing anything: openssl comes
        // with scripts/test-services.sh.
        let ca = pki(dir.path())
            .expect("openssl (installed by scripts/test-services.sh) makes the test PKI");
        let (_server, url) = serve(dir.path()).await;
        let mock = MockArgoCd::start().await;
        let mut settings = mock.settings();
        settings.api_url = url;

        let client = ApiClient::new(&settings).unwrap();
        let err = client.status("web-dev").await.unwrap_err();
        assert!(matches!(err, ArgoError::Refused(_)), "{err}");
        assert!(err.to_string().contains("certificate"), "{err}");

        // Trusted through ca_file, the handshake succeeds and the client
        // reaches s_server's HTML page, which is no Application.
        settings.ca_file = Some(ca);
        let client = ApiClient::new(&settings).unwrap();
        let err = client.status("web-dev").await.unwrap_err();
        assert!(err.to_string().contains("not an Application"), "{err}");
        mock.stop().await;
    }
}
