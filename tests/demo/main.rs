//! `chartpilot demo` and `serve` on nothing: the whole loop, offline, as a
//! newcomer runs it — the real binary, the printed commands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The promise: the three printed commands show their effects in
/// under this, service start included.
const LOOP_BUDGET: Duration = Duration::from_secs(30);

/// How long a start may take to answer `/healthz`.
const START_PATIENCE: Duration = Duration::from_secs(20);

fn bin(dir: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
    // Only the listen address: `serve` then sees nothing configured.
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHARTPILOT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .current_dir(dir);
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `serve` running, with its stdout collected line by line.
struct Service {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Service {
    fn start(dir: &Path, port: u16) -> Self {
        let mut child = bin(dir, port)
            .args(["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&out);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + START_PATIENCE;
        while !healthy(port) {
            assert!(child.try_wait().unwrap().is_none(), "serve exited early");
            assert!(Instant::now() < deadline, "/healthz never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    fn stop(&mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve stopped with {status}");
    }
}

impl Drop for Service {
    /// A failed assertion must not leave the service running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on the service as (status line and headers, body); HTTP/1.0
/// so the body is never chunked. None while nothing answers.
fn get(port: u16, path: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((head.to_owned(), body.to_owned()))
}

fn healthy(port: u16) -> bool {
    get(port, "/healthz").is_some_and(|(head, _)| head.split(' ').nth(1) == Some("200"))
}

/// Runs one of the banner's commands (`chartpilot demo send push`).
fn run_printed(dir: &Path, port: u16, command: &str) -> String {
    let args: Vec<&str> = command
        .strip_prefix("chartpilot ")
        .unwrap()
        .split_whitespace()
        .collect();
    let out: Output = bin(dir, port).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`{command}` failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The pull log's lines as JSON.
fn pulls(dir: &Path) -> Vec<serde_json::Value> {
    let log = dir.join("data/demo/platform/.git/chartpilot/pulls.jsonl");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until the pull log holds an open PR whose head starts with `prefix`.
fn wait_for_pull(dir: &Path, prefix: &str) {
    let deadline = Instant::now() + LOOP_BUDGET;
    while !pulls(dir)
        .iter()
        .any(|p| p["state"] == "open" && p["head"].as_str().unwrap().starts_with(prefix))
    {
        assert!(Instant::now() < deadline, "no open PR {prefix}…");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The distinct heads of the pull log, each with how many numbers it got.
fn pulls_per_head(dir: &Path) -> std::collections::BTreeMap<String, Vec<u64>> {
    let mut heads = std::collections::BTreeMap::<String, Vec<u64>>::new();
    for p in pulls(dir) {
        let n = p["number"].as_u64().unwrap();
        let numbers = heads
            .entry(p["head"].as_str().unwrap().to_owned())
            .or_default();
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    heads
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn serve_on_nothing_runs_the_demo_and_its_printed_commands_show_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let mut service = Service::start(dir.path(), port);
    // The banner comes before the first log line.
    let deadline = Instant::now() + START_PATIENCE;
    while !service.output().contains("chartpilot demo --script") {
        assert!(Instant::now() < deadline, "no banner: {}", service.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    let banner = service.output();
    assert!(banner.contains("chartpilot demo — a sample platform repository"));
    assert!(banner.contains("(created now)"), "{banner}");
    assert!(banner.contains("git.provider, git.path"), "{banner}");
    assert!(!banner.contains(" ERROR "), "{banner}");
    let commands: Vec<String> = banner
        .lines()
        .filter_map(|l| l.trim().split_once(". ").map(|(_, c)| c.to_owned()))
        .filter(|c| c.starts_with("chartpilot demo send "))
        .map(|c| c.trim().to_owned())
        .collect();
    assert_eq!(
        commands,
        [
            "chartpilot demo send push",
            "chartpilot demo send alert",
            "chartpilot demo send chat"
        ]
    );
    // The start pass: upgrade PRs in the local pull log.
    wait_for_pull(dir.path(), "chartpilot/upgrade/dev/cert-manager-");
    wait_for_pull(dir.path(), "chartpilot/upgrade/dev/jupyterhub-");

    let push = run_printed(dir.path(), port, &commands[0]);
    assert!(push.contains("merged PR #"), "{push}");
    assert!(
        push.contains("promotion PR #") && push.contains("in staging"),
        "{push}"
    );
    let alert = run_printed(dir.path(), port, &commands[1]);
    assert!(alert.contains("revert PR #"), "{alert}");
    assert!(alert.contains("**Why:**"), "{alert}");
    assert!(
        alert.contains("JupyterHubHubDown started firing"),
        "{alert}"
    );
    let chat = run_printed(dir.path(), port, &commands[2]);
    assert!(chat.contains("reply:"), "{chat}");
    assert!(chat.contains("jupyterhub-prod"), "{chat}");
    assert!(chat.contains("prod: jupyterhub `3.2.1`"), "{chat}");
    let took = started.elapsed();
    assert!(took < LOOP_BUDGET, "the loop took {took:?}");
    eprintln!("demo loop through the printed commands: {took:?}");
    service.stop();

    // Nothing outside data/.
    let top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, ["data"]);

    // A second start reuses the repository and duplicates nothing.
    let repo = dir.path().join("data/demo/platform");
    let head = git(&repo, &["rev-parse", "main"]);
    let branches = git(&repo, &["branch", "--list"]);
    let heads = pulls_per_head(dir.path());
    let mut service = Service::start(dir.path(), port);
    let deadline = Instant::now() + START_PATIENCE;
    while !service.output().contains("upgrade pass done") {
        assert!(Instant::now() < deadline, "no pass: {}", service.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        service.output().contains("(reused)"),
        "{}",
        service.output()
    );
    assert_eq!(git(&repo, &["rev-parse", "main"]), head);
    assert_eq!(git(&repo, &["branch", "--list"]), branches);
    assert_eq!(pulls_per_head(dir.path()), heads);
    service.stop();
}

#[test]
fn demo_script_runs_the_loop_and_prints_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin(dir.path(), free_port())
        .args(["demo", "--script", "here"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps = [
        (
            "[1/4] upgrade pass at start",
            "(branch chartpilot/upgrade/dev/cert-manager-v1.14.4)",
        ),
        (
            "[2/4] push: merge the dev upgrade",
            "in staging (branch chartpilot/upgrade/staging/cert-manager-v1.14.4)",
        ),
        ("[3/4] alert: prod rollout fails", "revert PR #"),
        ("[4/4] chat: /chartpilot status", "reply:"),
        ("done:", "pulls.jsonl"),
    ];
    let mut rest: &str = &stdout;
    for (title, result) in steps {
        let at = rest
            .find(title)
            .unwrap_or_else(|| panic!("no `{title}` in {stdout}"));
        rest = &rest[at..];
        assert!(
            rest.contains(result),
            "no `{result}` after `{title}`: {stdout}"
        );
    }
    assert!(dir.path().join("here/platform/.git").exists());

    // Again on the same folder: it reuses everything and still exits 0.
    let again = bin(dir.path(), free_port())
        .args(["demo", "--script", "here"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(stdout.contains("was merged by an earlier"), "{stdout}");
    assert!(stdout.contains("revert PR #"), "{stdout}");
}

#[test]
fn scan_finds_the_demo_pins_as_listed() {
    let dir = tempfile::tempdir().unwrap();
    chartpilot::demo::Demo::prepare(dir.path()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .args([
            "scan",
            "platform",
            "--offline",
            "--format",
            "json",
            "--config",
            "chartpilot.toml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no warnings");
    let pins: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = pins
        .iter()
        .map(|p| {
            format!(
                "{}:{} {} {} {} {} {} {}",
                p["file"].as_str().unwrap(),
                p["line"],
                p["kind"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
                p["env"].as_str().unwrap_or("-"),
                p["repository"].as_str().unwrap(),
                p["chart"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
            )
        })
        .collect();
    let hub = "https://hub.jupyter.org/helm-chart";
    let jetstack = "https://charts.jetstack.io";
    let want = [
        format!("environments/dev/jupyterhub.yaml:11 argocd jupyterhub-dev dev {hub} jupyterhub 3.2.1"),
        format!("environments/dr/jupyterhub.yaml:11 argocd jupyterhub-dr dr {hub} jupyterhub 3.1.0"),
        format!("environments/prod/jupyterhub.yaml:11 argocd jupyterhub-prod prod {hub} jupyterhub 3.2.1"),
        format!("environments/staging/jupyterhub.yaml:11 argocd jupyterhub-staging staging {hub} jupyterhub 3.2.1"),
        format!("terraform/platform/dev.tfvars:1 terraform cert-manager dev {jetstack} cert-manager v1.13.2"),
        "terraform/platform/main.tf:9 terraform argocd - https://argoproj.github.io/argo-helm argo-cd 5.51.4".to_owned(),
        "terraform/platform/main.tf:32 terraform kuberay-operator - https://ray-project.github.io/kuberay-helm kuberay-operator 1.0.0".to_owned(),
        format!("terraform/platform/prod.tfvars:1 terraform cert-manager prod {jetstack} cert-manager v1.13.2"),
        format!("terraform/platform/staging.tfvars:1 terraform cert-manager staging {jetstack} cert-manager v1.13.2"),
    ];
    assert_eq!(got, want);
    // The committed freeze.
    let freeze =
        std::fs::read_to_string(dir.path().join("platform/.chartpilot/freeze.yaml")).unwrap();
    assert!(freeze.contains("dr:"), "{freeze}");
}
mod status_page;
