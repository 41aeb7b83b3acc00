//! `chartpilot check-config` as an operator runs it: `configuration OK` at
//! the end, and with `--explain` the source of every value.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::{Command, Output};

fn bin(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chartpilot"));
    // Only what each test sets: no CHARTPILOT__* from the outside, and no
    // config/default.toml of the checkout.
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8(out.stdout.clone()).unwrap(),
        String::from_utf8(out.stderr.clone()).unwrap(),
    )
}

#[test]
fn a_valid_configuration_ends_with_configuration_ok() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin(dir.path()).arg("check-config").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "configuration OK\n");
    // stdout stays the effective configuration, TOML a program can read.
    let parsed: toml::Table = toml::from_str(&stdout).expect("stdout is TOML");
    assert_eq!(parsed["git"]["provider"].as_str(), Some("local"));
    assert!(stdout.ends_with('\n'));
}

#[test]
fn an_invalid_configuration_names_the_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin(dir.path())
        .arg("check-config")
        .env("CHARTPILOT__GIT__PROVIDER", "gitlab")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr,
        "chartpilot: git.provider: \"gitlab\" is not one of local, github\n"
    );
    assert_eq!(stdout, "");
}

#[test]
fn explain_gives_each_key_its_source_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let chat_secret = dir.path().join("chat-secret");
    std::fs::write(&chat_secret, "hunter2-chat\n").unwrap();
    let signing = dir.path().join("signing");
    std::fs::write(&signing, "hunter2-signing\n").unwrap();
    let config = dir.path().join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:9000\"\n[chat]\nsecret_file = {:?}\n\
             [[helm.mirrors]]\nfrom = \"ghcr.io/acme\"\nto = \"oci://mirror.internal/acme\"\n",
            chat_secret.display().to_string()
        ),
    )
    .unwrap();
    let out = bin(dir.path())
        .args(["check-config", "--explain", "--config"])
        .arg(&config)
        .env("CHARTPILOT__QUEUE__MAX_ATTEMPTS", "7")
        .env("CHARTPILOT__GITHUB__WEBHOOK_SECRET", "hunter2-webhook")
        .env("CHARTPILOT__SLACK__SIGNING_SECRET_FILE", &signing)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "configuration OK\n");
    let file = config.display();
    for line in [
        format!("server.listen = \"127.0.0.1:9000\"  # file {file}"),
        "server.max_connections = 1024  # default".to_owned(),
        "queue.max_attempts = 7  # environment CHARTPILOT__QUEUE__MAX_ATTEMPTS".to_owned(),
        "github.webhook_secret = \"[redacted]\"  # environment CHARTPILOT__GITHUB__WEBHOOK_SECRET"
            .to_owned(),
        format!(
            "chat.secret = \"[redacted]\"  # read from {} (file {file})",
            chat_secret.display()
        ),
        format!(
            "slack.signing_secret = \"[redacted]\"  # read from {} \
             (environment CHARTPILOT__SLACK__SIGNING_SECRET_FILE)",
            signing.display()
        ),
        format!("helm.mirrors[0].from = \"ghcr.io/acme\"  # file {file}"),
        "rollback.rules[0].matchers = ['severity=\"critical\"']  # default".to_owned(),
        "queue.url = \"[redacted]\"  # default".to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stdout.contains("guest:guest"), "{stdout}");
    // Every line is one key with its source.
    for l in stdout.lines() {
        let (_, source) = l.rsplit_once("  # ").unwrap_or_else(|| panic!("{l}"));
        assert!(
            source == "default"
                || source.starts_with("file ")
                || source.starts_with("environment ")
                || source.starts_with("read from "),
            "{l}"
        );
    }
}

#[test]
fn an_unreadable_or_unparseable_helm_keyring_fails_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_key = dir.path().join("pubring.gpg");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.gpg");
    for (path, reason) in [
        (&not_a_key, "pubring.gpg: armored block 1"),
        (&missing, "cannot read"),
    ] {
        let out = bin(dir.path())
            .arg("check-config")
            .env("CHARTPILOT__HELM__KEYRING", path)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with("chartpilot: helm.keyring: "), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert_eq!(stdout, "");
    }
}
