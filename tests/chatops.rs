//! ChatOps end to end: the signed Slack bodies of the corpus (with their
//! `response_url` pointed at a local listener) go through the receiver and
//! the queue; the worker runs each command against a local GitOps
//! repository and answers on `response_url`. An unauthorized person gets a
//! refusal, an audit line, and no effect. A GitHub comment gets 👀 and a
//! reply comment through the fake GitHub.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

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
        let outcome = tokio::time::timeout(PATIENCE, self.worker.process_one())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
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
async fn a_github_comment_gets_eyes_and_a_reply_comment() {
    let fake = FakeGithub::start().await;
    let seeded: Vec<(&str, String)> = files();
    fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (*p, t.as_str()))
            .collect::<Vec<_>>(),
    );
    fake.set_branch("feature", &fake.branch("main").unwrap());
    let issue = fake.add_pull("feature", "Some change");
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let extra =
        support::env_vars(&[fake.env(), vec![("UPGRADE__INTERVAL", "0s".to_owned())]].concat());
    let settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let (port, worker) = support::start_service(&settings).await;
    let body = serde_json::json!({
        "action": "created",
        "issue": { "number": issue, "pull_request": { "url": "x" } },
        "comment": {
            "id": 4242,
            "body": "Is it deployed?\n/chartpilot status jupyterhub\n```\n/chartpilot freeze prod\n```",
            "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": fake.repository() },
        "sender": { "login": "alice", "type": "User" }
    })
    .to_string();
    let status = support::post_github_event(port, &secrets.github, "issue_comment", &body).await;
    assert_eq!(status, 202);
    let outcome = tokio::time::timeout(PATIENCE, worker.process_one())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(fake.reactions(), [(4242, "eyes".to_owned())]);
    let comments = fake.comments(issue);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].starts_with("> `/chartpilot status jupyterhub`"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("prod: jupyterhub `3.1.0`"),
        "{}",
        comments[0]
    );
    assert!(
        !comments[0].contains("freeze"),
        "code blocks are not commands: {}",
        comments[0]
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

/// A stand-in for Slack's Web API: `usergroups.users.list` for one group,
/// only with the right bot token.
fn slack_api(token: String) -> (String, actix_web::dev::ServerHandle) {
    let (l, url) = support::loopback();
    let handle = support::serve(l, move |cfg| {
        let token = token.clone();
        cfg.route(
            "/api/usergroups.users.list",
            web::get().to(move |req: actix_web::HttpRequest| {
                let token = token.clone();
                async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body = if auth != format!("Bearer {token}") {
                        serde_json::json!({ "ok": false, "error": "invalid_auth" })
                    } else if req.query_string() == "usergroup=S0SRE" {
                        serde_json::json!({ "ok": true, "users": ["U0GROUPIE", "U0OTHER"] })
                    } else {
                        serde_json::json!({ "ok": false, "error": "no_such_subteam" })
                    };
                    actix_web::HttpResponse::Ok().json(body)
                }
            }),
        );
    });
    (format!("{url}/api"), handle)
}

#[tokio::test]
async fn a_slack_user_group_grants_what_its_rule_allows_and_nothing_more() {
    let token = format!("xoxb-{}", random_secret());
    let (api, _api) = slack_api(token.clone());
    let w = world_with(|s| {
        s.slack.api_url = api;
        s.slack.bot_token = chartpilot::settings::Secret::new(token);
        s.chat.allow.push(chartpilot::settings::ChatAllow {
            verbs: vec!["freeze".into(), "unfreeze".into()],
            environments: vec!["dev".into()],
            slack_groups: vec!["S0SRE".into()],
            ..Default::default()
        });
    })
    .await;
    let sample = "05-freeze-with-reason.body.txt";
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    let freeze = git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]);
    assert!(
        freeze.contains("U0GROUPIE") && freeze.contains("demo day"),
        "{freeze}"
    );
    // The same freeze again (a replay, a second click) commits nothing.
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("already so, nothing changed"),
        "{r}"
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head);
    // The group's rule is for dev only.
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze prod no"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    assert!(
        r["text"].as_str().unwrap().starts_with("Not allowed"),
        "{r}"
    );
    // Someone outside the group.
    w.slack_text(sample, Some("U0STRANGER"), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    assert!(
        r["text"].as_str().unwrap().starts_with("Not allowed"),
        "{r}"
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

/// `unfreeze` through the real receiver and worker: the freeze file loses
/// the environment in a commit on main; a second `unfreeze` says it is not
/// frozen and commits nothing.
#[tokio::test]
async fn unfreeze_lifts_a_freeze_once() {
    let w = world().await;
    let sample = "05-freeze-with-reason.body.txt";
    w.slack_text(sample, Some(STEVE), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert!(git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]).contains("dev"));

    w.slack_text(sample, Some(STEVE), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    let text = r["text"].as_str().unwrap();
    assert!(text.starts_with("dev is no longer frozen (commit `"), "{r}");
    assert!(
        !git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]).contains("dev:"),
        "dev left the freeze file"
    );
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(sample, Some(STEVE), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["text"], "dev is not frozen.", "{r}");
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head, "no commit");
}

