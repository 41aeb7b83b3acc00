//! Promotion end to end: a dev upgrade PR merges on the fake GitHub, the
//! signed push webhook goes through the receiver and the queue, the worker
//! syncs the app and queues a promotion check, and the check asks the mock
//! Argo CD and the real Alertmanager (Debian's `prometheus-alertmanager`,
//! started by `scripts/test-services.sh`) whether the version may go on.
//! Each test names apps in alerts through a label of its own, so runs and
//! parallel tests never see each other's alerts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::alerts::{AlertmanagerClient, MatchOp, Matcher};
use chartpilot::clock::{Clock, ManualClock};
use chartpilot::settings::Settings;
use chartpilot::startup::{Application, Role};
use chartpilot::upgrade::Upgrader;
use chartpilot::worker::service::ServiceHandler;
use chartpilot::worker::{Outcome, Worker};

use super::support::fake_github::FakeGithub;
use super::support::mock_argocd::{MockApp, MockArgoCd};
use super::*;

mod held;

const STAGING_BRANCH: &str = "chartpilot/upgrade/staging/podinfo-6.6.0";

fn alertmanager_url() -> String {
    std::env::var("CHARTPILOT_TEST_ALERTMANAGER_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:19093".to_owned())
}

/// How a test's world differs from the stock one.
pub struct Setup {
    /// `promotion.deadline`.
    pub deadline: &'static str,
    /// `alertmanager.api_url`; the real Alertmanager when None.
    pub alertmanager: Option<String>,
    /// `argocd.mode`.
    pub argocd_mode: &'static str,
    /// `queue.retry_delays`.
    pub retry_delays: &'static str,
}

impl Setup {
    pub fn new(deadline: &'static str) -> Self {
        Self {
            deadline,
            alertmanager: None,
            argocd_mode: "api",
            retry_delays: "\"300ms\", \"600ms\"",
        }
    }
}

/// The dev upgrade PR merged on the fake, and the service ready to hear
/// about it.
pub struct World {
    pub scratch: Scratch,
    pub fake: FakeGithub,
    pub argocd: MockArgoCd,
    pub worker: Worker,
    /// The service's clock: deadlines pass when a test moves it.
    pub clock: Arc<ManualClock>,
    port: u16,
    webhook_secret: String,
    /// The label alerts name apps with in this test.
    app_label: String,
    seed: String,
    merge: String,
    dev_pr: u64,
    /// Messages posted to the Slack webhook.
    slack: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    _slack: actix_web::dev::ServerHandle,
}

async fn world(deadline: &'static str) -> World {
    world_with(Setup::new(deadline)).await
}

/// The service `serve` runs on `settings`, on `clock`, with its real
/// handler; every part it needs must have been set up.
async fn start_service(settings: &Settings, clock: Arc<dyn Clock>) -> (u16, Worker) {
    let handler = ServiceHandler::from_settings(settings, Arc::clone(&clock)).await;
    assert!(
        handler.promoter.is_ok(),
        "{:?}",
        handler.promoter.as_ref().err()
    );
    assert!(
        handler.syncer.is_ok(),
        "{:?}",
        handler.syncer.as_ref().err()
    );
    let app = Application::build_with(settings, Role::All, Arc::new(handler), clock)
        .await
        .unwrap();
    let port = app.port();
    let (server, worker, _queue) = app.into_parts();
    tokio::spawn(server);
    (port, worker.unwrap())
}

