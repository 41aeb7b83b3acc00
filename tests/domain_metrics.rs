//! The domain metrics as Prometheus scrapes them: the service on a local
//! GitOps repository (charts from a local index), driven by real jobs (an
//! upgrade pass, Alertmanager notifications through the webhook, a
//! promotion check, chat commands through the generic route), then
//! `GET /metrics` read series by series; and the Grafana dashboard against
//! what that scrape exports.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chartpilot::clock::{Clock, SystemClock};
use chartpilot::domain::CommitSha;
use chartpilot::jobs::{Job, JobEnvelope, PromotionCheck, UpgradeRequest};
use chartpilot::queue::JobQueue;
use chartpilot::settings::{ChatAllow, Settings};
use chartpilot::startup::{Application, Role};
use chartpilot::worker::service::ServiceHandler;
use chartpilot::worker::{Outcome, Worker};
use support::dashboard::{dashboard, expressions, metric_names};
use support::{git, test_settings, Backend, TestSecrets};

const CHARTS_URL: &str = "https://charts.example.org/stable";
/// A chart repository nothing listens on: its lookups fail.
const DEAD_CHARTS: &str = "http://127.0.0.1:9/charts";
/// Days since each podinfo release was published.
const RELEASES: [(&str, i64); 3] = [("6.6.0", 30), ("6.5.1", 60), ("6.5.0", 100)];
/// dev pins 6.5.0: the oldest release it has not taken is 6.5.1.
const OLDEST_UNADOPTED_DAYS: i64 = 60;

fn app(name: &str, repo: &str, chart: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  source:\n    repoURL: {repo}\n    chart: {chart}\n    targetRevision: {version}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {chart}\n"
    )
}

/// podinfo at 6.5.0 in dev and prod, then a bump of prod to 6.6.0 (prod
/// ahead of dev: drift, and the change an alert blames); an app whose
/// repository does not answer.
fn repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    let files = [
        (
            "environments/dev/podinfo.yaml",
            app("podinfo-dev", CHARTS_URL, "podinfo", "6.5.0"),
        ),
        (
            "environments/prod/podinfo.yaml",
            app("podinfo-prod", CHARTS_URL, "podinfo", "6.5.0"),
        ),
        (
            "environments/dev/gone.yaml",
            app("gone-dev", DEAD_CHARTS, "gone", "1.0.0"),
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "platform pins"]);
    std::fs::write(
        dir.join("environments/prod/podinfo.yaml"),
        app("podinfo-prod", CHARTS_URL, "podinfo", "6.6.0"),
    )
    .unwrap();
    git(
        dir,
        &[
            "commit",
            "-q",
            "-am",
            "chore(deps): upgrade podinfo to 6.6.0 in prod",
        ],
    );
}

fn index(dir: &Path) {
    let now = chrono::Utc::now();
    let entries: String = RELEASES
        .iter()
        .map(|(v, days)| {
            let created = (now - chrono::Duration::days(*days)).to_rfc3339();
            format!("  - name: podinfo\n    version: {v}\n    created: \"{created}\"\n    urls: [charts/podinfo-{v}.tgz]\n")
        })
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("index.yaml"),
        format!("apiVersion: v1\nentries:\n  podinfo:\n{entries}"),
    )
    .unwrap();
}

struct World {
    _dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    port: u16,
    worker: Worker,
    queue: Arc<dyn JobQueue>,
    secrets: TestSecrets,
}

