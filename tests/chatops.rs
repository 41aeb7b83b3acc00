//! ChatOps end to end: the signed Slack bodies of the corpus (with their
//! `response_url` pointed at a local listener) go through the receiver and
//! the queue; the worker runs each command against a local GitOps
//! repository and answers on `response_url`. An unauthorized person gets a
//! refusal, an audit line, and no effect. A GitHub comment gets 👀 and a
//! reply comment through the fake GitHub.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "chatops/github.rs"]
mod github;
#[path = "chatops/slack_groups.rs"]
mod slack_groups;
mod support;
#[path = "chatops/verbs.rs"]
mod verbs;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::web;
use chartpilot::settings::Settings;
use chartpilot::worker::{Outcome, Worker};
use support::fake_github::FakeGithub;
use support::{git, random_secret, test_settings, Backend, TestSecrets, PATIENCE};

const CHARTS_URL: &str = "https://charts.example.org/stable";
/// The person in the corpus's Slack samples.
const STEVE: &str = "U2147483697";

fn app(name: &str, chart: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  source:\n    repoURL: {CHARTS_URL}\n    chart: {chart}\n    targetRevision: {version}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {chart}\n"
    )
}

/// The apps the corpus's commands name, pinned per environment.
fn files() -> Vec<(&'static str, String)> {
    vec![
        (
            "environments/dev/cert-manager.yaml",
            app("cert-manager", "cert-manager", "v1.13.2"),
        ),
        (
            "environments/dev/ingress-nginx.yaml",
            app("ingress-nginx-dev", "ingress-nginx", "4.8.0"),
        ),
        (
            "environments/staging/ingress-nginx.yaml",
            app("ingress-nginx-staging", "ingress-nginx", "4.7.0"),
        ),
        (
            "environments/prod/jupyterhub.yaml",
            app("jupyterhub", "jupyterhub", "3.1.0"),
        ),
    ]
}

fn index(dir: &Path) {
    let entry = |chart: &str, version: &str| {
        format!("  - name: {chart}\n    version: {version}\n    created: \"2024-01-01T00:00:00Z\"\n    urls: [charts/{chart}-{version}.tgz]\n")
    };
    let text = format!(
        "apiVersion: v1\nentries:\n  cert-manager:\n{}{}  ingress-nginx:\n{}{}  jupyterhub:\n{}",
        entry("cert-manager", "v1.13.3"),
        entry("cert-manager", "v1.13.2"),
        entry("ingress-nginx", "4.8.0"),
        entry("ingress-nginx", "4.7.0"),
        entry("jupyterhub", "3.1.0"),
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.yaml"), text).unwrap();
}

/// Audit lines, captured from the log of this test binary.
fn audit_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
        let writer = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("chartpilot::audit=info")
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    port: u16,
    worker: Worker,
    secrets: TestSecrets,
    reply_url: String,
    replies: Arc<Mutex<Vec<serde_json::Value>>>,
    _listener: actix_web::dev::ServerHandle,
}

async fn world() -> World {
    world_with(|_| {}).await
}

/// `world`, with the settings adjusted before the service starts.
async fn world_with(adjust: impl FnOnce(&mut Settings)) -> World {
    audit_log();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    for (path, text) in files() {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    // jupyterhub starts at 3.0.0; the latest commit moves it to 3.1.0.
    std::fs::write(
        repo.join("environments/prod/jupyterhub.yaml"),
        app("jupyterhub", "jupyterhub", "3.0.0"),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "pins"]);
    std::fs::write(
        repo.join("environments/prod/jupyterhub.yaml"),
        app("jupyterhub", "jupyterhub", "3.1.0"),
    )
    .unwrap();
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "chore(deps): upgrade jupyterhub to 3.1.0 in prod",
        ],
    );
    let charts = dir.path().join("charts");
    index(&charts);
    let secrets = TestSecrets::random();
    let extra = support::env_vars(&[
        ("GIT__PROVIDER", "local".to_owned()),
        ("GIT__PATH", repo.display().to_string()),
        ("UPGRADE__INTERVAL", "0s".to_owned()),
    ]);
    let mut settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let overlay = dir.path().join("overlay.toml");
    std::fs::write(
        &overlay,
        format!(
            "[[helm.mirrors]]\nfrom = \"{CHARTS_URL}\"\nto = \"file://{}\"\n[[chat.allow]]\nverbs = [\"*\"]\nenvironments = [\"*\"]\nslack_users = [\"{STEVE}\"]\n[chat]\nprotected = [\"prod\"]\n",
            charts.display()
        ),
    )
    .unwrap();
    let overlay = Settings::load(Some(&overlay), &Default::default()).unwrap();
    settings.helm = overlay.helm;
    settings.chat.allow = overlay.chat.allow;
    settings.chat.protected = overlay.chat.protected;
    adjust(&mut settings);
    let (port, worker) = support::start_service(&settings).await;
    let (reply_url, replies, handle) = support::json_listener();
    World {
        _dir: dir,
        repo,
        port,
        worker,
        secrets,
        reply_url,
        replies,
        _listener: handle,
    }
}

