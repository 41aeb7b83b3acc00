//! `action = "argocd-rollback"` end to end: the alert's handler reads the
//! Application, and Argo CD redeploys the version before the change, git
//! unchanged. Against the mock Argo CD API (every request and answer held
//! to Argo CD's Swagger) and the mock Kubernetes API (every patched
//! Application held to the CRD's schema).

use chartpilot::jobs::AlertStatus;
use chartpilot::rollback::run::Outcome;
use serde_json::json;

use super::support::mock_argocd::{MockApp, MockArgoCd};
use super::support::mock_kube::MockKube;
use super::world::{rollbacker, skipped, World};
use super::*;

fn api(mock: &MockArgoCd) -> String {
    format!(
        "[argocd]\nmode = \"api\"\napi_url = \"{}\"\ntoken = \"{}\"\n",
        mock.url, mock.token
    )
}

/// podinfo-prod as Argo CD shows it after the bump: running 6.6.0, which
/// followed 6.4.0 and 6.5.0.
fn running_the_bump() -> MockApp {
    MockApp::new("podinfo-prod", "6.6.0").deployed(&[(1, "6.4.0"), (2, "6.5.0"), (3, "6.6.0")])
}

fn syncs(mock: &MockArgoCd) -> Vec<serde_json::Value> {
    mock.requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            assert_eq!(r.path, "/api/v1/applications/podinfo-prod/sync");
            r.json()
        })
        .collect()
}

#[tokio::test]
async fn argocd_rollback_through_the_api_redeploys_the_version_before_and_leaves_git_alone() {
    let w = World::new().await;
    let mock = MockArgoCd::start().await;
    mock.seed(running_the_bump());
    let h = w.handler("argocd-rollback", &api(&mock)).await;
    let firing = notification(AlertStatus::Firing, "a0a0a0");

    let outcomes = rollbacker(&h).on_notification(&firing).await.unwrap();
    assert_eq!(
        outcomes,
        [Outcome::RolledBackInArgoCd {
            app: "podinfo-prod".into(),
            revision: "6.5.0".into(),
        }]
    );
    // One read of the app, one sync to 6.5.0 (not merely the entry
    // before), with the server's bearer token; no prune.
    let lines: Vec<String> = mock.requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /api/v1/applications/podinfo-prod",
            "POST /api/v1/applications/podinfo-prod/sync"
        ]
    );
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.auth.as_deref() == Some(format!("Bearer {}", mock.token).as_str())));
    assert_eq!(syncs(&mock), [json!({"revision": "6.5.0", "prune": false})]);
    let app = mock.app("podinfo-prod").unwrap();
    assert_eq!(app.operation_phase.as_deref(), Some("Running"));
    assert_eq!(app.operation_revision.as_deref(), Some("6.5.0"));

    // Git unchanged: no commit, branch or PR; the bump's PR and chat hear
    // what Argo CD was asked to do.
    assert_eq!(w.fake.branch("main").unwrap(), w.merge);
    assert_eq!(
        w.writes(),
        [format!(
            "POST /repos/acme/gitops/issues/{}/comments",
            w.bump_pr
        )]
    );
    let comments = w.fake.comments(w.bump_pr);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].starts_with("chartpilot is rolling this change back: Argo CD redeploys 6.5.0."),
        "{}",
        comments[0]
    );
    assert!(comments[0].contains("`PodinfoDown` fired for **podinfo-prod** in **prod**"));
    let chat = w.chat();
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(
        chat[0].starts_with(
            "chartpilot rollback: podinfo-prod in prod goes back from 6.6.0 to 6.5.0 (Argo CD redeploys 6.5.0)."
        ),
        "{}",
        chat[0]
    );
    assert!(!chat[0].contains(&mock.token));

    // The controller finishes: the app runs 6.5.0. The same alert again
    // does nothing more: no second sync, comment or message.
    mock.finish_operation("podinfo-prod", "Succeeded");
    let reason = skipped(&h, &firing).await;
    assert_eq!(
        reason,
        "podinfo-prod does not run 6.6.0 now (it runs 6.5.0); nothing to roll back in Argo CD"
    );
    assert_eq!(syncs(&mock).len(), 1);
    assert_eq!(w.fake.comments(w.bump_pr).len(), 1);
    assert_eq!(w.chat().len(), 1);
}

/// podinfo-prod as an Application resource after the bump, as Argo CD 3.x
/// leaves it: a Helm chart source, manual sync, 6.5.0 then 6.6.0 deployed.
fn application() -> serde_json::Value {
    let source = json!({"repoURL": "http://127.0.0.1:9/charts", "chart": "podinfo", "targetRevision": "6.6.0",
        "helm": {"releaseName": "podinfo"}});
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "podinfo-prod", "namespace": "argocd",
            "uid": "5e0a6d2c-0000-4000-8000-000000000042", "generation": 3,
            "creationTimestamp": "2026-11-01T08:00:00Z"},
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "podinfo"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": "6.6.0",
                "comparedTo": {"source": source, "destination": {"server": "https://kubernetes.default.svc"}}},
            "health": {"status": "Degraded"},
            "history": [
                {"id": 1, "revision": "6.5.0", "deployedAt": "2026-11-20T09:00:00Z",
                 "deployStartedAt": "2026-11-20T08:59:50Z", "source": source},
                {"id": 2, "revision": "6.6.0", "deployedAt": "2026-11-21T09:00:00Z",
                 "deployStartedAt": "2026-11-21T08:59:50Z", "source": source},
            ],
            "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": "2026-11-21T08:59:50Z", "finishedAt": "2026-11-21T09:00:00Z",
                "operation": {"sync": {"revision": "6.6.0"}, "initiatedBy": {"username": "alice"}}},
            "sourceType": "Helm",
        },
    })
}

