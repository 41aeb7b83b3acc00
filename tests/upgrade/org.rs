//! What the tests of several repositories share: seeding a fake with part
//! of the fixture, running queued jobs to the end, the PR heads of a fake,
//! and the configuration of a discovering service.

use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::jobs::{Job, JobEnvelope, UpgradeRequest};
use chartpilot::queue::JobQueue;
use chartpilot::settings::Settings;
use chartpilot::startup::{Application, Role};
use chartpilot::worker::{JobHandler, Outcome, Worker};

use super::fixture::{self, CHARTS_URL};
use super::support::fake_github::{AppCredentials, FakeGithub};
use super::Scratch;

/// The service on `settings` with `handler`, its server running: its base
/// URL, its worker (driven by the test) and its queue.
pub async fn start(
    settings: &Settings,
    handler: Arc<dyn JobHandler>,
) -> (String, Worker, Arc<dyn JobQueue>) {
    let app = Application::build_with(settings, Role::All, handler, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (server, worker, queue) = app.into_parts();
    tokio::spawn(server);
    (base, worker.unwrap(), queue)
}

/// An upgrade pass asked with `reason` and delivery id `id`, in
/// `repository`'s lane, or naming none (each repository gets one).
pub fn pass(repository: Option<&str>, reason: &str, id: &str) -> JobEnvelope {
    let job = JobEnvelope::new(
        &Job::Upgrade(UpgradeRequest {
            reason: reason.into(),
        }),
        id.into(),
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    match repository {
        Some(r) => job.in_repository(r),
        None => job,
    }
}

/// Runs jobs until none arrives for a while; how many ran.
pub async fn drain(worker: &Worker) -> usize {
    let mut ran = 0;
    while let Ok(Some(outcome)) =
        tokio::time::timeout(Duration::from_secs(2), worker.process_one()).await
    {
        assert_eq!(outcome.expect("settled"), Outcome::Done);
        ran += 1;
        assert!(ran < 20, "jobs keep coming");
    }
    ran
}

/// Seeds `fake` with the fixture's files that `keep` takes, and a README.
pub fn seed(fake: &FakeGithub, keep: impl Fn(&str) -> bool) -> String {
    let files: Vec<(String, String)> = fixture::files()
        .into_iter()
        .filter(|(p, _)| keep(p))
        .collect();
    let mut seeded: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    seeded.push(("README.md", "# a repository\n"));
    fake.seed(&seeded)
}

/// The fixture's text of `path`.
pub fn fixture_file(path: &str) -> String {
    fixture::files()
        .into_iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path} in the fixture"))
        .1
}

/// The head branches of `fake`'s pull requests, sorted.
pub fn heads(fake: &FakeGithub) -> Vec<String> {
    let mut h: Vec<String> = fake.pulls().iter().map(|p| p.head.clone()).collect();
    h.sort();
    h
}

/// A configuration for the App's repositories at `url`, listening on
/// `port` (0: any), with the scratch's chart index and `extra` (TOML) at
/// the end; its path.
pub fn discovering_config(
    scratch: &Scratch,
    app: &AppCredentials,
    url: &str,
    port: u16,
    extra: &str,
) -> PathBuf {
    let config = scratch.tmp.path().join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [queue]\npath = \"{queue}\"\n\
             [github]\napp_id = {app_id}\nprivate_key_file = \"{key}\"\napi_url = \"{url}\"\n\
             [helm]\ntimeout = \"5s\"\n\
             [[helm.mirrors]]\nfrom = \"{CHARTS_URL}\"\nto = \"file://{index}\"\n\
             {extra}",
            queue = scratch.tmp.path().join("queue").display(),
            app_id = app.app_id,
            key = app.key_file.display(),
            index = scratch.index_dir.display(),
        ),
    )
    .unwrap();
    config
}
