//! Alert-triggered rollback, timed: an Alertmanager webhook (v4 JSON, the
//! service's bearer token) POSTed straight to chartpilot's
//! `/webhooks/alertmanager`, until the fake GitHub has answered the call
//! that opens the revert PR (the GraphQL mutation with `createPullRequest`,
//! or `POST /repos/acme/gitops/pulls` over REST); and the GitHub
//! API calls one rollback makes. Run by `benches/rollback.sh`
//! (`cargo bench --bench rollback`); `RUNS` (30) timed iterations after one
//! untimed warm-up.
//!
//! Every iteration is independent: a fresh fake GitHub (its own bare git
//! repository: seed on main, a person's PR bumping podinfo in prod merged
//! with a merge commit), a fresh service (embedded queue in a fresh
//! directory, its worker), a fresh alert fingerprint. Set up exactly as
//! tests/rollback/github.rs does, minus the real Alertmanager: this
//! measures the service, not Alertmanager's `group_wait`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails loudly by design

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::clock::{Clock, SystemClock};
use chartpilot::startup::{Application, Role};
use chartpilot::worker::service::ServiceHandler;

use support::fake_github::FakeGithub;
use support::PATIENCE;

/// An Argo CD Application pinning podinfo (as tests/rollback/main.rs).
fn app(env: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: http://127.0.0.1:9/charts
    chart: podinfo
    targetRevision: {version}
    helm:
      releaseName: podinfo
  destination:
    server: https://kubernetes.default.svc
    namespace: podinfo
"
    )
}

const RULE: &str = "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = [\"argocd_app\"]\nenv_labels = [\"env\"]\naction = \"revert-pr\"\n";

/// One firing alert for podinfo-prod, as Alertmanager's webhook v4 sends
/// it (field for field like the corpus' captured bodies).
fn webhook_body(fingerprint: &str) -> Vec<u8> {
    let labels = serde_json::json!({
        "alertname": "PodinfoDown",
        "argocd_app": "podinfo-prod",
        "env": "prod",
        "severity": "critical",
    });
    let annotations = serde_json::json!({
        "runbook_url": "https://runbooks.example.org/podinfo",
        "summary": "podinfo is down",
    });
    let starts_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::to_vec(&serde_json::json!({
        "receiver": "chartpilot",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9/graph?g0.expr=up%7Bjob%3D%22podinfo%22%7D+%3D%3D+0",
            "fingerprint": fingerprint,
        }],
        "groupLabels": { "alertname": "PodinfoDown" },
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://127.0.0.1:9",
        "version": "4",
        "groupKey": "{}:{alertname=\"PodinfoDown\"}",
        "truncatedAlerts": 0,
    }))
    .unwrap()
}

/// Alert notifications the worker has finished with, from `/metrics`.
async fn notifications_handled(client: &reqwest::Client, port: u16) -> u64 {
    let text = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
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

struct Run {
    /// t0 (just before the POST) to the 202 received.
    accepted: Duration,
    /// t0 to the fake's answer to the call that opened the revert PR.
    pr_opened: Duration,
    /// t0 to the worker done with the job (comment on the bump PR
    /// included); polled, so a few ms coarse.
    job_done: Duration,
    /// Every API call of the rollback, in order: `METHOD path`, when the
    /// fake took it (from t0) and how long the fake worked on it.
    calls: Vec<(String, Duration, Duration)>,
}

impl Run {
    /// Time spent inside the fake GitHub (its git subprocesses mostly).
    fn in_fake(&self) -> Duration {
        self.calls.iter().map(|c| c.2).sum()
    }
}

async fn one_run(i: usize) -> Run {
    let fake = FakeGithub::start().await;
    let seed = fake.seed(&[
        ("environments/dev/podinfo.yaml", &app("dev", "6.5.0")),
        ("environments/prod/podinfo.yaml", &app("prod", "6.5.0")),
        ("README.md", "# platform\n"),
    ]);
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
    // The rollback labels exist, as after the repository's first revert
    // PR (which creates them with one more call).
    for label in ["chartpilot", "rollback"] {
        fake.create_label(label);
    }

    let dir = tempfile::tempdir().unwrap();
    let secrets = support::TestSecrets::random();
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, RULE).unwrap();
    let extra =
        support::env_vars(&[fake.env(), vec![("UPGRADE__INTERVAL", "0s".to_owned())]].concat());
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
    let (server, worker, queue) = service.into_parts();
    let server_handle = server.handle();
    tokio::spawn(server);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker.unwrap().run(stopped));

    // One kept-alive connection, as Alertmanager holds to its receiver:
    // the timed POST does not pay the TCP connect.
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200, "service not ready");

    let fingerprint = format!("{:016x}", rand::random::<u64>() ^ i as u64);
    let body = webhook_body(&fingerprint);
    fake.clear_requests();
    let t0 = Instant::now();
    let res = client
        .post(format!("http://127.0.0.1:{port}/webhooks/alertmanager"))
        .bearer_auth(&secrets.alertmanager)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let accepted = t0.elapsed();
    assert_eq!(
        res.status().as_u16(),
        202,
        "{:?}",
        res.text().await.unwrap_or_default()
    );

    while notifications_handled(&client, port).await < 1 {
        assert!(t0.elapsed() < PATIENCE, "the worker never finished the job");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let job_done = t0.elapsed();

    let calls = fake.api_calls();
    let pulls_path = format!("/repos/{}/pulls", fake.repository());
    let opened = calls
        .iter()
        .find(|c| {
            let rest = c.path == pulls_path && c.status == 201;
            let mutation =
                c.path == "/graphql" && c.status == 200 && c.body.contains("createPullRequest");
            c.method == "POST" && (rest || mutation)
        })
        .unwrap_or_else(|| {
            panic!(
                "no revert PR opened; calls: {:#?}",
                calls.iter().map(|c| c.line()).collect::<Vec<_>>()
            )
        });
    let pr_opened = opened.answered.duration_since(t0);
    let branch = format!("chartpilot/revert/{merge}");
    assert!(
        fake.pulls().iter().any(|p| p.head == branch),
        "the PR opened is not the revert of {merge}"
    );
    assert!(
        !fake.comments(bump_pr).is_empty(),
        "the bump PR was not told"
    );
    let calls = calls
        .iter()
        .map(|c| {
            (
                c.line(),
                c.received.duration_since(t0),
                c.answered.duration_since(c.received),
            )
        })
        .collect();

    let _ = stop.send(true);
    let _ = worker.await;
    server_handle.stop(true).await;
    queue.close().await;
    fake.stop().await;
    drop(dir);
    Run {
        accepted,
        pr_opened,
        job_done,
        calls,
    }
}