async fn world() -> World {
    support::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    repository(&repo);
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
            "[[helm.mirrors]]\nfrom = \"{CHARTS_URL}\"\nto = \"file://{}\"\n\
             [[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = [\"argocd_app\"]\nenv_labels = [\"env\"]\naction = \"revert-pr\"\n",
            charts.display()
        ),
    )
    .unwrap();
    let overlay = Settings::load(Some(&overlay), &Default::default()).unwrap();
    settings.helm = overlay.helm;
    settings.rollback = overlay.rollback;
    settings.chat.allow.push(ChatAllow {
        verbs: vec!["status".into()],
        environments: vec!["*".into()],
        users: vec!["ops".into()],
        ..Default::default()
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let handler = ServiceHandler::from_settings(&settings, Arc::clone(&clock)).await;
    assert!(handler.upgrader.is_ok() && handler.rollbacker.is_ok() && handler.chatops.is_ok());
    let app = Application::build_with(&settings, Role::All, Arc::new(handler), clock)
        .await
        .unwrap();
    let port = app.port();
    let (server, worker, queue) = app.into_parts();
    tokio::spawn(server);
    World {
        _dir: dir,
        repo,
        port,
        worker: worker.unwrap(),
        queue,
        secrets,
    }
}

impl World {
    async fn run_one(&self) {
        let outcome = support::next_outcome(&self.worker).await;
        assert_eq!(outcome, Outcome::Done);
    }

    /// The corpus's critical alert, about podinfo-prod, starting now.
    async fn alert(&self, fingerprint: &str) {
        let sample = support::corpus()
            .join("alertmanager/notifications/01-api-single-critical-firing.body.json");
        let mut body: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sample).unwrap()).unwrap();
        let alert = &mut body["alerts"][0];
        alert["labels"]["argocd_app"] = "podinfo-prod".into();
        alert["startsAt"] = chrono::Utc::now().to_rfc3339().into();
        alert["fingerprint"] = fingerprint.into();
        body["groupKey"] = format!("{{}}:{{fingerprint=\"{fingerprint}\"}}").into();
        let status = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/webhooks/alertmanager",
                self.port
            ))
            .bearer_auth(&self.secrets.alertmanager)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{status}");
    }

    async fn chat(&self, user: &str, text: &str) {
        let body = serde_json::json!({ "user": user, "text": text }).to_string();
        let response = support::chat_request(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{}", self.port),
            &self.secrets.chat,
            chrono::Utc::now().timestamp(),
            None,
            body.as_bytes(),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 202);
    }

    async fn scrape_text(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Every sample of `GET /metrics`, by name and labels as written.
    async fn scrape(&self) -> BTreeMap<String, f64> {
        self.scrape_text()
            .await
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                (series.to_owned(), value.parse().unwrap())
            })
            .collect()
    }
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in the scrape:\n{samples:#?}"))
}

/// An upgrade pass (queued as the schedule queues it), an alert that
/// reverts the prod bump and the same alert again (the revert is under
/// way), a promotion check, and three chat commands: allowed, invalid,
/// refused.
async fn drive(w: &World) {
    let job = Job::Upgrade(UpgradeRequest {
        reason: "schedule".into(),
    });
    let envelope = JobEnvelope::new(&job, "upgrade-test".into(), None, chrono::Utc::now()).unwrap();
    w.queue.publish(&envelope).await.unwrap();
    w.run_one().await;
    w.alert("a1b2c3d4e5f60718").await;
    w.run_one().await;
    w.alert("0718a1b2c3d4e5f6").await;
    w.run_one().await;
    // A promotion check for the upgrade PR the pass opened: Argo CD is
    // not configured, so it gives up (and says so on the PR).
    let check = Job::Promotion(PromotionCheck {
        chart: "podinfo".into(),
        version: "6.5.0".into(),
        from_env: "dev".into(),
        to_env: "staging".into(),
        pull: 1,
        merge_commit: CommitSha::parse(git(&w.repo, &["rev-parse", "HEAD"]).trim()).unwrap(),
        merged_at: chrono::Utc::now(),
        deadline: chrono::Utc::now() + chrono::Duration::days(1),
    });
    let envelope =
        JobEnvelope::new(&check, "promotion-test".into(), None, chrono::Utc::now()).unwrap();
    w.queue.publish(&envelope).await.unwrap();
    w.run_one().await;
    w.chat("ops", "/chartpilot status podinfo-prod prod").await;
    w.run_one().await;
    w.chat("ops", "/chartpilot deploy everything").await;
    w.run_one().await;
    w.chat("mallory", "/chartpilot sync podinfo-dev dev").await;
    w.run_one().await;
}

