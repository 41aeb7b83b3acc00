//! Upgrade impact end to end: chart archives built here, served by a
//! loopback Helm repository, read by `chartpilot impact` and by the
//! library the upgrade PRs use, against a repository's Argo CD and
//! Terraform overrides.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

// Shared with tests/chart_sources.rs, which uses all of it.
#[allow(dead_code)]
#[path = "chart_sources/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;

use chartpilot::cli::impact::{analyse_repository, ImpactRequest};
use chartpilot::impact::render;
use chartpilot::pins::DiscoverOptions;
use chartpilot::settings::Settings;
use server::{Reply, Server};

/// A chart archive: `(path below the chart folder, text)`.
fn tgz(name: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_path(format!("{name}/{path}")).unwrap();
        h.set_cksum();
        b.append(&h, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn chart_yaml(version: &str, kube: Option<&str>) -> String {
    let kube = kube
        .map(|k| format!("kubeVersion: \"{k}\"\n"))
        .unwrap_or_default();
    format!("apiVersion: v2\nname: web\nversion: {version}\n{kube}")
}

const VALUES_1: &str = "image:\n  repository: registry.example.com/acme/web\n  tag: \"\"\nmetrics:\n  enabled: false\n  port: 9102\npodAnnotations: {}\nreplicas: 1\n";
const VALUES_2: &str = "image:\n  repository: registry.example.com/acme/web\n  tag: \"\"\nmonitoring:\n  enabled: false\n  port: 9102\npodAnnotations: {}\nreplicas: 1\n";
const SCHEMA_2: &str =
    r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}"#;

fn crd(version: &str) -> String {
    format!("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  versions:\n    - name: {version}\n")
}

/// web 1.0.0; 1.0.1 the same; 2.0.0 renames `metrics` to `monitoring`,
/// ships a schema, changes its CRD and needs Kubernetes 1.30.
async fn repository() -> Server {
    let crd1 = crd("v1alpha1");
    let crd2 = crd("v1beta1");
    let v1 = tgz(
        "web",
        &[
            ("Chart.yaml", &chart_yaml("1.0.0", None)),
            ("values.yaml", VALUES_1),
            ("crds/widgets.yaml", &crd1),
        ],
    );
    let v101 = tgz(
        "web",
        &[
            ("Chart.yaml", &chart_yaml("1.0.1", None)),
            ("values.yaml", VALUES_1),
            ("crds/widgets.yaml", &crd1),
        ],
    );
    let v2 = tgz(
        "web",
        &[
            ("Chart.yaml", &chart_yaml("2.0.0", Some(">=1.30.0-0"))),
            ("values.yaml", VALUES_2),
            ("values.schema.json", SCHEMA_2),
            ("crds/widgets.yaml", &crd2),
        ],
    );
    Server::start(move |_base| {
        move |req: &server::Request| match req.path() {
            "/index.yaml" => Reply::ok(
                "apiVersion: v1\nentries:\n  web:\n    - version: 2.0.0\n      urls: [charts/web-2.0.0.tgz]\n    - version: 1.0.1\n      urls: [charts/web-1.0.1.tgz]\n    - version: 1.0.0\n      urls: [charts/web-1.0.0.tgz]\n",
            ),
            "/charts/web-1.0.0.tgz" => Reply::ok(v1.clone()),
            "/charts/web-1.0.1.tgz" => Reply::ok(v101.clone()),
            "/charts/web-2.0.0.tgz" => Reply::ok(v2.clone()),
            _ => Reply::status(404),
        }
    })
    .await
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// dev overrides `metrics.enabled` (renamed in 2.0.0) and sets `replicas`
/// to a string (refused by 2.0.0's schema); prod overrides nothing.
fn gitops(root: &Path, repo: &str) {
    let app = |env: &str, helm: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\nspec:\n  source:\n    repoURL: {repo}\n    chart: web\n    targetRevision: 1.0.0\n{helm}"
        )
    };
    write(
        root,
        "environments/dev/web.yaml",
        &app(
            "dev",
            "    helm:\n      valuesObject:\n        metrics:\n          enabled: true\n        replicas: \"2\"\n        podAnnotations:\n          prometheus.io/scrape: \"true\"\n",
        ),
    );
    write(root, "environments/prod/web.yaml", &app("prod", ""));
}