pub async fn world_with(setup: Setup) -> World {
    let deadline = setup.deadline;
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let argocd = MockArgoCd::start().await;
    let webhook_secret = support::random_secret();
    let (slack_url, slack, slack_handle) = support::json_listener();
    let app_label = format!("cp_{}", uuid::Uuid::new_v4().simple());
    let files = fixture::files();
    let seeded: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let seed = fake.seed(&seeded);
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [queue]\nkind = \"embedded\"\npath = \"{queue}\"\nretry_delays = [{retry_delays}]\n\
         [git]\nprovider = \"github\"\nrepository = \"{repo}\"\nbranch = \"main\"\n\
         [github]\ntoken = \"{token}\"\napi_url = \"{api}\"\nwebhook_secret = \"{webhook_secret}\"\n\
         [argocd]\nmode = \"{argocd_mode}\"\napi_url = \"{argocd_url}\"\ntoken = \"{argocd_token}\"\n\
         [alertmanager]\napi_url = \"{alertmanager}\"\ntoken = \"{am_token}\"\n\
         [slack]\nwebhook_url = \"{slack_url}\"\n\
         [policy]\nsoak = \"0s\"\n\
         [upgrade]\ninterval = \"0s\"\n\
         [promotion]\ndeadline = \"{deadline}\"\nrecheck = \"1s\"\napp_labels = [\"{app_label}\"]\n",
        queue = scratch.tmp.path().join("queue").display(),
        repo = fake.repository(),
        token = fake.token,
        api = fake.url,
        argocd_url = argocd.url,
        argocd_token = argocd.token,
        alertmanager = setup.alertmanager.unwrap_or_else(alertmanager_url),
        retry_delays = setup.retry_delays,
        argocd_mode = setup.argocd_mode,
        am_token = support::random_secret(),
    );
    let settings = settings(scratch.tmp.path(), &config, &scratch.index_dir);

    // The dev PR, opened by an ordinary pass, merged by a person.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let up = Upgrader::from_settings(&settings, clock.clone()).unwrap();
    up.run(false).await.unwrap();
    let dev_pr = fake
        .pulls()
        .into_iter()
        .find(|p| p.head == PODINFO_BRANCH)
        .expect("the dev PR is open")
        .number;
    let merge = fake.merge_into_base(dev_pr);
    // As Argo CD reports a Helm repository source: the chart version.
    argocd.seed(MockApp::new("podinfo-dev", "6.5.0"));

    let (port, worker) = start_service(&settings, clock.clone()).await;
    World {
        scratch,
        fake,
        argocd,
        worker,
        clock,
        port,
        webhook_secret,
        app_label,
        seed,
        merge,
        dev_pr,
        slack,
        _slack: slack_handle,
    }
}

impl World {
    /// GitHub's push webhook for the merge, signed, through the receiver.
    pub async fn push_merge(&self) {
        let body = serde_json::json!({
            "ref": "refs/heads/main",
            "before": self.seed,
            "after": self.merge,
            "repository": { "full_name": self.fake.repository() },
            "sender": { "login": "alice", "type": "User" },
            "commits": [{
                "id": self.merge,
                "message": format!("Merge pull request #{} from acme/{PODINFO_BRANCH}", self.dev_pr),
                "added": [],
                "modified": ["environments/dev/podinfo.yaml"],
                "removed": []
            }]
        })
        .to_string();
        let status =
            support::post_github_event(self.port, &self.webhook_secret, "push", &body).await;
        assert_eq!(status, 202);
    }

    /// Runs queued jobs (the promotion check, the upgrade pass the push
    /// also asked for) until `done` holds, or fails after `jobs` jobs.
    async fn run_until(&self, jobs: usize, done: impl Fn(&Outcome) -> bool) -> Vec<Outcome> {
        let mut seen = Vec::new();
        for _ in 0..jobs {
            let outcome = self.next().await;
            let stop = done(&outcome);
            seen.push(outcome);
            if stop {
                return seen;
            }
        }
        panic!("no job ended as expected: {seen:?}");
    }

    pub async fn next(&self) -> Outcome {
        super::support::next_outcome(&self.worker).await
    }

