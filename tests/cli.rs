//! The `chartpilot` binary as an operator runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chartpilot::http::signature::sign_chat;

#[path = "support/process.rs"]
mod process;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
    // Only what each test sets: no CHARTPILOT__* from the outside.
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn terminate(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn serve_on_defaults_then_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let secret = format!("s-{}", std::process::id());
    let mut child = bin()
        .current_dir(dir.path())
        .args(["serve", "--log-format", "json"])
        .env("CHARTPILOT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHARTPILOT__CHAT__SECRET", &secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    process::wait_healthy(port, &mut child, Duration::from_secs(20));

    let body = br#"{"user":"ann","text":"/chartpilot help"}"#;
    let ts = chrono::Utc::now().timestamp();
    let answer = raw_http::post(
        port,
        "/webhooks/chat",
        body,
        ts,
        &sign_chat(&secret, ts, None, body),
    );
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");

    // Read the log as it comes until the job is done, then stop: the
    // state, not a clock, says when.
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = serde_json::from_str(&line.unwrap()).expect("every log line is JSON");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<serde_json::Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l| l["fields"]["message"] == "job done") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(e) => panic!("no `job done` line ({e}): {lines:?}"),
        }
    }
    terminate(&child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let done = lines
        .iter()
        .find(|l| l["fields"]["message"] == "job done")
        .expect("the job ran");
    assert_eq!(done["span"]["kind"], "chat.command");
    assert!(done["span"]["job"].as_str().is_some_and(|j| j.len() == 36));
    assert!(lines
        .iter()
        .any(|l| l["fields"]["message"] == "chartpilot stopped"));
    assert!(
        !lines.iter().any(|l| l.to_string().contains(&secret)),
        "secret in logs"
    );
    assert!(dir.path().join("data/queue/queue.redb").exists());
}

#[test]
fn check_config_redacts_secrets() {
    let out = bin()
        .args(["check-config"])
        .env("CHARTPILOT__GITHUB__WEBHOOK_SECRET", "hunter2-webhook")
        .env(
            "CHARTPILOT__QUEUE__URL",
            "amqp://app:hunter2-amqp@127.0.0.1:5672/%2f",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("webhook_secret = \"[redacted]\""), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let parsed: toml::Table = toml::from_str(&text).expect("the output is TOML");
    assert_eq!(parsed["queue"]["kind"].as_str(), Some("embedded"));
}

#[test]
fn check_config_names_the_bad_key() {
    let cases = [
        ("CHARTPILOT__QUEUE__MAX_ATTEMPTS", "0", "queue.max_attempts"),
        ("CHARTPILOT__SERVER__LISTEN", "everywhere", "server.listen"),
        ("CHARTPILOT__POLICY__SOAK", "a while", "policy.soak"),
    ];
    for (key, value, needle) in cases {
        let out = bin()
            .args(["check-config"])
            .env(key, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{key}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{key}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[queue]\nkind = \"amqp\"\nbogus = 1\n").unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && err.contains("bogus"), "{err}");
}

#[test]
fn embedded_queue_refuses_a_split_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["serve", "--role", "receiver"])
        .env(
            "CHARTPILOT__SERVER__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--role all"), "{err}");
}

/// A tiny blocking HTTP client, so this file needs no async runtime.
mod raw_http {
    use std::io::{Read, Write};

    /// A generic chat request, signed at `timestamp` as the route wants.
    pub fn post(port: u16, path: &str, body: &[u8], timestamp: i64, signature: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n\
             X-Chartpilot-Timestamp: {timestamp}\r\nX-Chartpilot-Signature: {signature}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}
