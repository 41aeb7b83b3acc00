//! Through the real Alertmanager and the fake GitHub: the alert is posted
//! to Alertmanager, Alertmanager delivers it to the service with its
//! bearer token, and the worker opens the revert PR on the fake.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::clock::{Clock, SystemClock};
use chartpilot::startup::{Application, Role};
use chartpilot::worker::service::ServiceHandler;

use super::alertmanager::Alertmanager;
use super::support::fake_github::FakeGithub;
use super::support::{self, PATIENCE};
use super::*;

/// How many notifications the worker has handled, from `/metrics`.
async fn notifications_handled(port: u16) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.contains("jobs_consumed") && l.contains("alertmanager.notification"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn an_alert_through_alertmanager_reverts_the_merged_bump_once_through_github() {
    let fake = FakeGithub::start().await;
    let seeded = files();
    let seed = fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
    );
    // A person's PR bumps podinfo in prod, merged with a merge commit.
    fake.set_branch("bump-podinfo", &seed);
    fake.commit_files(
        "bump-podinfo",
        &[("environments/prod/podinfo.yaml", &app("prod", "6.6.0"))],
    );
    let bump_pr = fake.add_pull(
        "bump-podinfo",
        "chore(deps): upgrade podinfo to 6.6.0 in prod",
    );
    let merge = fake.merge_into_base(bump_pr);

    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets {
        github: support::random_secret(),
        alertmanager: support::random_secret(),
        slack: support::random_secret(),
        chat: support::random_secret(),
    };
    // Alertmanager needs the service's port, the service Alertmanager's
    // URL: bind the service first, then start Alertmanager against it.
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, rule("revert-pr")).unwrap();
    let extra: Vec<(String, String)> = [
        ("GIT__PROVIDER", "github".to_owned()),
        ("GIT__REPOSITORY", fake.repository()),
        ("GITHUB__TOKEN", fake.token.clone()),
        ("GITHUB__API_URL", fake.url.clone()),
        ("UPGRADE__INTERVAL", "0s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("CHARTPILOT__{k}"), v))
    .collect();
    let mut settings =
        support::test_settings(support::Backend::Embedded, "", dir.path(), &secrets, &extra);
    settings.rollback = chartpilot::settings::Settings::load(Some(&config), &Default::default())
        .unwrap()
        .rollback;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let handler = Arc::new(ServiceHandler::from_settings(&settings, Arc::clone(&clock)).await);
    assert!(
        handler.rollbacker.is_ok(),
        "{:?}",
        handler.rollbacker.as_ref().err()
    );
    let service = Application::build_with(&settings, Role::All, handler, clock)
        .await
        .unwrap();
    let port = service.port();
    let (server, worker, _queue) = service.into_parts();
    tokio::spawn(server);
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(worker.unwrap().run(stopped));

    let am = Alertmanager::start(
        &format!("http://127.0.0.1:{port}/webhooks/alertmanager"),
        &secrets.alertmanager,
    )
    .await;
    fake.clear_requests();
    let started = Instant::now();
    am.fire(
        &[
            ("alertname", "PodinfoDown"),
            ("argocd_app", "podinfo-prod"),
            ("env", "prod"),
            ("severity", "critical"),
        ],
        "https://runbooks.example.org/podinfo",
    )
    .await;

    // The revert PR opens, and the bump's PR hears about it.
    let branch = format!("chartpilot/revert/{merge}");
    let revert = loop {
        if let Some(p) = fake.pulls().into_iter().find(|p| p.head == branch) {
            if !fake.comments(bump_pr).is_empty() {
                break p;
            }
        }
        assert!(started.elapsed() < PATIENCE, "no revert PR");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let calls: Vec<String> = fake.api_calls().iter().map(|c| c.line()).collect();
    eprintln!(
        "rollback through Alertmanager: {:?} from alert to revert PR; {} GitHub API calls:\n{}",
        started.elapsed(),
        calls.len(),
        calls.join("\n")
    );
    assert_eq!(
        revert.title,
        "Revert \"Merge pull request #1 from acme/bump-podinfo\""
    );
    assert!(revert.body.contains("`PodinfoDown`"), "{}", revert.body);
    assert!(revert.body.contains("`env=prod`"), "{}", revert.body);
    assert!(
        revert
            .body
            .contains("[runbook](https://runbooks.example.org/podinfo)"),
        "{}",
        revert.body
    );
    assert!(
        revert.labels.contains(&"rollback".to_owned()),
        "{:?}",
        revert.labels
    );
    // Exactly the previous pin comes back, in exactly that file.
    let head = fake.branch(&branch).unwrap();
    assert_eq!(
        fake.changed_files(&merge, &head),
        ["environments/prod/podinfo.yaml"]
    );
    assert_eq!(
        String::from_utf8(fake.file(&head, "environments/prod/podinfo.yaml").unwrap()).unwrap(),
        app("prod", "6.5.0")
    );
    assert_eq!(
        fake.parents(&head),
        vec![merge.clone()],
        "one commit on the branch head"
    );
    assert!(
        fake.comments(bump_pr)[0].contains("rolling this change back"),
        "{:?}",
        fake.comments(bump_pr)
    );
    // A bounded number of calls (see docs/rollback.md for the list).
    assert!(calls.len() <= 12, "{calls:#?}");

    // Alertmanager repeats the firing group; the repeat changes nothing.
    let writes_before = fake
        .api_calls()
        .iter()
        .filter(|c| c.method != "GET")
        .count();
    let first = notifications_handled(port).await;
    let until = Instant::now() + PATIENCE;
    while notifications_handled(port).await < first + 1 {
        assert!(
            Instant::now() < until,
            "Alertmanager sent no second notification"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reverts = fake
        .pulls()
        .into_iter()
        .filter(|p| p.head.starts_with("chartpilot/revert/"))
        .count();
    assert_eq!(reverts, 1);
    let writes_after = fake
        .api_calls()
        .iter()
        .filter(|c| c.method != "GET")
        .count();
    assert_eq!(writes_after, writes_before, "the repeat wrote nothing");
}