/// The value at quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[Duration], q: f64) -> Duration {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; there are no options.
    let runs: usize = std::env::var("RUNS")
        .ok()
        .map(|s| s.parse().expect("RUNS is a number"))
        .unwrap_or(30)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<Run> = runtime.block_on(async {
        let warm = one_run(0).await;
        eprintln!(
            "warm-up (not counted): webhook -> PR opened {}, {} API calls",
            ms(warm.pr_opened),
            warm.calls.len()
        );
        let mut out = Vec::with_capacity(runs);
        for i in 1..=runs {
            let r = one_run(i).await;
            eprintln!(
                "run {i:>3}: 202 {:>8}  PR opened {:>8}  job done {:>8}  {} API calls, {:>8} in the fake",
                ms(r.accepted),
                ms(r.pr_opened),
                ms(r.job_done),
                r.calls.len(),
                ms(r.in_fake())
            );
            out.push(r);
        }
        out
    });

    let sorted = |f: fn(&Run) -> Duration| {
        let mut v: Vec<Duration> = results.iter().map(f).collect();
        v.sort();
        v
    };
    let pr = sorted(|r| r.pr_opened);
    let accepted = sorted(|r| r.accepted);
    let done = sorted(|r| r.job_done);
    let in_fake = sorted(|r| r.in_fake());
    let counts: Vec<usize> = results.iter().map(|r| r.calls.len()).collect();
    let (min_calls, max_calls) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());

    println!();
    println!(
        "rollback, {runs} runs (fresh fake GitHub, service and fingerprint each; release build)"
    );
    println!();
    println!("| measure | median | p95 | max | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| webhook -> revert PR opened | {} | {} | {} | < 1 s (fake GitHub) |",
        ms(quantile(&pr, 0.5)),
        ms(quantile(&pr, 0.95)),
        ms(*pr.last().unwrap()),
    );
    println!(
        "| webhook -> 202 | {} | {} | {} | |",
        ms(quantile(&accepted, 0.5)),
        ms(quantile(&accepted, 0.95)),
        ms(*accepted.last().unwrap()),
    );
    println!(
        "| webhook -> job done (polled) | {} | {} | {} | |",
        ms(quantile(&done, 0.5)),
        ms(quantile(&done, 0.95)),
        ms(*done.last().unwrap()),
    );
    println!(
        "| time inside the fake GitHub | {} | {} | {} | |",
        ms(quantile(&in_fake, 0.5)),
        ms(quantile(&in_fake, 0.95)),
        ms(*in_fake.last().unwrap()),
    );
    println!();
    println!("GitHub API calls per rollback: min {min_calls}, max {max_calls} (target at most 6)");
    let one = &results[0];
    println!("calls of run 1, in order (taken at, from the POST; time in the fake):");
    for (n, (line, at, took)) in one.calls.iter().enumerate() {
        println!("  {:>2}. {:>8} {:>8}  {line}", n + 1, ms(*at), ms(*took));
    }
    // Every run, not just the median, must open its PR within the second.
    let pass = *pr.last().unwrap() < Duration::from_secs(1);
    println!();
    println!(
        "service time target (every run < 1 s): {}; API calls target (<= 6): {}",
        if pass { "PASS" } else { "FAIL" },
        if max_calls <= 6 { "PASS" } else { "FAIL" }
    );
}
