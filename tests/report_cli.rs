//! `chartpilot report`: the version matrix of a repository given as DIR,
//! and of the configured local repository's base branch (not its working
//! tree), in the four formats.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn app(env: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-{env}\nspec:\n  source:\n    repoURL: https://stefanprodan.github.io/podinfo\n    chart: podinfo\n    targetRevision: {version}\n"
    )
}

/// dev ahead, staging in step with it, prod went first with a newer one;
/// a platform release; a frozen prod.
fn repo(root: &Path) {
    write(root, "environments/dev/podinfo.yaml", &app("dev", "6.6.0"));
    write(
        root,
        "environments/staging/podinfo.yaml",
        &app("staging", "6.5.0"),
    );
    write(
        root,
        "environments/prod/podinfo.yaml",
        &app("prod", "6.7.0"),
    );
    write(
        root,
        "platform/main.tf",
        "resource \"helm_release\" \"cert_manager\" {\n  name       = \"cert-manager\"\n  repository = \"https://charts.jetstack.io\"\n  chart      = \"cert-manager\"\n  version    = \"v1.13.2\"\n}\n",
    );
    write(
        root,
        ".chartpilot/freeze.yaml",
        "environments:\n  prod:\n    by: alice\n    reason: release week\n",
    );
}

fn chartpilot(args: &[&str], cwd: &Path, env: &[(&str, String)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_of_a_directory_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    repo(dir.path());
    let root = dir.path().to_str().unwrap();
    let (ok, json, err) = chartpilot(
        &["report", root, "--offline", "--format", "json"],
        dir.path(),
        &[],
    );
    assert!(ok, "{err}");
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        m["environments"],
        serde_json::json!(["dev", "staging", "prod", "-"])
    );
    let podinfo = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["chart"] == "podinfo")
        .unwrap();
    assert_eq!(podinfo["tier"], "application");
    assert_eq!(podinfo["cells"]["staging"]["drift"]["kind"], "behind");
    assert_eq!(podinfo["cells"]["staging"]["drift"]["of"], "dev");
    assert_eq!(podinfo["cells"]["prod"]["drift"]["kind"], "ahead");
    assert_eq!(podinfo["cells"]["prod"]["drift"]["of"], "staging");
    assert!(m["freezes"]["prod"]
        .as_str()
        .unwrap()
        .contains("release week"));
    assert_eq!(m["summary"]["drift"], 2);
    assert_eq!(m["summary"]["charts"], 2);

    let (ok, table, _) = chartpilot(&["report", root, "--offline"], dir.path(), &[]);
    assert!(ok);
    assert!(
        table.lines().next().unwrap().contains("PROD (FROZEN)"),
        "{table}"
    );
    assert!(table.contains("6.5.0; behind dev (6.6.0)"), "{table}");
    assert!(table.contains("6.7.0; ahead of staging (6.5.0)"), "{table}");
    assert!(
        table.contains("frozen: prod: prod is frozen by alice: release week"),
        "{table}"
    );

    let (ok, md, _) = chartpilot(
        &["report", root, "--offline", "--format", "markdown"],
        dir.path(),
        &[],
    );
    assert!(ok);
    assert!(md.contains("| cert-manager | platform |"), "{md}");
    let (ok, page, _) = chartpilot(
        &["report", root, "--offline", "--format", "html"],
        dir.path(),
        &[],
    );
    assert!(ok);
    assert!(page.contains("<td data-env=\"dev\">6.6.0</td>"), "{page}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Without DIR: the configured repository's base branch, not whatever the
/// working tree holds.
#[test]
fn report_of_the_configured_repository_reads_its_base_branch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    repo(root);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "pins"]);
    // Uncommitted: not what chartpilot acts on.
    write(root, "environments/dev/podinfo.yaml", &app("dev", "9.9.9"));
    let env = [
        ("CHARTPILOT__GIT__PROVIDER", "local".to_owned()),
        ("CHARTPILOT__GIT__PATH", root.display().to_string()),
    ];
    let work = tempfile::tempdir().unwrap();
    let (ok, json, err) = chartpilot(
        &["report", "--offline", "--format", "json"],
        work.path(),
        &env,
    );
    assert!(ok, "{err}");
    assert!(json.contains("\"6.6.0\""), "{json}");
    assert!(!json.contains("9.9.9"), "{json}");
}
