//! Through the real Alertmanager: the test posts the alert to
//! Alertmanager's v2 API, Alertmanager delivers it to the service with its
//! bearer token, and the worker reverts the change: once on a local
//! repository, once through the fake GitHub. The chat message goes to a
//! local listener standing in for Slack's incoming webhook.

use std::time::{Duration, Instant};

use chartpilot::settings::Settings;

use super::alertmanager::Alertmanager;
use super::support::fake_github::{FakeGithub, Recorded};
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

/// The service on `settings` plus the rule, serving and working in the
/// background; returns its port and the Alertmanager pointed at it.
async fn start(
    dir: &std::path::Path,
    secrets: &support::TestSecrets,
    extra: &[(&str, String)],
) -> (u16, Alertmanager) {
    let mut extra = support::env_vars(extra);
    extra.extend(support::env_vars(&[("UPGRADE__INTERVAL", "0s".to_owned())]));
    let mut settings = support::test_settings(support::Backend::Embedded, "", dir, secrets, &extra);
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, rule("revert-pr")).unwrap();
    settings.rollback = Settings::load(Some(&rules), &Default::default())
        .unwrap()
        .rollback;
    let (port, worker) = support::start_service(&settings).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop); // the worker runs until the test ends
    tokio::spawn(worker.run(stopped));
    let am = Alertmanager::start(
        &format!("http://127.0.0.1:{port}/webhooks/alertmanager"),
        &secrets.alertmanager,
    )
    .await;
    (port, am)
}

async fn fire(am: &Alertmanager) {
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
}

