//! A small GitOps repository whose pins are behind a local Helm index:
//! Argo CD Applications in dev/staging/prod and a Terraform helm_release
//! with a `v`-spelled version.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository URL the pins write; a mirror routes it to the index on
/// disk, so nothing leaves the machine.
pub const CHARTS_URL: &str = "https://charts.example.org/stable";

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test Person")
        .env("GIT_AUTHOR_EMAIL", "person@example.org")
        .env("GIT_COMMITTER_NAME", "Test Person")
        .env("GIT_COMMITTER_EMAIL", "person@example.org")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn app(env: &str, chart: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {chart}-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {CHARTS_URL}
    chart: {chart}
    targetRevision: {version}   # pinned
    helm:
      valueFiles:
        - values/{chart}/{env}.yaml
  destination:
    server: https://kubernetes.default.svc
    namespace: {chart}
"
    )
}

const TERRAFORM: &str = r#"variable "cert_manager_version" {
  type    = string
  default = "v1.13.2"
}

resource "helm_release" "cert_manager" {
  name       = "cert-manager"
  repository = "https://charts.example.org/stable"
  chart      = "cert-manager"
  version    = var.cert_manager_version
  namespace  = "cert-manager"
}
"#;

/// The files of the first commit on `main`.
pub fn files() -> Vec<(String, String)> {
    let mut f = vec![("platform/main.tf".to_owned(), TERRAFORM.to_owned())];
    for env in ["dev", "staging", "prod"] {
        f.push((
            format!("environments/{env}/podinfo.yaml"),
            app(env, "podinfo", "6.5.0"),
        ));
        f.push((
            format!("environments/{env}/redis.yaml"),
            app(env, "redis", "18.1.0"),
        ));
    }
    f.push(("README.md".into(), "# platform\n".into()));
    f
}

/// A non-bare repository with `files()` committed on `main`.
pub fn repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files() {
        let p = dir.join(&path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "platform pins"]);
}

fn entry(chart: &str, version: &str, app: &str, changes: Option<&str>) -> String {
    let notes = changes
        .map(|c| format!("    annotations:\n      artifacthub.io/changes: |\n        - kind: added\n          description: {c}\n"))
        .unwrap_or_default();
    format!(
        "  - apiVersion: v2
    name: {chart}
    version: {version}
    appVersion: \"{app}\"
    created: \"2024-01-0{day}T10:00:00.000000Z\"
    description: The {chart} chart
    home: https://example.org/{chart}
    sources:
      - https://github.com/example/{chart}
    urls:
      - charts/{chart}-{version}.tgz
{notes}",
        day = (version.len() % 9) + 1
    )
}

/// Writes `index.yaml` under `dir` listing podinfo up to `podinfo_latest`
/// (plus a pre-release that must never be chosen), redis at its pinned
/// version only, and cert-manager with a newer `v`-spelled release.
pub fn index(dir: &Path, podinfo_latest: &str) -> PathBuf {
    let mut podinfo = vec![
        entry("podinfo", "7.0.0-rc.1", "7.0.0", None),
        entry("podinfo", podinfo_latest, "6.6.0", Some("Readiness gate")),
        entry("podinfo", "6.5.1", "6.5.1", Some("Fix probe port")),
        entry("podinfo", "6.5.0", "6.5.0", None),
    ];
    if podinfo_latest != "6.6.0" {
        podinfo.insert(2, entry("podinfo", "6.6.0", "6.6.0", None));
    }
    let text = format!(
        "apiVersion: v1\nentries:\n  cert-manager:\n{}{}  podinfo:\n{}  redis:\n{}generated: \"2024-02-01T00:00:00Z\"\n",
        entry("cert-manager", "v1.14.0", "v1.14.0", None),
        entry("cert-manager", "v1.13.2", "v1.13.2", None),
        podinfo.concat(),
        entry("redis", "18.1.0", "7.2.1", None),
    );
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("index.yaml");
    std::fs::write(&path, text).expect("write index");
    path
}