/// With `policy.dry_run`, chat says what it would do and changes nothing.
#[tokio::test]
async fn a_dry_run_says_what_it_would_do_and_does_nothing() {
    let w = world_with(|s| s.policy.dry_run = true).await;
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(
        "05-freeze-with-reason.body.txt",
        Some(STEVE),
        Some("freeze dev demo day"),
    )
    .await;
    let r = w.reply().await;
    assert_eq!(
        r["text"], "Dry run (policy.dry_run), nothing done: would freeze dev.",
        "{r}"
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head, "no commit");
}

/// `sync` end to end: Argo CD (the mock) is asked to sync the app at the
/// chart version the repository pins, and chat says so in the channel. A
/// second `sync` while the first runs is refused by Argo CD, and the
/// person hears it failed, privately.
#[tokio::test]
async fn sync_asks_argocd_for_the_pinned_version_and_says_so() {
    use support::mock_argocd::{MockApp, MockArgoCd};
    let argocd = MockArgoCd::start().await;
    argocd.seed(MockApp::new("ingress-nginx-dev", "4.7.0"));
    let argocd_settings = argocd.settings();
    let w = world_with(move |s| s.argocd = argocd_settings).await;
    let sample = "02-status-app-env.body.txt";

    w.slack_text(sample, Some(STEVE), Some("sync ingress-nginx-dev"))
        .await;
    let r = w.reply().await;

    assert_eq!(r["response_type"], "in_channel", "{r}");
    assert_eq!(
        r["text"], "Sync of ingress-nginx-dev started at `4.8.0`.",
        "{r}"
    );
    let posts: Vec<_> = argocd
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, "/api/v1/applications/ingress-nginx-dev/sync");
    assert_eq!(posts[0].json()["revision"], "4.8.0");
    assert_eq!(
        argocd
            .app("ingress-nginx-dev")
            .unwrap()
            .operation_phase
            .as_deref(),
        Some("Running")
    );

    w.slack_text(sample, Some(STEVE), Some("sync ingress-nginx-dev"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.starts_with("`sync ingress-nginx-dev` failed: ")
            && text.contains("another operation is already in progress"),
        "{r}"
    );
    assert!(!text.contains(&argocd.token), "{r}");
}

/// `freeze` from a GitHub comment, against the fake GitHub, while someone
/// else pushes to main between chartpilot's read and its ref update:
/// GitHub refuses the update as real GitHub does (422 "Update is not a
/// fast forward"), chartpilot reads again, and the freeze lands once, on
/// top of the other push, which is kept.
#[tokio::test]
async fn a_freeze_that_loses_a_race_with_a_push_lands_once_on_top_of_it() {
    let fake = FakeGithub::start().await;
    let seeded: Vec<(&str, String)> = files();
    fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (*p, t.as_str()))
            .collect::<Vec<_>>(),
    );
    fake.set_branch("feature", &fake.branch("main").unwrap());
    let issue = fake.add_pull("feature", "Release week");
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let extra =
        support::env_vars(&[fake.env(), vec![("UPGRADE__INTERVAL", "0s".to_owned())]].concat());
    let mut settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let overlay = dir.path().join("overlay.toml");
    std::fs::write(
        &overlay,
        "[[chat.allow]]\nverbs = [\"freeze\"]\nenvironments = [\"*\"]\ngithub_users = [\"alice\"]\n",
    )
    .unwrap();
    settings.chat.allow = Settings::load(Some(&overlay), &Default::default())
        .unwrap()
        .chat
        .allow;
    let (port, worker) = support::start_service(&settings).await;
    fake.race_next_update("main", &[("README.md", "someone else's change\n")]);
    fake.clear_requests();
    let body = serde_json::json!({
        "action": "created",
        "issue": { "number": issue, "pull_request": { "url": "x" } },
        "comment": {
            "id": 4343,
            "body": "/chartpilot freeze staging release week",
            "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": fake.repository() },
        "sender": { "login": "alice", "type": "User" }
    })
    .to_string();
    let status = support::post_github_event(port, &secrets.github, "issue_comment", &body).await;
    assert_eq!(status, 202);

    let outcome = tokio::time::timeout(PATIENCE, worker.process_one())
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert_eq!(outcome, Outcome::Done);
    let updates: Vec<u16> = fake
        .api_calls()
        .iter()
        .filter(|c| c.method == "PATCH" && c.path.ends_with("/git/refs/heads/main"))
        .map(|c| c.status)
        .collect();
    assert_eq!(updates, [422, 200], "refused once, then taken");
    let head = fake.branch("main").unwrap();
    let freeze = String::from_utf8(fake.file(&head, ".chartpilot/freeze.yaml").unwrap()).unwrap();
    assert_eq!(freeze.matches("staging").count(), 1, "{freeze}");
    assert!(freeze.contains("release week"), "{freeze}");
    // The freeze commit sits on the other push, which is kept.
    let parents = fake.parents(&head);
    assert_eq!(parents.len(), 1);
    assert_eq!(
        fake.file(&parents[0], "README.md").as_deref(),
        Some(&b"someone else's change\n"[..])
    );
    assert!(fake.file(&parents[0], ".chartpilot/freeze.yaml").is_none());
    assert_eq!(
        fake.file(&head, "README.md").as_deref(),
        Some(&b"someone else's change\n"[..])
    );
    let comments = fake.comments(issue);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("staging is frozen: release week"),
        "{}",
        comments[0]
    );
}
