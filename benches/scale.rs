//! The scale bench of issue 17: `BENCH_REPOS` (200) generated GitOps
//! repositories on disk (`provider = "local"`, each the upgrade tests'
//! fixture: Argo CD Applications in three environments and a Terraform
//! release, pins behind a Helm index routed to disk by a mirror) in one
//! configuration of `[[repositories]]`, served by 1, 2 and 4 worker
//! processes (`chartpilot serve --role worker`, the release binary) on the
//! RabbitMQ of `CLUSTER_URLS` (the three-node cluster of
//! `scripts/rabbit-cluster.sh`; the single test broker when unset).
//!
//! Each round starts from fresh repositories and a fresh topology, starts
//! the workers, publishes one upgrade job per repository (as the schedule
//! does when every repository is due at once), and reads the workers' JSON
//! logs until each repository's pass is done. Printed per worker count:
//! jobs/s, the time until every repository's pass finished, each
//! repository's wait (publish to done: median, p90, max, and max over
//! median for fairness), and the workers' CPU seconds per pass. Each
//! repository must end with the upgrade branches a pass opens; the bench
//! exits 1 when one does not, or when a pass is missing.
//!
//!   bash benches/scale.sh     (root: starts the cluster)
//!
//! Knobs: BENCH_REPOS=200, BENCH_WORKERS="1 2 4", BENCH_LANES=16,
//! BENCH_TIMEOUT_S=600.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails loudly by design

#[path = "../tests/upgrade/fixture.rs"]
mod fixture;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartpilot::jobs::{Job, JobEnvelope, UpgradeRequest};
use chartpilot::metrics::Metrics;
use chartpilot::settings::Settings;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_usize(name: &str, default: usize) -> usize {
    env_or(name, &default.to_string())
        .parse()
        .unwrap_or(default)
}

/// What one worker process said that the bench needs.
enum Heard {
    /// `connected to the broker`.
    Connected,
    /// `job done` for an upgrade job of `repository`.
    PassDone { repository: String, at: Instant },
}

/// Reads a worker's JSON log lines from its stdout and tells the bench
/// what it heard, stamped when read.
fn listen(child: &mut Child, tx: mpsc::Sender<(usize, Heard)>, worker: usize) {
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let message = v["fields"]["message"].as_str().unwrap_or_default();
            let heard = match message {
                "connected to the broker" => Heard::Connected,
                "job done" if v["span"]["kind"] == "chartpilot.upgrade" => Heard::PassDone {
                    repository: v["span"]["repository"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    at,
                },
                _ => continue,
            };
            if tx.send((worker, heard)).is_err() {
                break;
            }
        }
    });
}

