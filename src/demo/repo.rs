//! The sample platform repository and its chart repositories, written once.
//!
//! The repository is built in a temporary folder beside its final place and
//! renamed into it, so a start interrupted half-way leaves no half-made
//! repository that a later start would take for a finished one.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// Chart repositories the sample pins name, and the index each is served
/// from (a `file://` mirror under the demo folder): (folder, public URL,
/// index). Small on purpose: three releases per chart, with the
/// `artifacthub.io/changes` notes upgrade PRs quote.
pub(super) const CHART_REPOSITORIES: [(&str, &str, &str); 4] = [
    (
        "argo",
        "https://argoproj.github.io/argo-helm",
        include_str!("charts/argo.yaml"),
    ),
    (
        "jetstack",
        "https://charts.jetstack.io",
        include_str!("charts/jetstack.yaml"),
    ),
    (
        "kuberay",
        "https://ray-project.github.io/kuberay-helm",
        include_str!("charts/kuberay.yaml"),
    ),
    (
        "jupyterhub",
        "https://hub.jupyter.org/helm-chart",
        include_str!("charts/jupyterhub.yaml"),
    ),
];

/// Environments with Argo CD Applications, in promotion order; `dr` is the
/// standby the committed freeze holds.
pub const ENVIRONMENTS: [&str; 4] = ["dev", "staging", "prod", "dr"];

/// Tier-1 cert-manager version each environment's `<env>.tfvars` pins.
const CERT_MANAGER: &str = "v1.13.2";

/// JupyterHub before and after the prod rollout the sample history ends with.
const JUPYTERHUB_BEFORE: &str = "3.1.0";
const JUPYTERHUB_NOW: &str = "3.2.1";

/// Who made the sample history; the demo's merges use the same name.
pub(super) const AUTHOR: (&str, &str) = ("Demo Platform Team", "platform@demo.invalid");

/// Writes each chart repository's `index.yaml` unless it is there already.
pub(super) fn write_chart_repositories(charts: &Path) -> anyhow::Result<()> {
    for (folder, _, index) in CHART_REPOSITORIES {
        let dir = charts.join(folder);
        let file = dir.join("index.yaml");
        if file.exists() {
            continue;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&file, index).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

/// Creates the sample repository at `repo` unless it exists. Returns
/// whether it was created now.
pub(super) fn create_once(repo: &Path) -> anyhow::Result<bool> {
    if repo.join(".git").exists() {
        return Ok(false);
    }
    if repo.exists() {
        bail!(
            "{} exists but is not a git repository; move it away and start again",
            repo.display()
        );
    }
    let tmp = repo.with_extension("partial");
    if tmp.exists() {
        // A start that stopped half-way: nothing in it is worth keeping.
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    git(&tmp, &["init", "-q", "-b", "main"])?;
    write(&tmp, "README.md", include_str!("sample/README.md"))?;
    write(
        &tmp,
        "terraform/platform/main.tf",
        include_str!("sample/main.tf"),
    )?;
    write(
        &tmp,
        "terraform/platform/variables.tf",
        include_str!("sample/variables.tf"),
    )?;
    for env in ["dev", "staging", "prod"] {
        write(
            &tmp,
            &format!("terraform/platform/{env}.tfvars"),
            &format!("cert_manager_version = \"{CERT_MANAGER}\"\n"),
        )?;
    }
    for env in ENVIRONMENTS {
        let version = match env {
            "dev" | "staging" => JUPYTERHUB_NOW,
            _ => JUPYTERHUB_BEFORE,
        };
        write(&tmp, &application_path(env), &application(env, version))?;
        write(
            &tmp,
            &format!("values/jupyterhub/{env}.yaml"),
            "singleuser:\n  memory:\n    limit: 2G\n",
        )?;
    }
    commit(
        &tmp,
        "platform: tier-1 charts and JupyterHub in every environment",
    )?;
    write(
        &tmp,
        ".chartpilot/freeze.yaml",
        include_str!("sample/freeze.yaml"),
    )?;
    commit(&tmp, "freeze dr: DR drill on Friday")?;
    write(
        &tmp,
        &application_path("prod"),
        &application("prod", JUPYTERHUB_NOW),
    )?;
    commit(
        &tmp,
        &format!("prod: roll out jupyterhub {JUPYTERHUB_NOW} (was {JUPYTERHUB_BEFORE})"),
    )?;
    std::fs::rename(&tmp, repo)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), repo.display()))?;
    Ok(true)
}

pub(super) fn application_path(env: &str) -> String {
    format!("environments/{env}/jupyterhub.yaml")
}

fn application(env: &str, version: &str) -> String {
    include_str!("sample/jupyterhub.yaml")
        .replace("ENV", env)
        .replace("VERSION", version)
}

fn write(repo: &Path, path: &str, text: &str) -> anyhow::Result<()> {
    let file = repo.join(path);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))
}

fn commit(repo: &Path, message: &str) -> anyhow::Result<()> {
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", message]).map(drop)
}

/// Runs git in `repo` as the demo's author, ignoring the person's own git
/// configuration (signing, hooks, templates) so the history is the same on
/// every machine.
pub(super) fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", &format!("user.name={}", AUTHOR.0)])
        .args(["-c", &format!("user.email={}", AUTHOR.1)])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .context("cannot run git: the demo needs git on PATH")?;
    if !out.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