impl World {
    /// Posts a corpus Slack body, signed now with the test's secret, its
    /// `response_url` (and, if given, user) replaced; returns the ack.
    async fn slack(&self, sample: &str, user: Option<&str>) -> serde_json::Value {
        self.slack_text(sample, user, None).await
    }

    /// Like `slack`, with the command text replaced too.
    async fn slack_text(
        &self,
        sample: &str,
        user: Option<&str>,
        text: Option<&str>,
    ) -> serde_json::Value {
        let path = support::corpus()
            .join("slack/chartpilot-samples")
            .join(sample);
        let raw = std::fs::read_to_string(path).unwrap();
        let mut fields: Vec<(String, String)> = serde_urlencoded::from_str(raw.trim()).unwrap();
        for (k, v) in &mut fields {
            if k == "response_url" {
                v.clone_from(&self.reply_url);
            }
            if let (Some(u), "user_id") = (user, k.as_str()) {
                *v = u.to_owned();
            }
            if let (Some(t), "text") = (text, k.as_str()) {
                *v = t.to_owned();
            }
            // Slack gives every invocation its own trigger id; the samples
            // share one, and two of them signed in the same second would be
            // one request to the receivers.
            if k == "trigger_id" {
                v.push_str(&format!(".{}", uuid::Uuid::new_v4().simple()));
            }
        }
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let ts = chrono::Utc::now().timestamp();
        let sig = chartpilot::http::signature::sign_slack(&self.secrets.slack, ts, body.as_bytes());
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/webhooks/slack", self.port))
            .header("X-Slack-Request-Timestamp", ts.to_string())
            .header("X-Slack-Signature", sig)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Runs the queued job and returns the reply it sent.
    async fn reply(&self) -> serde_json::Value {
        let before = self.replies.lock().unwrap().len();
        let outcome = support::next_outcome(&self.worker).await;
        assert_eq!(outcome, Outcome::Done);
        let until = Instant::now() + PATIENCE;
        loop {
            if let Some(r) = self.replies.lock().unwrap().get(before) {
                return r.clone();
            }
            assert!(Instant::now() < until, "no reply on response_url");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn pulls(repo: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_corpus_slack_commands_are_acknowledged_then_answered_on_response_url() {
    let w = world().await;

    let ack = w.slack("01-help.body.txt", None).await;
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(
        ack["text"]
            .as_str()
            .unwrap()
            .starts_with("Working on `/chartpilot help`"),
        "{ack}"
    );
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("`/chartpilot rollback &lt;app&gt; [env]`"),
        "{text}"
    );
    assert_eq!(r["blocks"][0]["text"]["type"], "mrkdwn");

    w.slack("02-status-app-env.body.txt", None).await;
    let r = w.reply().await;
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("prod: jupyterhub `3.1.0` (environments/prod/jupyterhub.yaml:"),
        "{text}"
    );

    w.slack("03-upgrade-chart-to-version-env.body.txt", None)
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert!(r["text"].as_str().unwrap().starts_with("Opened #1"), "{r}");
    let prs = pulls(&w.repo);
    assert_eq!(
        prs[0]["head"],
        "chartpilot/upgrade/dev/cert-manager-v1.13.3"
    );
    assert!(prs[0]["body"]
        .as_str()
        .unwrap()
        .contains(&format!("Requested by {STEVE} through chat.")));

    w.slack("04-promote-chart-from-to.body.txt", None).await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    let prs = pulls(&w.repo);
    assert_eq!(
        prs[1]["head"],
        "chartpilot/upgrade/staging/ingress-nginx-4.8.0"
    );
    let diff = git(
        &w.repo,
        &[
            "diff",
            "main",
            "chartpilot/upgrade/staging/ingress-nginx-4.8.0",
        ],
    );
    assert!(
        diff.contains("-    targetRevision: 4.7.0\n+    targetRevision: 4.8.0"),
        "{diff}"
    );

    w.slack("05-freeze-with-reason.body.txt", None).await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    let freeze = git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]);
    let parsed = chartpilot::promote::freeze::Freezes::parse(&freeze).unwrap();
    let prod = parsed.get("prod").expect("prod frozen");
    assert_eq!(prod.by, STEVE);
    assert_eq!(
        prod.reason.as_deref(),
        Some("change freeze for quarter-end (Ünïcode ✓)")
    );
    let message = git(&w.repo, &["log", "-1", "--format=%s", "main"]);
    assert_eq!(message, "chore(chartpilot): freeze prod");
}

#[tokio::test]
async fn an_unauthorized_person_is_refused_audited_and_nothing_happens() {
    let w = world().await;
    let head = git(&w.repo, &["rev-parse", "main"]);
    // Its own id: the audit log is shared by the tests of this binary.
    let intruder = format!("U0{}", uuid::Uuid::new_v4().simple()).to_uppercase();
    w.slack("05-freeze-with-reason.body.txt", Some(&intruder))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral");
    assert_eq!(
        r["text"],
        format!(
            "Not allowed: {intruder} may not `freeze` in prod: no [[chat.allow]] rule names them for it."
        )
        .as_str()
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head, "no commit");
    let log = String::from_utf8(audit_log().lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(&intruder))
        .unwrap_or_else(|| panic!("no audit line in {log}"));
    assert!(
        line.contains("refused") && line.contains("freeze prod"),
        "{line}"
    );
}

#[tokio::test]
async fn a_rollback_in_a_protected_environment_waits_for_the_same_persons_confirm() {
    let w = world().await;
    let bump = git(&w.repo, &["rev-parse", "main"]);
    let sample = "02-status-app-env.body.txt";
    w.slack_text(sample, None, Some("rollback jupyterhub prod"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral");
    let text = r["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("prod is protected. To rollback jupyterhub prod (revert `"),
        "{text}"
    );
    assert!(
        text.contains("\"chore(deps): upgrade jupyterhub to 3.1.0 in prod\": 3.1.0 back to 3.0.0)"),
        "{text}"
    );
    let code = text
        .split("confirm ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap()
        .to_owned();
    assert!(pulls(&w.repo).is_empty(), "nothing before the confirmation");

    // Someone else cannot use the code.
    w.slack_text(sample, Some("U0OTHER"), Some(&format!("confirm {code}")))
        .await;
    let r = w.reply().await;
    assert!(
        r["text"].as_str().unwrap().contains("only for the person"),
        "{r}"
    );
    assert!(pulls(&w.repo).is_empty());

    // The person who asked confirms: the revert PR opens.
    w.slack_text(sample, None, Some(&format!("confirm {code}")))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert!(
        r["text"].as_str().unwrap().starts_with("Reverting `"),
        "{r}"
    );
    let prs = pulls(&w.repo);
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert_eq!(prs[0]["head"], format!("chartpilot/revert/{bump}").as_str());
    let diff = git(
        &w.repo,
        &["diff", "main", &format!("chartpilot/revert/{bump}")],
    );
    assert!(
        diff.contains("-    targetRevision: 3.1.0\n+    targetRevision: 3.0.0"),
        "{diff}"
    );
}

#[tokio::test]
async fn a_replayed_slack_command_is_refused_with_401() {
    let w = world().await;
    // The corpus request as Slack signed it, years ago.
    let path = support::corpus().join("slack/chartpilot-samples/01-help.request.json");
    let request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body =
        std::fs::read(support::corpus().join("slack/chartpilot-samples/01-help.body.txt")).unwrap();
    let ts: i64 = request["headers"]["X-Slack-Request-Timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = chartpilot::http::signature::sign_slack(&w.secrets.slack, ts, &body);
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/webhooks/slack", w.port))
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", sig)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_generic_route_answers_on_its_reply_url() {
    let w = world_with(|s| {
        s.chat.allow.push(chartpilot::settings::ChatAllow {
            verbs: vec!["sync".into()],
            environments: vec!["*".into()],
            users: vec!["deploy-bot".into()],
            ..Default::default()
        });
    })
    .await;
    let body = serde_json::json!({
        "user": "deploy-bot",
        "text": "/chartpilot status jupyterhub prod",
        "reply_url": w.reply_url,
    })
    .to_string();
    let response = support::chat_request(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{}", w.port),
        &w.secrets.chat,
        chrono::Utc::now().timestamp(),
        None,
        body.as_bytes(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 202);
    let r = w.reply().await;
    assert_eq!(r["public"], false);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("prod: jupyterhub `3.1.0`"),
        "{r}"
    );
}

#[tokio::test]
async fn a_confirmation_confirms_what_was_shown_not_a_newer_change() {
    let w = world().await;
    let sample = "02-status-app-env.body.txt";
    w.slack_text(sample, None, Some("rollback jupyterhub prod"))
        .await;
    let r = w.reply().await;
    let text = r["text"].as_str().unwrap().to_owned();
    let code = text
        .split("/chartpilot confirm ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap()
        .to_owned();
    // Someone moves jupyterhub again before the confirmation.
    std::fs::write(
        w.repo.join("environments/prod/jupyterhub.yaml"),
        app("jupyterhub", "jupyterhub", "3.1.1"),
    )
    .unwrap();
    git(&w.repo, &["commit", "-q", "-am", "jupyterhub 3.1.1"]);
    w.slack_text(sample, None, Some(&format!("confirm {code}")))
        .await;
    let r = w.reply().await;
    let text = r["text"].as_str().unwrap();
    assert!(
        text.starts_with("No rollback: the newest change to jupyterhub's pin is now ")
            && text.ends_with("that was confirmed; ask again."),
        "{text}"
    );
    assert!(pulls(&w.repo).is_empty());
}
