//! Honest start: `serve` (the real binary) with a feature configured but
//! broken is not ready, and `/readyz` names the feature and why; with
//! everything configured working, it is ready.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fake_github::FakeGithub;

/// How long `serve` may take to answer `/readyz` (it probes the git host
/// once before it serves).
const START_PATIENCE: Duration = Duration::from_secs(20);

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chartpilot pointed at the fake with `token`, every route's secret set.
fn chartpilot(fake: &FakeGithub, token: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    for (k, v) in fake.env() {
        c.env(format!("CHARTPILOT__{k}"), v);
    }
    c.env("CHARTPILOT__GITHUB__TOKEN", token)
        .env(
            "CHARTPILOT__GITHUB__WEBHOOK_SECRET",
            support::random_secret(),
        )
        .env("CHARTPILOT__ALERTMANAGER__TOKEN", support::random_secret())
        .env("CHARTPILOT__CHAT__SECRET", support::random_secret());
    c
}

fn serve(fake: &FakeGithub, token: &str, dir: &std::path::Path, port: u16) -> Serve {
    let mut c = chartpilot(fake, token, dir);
    c.env("CHARTPILOT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .args(["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Serve(c.spawn().unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn readyz(port: u16, child: &mut Serve) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + START_PATIENCE;
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            return (r.status().as_u16(), r.json().await.unwrap());
        }
        assert!(child.0.try_wait().unwrap().is_none(), "serve exited early");
        assert!(Instant::now() < deadline, "/readyz never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_refused_github_token_makes_readyz_503_naming_the_feature() {
    let fake = FakeGithub::start().await;
    fake.commit_files("main", &[("README.md", "# gitops\n")]);
    let dir = tempfile::tempdir().unwrap();

    let port = free_port();
    let mut child = serve(&fake, "ghp_not_a_token_the_fake_knows", dir.path(), port);
    let (status, body) = readyz(port, &mut child).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    assert!(
        body["reason"].as_str().unwrap().contains("upgrades"),
        "{body}"
    );
    assert_eq!(body["features"]["upgrades"]["state"], "broken", "{body}");
    let why = body["features"]["upgrades"]["why"].as_str().unwrap();
    assert!(why.contains("git host"), "{why}");
    // Everything that needs the git host says so.
    for feature in ["syncs", "promotions", "rollbacks", "chat", "checks"] {
        assert_eq!(
            body["features"][feature]["state"], "broken",
            "{feature}: {body}"
        );
    }
    drop(child);

    let port = free_port();
    let mut child = serve(&fake, &fake.token, dir.path(), port);
    let (status, body) = readyz(port, &mut child).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for feature in [
        "upgrades",
        "syncs",
        "promotions",
        "rollbacks",
        "chat",
        "checks",
    ] {
        assert_eq!(
            body["features"][feature]["state"], "on",
            "{feature}: {body}"
        );
    }
}

// Two threads: the fake GitHub answers while this one waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_probe_lists_the_features_and_fails_for_a_broken_one() {
    let fake = FakeGithub::start().await;
    fake.commit_files("main", &[("README.md", "# gitops\n")]);
    let dir = tempfile::tempdir().unwrap();
    let run = |token: &str| {
        chartpilot(&fake, token, dir.path())
            .args(["check-config", "--probe"])
            .output()
            .unwrap()
    };
    let bad = run("ghp_not_a_token_the_fake_knows");
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("upgrades    BROKEN: the git host"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("configured but broken: upgrades"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good = run(&fake.token.clone());
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{stdout}");
    assert!(stdout.contains("upgrades    on\n"), "{stdout}");
    assert!(
        stdout.contains("syncs       on (argocd.mode is \"none\": syncs are logged"),
        "{stdout}"
    );
}

/// `serve` on the built-in defaults (not the demo: a chat secret is set)
/// says in one block what is off and which key turns it on; nothing is an
/// ERROR, and off is not unready.
#[tokio::test]
async fn serve_on_defaults_prints_what_is_off_and_stays_ready() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
    child
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHARTPILOT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHARTPILOT__CHAT__SECRET", support::random_secret())
        .current_dir(dir.path())
        .args(["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Serve(child.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.contains("starting service"))
            .collect::<Vec<_>>()
    });
    let (status, body) = readyz(port, &mut child).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["features"]["upgrades"]["state"], "off", "{body}");
    let out = lines.join().unwrap().join("\n");
    assert!(!out.contains(" ERROR "), "{out}");
    assert!(out.contains("features:\n"), "{out}");
    assert!(
        out.contains("  upgrades    off: no repository (git.path . is not one); set git.path"),
        "{out}"
    );
    assert!(
        out.contains("  rollbacks   off: alertmanager.token is empty"),
        "{out}"
    );
    assert!(
        out.contains("set alertmanager.token to turn it on"),
        "{out}"
    );
}