fn chartpilot(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn run(args: Vec<String>, env: Vec<(&'static str, &'static str)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        chartpilot(&args, &env)
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_key_and_a_schema_violation_break_dev_with_their_lines() {
    let server = repository().await;
    let dir = tempfile::tempdir().unwrap();
    gitops(dir.path(), &server.url());
    let root = dir.path().to_str().unwrap();
    let kube = vec![("CHARTPILOT__POLICY__KUBE_VERSION", "1.29.4")];
    let (code, json, err) = run(
        args(&[
            "impact", root, "--chart", "web", "--to", "2.0.0", "--env", "dev", "--format", "json",
        ]),
        kube.clone(),
    )
    .await;
    assert_eq!(code, 1, "{err}");
    let found: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pins = found.as_array().unwrap();
    assert_eq!(pins.len(), 1, "only dev: {json}");
    let pin = &pins[0];
    assert_eq!(pin["file"], "environments/dev/web.yaml");
    assert_eq!(pin["breaks_overrides"], true);
    let impact = &pin["impact"];
    assert_eq!(
        impact["removed"],
        serde_json::json!([{
            "path": "metrics.enabled",
            "file": "environments/dev/web.yaml",
            "line": 13,
            "origin": "values-object",
            "renamed_to": "monitoring.enabled"
        }])
    );
    assert_eq!(impact["violations"][0]["path"], "replicas");
    assert_eq!(impact["violations"][0]["line"], 14);
    assert_eq!(
        impact["crds"]["changed"],
        serde_json::json!(["CustomResourceDefinition/widgets.example.com"])
    );
    assert_eq!(
        impact["kube_version"],
        serde_json::json!({"constraint": ">=1.30.0-0", "kube_version": "1.29.4"})
    );

    let (code, table, err) = run(
        args(&["impact", root, "--chart", "web", "--to", "2.0.0"]),
        kube,
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        table.contains("REMOVED   environments/dev/web.yaml:13  metrics.enabled (renamed to monitoring.enabled)"),
        "{table}"
    );
    assert!(
        table.contains("SCHEMA    environments/dev/web.yaml:14  replicas:"),
        "{table}"
    );
    assert!(
        table.contains("KUBE      kubeVersion >=1.30.0-0 excludes 1.29.4"),
        "{table}"
    );
    assert!(
        table.contains("environments/prod/web.yaml:9 web-prod [prod]"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_without_impact_exits_zero_and_says_so() {
    let server = repository().await;
    let dir = tempfile::tempdir().unwrap();
    gitops(dir.path(), &server.url());
    let root = dir.path().to_str().unwrap();
    let (code, table, err) = run(
        args(&[
            "impact", root, "--chart", "web", "--to", "1.0.1", "--env", "dev",
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains("No impact on this repository's overrides."),
        "{table}"
    );
    assert!(
        table.contains("defaults: 0 removed, 0 renamed, 0 changed, 0 added"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_two_with_a_clear_message() {
    let server = repository().await;
    let dir = tempfile::tempdir().unwrap();
    gitops(dir.path(), &server.url());
    let root = dir.path().to_str().unwrap();
    let (code, _, err) = run(
        args(&["impact", root, "--chart", "nope", "--to", "1.0.0"]),
        vec![],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("no pin of chart `nope`"), "{err}");
    assert!(err.contains("charts found: web"), "{err}");
    let (code, _, err) = run(
        args(&[
            "impact", root, "--chart", "web", "--to", "9.9.9", "--env", "dev",
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        err.contains("environments/dev/web.yaml:9: chart `web` 9.9.9:"),
        "{err}"
    );
    assert!(
        err.contains("no version 9.9.9 of `web` in the index"),
        "{err}"
    );
}

/// What the upgrade PR body gets: the section with the renamed key at its
/// file and line, from the same analysis through the library.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pr_body_section_names_the_renamed_key_at_its_line() {
    let server = repository().await;
    let dir = tempfile::tempdir().unwrap();
    gitops(dir.path(), &server.url());
    let settings = Settings::load(None, &Default::default()).unwrap();
    let lookup = chartpilot::charts::lookup::Lookup::one_shot(&settings.helm).unwrap();
    let source = lookup;
    let request = ImpactRequest {
        chart: "web".into(),
        to: "2.0.0".into(),
        env: Some("dev".into()),
    };
    let found = analyse_repository(
        dir.path(),
        &request,
        &DiscoverOptions::default(),
        &settings.policy,
        &source,
        &mut Vec::new(),
    )
    .await
    .unwrap();
    let md = render::markdown(&found[0].impact, 60_000);
    assert!(md.starts_with(render::HEADING), "{md}");
    assert!(
        md.contains("- `metrics.enabled` at `environments/dev/web.yaml:13`, renamed to `monitoring.enabled`"),
        "{md}"
    );
    assert!(
        md.contains("- `replicas` at `environments/dev/web.yaml:14`:"),
        "{md}"
    );
    assert!(
        md.contains("- changed `CustomResourceDefinition/widgets.example.com`"),
        "{md}"
    );
    assert!(
        !md.contains("kubeVersion"),
        "not checked without policy.kube_version: {md}"
    );

    let quiet = analyse_repository(
        dir.path(),
        &ImpactRequest {
            to: "1.0.1".into(),
            ..request
        },
        &DiscoverOptions::default(),
        &settings.policy,
        &source,
        &mut Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        render::markdown(&quiet[0].impact, 60_000),
        format!("{}\n\n{}\n", render::HEADING, render::NO_IMPACT)
    );
    // Each archive fetched once: the downloader's cache serves 1.0.0 the
    // second time.
    let archives = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(".tgz"))
        .count();
    assert_eq!(archives, 3, "1.0.0 and 2.0.0, then 1.0.1");
}
