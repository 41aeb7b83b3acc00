//! The verbs that change things beyond a PR: `unfreeze`, `sync`, and what
//! a dry run says instead.

use super::*;

/// `unfreeze` through the real receiver and worker: the freeze file loses
/// the environment in a commit on main; a second `unfreeze` says it is not
/// frozen and commits nothing.
#[tokio::test]
async fn unfreeze_lifts_a_freeze_once() {
    let w = world().await;
    let sample = "05-freeze-with-reason.body.txt";
    w.slack_text(sample, Some(STEVE), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert!(git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]).contains("dev"));

    w.slack_text(sample, Some(STEVE), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    let text = r["text"].as_str().unwrap();
    assert!(text.starts_with("dev is no longer frozen (commit `"), "{r}");
    assert!(
        !git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]).contains("dev:"),
        "dev left the freeze file"
    );
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(sample, Some(STEVE), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["text"], "dev is not frozen.", "{r}");
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head, "no commit");
}

/// With `policy.dry_run`, chat says what it would do and changes nothing.
#[tokio::test]
async fn a_dry_run_says_what_it_would_do_and_does_nothing() {
    let w = world_with(|s| s.policy.dry_run = true).await;
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(
        "05-freeze-with-reason.body.txt",
        Some(STEVE),
        Some("freeze dev demo day"),
    )
    .await;
    let r = w.reply().await;
    assert_eq!(
        r["text"], "Dry run (policy.dry_run), nothing done: would freeze dev.",
        "{r}"
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head, "no commit");
}

/// `sync` end to end: Argo CD (the mock) is asked to sync the app at the
/// chart version the repository pins, and chat says so in the channel. A
/// second `sync` while the first runs is refused by Argo CD, and the
/// person hears it failed, privately.
#[tokio::test]
async fn sync_asks_argocd_for_the_pinned_version_and_says_so() {
    use support::mock_argocd::{MockApp, MockArgoCd};
    let argocd = MockArgoCd::start().await;
    argocd.seed(MockApp::new("ingress-nginx-dev", "4.7.0"));
    let argocd_settings = argocd.settings();
    let w = world_with(move |s| s.argocd = argocd_settings).await;
    let sample = "02-status-app-env.body.txt";

    w.slack_text(sample, Some(STEVE), Some("sync ingress-nginx-dev"))
        .await;
    let r = w.reply().await;

    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert_eq!(
        r["text"], "Sync of ingress-nginx-dev started at `4.8.0`.",
        "{r}"
    );
    let posts: Vec<_> = argocd
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, "/api/v1/applications/ingress-nginx-dev/sync");
    assert_eq!(posts[0].json()["revision"], "4.8.0");
    assert_eq!(
        argocd
            .app("ingress-nginx-dev")
            .unwrap()
            .operation_phase
            .as_deref(),
        Some("Running")
    );

    w.slack_text(sample, Some(STEVE), Some("sync ingress-nginx-dev"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.starts_with("`sync ingress-nginx-dev` failed: ")
            && text.contains("another operation is already in progress"),
        "{r}"
    );
    assert!(!text.contains(&argocd.token), "{r}");
}
