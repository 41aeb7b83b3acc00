//! The `chartpilot` check on pull requests, end to end: a signed
//! `pull_request` webhook goes through the receiver and the queue, the
//! worker scans the head and the merge base, and the result lands where
//! the host keeps it (a Check Run with an App, a commit status and one
//! comment with a token, lines in the pull log on the local host).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "checks/github.rs"]
mod github;
#[path = "checks/local.rs"]
mod local;
#[path = "checks/provenance.rs"]
mod provenance;
mod support;

use std::path::Path;

use chartpilot::settings::{HelmMirror, Settings};
use support::{test_settings, Backend, TestSecrets};

/// The repository URL pins write; a mirror routes it to an index on disk.
pub const CHARTS_URL: &str = "https://charts.example.org/stable";

/// An Argo CD Application pinning `web` at `version` in `env`.
pub fn app(env: &str, version: &str) -> String {
    app_from(env, CHARTS_URL, version)
}

pub fn app_from(env: &str, repo: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {repo}
    chart: web
    targetRevision: {version}
  destination:
    server: https://kubernetes.default.svc
    namespace: web
"
    )
}

/// The 1-based line of `targetRevision` in [`app`].
pub const VERSION_LINE: usize = 11;

pub fn path(env: &str) -> String {
    format!("environments/{env}/web.yaml")
}

/// The first commit on `main`: web at 1.0.0 everywhere, and docs.
pub fn files() -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = ["dev", "staging", "prod"]
        .iter()
        .map(|env| (path(env), app(env, "1.0.0")))
        .collect();
    f.push(("README.md".into(), "# platform\n".into()));
    f.push(("docs/guide.md".into(), "How we deploy.\n".into()));
    f
}

/// An index listing web 1.0.0, 1.1.0 and 1.2.0, in `dir`.
pub fn index(dir: &Path) {
    let entry = |v: &str| {
        format!(
            "  - apiVersion: v2\n    name: web\n    version: {v}\n    created: \"2024-01-01T00:00:00Z\"\n    urls:\n      - charts/web-{v}.tgz\n"
        )
    };
    let text = format!(
        "apiVersion: v1\nentries:\n  web:\n{}{}{}",
        entry("1.2.0"),
        entry("1.1.0"),
        entry("1.0.0")
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.yaml"), text).unwrap();
    // The archives the values rule reads: the same defaults in each.
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        web_archive(
            dir,
            v,
            "replicaCount: 1\nmetrics:\n  enabled: false\n  port: 9797\n",
        );
    }
}

/// Writes `charts/web-<version>.tgz` under the index `dir` with `values`.
pub fn web_archive(dir: &Path, version: &str, values: &str) {
    let chart = format!("apiVersion: v2\nname: web\nversion: {version}\n");
    let bytes = support::chart_tgz("web", &[("Chart.yaml", &chart), ("values.yaml", values)]);
    std::fs::create_dir_all(dir.join("charts")).unwrap();
    std::fs::write(dir.join(format!("charts/web-{version}.tgz")), bytes).unwrap();
}

/// Settings for the service: `extra` overrides, no scheduled pass, and a
/// mirror from [`CHARTS_URL`] to an index written under `dir`.
pub fn settings(dir: &Path, secrets: &TestSecrets, extra: &[(&str, String)]) -> Settings {
    let mut all = vec![("UPGRADE__INTERVAL", "0s".to_owned())];
    all.extend(extra.iter().cloned());
    let mut s = test_settings(
        Backend::Embedded,
        "",
        dir,
        secrets,
        &support::env_vars(&all),
    );
    let charts = dir.join("charts");
    index(&charts);
    s.helm.mirrors.push(HelmMirror {
        from: CHARTS_URL.to_owned(),
        to: format!("file://{}", charts.display()),
    });
    s
}

/// A `pull_request` webhook body.
pub fn pull_event(
    action: &str,
    repository: &str,
    number: u64,
    head: (&str, &str),
    labels: &[&str],
) -> String {
    serde_json::json!({
        "action": action,
        "number": number,
        "pull_request": {
            "title": "A change",
            "body": "Please review.",
            "head": { "ref": head.0, "sha": head.1 },
            "base": { "ref": "main", "sha": "0".repeat(40) },
            "user": { "login": "alice", "type": "User" },
            "labels": labels.iter().map(|l| serde_json::json!({ "name": l })).collect::<Vec<_>>(),
        },
        "repository": { "full_name": repository },
        "sender": { "login": "alice", "type": "User" },
    })
    .to_string()
}