/// CPU seconds (user + system) a process and its waited-for children
/// (git) have used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12, 13, 14]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn config(dir: &Path, repos: &[PathBuf], index: &Path, urls: &str, prefix: &str) -> PathBuf {
    let mut text = format!(
        "[queue]\nkind = \"amqp\"\nurl = \"{urls}\"\nprefix = \"{prefix}\"\nlanes = {lanes}\n\
         [log]\nformat = \"json\"\nlevel = \"info\"\n\
         [upgrade]\ninterval = \"0s\"\n\
         [helm]\ntimeout = \"10s\"\n\
         [[helm.mirrors]]\nfrom = \"{charts}\"\nto = \"file://{index}\"\n\
         [git]\nprovider = \"local\"\npath = \"{first}\"\nbranch = \"main\"\n",
        lanes = env_usize("BENCH_LANES", 16),
        charts = fixture::CHARTS_URL,
        index = index.parent().expect("index dir").display(),
        first = repos[0].display(),
    );
    for r in repos {
        text.push_str(&format!(
            "[[repositories]]\nprovider = \"local\"\npath = \"{}\"\n",
            r.display()
        ));
    }
    let path = dir.join("chartpilot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Branches a pass opened in `repo` (upgrade PR branches on the local host).
fn branches(repo: &Path) -> usize {
    fixture::git(repo, &["branch", "--list", "chartpilot/*"])
        .lines()
        .count()
}

struct Round {
    workers: usize,
    median: f64,
    p90: f64,
    max: f64,
    cpu: f64,
    missing: usize,
    wrong: usize,
}

async fn round(workers: usize, repos_n: usize, urls: &str) -> Round {
    let tmp = tempfile::tempdir().unwrap();
    let index = fixture::index(&tmp.path().join("charts"), "6.6.0");
    let repos: Vec<PathBuf> = (0..repos_n)
        .map(|i| {
            let dir = tmp.path().join(format!("repos/r{i:03}"));
            std::fs::create_dir_all(&dir).unwrap();
            fixture::repository(&dir);
            dir
        })
        .collect();
    let prefix = format!("chartpilot-scale-{}-{workers}", std::process::id());
    let config = config(tmp.path(), &repos, &index, urls, &prefix);
    let settings = Settings::load(Some(&config), &Default::default()).expect("bench settings");

    let (tx, rx) = mpsc::channel();
    let mut children: Vec<Child> = (0..workers)
        .map(|w| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
                .args(["serve", "--role", "worker", "--config"])
                .arg(&config)
                .env("CHARTPILOT__SERVER__LISTEN", "127.0.0.1:0")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("chartpilot starts");
            listen(&mut child, tx.clone(), w);
            child
        })
        .collect();
    drop(tx);
    let mut connected = 0;
    while connected < workers {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((_, Heard::Connected)) => connected += 1,
            Ok(_) => {}
            Err(e) => panic!("workers did not connect: {e}"),
        }
    }
    let cpu_before: f64 = children.iter().map(|c| cpu_seconds(c.id())).sum();

    let metrics = Arc::new(Metrics::new());
    let queue = chartpilot::queue::open(&settings.queue, metrics, false)
        .await
        .expect("queue");
    let keys: Vec<String> = settings.contexts().iter().map(|c| c.git.key()).collect();
    assert_eq!(keys.len(), repos_n);
    let t0 = Instant::now();
    for key in &keys {
        let job = JobEnvelope::new(
            &Job::Upgrade(UpgradeRequest {
                reason: "scale bench".into(),
            }),
            format!("scale-{key}"),
            None,
            chrono::Utc::now(),
        )
        .unwrap()
        .in_repository(key.clone());
        queue.publish(&job).await.expect("published");
    }
    let published = t0.elapsed().as_secs_f64();

    let deadline = Instant::now() + Duration::from_secs(env_usize("BENCH_TIMEOUT_S", 600) as u64);
    let mut done: HashMap<String, Instant> = HashMap::new();
    while done.len() < repos_n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Heard::PassDone { repository, at })) => {
                done.entry(repository).or_insert(at);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let cpu: f64 = children.iter().map(|c| cpu_seconds(c.id())).sum::<f64>() - cpu_before;
    for c in &mut children {
        let _ = Command::new("kill").arg(c.id().to_string()).status();
    }
    for c in &mut children {
        let _ = c.wait();
    }
    queue.close().await;
    if let Some(url) = urls.split(',').map(str::trim).find(|u| !u.is_empty()) {
        support::delete_topology_at(&settings, url).await;
    }

    let mut waits: Vec<f64> = done
        .values()
        .map(|at| at.duration_since(t0).as_secs_f64())
        .collect();
    waits.sort_by(f64::total_cmp);
    let expected = branches(&repos[0]);
    let wrong = repos.iter().filter(|r| branches(r) != expected).count();
    eprintln!(
        "[scale] {workers} worker(s): {} of {repos_n} passes, published in {published:.2} s, \
         {expected} branches per repository",
        done.len()
    );
    Round {
        workers,
        median: percentile(&waits, 0.5),
        p90: percentile(&waits, 0.9),
        max: waits.last().copied().unwrap_or(0.0),
        cpu,
        missing: repos_n - done.len(),
        wrong: if expected == 0 { repos_n } else { wrong },
    }
}

fn main() {
    let urls = env_or("CLUSTER_URLS", "amqp://guest:guest@127.0.0.1:5672/%2f");
    let repos = env_usize("BENCH_REPOS", 200);
    let counts: Vec<usize> = env_or("BENCH_WORKERS", "1 2 4")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rounds = Vec::new();
    for &n in &counts {
        rounds.push(rt.block_on(round(n, repos, &urls)));
    }
    println!(
        "| workers | passes/s | all done | wait median | p90 | max | max/median | CPU s per pass |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut failed = false;
    for r in &rounds {
        println!(
            "| {} | {:.1} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} | {:.3} |",
            r.workers,
            (repos - r.missing) as f64 / r.max.max(1e-9),
            r.max,
            r.median,
            r.p90,
            r.max,
            r.max / r.median.max(1e-9),
            r.cpu / repos as f64,
        );
        println!(
            "{}",
            serde_json::json!({
                "workers": r.workers, "repositories": repos, "missing": r.missing,
                "wrong_branches": r.wrong, "all_done_s": r.max,
                "wait_median_s": r.median, "wait_p90_s": r.p90, "wait_max_s": r.max,
                "cpu_s": r.cpu,
            })
        );
        failed |= r.missing > 0 || r.wrong > 0;
    }
    if failed {
        eprintln!("[scale] FAIL: a pass is missing or a repository lacks its branches");
        std::process::exit(1);
    }
}
