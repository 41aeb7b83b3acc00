//! Alert-triggered rollback end to end: a pin bump lands, an alert about
//! that app fires, and chartpilot reverts exactly that change, once. On a
//! local repository through the handler, and through the real Alertmanager
//! (Debian's `prometheus-alertmanager`) delivering to the service, which
//! acts through the fake GitHub.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod alertmanager;
mod github;
mod local;
#[path = "../support/mod.rs"]
mod support;
mod through_alertmanager;

use std::collections::BTreeMap;

use chartpilot::domain::AlertFingerprint;
use chartpilot::jobs::{Alert, AlertNotification, AlertStatus};

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
