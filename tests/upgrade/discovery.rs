//! `[repositories] discover = true`: the repositories of a GitHub App's
//! installation that hold pins are served, each with the top-level
//! settings; archived and excluded ones and those without pins are not.
//! A later round follows the organisation: a repository taken out of the
//! App's selection is dropped with its metrics, one that gained pins is
//! served. A round over an unchanged organisation costs one counted call.

use std::sync::Arc;
use std::time::Duration;

use chartpilot::clock::SystemClock;
use chartpilot::settings::Settings;
use chartpilot::worker::repos::Repositories;
use chartpilot::worker::JobHandler;

use super::org::{discovering_config, drain, fixture_file, heads, pass, seed, start};
use super::support::fake_github::FakeGithub;
use super::support::PATIENCE;
use super::{scratch, CERT_MANAGER_BRANCH, PODINFO_BRANCH};

fn served(repos: &Repositories) -> Vec<String> {
    repos.served().iter().map(|s| s.key.clone()).collect()
}

async fn metrics(base: &str) -> String {
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn discovery_serves_the_installations_repositories_with_pins_and_follows_changes() {
    let org = FakeGithub::start_org(
        "acme",
        &["platform", "apps", "docs", "legacy", "sandbox-one"],
    )
    .await;
    let [platform, apps, docs, legacy, sandbox] = &org[..] else {
        unreachable!()
    };
    seed(platform, |p| p.ends_with(".tf"));
    seed(apps, |p| p.starts_with("environments/"));
    seed(docs, |_| false);
    seed(legacy, |p| p.starts_with("environments/"));
    seed(sandbox, |p| p.starts_with("environments/"));
    legacy.set_archived(true);
    let app = FakeGithub::enable_app_on_all(&org, 77);

    let scratch = scratch("6.6.0");
    let config = discovering_config(
        &scratch,
        &app,
        &platform.url,
        0,
        "[upgrade]\ninterval = \"0s\"\n\
         [repositories]\ndiscover = true\nexclude = [\"ACME/sandbox-*\"]\n",
    );
    let settings = Settings::load(Some(&config), &Default::default()).expect("settings");
    assert!(settings.serves_many());
    let clock = Arc::new(SystemClock);
    let repos = Arc::new(Repositories::from_settings(&settings, clock.clone()).await);
    assert_eq!(
        served(&repos),
        ["acme/platform", "acme/apps"],
        "docs has no pins, legacy is archived, sandbox-one is excluded"
    );
    let mut keys = repos.keys();
    assert_eq!(*keys.borrow_and_update(), served(&repos));
    // /readyz and check-config --probe say what was found.
    let features = chartpilot::features::assess_repositories(&settings, &repos).await;
    assert_eq!(features.0[0].name, "repositories");
    assert_eq!(
        features.0[0].state,
        chartpilot::features::State::On {
            note: Some("2 discovered: acme/platform, acme/apps".into())
        }
    );

    let (base, worker, queue) = start(&settings, Arc::clone(&repos) as Arc<dyn JobHandler>).await;

    // One pass naming no repository: each discovered repository gets its own.
    let pass_all = pass(None, "test", "upgrade-discovered");
    queue.publish(&pass_all).await.unwrap();
    assert_eq!(
        drain(&worker).await,
        3,
        "the job and one pass per repository"
    );
    assert_eq!(heads(platform), [CERT_MANAGER_BRANCH]);
    assert!(
        heads(apps).contains(&PODINFO_BRANCH.to_owned()),
        "{:?}",
        heads(apps)
    );
    for fake in [docs, legacy, sandbox] {
        assert!(
            fake.pulls().is_empty(),
            "{}: {:?}",
            fake.repository(),
            heads(fake)
        );
    }
    let text = metrics(&base).await;
    assert!(text.contains("chartpilot_repositories_served 2"), "{text}");
    assert!(text.contains("gitops_repository=\"acme/apps\""), "{text}");

    // Nothing changed: one counted call (the App's installations, which a
    // JWT cannot ask conditionally); the rest are 304s.
    org.iter().for_each(FakeGithub::clear_requests);
    assert_eq!(repos.discover().await.unwrap(), (2, 3));
    let counted: Vec<String> = org
        .iter()
        .flat_map(|f| f.counted_calls())
        .map(|c| c.line())
        .collect();
    assert_eq!(counted, ["GET /app/installations"], "{counted:#?}");

    // The organisation changes: apps leaves the App's selection, docs gets
    // pins, legacy is unarchived.
    apps.set_installed(false);
    docs.commit_files(
        "main",
        &[(
            "environments/dev/podinfo.yaml",
            &fixture_file("environments/dev/podinfo.yaml"),
        )],
    );
    legacy.set_archived(false);
    // A job for a repository not served starts a round of its own: docs is
    // found and passed at once, without waiting for the next round.
    queue
        .publish(&pass(Some("acme/docs"), "test", "upgrade-asked"))
        .await
        .unwrap();
    assert_eq!(drain(&worker).await, 1);
    assert!(
        heads(docs).contains(&PODINFO_BRANCH.to_owned()),
        "{:?}",
        heads(docs)
    );
    assert_eq!(
        repos.discover().await.unwrap(),
        (3, 1),
        "sandbox-one left out; apps no longer listed"
    );
    assert_eq!(
        served(&repos),
        ["acme/platform", "acme/docs", "acme/legacy"]
    );
    assert!(keys.has_changed().unwrap(), "the schedule hears of it");
    assert_eq!(*keys.borrow_and_update(), served(&repos));
    let text = metrics(&base).await;
    assert!(text.contains("chartpilot_repositories_served 3"), "{text}");
    assert!(
        !text.contains("gitops_repository=\"acme/apps\""),
        "a repository no longer served leaves no series: {text}"
    );

    // A pass of the dropped repository is not acted on (and starts no
    // second round within the minute).
    org.iter().for_each(FakeGithub::clear_requests);
    let apps_before = apps.pulls().len();
    queue
        .publish(&pass(Some("acme/apps"), "test", "upgrade-dropped"))
        .await
        .unwrap();
    assert_eq!(drain(&worker).await, 1);
    assert_eq!(apps.pulls().len(), apps_before, "apps is no longer served");
    let calls: Vec<String> = org
        .iter()
        .flat_map(|f| f.api_calls())
        .map(|c| c.line())
        .collect();
    assert!(calls.is_empty(), "{calls:#?}");
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chartpilot serve` with discovery: the schedule passes the repositories
/// the first round found, and a repository that gains pins later is found
/// by a later round and passed too, with nothing but the clock moving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_schedules_what_discovery_finds_and_what_a_later_round_adds() {
    let org = FakeGithub::start_org("acme", &["apps", "late"]).await;
    let [apps, late] = &org[..] else {
        unreachable!()
    };
    seed(apps, |p| p.starts_with("environments/"));
    seed(late, |_| false);
    let app = FakeGithub::enable_app_on_all(&org, 78);
    let scratch = scratch("6.6.0");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = discovering_config(
        &scratch,
        &app,
        &apps.url,
        port,
        "[upgrade]\ninterval = \"2s\"\njitter = \"0s\"\n[repositories]\ndiscover = true\n",
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The fake answers on this runtime: wait off it. Killed however the
    // test ends.
    let mut child = Kill(child);
    let _child = tokio::task::spawn_blocking(move || {
        super::support::process::wait_healthy(port, &mut child.0, Duration::from_secs(30));
        child
    })
    .await
    .unwrap();

    let until = std::time::Instant::now() + PATIENCE * 2;
    let has_pr = |fake: &FakeGithub| fake.pulls().iter().any(|p| p.head == PODINFO_BRANCH);
    while !has_pr(apps) {
        assert!(
            std::time::Instant::now() < until,
            "no scheduled pass of acme/apps"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(late.pulls().is_empty(), "late has no pins yet");

    late.commit_files(
        "main",
        &[(
            "environments/dev/podinfo.yaml",
            &fixture_file("environments/dev/podinfo.yaml"),
        )],
    );
    while !has_pr(late) {
        assert!(
            std::time::Instant::now() < until,
            "the repository that gained pins was never passed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An App whose installations cannot be listed serves nothing, and says so:
/// the `repositories` feature is broken, naming the error, so `/readyz`
/// takes the worker out of rotation until a round lists them.
#[tokio::test]
async fn discovery_that_cannot_list_the_installations_is_a_broken_feature() {
    let org = FakeGithub::start_org("acme", &["apps"]).await;
    let app = FakeGithub::enable_app_on_all(&org, 80);
    let scratch = scratch("6.6.0");
    // Nothing listens on port 1.
    let config = discovering_config(
        &scratch,
        &app,
        "http://127.0.0.1:1",
        0,
        "[upgrade]\ninterval = \"0s\"\n[repositories]\ndiscover = true\n",
    );
    let settings = Settings::load(Some(&config), &Default::default()).expect("settings");
    let repos = Repositories::from_settings(&settings, Arc::new(SystemClock)).await;
    assert!(repos.served().is_empty());
    let features = chartpilot::features::assess_repositories(&settings, &repos).await;
    let broken: Vec<&str> = features.broken().iter().map(|f| f.name).collect();
    assert_eq!(broken, ["repositories"], "{features:?}");
    let chartpilot::features::State::Broken { why } = &features.0[0].state else {
        unreachable!()
    };
    assert!(
        why.starts_with(
            "no repository served: the GitHub App's installations could not be listed ("
        ),
        "{why}"
    );
}