    /// Posts a firing alert naming podinfo-dev in this test's app label,
    /// and waits until Alertmanager serves it.
    async fn fire_alert(&self) {
        let starts_at = chrono::Utc::now() - chrono::TimeDelta::seconds(30);
        let labels: BTreeMap<&str, &str> = [
            ("alertname", "PodinfoErrorBudgetBurn"),
            (self.app_label.as_str(), "podinfo-dev"),
            ("env", "dev"),
            ("severity", "critical"),
        ]
        .into_iter()
        .collect();
        let body = serde_json::json!([{
            "labels": labels,
            "annotations": { "summary": "error budget burning" },
            "startsAt": starts_at.to_rfc3339(),
            "endsAt": (starts_at + chrono::TimeDelta::minutes(5)).to_rfc3339(),
            "generatorURL": "http://127.0.0.1:9/chartpilot-test",
        }]);
        let url = format!("{}/api/v2/alerts", alertmanager_url());
        let response = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("{url}: {e} (start it with `bash scripts/test-services.sh`)")
            });
        assert!(response.status().is_success(), "{}", response.status());
        let client = AlertmanagerClient::new(&alertmanager_url(), Duration::from_secs(5)).unwrap();
        let matcher = Matcher::new(self.app_label.clone(), MatchOp::Equal, "podinfo-dev");
        let until = Instant::now() + support::PATIENCE;
        while client
            .firing(std::slice::from_ref(&matcher))
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                Instant::now() < until,
                "Alertmanager never served the alert"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_merged_dev_upgrade_is_promoted_to_staging_once_dev_runs_it_healthy() {
    let w = world("10m").await;
    w.push_merge().await;
    // The push: podinfo-dev synced to the merge, a promotion check queued.
    assert_eq!(w.next().await, Outcome::Done);
    let syncs: Vec<String> = w
        .argocd
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect();
    assert_eq!(syncs, ["/api/v1/applications/podinfo-dev/sync"]);

    // Argo CD still runs the old version: the check waits.
    w.run_until(3, |o| matches!(o, Outcome::Deferred { .. }))
        .await;
    assert!(w.fake.branch(STAGING_BRANCH).is_none());

    // The sync finishes: dev runs 6.6.0, Synced and Healthy, quiet.
    w.argocd.finish_operation("podinfo-dev", "Succeeded");
    assert_eq!(
        w.argocd.app("podinfo-dev").unwrap().revision.as_deref(),
        Some("6.6.0"),
        "the sync asked for the chart version"
    );
    let fake = &w.fake;
    fake.clear_requests();
    for _ in 0..6 {
        if fake.branch(STAGING_BRANCH).is_some() {
            break;
        }
        w.next().await;
    }
    // The figure docs/upgrades.md quotes: GitHub calls of the check that
    // promotes.
    let calls: Vec<String> = fake.api_calls().iter().map(|c| c.line()).collect();
    eprintln!(
        "promotion: {} GitHub API calls:\n{}",
        calls.len(),
        calls.join("\n")
    );

    // The push's upgrade pass left its version matrix on /metrics.
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", w.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "chartpilot_pins{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"dev\",update=\"none\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "chartpilot_pins{gitops_repository=\"acme/gitops\",kind=\"terraform\",environment=\"-\","
        ),
        "{metrics}"
    );

    let staging = w
        .fake
        .pulls()
        .into_iter()
        .find(|p| p.head == STAGING_BRANCH)
        .expect("the staging PR is open");
    assert_eq!(staging.state, "open");
    assert_eq!(
        staging.title,
        "chore(deps): upgrade podinfo to 6.6.0 in staging"
    );
    assert!(
        staging.body.contains(&format!(
            "from **dev**, where #{} merged it (`{}`)",
            w.dev_pr,
            &w.merge[..12]
        )),
        "{}",
        staging.body
    );
    assert!(
        staging.body.contains("no firing alerts"),
        "{}",
        staging.body
    );
    // Exactly the staging version token changes.
    let base = w.fake.branch("main").unwrap();
    let head = w.fake.branch(STAGING_BRANCH).unwrap();
    let changed: std::collections::HashMap<String, String> = w
        .fake
        .changed_files(&base, &head)
        .into_iter()
        .map(|f| {
            let text = String::from_utf8(w.fake.file(&head, &f).unwrap()).unwrap();
            (f, text)
        })
        .collect();
    let original: std::collections::HashMap<String, String> =
        fixture::files().into_iter().collect();
    assert_only_version_tokens(
        &original,
        &changed,
        &[("environments/staging/podinfo.yaml", "6.5.0", "6.6.0")],
    );
    // The merged PR hears where its version went.
    let notes = w.fake.comments(w.dev_pr);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].contains("Promoted to **staging**"), "{}", notes[0]);
    // And chat hears it once.
    let said: Vec<String> = w
        .slack
        .lock()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("chartpilot promoted podinfo 6.6.0 from dev to staging: https://"),
        "{said:?}"
    );
    // Nothing for prod yet: that waits for the staging merge.
    assert!(w
        .fake
        .pulls()
        .iter()
        .all(|p| !p.head.starts_with("chartpilot/upgrade/prod/")));
}