#[tokio::test]
async fn the_scrape_shows_what_the_jobs_did() {
    let started = Instant::now();
    let w = world().await;
    drive(&w).await;
    let s = w.scrape().await;
    let elapsed = started.elapsed().as_secs_f64();

    // The matrix of the pass: dev behind (minor), prod ahead of dev, the
    // dead repository's pin unknown.
    // The repository's key: a local repository's path.
    let repo = w.repo.display().to_string();
    let pins = |env: &str, update: &str| {
        format!("chartpilot_pins{{gitops_repository=\"{repo}\",kind=\"argocd\",environment=\"{env}\",update=\"{update}\"}}")
    };
    assert_eq!(value(&s, &pins("dev", "minor")), 1.0);
    assert_eq!(value(&s, &pins("dev", "unknown")), 1.0);
    assert_eq!(value(&s, &pins("prod", "none")), 1.0);
    assert_eq!(
        value(
            &s,
            &format!("chartpilot_pins_drifting{{gitops_repository=\"{repo}\",kind=\"argocd\",environment=\"prod\",update=\"none\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            &format!("chartpilot_pins_behind{{gitops_repository=\"{repo}\",kind=\"argocd\",environment=\"dev\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            &format!("chartpilot_pins_behind{{gitops_repository=\"{repo}\",kind=\"argocd\",environment=\"prod\"}}")
        ),
        0.0
    );
    let age = value(
        &s,
        &format!("chartpilot_oldest_unadopted_release_age_seconds{{gitops_repository=\"{repo}\",chart=\"podinfo\"}}"),
    );
    let want = (OLDEST_UNADOPTED_DAYS * 86_400) as f64;
    assert!(
        age >= want - 1.0 && age <= want + elapsed + 1.0,
        "{age} s, want {want} s"
    );
    assert!(!s.keys().any(|k| k.contains("chart=\"gone\"")), "{s:#?}");

    // Lookups by repository host, never by URL.
    let lookups = |host: &str| format!("chartpilot_chart_lookups_total{{repository=\"{host}\"}}");
    assert_eq!(value(&s, &lookups("charts.example.org")), 1.0);
    assert_eq!(value(&s, &lookups("127.0.0.1:9")), 1.0);
    assert_eq!(
        value(
            &s,
            "chartpilot_chart_lookup_failures_total{repository=\"127.0.0.1:9\"}"
        ),
        1.0
    );
    assert!(!s
        .keys()
        .any(|k| k.starts_with("chartpilot_chart_lookup_failures_total{repository=\"charts.")));

    // What the jobs did.
    assert_eq!(
        value(
            &s,
            "chartpilot_pull_request_actions_total{action=\"opened\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "chartpilot_pull_request_actions_total{action=\"failed\"}"
        ),
        0.0
    );
    let rollback = |outcome: &str, reason: &str| {
        format!("chartpilot_rollback_decisions_total{{outcome=\"{outcome}\",reason=\"{reason}\"}}")
    };
    assert_eq!(value(&s, &rollback("reverted", "change_in_window")), 1.0);
    assert_eq!(value(&s, &rollback("skipped", "already_reverting")), 1.0);
    assert_eq!(value(&s, &rollback("skipped", "other")), 0.0);
    let chat = |verb: &str, outcome: &str| {
        format!("chartpilot_chat_commands_total{{verb=\"{verb}\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(value(&s, &chat("status", "allowed")), 1.0);
    assert_eq!(value(&s, &chat("unknown", "invalid")), 1.0);
    assert_eq!(value(&s, &chat("sync", "refused")), 1.0);
    assert_eq!(
        value(
            &s,
            "chartpilot_promotion_checks_total{outcome=\"promoted\"}"
        ),
        0.0
    );

    // From each job's creation to its effect, per kind.
    for (kind, jobs) in [
        ("chartpilot.upgrade", 1.0),
        ("chartpilot.promotion_check", 1.0),
        ("alertmanager.notification", 2.0),
        ("chat.command", 3.0),
    ] {
        let count = value(
            &s,
            &format!("chartpilot_webhook_to_effect_seconds_count{{kind=\"{kind}\"}}"),
        );
        let sum = value(
            &s,
            &format!("chartpilot_webhook_to_effect_seconds_sum{{kind=\"{kind}\"}}"),
        );
        assert_eq!(count, jobs, "{kind}");
        assert!(sum > 0.0 && sum <= jobs * elapsed, "{kind}: {sum} s");
        let inf =
            format!("chartpilot_webhook_to_effect_seconds_bucket{{le=\"+Inf\",kind=\"{kind}\"}}");
        assert_eq!(value(&s, &inf), jobs, "{kind}");
    }

    // Bounded labels: no version, commit or alert name in any label value.
    for series in s.keys() {
        let values: Vec<&str> = series.split('"').skip(1).step_by(2).collect();
        let series = values.join(" ");
        for leak in [
            "6.5.0",
            "6.6.0",
            "KubeDeployment",
            "a1b2c3d4",
            "ops",
            "mallory",
            "https://",
        ] {
            assert!(!series.contains(leak), "{series} carries {leak}");
        }
    }
}

/// The scrape of a service on the fake GitHub after one upgrade pass: the
/// GitHub budget families, as the fake's headers state them.
async fn github_scrape() -> String {
    let fake = support::fake_github::FakeGithub::start().await;
    fake.seed(&[("README.md", "# gitops\n")]);
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let settings = test_settings(
        Backend::Embedded,
        "",
        dir.path(),
        &secrets,
        &support::env_vars(&fake.env()),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let handler = ServiceHandler::from_settings(&settings, Arc::clone(&clock)).await;
    let app = Application::build_with(&settings, Role::All, Arc::new(handler), clock)
        .await
        .unwrap();
    let port = app.port();
    let (server, worker, queue) = app.into_parts();
    tokio::spawn(server);
    let pass = JobEnvelope::new(
        &Job::Upgrade(UpgradeRequest {
            reason: "test".into(),
        }),
        "github-pass".into(),
        None,
        chrono::Utc::now(),
    )
    .unwrap()
    .in_repository(settings.git.key());
    queue.publish(&pass).await.unwrap();
    assert_eq!(support::next_outcome(&worker.unwrap()).await, Outcome::Done);
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Every call of the pass was counted, and the budget is the fake's
    // after them.
    let counted = fake.counted_calls().len();
    let installation = text
        .lines()
        .find_map(|l| l.strip_prefix("chartpilot_github_rate_limit_remaining{installation=\""))
        .and_then(|rest| rest.split_once('"'))
        .map(|(i, _)| i.to_owned())
        .expect("a remaining-budget series");
    assert!(installation.starts_with("token-"), "{installation}");
    assert!(!text.contains(&fake.token), "the token never shows");
    let sample = |series: String| {
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .map(|v| v.trim().parse::<f64>().unwrap())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        sample(format!(
            "chartpilot_github_calls_total{{installation=\"{installation}\",counted=\"true\"}}"
        )),
        counted as f64
    );
    assert_eq!(
        sample(format!(
            "chartpilot_github_rate_limit_remaining{{installation=\"{installation}\"}}"
        )),
        (5000 - counted) as f64
    );
    text
}

/// The families of a scrape (`# TYPE name kind`) and the sample names
/// each gives in the text format.
fn families(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| {
            let samples = match kind {
                "counter" => vec![format!("{name}_total")],
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{name}{s}"))
                    .collect(),
                _ => vec![name.to_owned()],
            };
            (name.to_owned(), samples)
        })
        .collect()
}

/// Every metric the Grafana dashboard queries is one a running service
/// exports, and every family the service exports is on the dashboard. A
/// family appears once it has a series, so the scrape follows real jobs:
/// the scenario above, a job parked for an unknown kind, and (on a
/// service whose handler fails once) a job retried and a webhook
/// delivered twice.
#[tokio::test]
async fn the_dashboard_queries_what_the_scrape_exports() {
    let w = world().await;
    drive(&w).await;
    let mut odd = JobEnvelope::new(
        &Job::Upgrade(UpgradeRequest {
            reason: "schedule".into(),
        }),
        "odd".into(),
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    odd.kind = "chartpilot.no_such_kind".into();
    w.queue.publish(&odd).await.unwrap();
    let parked = support::next_outcome(&w.worker).await;
    assert!(matches!(parked, Outcome::Parked { .. }), "{parked:?}");
    let mut exported = families(&w.scrape_text().await);

    let mut options = support::Options::new(Backend::Embedded);
    options.mode = support::Mode::FailFirst(1);
    let failing = support::spawn_app(options).await;
    let body = serde_json::json!({ "user": "ops", "text": "help" }).to_string();
    assert_eq!(failing.post_chat(body.as_bytes()).await.status(), 202);
    assert!(matches!(
        failing.process_one().await,
        Outcome::Retried { .. }
    ));
    // A redelivered webhook: counted as a duplicate, not queued again.
    let push = std::fs::read(
        support::corpus().join("github/captured/push.gitops-repo.argo-cd-testdata.json"),
    )
    .unwrap();
    for _ in 0..2 {
        assert_eq!(
            failing.post_github("push", "again", &push).await.status(),
            202
        );
    }
    let text = failing.get("/metrics").await.text().await.unwrap();
    exported.extend(families(&text));
    failing.cleanup().await;
    exported.extend(families(&github_scrape().await));

    let samples: BTreeSet<&String> = exported.values().flatten().collect();
    let used: BTreeSet<String> = expressions(&dashboard())
        .iter()
        .flat_map(|(_, _, e)| metric_names(e))
        .collect();
    let unknown: Vec<&String> = used.iter().filter(|u| !samples.contains(u)).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries what /metrics does not export: {unknown:?}\nexported: {samples:?}"
    );
    let unshown: Vec<&String> = exported
        .iter()
        .filter(|(_, s)| !s.iter().any(|s| used.contains(s)))
        .map(|(name, _)| name)
        .collect();
    assert!(
        unshown.is_empty(),
        "/metrics exports families no dashboard panel shows: {unshown:?}"
    );
    assert!(exported.len() >= 18, "{exported:?}");
}
