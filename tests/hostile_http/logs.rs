//! What `chartpilot serve` writes when strangers knock: malformed requests
//! at WARN within a line budget, refused signatures at WARN without the
//! secret, and never the broker password, even at trace level.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chartpilot::telemetry::rate::LINES_PER_WINDOW;

/// `chartpilot serve` in a temp dir with `env`, its output collected.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "").unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
        cmd.args(["serve", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("CHARTPILOT__SERVER__LISTEN", "127.0.0.1:0")
            .env("CHARTPILOT__LOG__FORMAT", "json")
            .env("CHARTPILOT__QUEUE__PATH", dir.path().join("q"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(l);
                }
            });
        }
        Self {
            child,
            lines,
            _dir: dir,
        }
    }

    /// Waits for a line holding `needle`.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + crate::support::PATIENCE;
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle}:\n{}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn port(&self) -> u16 {
        let line = self.wait_for("chartpilot built");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["fields"]["port"].as_u64().unwrap() as u16
    }

    fn all(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.all()
    }
}

fn level(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["level"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn malformed_requests_are_warnings_within_a_budget_and_refusals_name_the_peer() {
    let secret = "hostile-secret-5d1e0c";
    let serve = Serve::start(&[("CHARTPILOT__GITHUB__WEBHOOK_SECRET", secret)]);
    let port = serve.port();
    for i in 0..40 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = s.write_all(format!("GARBAGE\x01 /{i} NOT-HTTP\r\n\r\n").as_bytes());
        let _ = std::io::Read::read(&mut s, &mut [0u8; 512]);
    }
    let body = r#"{"secret-body-marker":1}"#;
    let res = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "X-GitHub-Event: push",
            "-H",
            "X-GitHub-Delivery: bad-sig-1",
        ])
        .args(["-H", "X-Hub-Signature-256: sha256=00", "--data", body])
        .arg(format!("http://127.0.0.1:{port}/webhooks/github"))
        .output();
    let refusal = serve.wait_for("request refused");
    let warned = serve.wait_for("malformed request");
    std::thread::sleep(Duration::from_millis(300));
    let out = serve.stop();
    if let Ok(res) = res {
        assert_eq!(String::from_utf8_lossy(&res.stdout), "401");
    }
    assert_eq!(level(&warned), "WARN", "{warned}");
    // (Start-up errors about the missing git repository are not ours.)
    let errors: Vec<&str> = out
        .lines()
        .filter(|l| level(l) == "ERROR" && l.contains(r#""target":"actix"#))
        .collect();
    assert!(
        errors.is_empty(),
        "peer errors logged as errors: {errors:?}"
    );
    let malformed = out
        .lines()
        .filter(|l| l.contains("malformed request"))
        .count();
    assert!(
        (1..=LINES_PER_WINDOW as usize).contains(&malformed),
        "{malformed} lines for 40 malformed requests"
    );
    assert_eq!(level(&refusal), "WARN");
    for field in ["/webhooks/github", "bad-sig-1", "127.0.0.1:"] {
        assert!(refusal.contains(field), "{field} missing in {refusal}");
    }
    assert!(!out.contains(secret), "the secret was logged");
    assert!(!out.contains("secret-body-marker"), "the body was logged");
}

/// The password as text, or as lapin prints the SASL response of its
/// `StartOk` frame: a list of byte values.
fn leaks(out: &str, password: &str) -> bool {
    let bytes: Vec<String> = password.bytes().map(|b| b.to_string()).collect();
    out.contains(password) || out.contains(&bytes.join(", "))
}

/// Creates a broker user for this test; `None` when rabbitmqctl cannot.
fn broker_user(user: &str, password: &str) -> Option<()> {
    let ctl = |args: &[&str]| {
        Command::new("rabbitmqctl")
            .args(["-n", "rabbit@localhost", "-q"])
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    ctl(&["add_user", user, password])?;
    ctl(&["set_permissions", "-p", "/", user, ".*", ".*", ".*"])?;
    Some(())
}

fn delete_broker_user(user: &str) {
    let _ = Command::new("rabbitmqctl")
        .args(["-n", "rabbit@localhost", "-q", "delete_user", user])
        .output();
}

/// Runs `serve` against the broker at `level` until it is connected.
fn serve_amqp(user: &str, password: &str, level: &str) -> String {
    let url = format!("amqp://{user}:{password}@127.0.0.1:5672/%2f");
    let prefix = format!(
        "cptest-{}-{}",
        chrono::Utc::now().timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let serve = Serve::start(&[
        ("CHARTPILOT__QUEUE__KIND", "amqp"),
        ("CHARTPILOT__QUEUE__URL", &url),
        ("CHARTPILOT__QUEUE__PREFIX", &prefix),
        ("CHARTPILOT__LOG__LEVEL", level),
    ]);
    let port = serve.port();
    let deadline = Instant::now() + crate::support::PATIENCE;
    loop {
        let ready = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://127.0.0.1:{port}/readyz"))
            .output()
            .is_ok_and(|o| o.stdout == b"200");
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "never ready:\n{}", serve.all());
        std::thread::sleep(Duration::from_millis(100));
    }
    serve.stop()
}

#[test]
fn the_broker_password_never_reaches_the_log_at_trace_level() {
    let user = format!("cp-{}", uuid::Uuid::new_v4().simple());
    let password = format!("pw{}", uuid::Uuid::new_v4().simple());
    if broker_user(&user, &password).is_none() {
        eprintln!("skipped: rabbitmqctl cannot create a broker user here");
        return;
    }
    let capped = serve_amqp(&user, &password, "trace");
    // The detector works: named explicitly, lapin's frames show it.
    let named = serve_amqp(
        &user,
        &password,
        "trace,lapin=trace,amq_protocol=trace,amq_protocol_types=trace",
    );
    delete_broker_user(&user);
    assert!(
        capped.lines().any(|l| l.contains("lapin")),
        "debug lines of lapin are still shown"
    );
    assert!(!leaks(&capped, &password), "password logged at trace level");
    assert!(
        leaks(&named, &password),
        "named at trace, lapin's StartOk frame was expected to show the password"
    );
}
