//! `deploy/` installs what the binary runs: the Terraform example's chart pin
//! is found by chartpilot's own scan, and the configs the image and the Helm
//! chart ship load with `Settings::load`.
//!
//! The chart's rendered `config.toml` files are written by
//! `scripts/validate-deploy.sh` (real Helm) under `target/deploy-validate/`;
//! `scripts/test.sh` runs it first and sets `CHARTPILOT_REQUIRE_DEPLOY_RENDER`
//! so a missing render fails here instead of being skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chartpilot::settings::{ArgocdMode, GitProvider, QueueKind, Settings};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The 1-based line of the `version` in `resource "helm_release" "chartpilot"`.
fn pinned_line(main_tf: &str) -> usize {
    let start = main_tf
        .lines()
        .position(|l| l.starts_with(r#"resource "helm_release" "chartpilot""#))
        .expect("deploy/terraform/main.tf has helm_release.chartpilot");
    main_tf
        .lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.trim_start().starts_with("version "))
        .map(|(i, _)| i + 1)
        .expect("helm_release.chartpilot has a version")
}

#[test]
fn scan_lists_the_terraform_pin_of_the_chart() {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(["scan", "deploy", "--offline", "--format", "json"])
        .current_dir(repo())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<_> = pins
        .iter()
        .filter(|p| p["chart"] == "chartpilot" && p["kind"] == "terraform")
        .collect();
    assert_eq!(ours.len(), 1, "one chartpilot pin in {pins:#?}");
    let pin = ours[0];

    let main_tf = std::fs::read_to_string(repo().join("deploy/terraform/main.tf")).unwrap();
    assert_eq!(pin["file"], "terraform/main.tf");
    assert_eq!(pin["line"], pinned_line(&main_tf));
    assert_eq!(pin["name"], "chartpilot");
    let repository = pin["repository"].as_str().unwrap();
    assert!(
        repository.starts_with("oci://") || repository.starts_with("https://"),
        "a real pin names a registry, not a local chart: {repository}"
    );
    assert_eq!(pin["local_chart"], false);

    // The pin installs the chart in this repository: bump both together.
    let chart_yaml =
        std::fs::read_to_string(repo().join("deploy/chart/chartpilot/Chart.yaml")).unwrap();
    let chart_version = chart_yaml
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap()
        .trim();
    assert_eq!(pin["version"], chart_version);
}

#[test]
fn the_image_config_loads_with_the_github_provider() {
    // The image leaves the repository and the token to the environment,
    // and the GitHub provider needs both at load.
    let config = repo().join("deploy/config.toml");
    let e = Settings::load(Some(&config), &HashMap::new()).unwrap_err();
    assert!(e.to_string().starts_with("git.repository: "), "{e}");
    let env = HashMap::from([
        (
            "CHARTPILOT__GIT__REPOSITORY".to_owned(),
            "acme/gitops".to_owned(),
        ),
        (
            "CHARTPILOT__GITHUB__TOKEN".to_owned(),
            "ghp_test".to_owned(),
        ),
    ]);
    let s =
        Settings::load(Some(&config), &env).unwrap_or_else(|e| panic!("deploy/config.toml: {e}"));
    assert_eq!(s.git.provider, GitProvider::Github);
    assert_eq!(s.server.listen, "0.0.0.0:8080");
    assert_eq!(s.queue.kind, QueueKind::Embedded);
    assert_eq!(s.queue.path, Path::new("/var/lib/chartpilot/queue"));
}

/// What a mounted secret file holds in these tests: values the settings
/// accept (the AMQP and Slack webhook URLs are checked for their scheme).
fn dummy_secret(key: &str) -> &'static str {
    match key {
        "url_file" => "amqps://chartpilot:pw@rabbitmq.messaging:5671/%2f\n",
        "webhook_url_file" => "https://hooks.slack.com/services/T0/B0/x\n",
        _ => "test-secret\n",
    }
}

/// The rendered config with each secret path under /run/secrets/chartpilot
/// pointing at a file in `dir` instead, as the pod's mount would provide.
fn with_secret_files(config: &str, dir: &Path) -> String {
    let mut out = String::new();
    for line in config.lines() {
        let rewritten = line
            .split_once(" = \"/run/secrets/chartpilot/")
            .map(|(key, rest)| {
                let name = rest.trim_end_matches('"');
                let file = dir.join(name);
                std::fs::write(&file, dummy_secret(key.trim())).unwrap();
                format!("{key} = {:?}", file.display().to_string())
            });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Names of secret keys in their sections (`github.token`, `queue.url`, …).
const SECRET_NAMES: [&str; 7] = [
    "url",
    "webhook_secret",
    "token",
    "signing_secret",
    "webhook_url",
    "bot_token",
    "secret",
];

fn rendered_dir() -> Option<PathBuf> {
    let dir = repo().join("target/deploy-validate");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CHARTPILOT_REQUIRE_DEPLOY_RENDER").is_none(),
        "{} is missing: scripts/validate-deploy.sh renders the chart there",
        dir.display()
    );
    eprintln!("skipped: run scripts/validate-deploy.sh to render the chart's config");
    None
}

#[test]
fn the_charts_rendered_configs_load() {
    let Some(dir) = rendered_dir() else { return };
    let mut loaded = HashMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("config.toml");
        let Ok(config) = std::fs::read_to_string(&path) else {
            continue;
        };
        let secrets = tempfile::tempdir().unwrap();
        let file = secrets.path().join("config.toml");
        std::fs::write(&file, with_secret_files(&config, secrets.path())).unwrap();
        let s = Settings::load(Some(&file), &HashMap::new())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(s.server.listen, "0.0.0.0:8080", "{}", path.display());
        // Secrets arrive as files only: no secret key is set inline.
        let inline = config.lines().find(|l| {
            SECRET_NAMES
                .iter()
                .any(|k| l.starts_with(&format!("{k} = ")))
        });
        assert_eq!(inline, None, "{}", path.display());
        assert!(!s.github.webhook_secret.is_empty(), "{}", path.display());
        let set = path.parent().unwrap().file_name().unwrap();
        loaded.insert(set.to_string_lossy().into_owned(), s);
    }
    let set = |name: &str| {
        loaded
            .get(name)
            .unwrap_or_else(|| panic!("no rendered config for {name} in {}", dir.display()))
    };
    assert_eq!(set("all-in-one").queue.kind, QueueKind::Embedded);
    assert_eq!(set("all-in-one").github.app_id, Some(123_456));
    let scaled = set("scaled");
    assert_eq!(scaled.queue.kind, QueueKind::Amqp);
    assert!(scaled.queue.url.expose().starts_with("amqps://"));
    assert_eq!(scaled.argocd.mode, ArgocdMode::Api);
    assert!(!scaled.argocd.token.is_empty());
    assert_eq!(scaled.chat.protected, ["prod"]);
    assert_eq!(scaled.rollback.rules[0].env_values["production"], "prod");
    assert!(scaled.discovers() && !set("all-in-one").discovers());
    assert_eq!(
        scaled.repositories.discovery.as_ref().unwrap().exclude,
        ["example-org/sandbox-*"]
    );
    let kube = set("kube-ingress-netpol");
    assert_eq!(kube.argocd.mode, ArgocdMode::Kube);
    assert!(!kube.github.token.is_empty());
    assert_eq!(kube.git.provider, GitProvider::Github);
}