#[tokio::test]
async fn argocd_rollback_through_kubernetes_patches_one_operation_to_the_version_before() {
    let w = World::new().await;
    let kube = MockKube::start().await;
    kube.put(application());
    let version = kube.get("argocd", "podinfo-prod").unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let kubeconfig = kube.write_kubeconfig(w.dir.path(), &kube.token);
    let h = w
        .handler(
            "argocd-rollback",
            &format!(
                "[argocd]\nmode = \"kube\"\nnamespace = \"argocd\"\nkubeconfig = \"{}\"\n",
                kubeconfig.display()
            ),
        )
        .await;

    let outcomes = rollbacker(&h)
        .on_notification(&notification(AlertStatus::Firing, "b0b0b0"))
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [Outcome::RolledBackInArgoCd {
            app: "podinfo-prod".into(),
            revision: "6.5.0".into(),
        }]
    );
    // The one write to the cluster: a merge patch starting a sync to
    // 6.5.0, guarded by the version read, clearing the old operation.
    let patches = kube.patches();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    let patch = &patches[0];
    assert_eq!(
        patch.path,
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/podinfo-prod"
    );
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(patch.status, 200);
    assert_eq!(
        patch.json(),
        json!({
            "metadata": {"resourceVersion": version},
            "operation": {"initiatedBy": {"username": "chartpilot"}, "sync": {"revision": "6.5.0"}},
            "status": {"operationState": null},
        })
    );
    // The stored Application now carries the operation the controller
    // runs (the mock held it to the CRD's schema before storing it).
    let stored = kube.get("argocd", "podinfo-prod").unwrap();
    assert_eq!(stored["operation"]["sync"]["revision"], "6.5.0");
    assert!(stored["status"].get("operationState").is_none());
    assert_eq!(stored["spec"]["source"]["targetRevision"], "6.6.0");
    assert!(kube.take_violations().is_empty());

    assert_eq!(w.fake.branch("main").unwrap(), w.merge);
    assert_eq!(w.fake.pulls().len(), 1);
    assert_eq!(w.chat().len(), 1);
    assert!(
        w.chat()[0].contains("(Argo CD redeploys 6.5.0)"),
        "{:?}",
        w.chat()
    );

    // Delivered again while that operation is asked for: no second patch.
    let err = rollbacker(&h)
        .on_notification(&notification(AlertStatus::Firing, "b0b0b0"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(kube.patches().len(), 1);
    assert_eq!(w.chat().len(), 1);
}

/// The four reasons the Argo CD action stands back, each through the
/// handler, with no sync asked for and git untouched; a missing app is
/// missing whether Argo CD answers 404 or, as it does for an account that
/// may not see it, 403 "permission denied".
#[tokio::test]
async fn argocd_rollback_stands_back_without_the_app_for_a_self_syncing_app_and_without_a_version_to_go_back_to(
) {
    // (the app seeded, whether unknown apps answer 403, the reason)
    let cases: [(Option<MockApp>, bool, &str); 5] = [
        (None, false, "Argo CD has no application podinfo-prod"),
        (None, true, "Argo CD has no application podinfo-prod"),
        (
            Some(running_the_bump().automated()),
            false,
            "podinfo-prod syncs itself: an Argo CD rollback would be undone at once; use action revert-pr",
        ),
        (
            Some(MockApp::new("podinfo-prod", "6.5.0").deployed(&[(1, "6.5.0")])),
            false,
            "podinfo-prod does not run 6.6.0 now (it runs 6.5.0); nothing to roll back in Argo CD",
        ),
        (
            Some(MockApp::new("podinfo-prod", "6.6.0").deployed(&[(1, "6.4.0"), (2, "6.6.0")])),
            false,
            "Argo CD's history of podinfo-prod has no deployment of 6.5.0 to go back to",
        ),
    ];
    for (app, forbid_unknown, want) in cases {
        let w = World::new().await;
        let mock = MockArgoCd::start().await;
        if let Some(app) = app {
            mock.seed(app);
        }
        if forbid_unknown {
            mock.forbid_unknown();
        }
        let h = w.handler("argocd-rollback", &api(&mock)).await;
        let reason = skipped(&h, &notification(AlertStatus::Firing, "c0c0c0")).await;
        assert_eq!(reason, want);
        assert!(syncs(&mock).is_empty(), "{want}");
        assert_eq!(
            mock.requests().iter().map(|r| r.line()).collect::<Vec<_>>(),
            ["GET /api/v1/applications/podinfo-prod"]
        );
        w.assert_untouched();
    }
}
