//! `chartpilot scan` and `bump` over small repositories written here, and
//! `scan` over the real GitOps corpus.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::{Command, Output};

fn chartpilot(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A platform repository: Terraform with CRLF and a trailing comment, an
/// Argo CD Application per environment, an umbrella chart.
fn platform_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "terraform/argocd.tf",
        "resource \"helm_release\" \"argocd\" {\r\n  name       = \"argocd\"\r\n  repository = \"https://argoproj.github.io/argo-helm\"\r\n  chart      = \"argo-cd\"\r\n  version    = \"5.51.6\" # pinned after INC-42\r\n}\r\n",
    );
    for (env, version) in [("dev", "v1.13.2"), ("prod", "v1.13.1")] {
        write(
            root,
            &format!("environments/{env}/cert-manager.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: cert-manager\nspec:\n  source:\n    repoURL: https://charts.jetstack.io\n    chart: cert-manager\n    targetRevision: '{version}'  # keep the v\n  destination:\n    namespace: cert-manager\n"
            ),
        );
    }
    write(
        root,
        "charts/platform/Chart.yaml",
        "apiVersion: v2\nname: platform\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: \"18.1.0\"\n    repository: oci://registry-1.docker.io/bitnamicharts\n  - name: local\n    version: 0.1.0\n    repository: file://../local\n",
    );
    dir
}

#[test]
fn scan_json_has_the_contract_fields() {
    let repo = platform_repo();
    let out = chartpilot(&["scan", "--offline", "--format", "json"], repo.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |file: &str| pins.iter().find(|p| p["file"] == file).unwrap();
    let tf = find("terraform/argocd.tf");
    assert_eq!(tf["kind"], "terraform");
    assert_eq!(tf["line"], 5);
    assert_eq!(tf["name"], "argocd");
    assert_eq!(tf["chart"], "argo-cd");
    assert_eq!(tf["repository"], "https://argoproj.github.io/argo-helm");
    assert_eq!(tf["version"], "5.51.6");
    assert_eq!(tf["env"], serde_json::Value::Null);
    let dev = find("environments/dev/cert-manager.yaml");
    assert_eq!(
        (dev["kind"].as_str(), dev["env"].as_str()),
        (Some("argocd"), Some("dev"))
    );
    assert_eq!(
        (dev["line"].as_u64(), dev["version"].as_str()),
        (Some(9), Some("v1.13.2"))
    );
    let dep = find("charts/platform/Chart.yaml");
    assert_eq!(
        (dep["kind"].as_str(), dep["name"].as_str()),
        (Some("chart-dependency"), Some("redis"))
    );
    assert_eq!(
        pins.len(),
        4,
        "the file:// dependency is not a pin: {pins:#?}"
    );
}

#[test]
fn scan_table_ends_with_a_summary() {
    let repo = platform_repo();
    let out = chartpilot(&["scan", "--offline"], repo.path());
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        "4 pins (argocd 2, chart-dependency 1, terraform 1); by environment: dev 1, none 2, prod 1; 0 unresolved, 1 local chart (listed with --include-local)"
    );
    assert!(text.lines().next().unwrap().starts_with("FILE:LINE"));
}

#[test]
fn bump_changes_only_the_version_bytes() {
    let repo = platform_repo();
    let tf = repo.path().join("terraform/argocd.tf");
    let before = std::fs::read(&tf).unwrap();
    let out = chartpilot(
        &["bump", "--chart", "argo-cd", "--to", "5.52.0"],
        repo.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "terraform/argocd.tf:5 5.51.6 → 5.52.0\n"
    );
    let after = std::fs::read(&tf).unwrap();
    let expected = String::from_utf8(before)
        .unwrap()
        .replace("\"5.51.6\"", "\"5.52.0\"");
    assert_eq!(
        String::from_utf8(after).unwrap(),
        expected,
        "CRLF and the comment stay"
    );
}

#[test]
fn bump_one_environment_keeps_quotes_and_the_other_env() {
    let repo = platform_repo();
    let prod = repo.path().join("environments/prod/cert-manager.yaml");
    let prod_before = std::fs::read_to_string(&prod).unwrap();
    let out = chartpilot(
        &[
            "bump",
            "--chart",
            "cert-manager",
            "--to",
            "v1.13.3",
            "--env",
            "dev",
        ],
        repo.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev =
        std::fs::read_to_string(repo.path().join("environments/dev/cert-manager.yaml")).unwrap();
    assert!(
        dev.contains("targetRevision: 'v1.13.3'  # keep the v\n"),
        "{dev}"
    );
    assert_eq!(std::fs::read_to_string(&prod).unwrap(), prod_before);
}

#[test]
fn bump_without_a_match_lists_the_charts_it_found() {
    let repo = platform_repo();
    let out = chartpilot(&["bump", "--chart", "nginx", "--to", "1.0.0"], repo.path());
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no pin of chart `nginx`"), "{err}");
    assert!(err.contains("argo-cd, cert-manager, redis"), "{err}");
}

#[test]
fn bump_refuses_a_version_that_is_not_one() {
    let repo = platform_repo();
    let out = chartpilot(
        &["bump", "--chart", "redis", "--to", "1.0\" # x"],
        repo.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("is not a version"));
}

#[test]
fn scan_of_the_corpus_never_fails() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gitops");
    let out = chartpilot(&["scan", "--offline", "--format", "json"], &corpus);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pins.len() > 40, "{}", pins.len());
    for p in &pins {
        for key in [
            "file",
            "line",
            "kind",
            "name",
            "env",
            "repository",
            "chart",
            "version",
        ] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
    }
}

