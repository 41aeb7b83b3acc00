//! Alert-triggered rollback end to end: a pin bump lands, an alert about
//! that app fires, and chartpilot reverts exactly that change, once. On a
//! local repository through the handler, and through the real Alertmanager
//! (Debian's `prometheus-alertmanager`) delivering to the service, which
//! acts through the fake GitHub.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod alertmanager;
mod argocd;
mod github;
mod local;
mod outcomes;
mod races;
#[path = "../support/mod.rs"]
mod support;
mod through_alertmanager;
mod world;

use std::collections::BTreeMap;
use std::path::Path;

use chartpilot::domain::AlertFingerprint;
use chartpilot::jobs::{Alert, AlertNotification, AlertStatus};
use support::fake_github::FakeGithub;
pub use support::git;

/// An Argo CD Application pinning podinfo from a Helm repository.
pub fn app(env: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: http://127.0.0.1:9/charts
    chart: podinfo
    targetRevision: {version}
    helm:
      releaseName: podinfo
  destination:
    server: https://kubernetes.default.svc
    namespace: podinfo
"
    )
}

/// The repository before the bump: podinfo at 6.5.0 in dev and prod.
pub fn files() -> Vec<(String, String)> {
    vec![
        ("environments/dev/podinfo.yaml".into(), app("dev", "6.5.0")),
        (
            "environments/prod/podinfo.yaml".into(),
            app("prod", "6.5.0"),
        ),
        ("README.md".into(), "# platform\n".into()),
    ]
}

/// The config the tests share: one rule for critical alerts naming apps
/// by `argocd_app` and environments by `env`.
pub fn rule(action: &str) -> String {
    format!(
        "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = [\"argocd_app\"]\nenv_labels = [\"env\"]\naction = \"{action}\"\n"
    )
}

/// A notification as Alertmanager sends it, for `podinfo-prod`.
pub fn notification(status: AlertStatus, fingerprint: &str) -> AlertNotification {
    let labels: BTreeMap<String, String> = [
        ("alertname", "PodinfoDown"),
        ("argocd_app", "podinfo-prod"),
        ("env", "prod"),
        ("severity", "critical"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    AlertNotification {
        receiver: "chartpilot".into(),
        status,
        group_key: "{}:{alertname=\"PodinfoDown\"}".into(),
        truncated_alerts: 0,
        group_labels: BTreeMap::new(),
        common_labels: labels.clone(),
        external_url: "http://127.0.0.1:9".into(),
        notification_reason: None,
        alerts: vec![Alert {
            status,
            labels,
            annotations: [(
                "runbook_url".to_owned(),
                "https://runbooks.example.org/podinfo".to_owned(),
            )]
            .into(),
            starts_at: chrono::Utc::now(),
            ends_at: None,
            generator_url: "http://127.0.0.1:9/graph".into(),
            fingerprint: AlertFingerprint::parse(fingerprint).unwrap(),
        }],
    }
}

/// A local repository whose last commit bumps podinfo to 6.6.0 in prod,
/// with the merged PR #7 that brought it in the pull log. Returns the bump.
pub fn local_repository(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files() {
        let p = dir.join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "platform pins"]);
    std::fs::write(
        dir.join("environments/prod/podinfo.yaml"),
        app("prod", "6.6.0"),
    )
    .unwrap();
    git(
        dir,
        &[
            "commit",
            "-q",
            "-am",
            "chore(deps): upgrade podinfo to 6.6.0 in prod (#7)",
        ],
    );
    // The pull request that brought it, merged, as a tool records it.
    let log = dir.join(".git/chartpilot");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(
        log.join("pulls.jsonl"),
        "{\"number\":7,\"head\":\"bump-podinfo\",\"base\":\"main\",\"title\":\"chore(deps): upgrade podinfo to 6.6.0 in prod\",\"body\":\"\",\"state\":\"merged\"}\n",
    )
    .unwrap();
    git(dir, &["rev-parse", "HEAD"])
}

/// The fake seeded with `files()`, and a person's PR bumping podinfo to
/// 6.6.0 in prod merged with a merge commit. Returns the merge and the PR.
pub fn github_bump(fake: &FakeGithub) -> (String, u64) {
    let seeded = files();
    let seed = fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
    );
    fake.set_branch("bump-podinfo", &seed);
    fake.commit_files(
        "bump-podinfo",
        &[("environments/prod/podinfo.yaml", &app("prod", "6.6.0"))],
    );
    let pr = fake.add_pull(
        "bump-podinfo",
        "chore(deps): upgrade podinfo to 6.6.0 in prod",
    );
    (fake.merge_into_base(pr), pr)
}

/// `git diff --unified=0 main <revert branch>` changes exactly the prod
/// pin's version line back, and nothing else.
pub fn assert_only_the_prod_pin_goes_back(diff: &str) {
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        ["-    targetRevision: 6.6.0", "+    targetRevision: 6.5.0"],
        "{diff}"
    );
    assert!(diff.contains("environments/prod/podinfo.yaml"), "{diff}");
}
