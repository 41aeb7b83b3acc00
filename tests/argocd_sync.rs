//! Syncs on push, end to end: a signed GitHub push webhook changing two
//! Application files goes through the receiver and the queue to the
//! worker, which reads the pushed commit from the fake GitHub and makes
//! exactly two sync calls to the mock Argo CD server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use chartpilot::worker::Outcome;
use support::fake_github::FakeGithub;
use support::mock_argocd::{MockApp, MockArgoCd};
use support::{test_settings, Backend, TestSecrets};

/// The chart repository is a closed loopback port: the upgrade pass the
/// push also starts looks it up and fails fast, without leaving the host.
fn app(name: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  source:\n    repoURL: http://127.0.0.1:9/charts\n    chart: {name}\n    targetRevision: {version}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n"
    )
}

#[tokio::test]
async fn a_push_changing_two_application_files_makes_exactly_two_syncs() {
    let github = FakeGithub::start().await;
    let before = github.seed(&[
        ("apps/dev/api.yaml", &app("api-dev", "1.0.0")),
        ("apps/dev/web.yaml", &app("web-dev", "2.0.0")),
        ("apps/dev/jobs.yaml", &app("jobs-dev", "3.0.0")),
    ]);
    let after = github.commit_files(
        "main",
        &[
            ("apps/dev/api.yaml", &app("api-dev", "1.1.0")),
            ("apps/dev/web.yaml", &app("web-dev", "2.1.0")),
        ],
    );
    let argocd = MockArgoCd::start().await;
    for (name, rev) in [
        ("api-dev", &before),
        ("web-dev", &before),
        ("jobs-dev", &before),
    ] {
        argocd.seed(MockApp::new(name, rev));
    }

    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let extra = support::env_vars(
        &[
            github.env(),
            vec![
                ("ARGOCD__MODE", "api".to_owned()),
                ("ARGOCD__API_URL", argocd.url.clone()),
                ("ARGOCD__TOKEN", argocd.token.clone()),
                ("UPGRADE__INTERVAL", "0s".to_owned()),
            ],
        ]
        .concat(),
    );
    let settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let (port, worker) = support::start_service(&settings).await;

    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": { "full_name": github.repository() },
        "sender": { "login": "alice", "type": "User" },
        "commits": [{
            "id": after,
            "message": "bump api and web",
            "added": [],
            "modified": ["apps/dev/api.yaml", "apps/dev/web.yaml"],
            "removed": []
        }]
    })
    .to_string();
    let status = support::post_github_event(port, &secrets.github, "push", &body).await;
    assert_eq!(status, 202);
    let outcome = support::next_outcome(&worker).await;
    assert_eq!(outcome, Outcome::Done);

    let syncs: Vec<(String, serde_json::Value)> = argocd
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path.clone(), r.json()))
        .collect();
    assert_eq!(syncs.len(), 2, "{syncs:#?}");
    assert_eq!(syncs[0].0, "/api/v1/applications/api-dev/sync");
    assert_eq!(syncs[1].0, "/api/v1/applications/web-dev/sync");
    // Helm repository sources sync to the chart version the push pinned,
    // as Argo CD reads `operation.sync.revision` for them.
    assert_eq!(syncs[0].1["revision"], "1.1.0");
    assert_eq!(syncs[1].1["revision"], "2.1.0");
}
