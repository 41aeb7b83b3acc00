//! The GitHub budget at organisation scale: one App installation, its
//! 5,000 counted calls an hour shared by every repository. Discovered
//! repositories (`CHARTPILOT_BUDGET_REPOS`, default 50 in the suite; the
//! figures in docs/architecture.md are of 200) each get one upgrade pass an
//! hour, and the installation's discovery round; the fake GitHub counts
//! what each simulated hour costs (a 304 to a conditional read is not
//! counted, as on GitHub), and the cost is projected to 200 repositories
//! (it grows with their number; a round's one listing call is counted in
//! full). The first hour (every repository read, a PR and a dashboard
//! issue opened in each) stays within the budget; an unchanged hour and
//! one in which a tenth of the repositories got a commit stay under half.
//!
//! `CHARTPILOT_BUDGET_REPOS=200 cargo test --test upgrade budget -- --nocapture`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::clock::SystemClock;
use chartpilot::settings::Settings;
use chartpilot::worker::repos::Repositories;
use chartpilot::worker::JobHandler;
use chartpilot::worker::{Outcome, Worker};

use super::fixture;
use super::org::{discovering_config, pass, start};
use super::scratch;
use super::support::fake_github::FakeGithub;

/// GitHub's hourly budget of an installation, and the share passes may use.
const BUDGET: usize = 5000;
const HALF: usize = BUDGET / 2;

/// The organisation the figures are for.
const SCALE: usize = 200;

fn repositories() -> usize {
    std::env::var("CHARTPILOT_BUDGET_REPOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// One pass per served repository, as the schedule publishes them over an
/// hour, run to the end.
async fn hour(
    repos: &Repositories,
    queue: &Arc<dyn chartpilot::queue::JobQueue>,
    worker: &Worker,
    n: u32,
) {
    repos.discover().await.expect("discovery round");
    let keys: Vec<String> = repos.served().iter().map(|s| s.key.clone()).collect();
    for key in &keys {
        let job = pass(
            Some(key),
            "schedule",
            &format!("upgrade-schedule-{key}-{n}"),
        );
        queue.publish(&job).await.unwrap();
    }
    for _ in &keys {
        let outcome = tokio::time::timeout(Duration::from_secs(60), worker.process_one())
            .await
            .expect("a pass within a minute")
            .expect("a job");
        assert_eq!(outcome.expect("settled"), Outcome::Done);
    }
}

fn counted(org: &[FakeGithub]) -> (usize, Vec<String>) {
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    let mut total = 0;
    for f in org {
        for c in f.counted_calls() {
            total += 1;
            // The operation, without the repository's name and ids.
            let path = c.path.split('/').enumerate().map(|(i, p)| {
                if (i == 3 && c.path.starts_with("/repos/"))
                    || p.len() >= 40
                    || p.parse::<u64>().is_ok()
                {
                    "…"
                } else {
                    p
                }
            });
            *by_kind
                .entry(format!(
                    "{} {}",
                    c.method,
                    path.collect::<Vec<_>>().join("/")
                ))
                .or_default() += 1;
        }
        f.clear_requests();
    }
    (
        total,
        by_kind
            .into_iter()
            .map(|(k, n)| format!("{n:>5} {k}"))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_on_an_hourly_interval_stays_under_half_the_budget() {
    let n = repositories();
    let started = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("gitops-{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let org = FakeGithub::start_org("acme", &names).await;
    let files: Vec<(String, String)> = fixture::files()
        .into_iter()
        .filter(|(p, _)| p.starts_with("environments/"))
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    for f in &org {
        f.seed(&files);
    }
    let app = FakeGithub::enable_app_on_all(&org, 79);
    let scratch = scratch("6.6.0");
    let config = discovering_config(
        &scratch,
        &app,
        &org[0].url,
        0,
        "[upgrade]\ninterval = \"0s\"\n[repositories]\ndiscover = true\n",
    );
    let settings = Settings::load(Some(&config), &Default::default()).expect("settings");
    let clock = Arc::new(SystemClock);
    let repos = Arc::new(Repositories::from_settings(&settings, clock.clone()).await);
    assert_eq!(repos.served().len(), n, "every repository holds pins");
    let (_base, worker, queue) = start(&settings, Arc::clone(&repos) as Arc<dyn JobHandler>).await;
    let seeded = started.elapsed();

    let mut report = Vec::new();
    for (h, what) in [
        (
            1,
            "first hour: discovery and first passes (each opens its PR and dashboard)",
        ),
        (2, "an hour with nothing changed"),
        (
            3,
            "an hour in which a tenth of the repositories got a commit",
        ),
    ] {
        if h == 3 {
            for f in org.iter().step_by(10) {
                f.commit_files("main", &[("README.md", "changed\n")]);
            }
            // The commits are not chartpilot's: not counted.
            org.iter().for_each(FakeGithub::clear_requests);
        }
        let t = Instant::now();
        hour(&repos, &queue, &worker, h).await;
        let (calls, kinds) = counted(&org);
        report.push(format!(
            "hour {h} ({what}): {calls} counted calls for {n} repositories ({:.1} per repository), {:?}\n{}",
            calls as f64 / n as f64,
            t.elapsed(),
            kinds.join("\n")
        ));
        // The first hour opens a PR and a dashboard issue in every
        // repository: within the budget. Hours after it: within half.
        let bound = if h == 1 { BUDGET } else { HALF };
        let projected = calls * SCALE / n;
        assert!(
            projected < bound,
            "hour {h}: {calls} counted calls for {n} repositories, {projected} for {SCALE}: over {bound}\n{}",
            report.join("\n")
        );
    }
    eprintln!(
        "{n} repositories seeded and discovered in {seeded:?}\n{}",
        report.join("\n")
    );
}