/// Notifications Alertmanager itself says it delivered to the webhook, from
/// its own metrics: a repeat is answered 202 by chartpilot and not queued
/// again (the same group in the same state), so chartpilot's job counters
/// do not see it.
async fn notifications_sent(am: &Alertmanager) -> u64 {
    let text = reqwest::get(format!("{}/metrics", am.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("alertmanager_notifications_total")
                && l.contains("integration=\"webhook\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits until Alertmanager delivered the firing group once more.
async fn await_repeat(am: &Alertmanager) {
    let first = notifications_sent(am).await;
    let until = Instant::now() + PATIENCE;
    while notifications_sent(am).await < first + 1 {
        assert!(
            Instant::now() < until,
            "Alertmanager sent no second notification"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_alert_through_alertmanager_reverts_the_bump_once_in_a_local_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let bump = local_repository(&repo);
    let (slack_url, slack, _slack) = support::json_listener();
    let secrets = support::TestSecrets::random();
    let (port, am) = start(
        dir.path(),
        &secrets,
        &[
            ("GIT__PROVIDER", "local".to_owned()),
            ("GIT__PATH", repo.display().to_string()),
            ("SLACK__WEBHOOK_URL", slack_url),
        ],
    )
    .await;
    fire(&am).await;

    let branch = format!("chartpilot/revert/{bump}");
    let until = Instant::now() + PATIENCE;
    while slack.lock().unwrap().is_empty() {
        assert!(Instant::now() < until, "no revert");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let diff = git(&repo, &["diff", "--unified=0", "main", &branch]);
    assert_only_the_prod_pin_goes_back(&diff);
    let message = slack.lock().unwrap()[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("chartpilot rollback: podinfo-prod in prod goes back from 6.6.0 to 6.5.0 (revert PR #8)"),
        "{message}"
    );
    assert!(!message.contains(&secrets.alertmanager));

    await_repeat(&am).await;
    // The repeat was answered and not queued again: one job in all.
    assert_eq!(notifications_handled(port).await, 1);
    let log = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("chartpilot/revert/"))
            .count(),
        1,
        "one revert PR: {log}"
    );
    assert_eq!(slack.lock().unwrap().len(), 1, "one message");
}

#[tokio::test]
async fn an_alert_through_alertmanager_reverts_the_merged_bump_once_through_github() {
    let fake = FakeGithub::start().await;
    let (merge, bump_pr) = github_bump(&fake);

    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets::random();
    let (port, am) = start(dir.path(), &secrets, &fake.env()).await;
    fake.clear_requests();
    let started = Instant::now();
    fire(&am).await;

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
    // The commit says what it reverts, as `git revert` would.
    let message = fake.message(&head);
    assert!(
        message.starts_with(
            "Revert \"Merge pull request #1 from acme/bump-podinfo\"\n\nThis reverts commit "
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("This reverts commit {merge}.")),
        "{message}"
    );
    // A bounded number of calls (see docs/rollback.md for the list): six,
    // and a seventh here, where the repository has no `rollback` label yet
    // (GitHub creates it on the REST call that names it).
    assert!(calls.len() <= 7, "{calls:#?}");
    assert_eq!(
        calls.iter().filter(|c| c.ends_with("/labels")).count(),
        1,
        "{calls:#?}"
    );
    assert!(fake.labels().contains(&"rollback".to_owned()));

    // Alertmanager repeats the firing group; the repeat changes nothing.
    let writes_before = fake.api_calls().iter().filter(|c| c.is_write()).count();
    let calls_before = fake.api_calls().len();
    await_repeat(&am).await;
    // The repeat was answered and not queued again: one job in all.
    assert_eq!(notifications_handled(port).await, 1);
    let reverts = fake
        .pulls()
        .into_iter()
        .filter(|p| p.head.starts_with("chartpilot/revert/"))
        .count();
    assert_eq!(reverts, 1);
    let writes_after = fake.api_calls().iter().filter(|c| c.is_write()).count();
    assert_eq!(writes_after, writes_before, "the repeat wrote nothing");
    assert_eq!(fake.api_calls().len(), calls_before, "nor read anything");
}

/// The service on `fake` with a firing alert sent through Alertmanager,
/// once `done` holds: what must stay alive while the test reads the fake,
/// and the GitHub calls made since the alert.
async fn alert_until(
    fake: &FakeGithub,
    done: impl Fn() -> bool,
) -> ((tempfile::TempDir, Alertmanager), Vec<Recorded>) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets::random();
    let (_port, am) = start(dir.path(), &secrets, &fake.env()).await;
    fake.clear_requests();
    fire(&am).await;
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "no revert PR");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ((dir, am), fake.api_calls())
}

/// The history read costs the same whatever the number of commits in the
/// rollout window: ten more commits on main after the bump (over REST, a
/// comparison each) and the rollback makes the same calls as with none.
/// In all, six: the branch's tarball (its commit in the pax header), the
/// history query, the texts query (with the revert PR and the bump's PR
/// and comments), the step's comparison, and two mutations (branch, commit
/// and PR; labels and the comment on the bump's PR).
#[tokio::test]
async fn the_calls_of_a_rollback_do_not_grow_with_the_commits_in_the_window() {
    let fake = FakeGithub::start().await;
    let (merge, _) = github_bump(&fake);
    for i in 0..10 {
        fake.commit_files("main", &[("docs/notes.md", &format!("note {i}\n"))]);
    }
    // The labels a repository's first revert PR created.
    for label in ["rollback", "chartpilot"] {
        fake.create_label(label);
    }
    let branch = format!("chartpilot/revert/{merge}");
    let (_running, recorded) = alert_until(&fake, || {
        fake.pulls().iter().any(|p| p.head == branch) && !fake.comments(1).is_empty()
    })
    .await;
    let calls: Vec<String> = recorded.iter().map(Recorded::line).collect();
    assert!(calls.len() <= 6, "{} calls: {calls:#?}", calls.len());
    let writes = recorded.iter().filter(|c| c.is_write()).count();
    assert_eq!(writes, 2, "two mutations: {calls:#?}");
    let pr = fake.pulls().into_iter().find(|p| p.head == branch).unwrap();
    assert_eq!(pr.labels, ["chartpilot", "rollback"]);
    assert!(fake.comments(1)[0].contains(&format!("/pull/{}.", pr.number)));
    let reads_of_history = calls
        .iter()
        .filter(|c| c.starts_with("GET "))
        .filter(|c| c.contains("/compare/") || c.contains("/commits") || c.contains("/contents/"))
        .count();
    assert_eq!(
        reads_of_history, 1,
        "one comparison, of the step: {calls:#?}"
    );
    // The revert undoes the bump and keeps the notes.
    let head = fake.branch(&branch).unwrap();
    assert_eq!(
        String::from_utf8(fake.file(&head, "docs/notes.md").unwrap()).unwrap(),
        "note 9\n"
    );
    assert_eq!(
        String::from_utf8(fake.file(&head, "environments/prod/podinfo.yaml").unwrap()).unwrap(),
        app("prod", "6.5.0")
    );
}

/// A window with many changes of the pin: their texts come in several
/// queries of a size GitHub answers, and the newest change is the one
/// reverted.
#[tokio::test]
async fn a_window_of_many_pin_changes_reverts_the_newest() {
    let fake = FakeGithub::start().await;
    github_bump(&fake);
    // 60 more bumps pushed to main: 6.6.1 … 6.6.60.
    let mut newest = String::new();
    for i in 1..=60 {
        newest = fake.commit_files(
            "main",
            &[(
                "environments/prod/podinfo.yaml",
                &app("prod", &format!("6.6.{i}")),
            )],
        );
    }
    let branch = format!("chartpilot/revert/{newest}");
    let (_running, calls) =
        alert_until(&fake, || fake.pulls().iter().any(|p| p.head == branch)).await;
    let head = fake.branch(&branch).unwrap();
    assert_eq!(
        String::from_utf8(fake.file(&head, "environments/prod/podinfo.yaml").unwrap()).unwrap(),
        app("prod", "6.6.59")
    );
    let queries = calls
        .iter()
        .filter(|c| c.line().ends_with(" /graphql") && !c.is_write())
        .count();
    // The history, and 62 texts (6.5.0, 6.6.0 … 6.6.60) in two queries.
    assert_eq!(queries, 3);
}