/// A Helm repository on 127.0.0.1 for scans with lookups: `/charts/index.yaml`
/// answers `index`, every other path 404. One thread, one request per
/// connection; it lives as long as the test process.
fn index_server(index: &'static str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            // Headers up to the blank line; requests have no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if path == "/charts/index.yaml" {
                ("200 OK", index)
            } else {
                ("404 Not Found", "not found")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

const INDEX: &str = "apiVersion: v1
entries:
  podinfo:
    - name: podinfo
      version: 6.6.0
      urls: [podinfo-6.6.0.tgz]
    - name: podinfo
      version: 6.5.1
      deprecated: true
      urls: [podinfo-6.5.1.tgz]
    - name: podinfo
      version: 6.5.0
      urls: [podinfo-6.5.0.tgz]
";

fn app(root: &Path, env: &str, repo: &str, chart: &str, version: &str) {
    write(
        root,
        &format!("environments/{env}/{chart}.yaml"),
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {chart}-{env}\nspec:\n  source:\n    repoURL: {repo}\n    chart: {chart}\n    targetRevision: {version}\n"
        ),
    );
}

fn scan_with_lookups(root: &Path, format: &str) -> Output {
    let cfg = root.join("chartpilot.toml");
    std::fs::write(&cfg, "[log]\nlevel = \"error\"\n").unwrap();
    chartpilot(
        &[
            "scan",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            format,
        ],
        root,
    )
}

#[test]
fn scan_tells_a_failed_lookup_from_an_up_to_date_pin_and_exits_1() {
    let url = index_server(INDEX);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    app(root, "dev", &format!("{url}/charts"), "podinfo", "6.6.0");
    app(root, "prod", &format!("{url}/missing"), "podinfo", "6.5.0");
    let out = scan_with_lookups(root, "json");
    assert_eq!(out.status.code(), Some(1), "a lookup failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 lookup failed"), "{stderr}");
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |env: &str| pins.iter().find(|p| p["env"] == env).unwrap();
    let dev = find("dev");
    assert_eq!(dev["latest"], "6.6.0");
    assert!(dev["update"].is_null());
    assert_eq!(dev["deprecated"], false);
    assert!(dev.get("error").is_none(), "{dev}");
    assert!(dev["constraint"].is_null());
    assert_eq!(dev["local_chart"], false);
    let prod = find("prod");
    assert!(prod["latest"].is_null());
    let error = prod["error"].as_str().unwrap();
    assert!(error.contains("404"), "{error}");

    let out = scan_with_lookups(root, "table");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("lookup failed: "), "{text}");
    assert!(
        text.trim_end().ends_with("; 0 behind, 1 lookup failed"),
        "{text}"
    );
}

#[test]
fn scan_never_shows_a_latest_below_a_deprecated_or_missing_pin() {
    let url = index_server(INDEX);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cfg = root.join("chartpilot.toml");
    std::fs::write(
        &cfg,
        "[log]\nlevel = \"error\"\n[policy]\nupdate_types = [\"patch\"]\n",
    )
    .unwrap();
    app(root, "dev", &format!("{url}/charts"), "podinfo", "6.5.1");
    app(root, "prod", &format!("{url}/charts"), "podinfo", "6.5.9");
    let args = [
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "json",
    ];
    let out = chartpilot(&args, root);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |env: &str| pins.iter().find(|p| p["env"] == env).unwrap();
    let dev = find("dev");
    assert_eq!(
        (dev["latest"].as_str(), dev["deprecated"].as_bool()),
        (Some("6.5.1"), Some(true)),
        "{dev}"
    );
    assert_eq!(dev["note"], "6.5.1 is deprecated in the index");
    let prod = find("prod");
    assert_eq!(prod["latest"], "6.5.9", "not lowered to 6.5.0: {prod}");
    assert_eq!(prod["deprecated"], true);
    assert_eq!(prod["note"], "6.5.9 is not in the index");

    let out = chartpilot(&args[..3], root);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("deprecated: 6.5.1 is deprecated in the index"),
        "{text}"
    );
}

#[test]
fn bump_refuses_a_downgrade_unless_allowed_and_then_says_so() {
    let repo = platform_repo();
    let tf = repo.path().join("terraform/argocd.tf");
    let before = std::fs::read(&tf).unwrap();
    let out = chartpilot(
        &["bump", "--chart", "argo-cd", "--to", "5.50.0"],
        repo.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("terraform/argocd.tf:5")
            && stderr.contains("5.51.6")
            && stderr.contains("5.50.0")
            && stderr.contains("--allow-downgrade"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&tf).unwrap(), before, "nothing written");

    let out = chartpilot(
        &[
            "bump",
            "--chart",
            "argo-cd",
            "--to",
            "5.50.0",
            "--allow-downgrade",
        ],
        repo.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "terraform/argocd.tf:5 5.51.6 → 5.50.0 (a downgrade)\n"
    );
}

#[test]
fn scan_json_always_has_constraint_and_local_chart() {
    let repo = platform_repo();
    let out = chartpilot(&["scan", "--offline", "--format", "json"], repo.path());
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    for p in &pins {
        assert!(p["constraint"].is_null(), "{p}");
        assert_eq!(p["local_chart"], false, "{p}");
        assert!(p.get("latest").is_none() && p.get("deprecated").is_none());
    }
    let out = chartpilot(
        &["scan", "--offline", "--include-local", "--format", "json"],
        repo.path(),
    );
    assert!(out.status.success());
}
