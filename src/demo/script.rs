//! `chartpilot demo --script`: the service in this process on a free
//! port, the upgrade pass at start, then the three events of the guided
//! loop, each printed with what it caused.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use super::send::{Event, Target};
use super::Demo;
use crate::git::local::LocalGit;
use crate::git::GitHost;
use crate::jobs::{Job, JobEnvelope, UpgradeRequest};
use crate::queue::JobQueue;
use crate::settings::Settings;
use crate::startup::{Application, Role};

/// How long the start pass may take to open its first pull request: it
/// reads four local indexes and writes a few branches, well under this.
const PASS_PATIENCE: Duration = Duration::from_secs(30);

/// The pass is taken as done once the open pull requests stop changing
/// for this long (it opens them one after another, milliseconds apart).
const SETTLED: Duration = Duration::from_secs(1);

/// Between looks at the pull log.
const POLL: Duration = Duration::from_millis(200);

/// Queues an upgrade pass now, so a start shows its pull requests at once
/// instead of one `upgrade.interval` later.
pub async fn first_pass(queue: &dyn JobQueue, repository: &str) -> anyhow::Result<()> {
    let job = Job::Upgrade(UpgradeRequest {
        reason: "demo start".into(),
    });
    // Unique per start: a restarted demo runs its pass again (the pass
    // itself is idempotent).
    let key = format!("demo-start-{}", uuid::Uuid::new_v4());
    let envelope = JobEnvelope::new(&job, key, None, chrono::Utc::now())
        .context("cannot encode the start pass")?
        .in_repository(repository);
    queue
        .publish(&envelope)
        .await
        .context("cannot queue the start pass")?;
    Ok(())
}

/// Runs the loop and prints each step; fails on the first step whose
/// effect does not appear.
pub async fn run(demo: &Demo, mut settings: Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    // A free port: the script must not collide with a `serve` already up.
    settings.server.listen = "127.0.0.1:0".into();
    let app = Application::build(&settings, Role::All).await?;
    let port = app.port();
    first_pass(app.queue().as_ref(), &settings.git.key()).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));
    let result = steps(demo, &settings, port, out).await;
    let _ = stop_tx.send(());
    service
        .await
        .context("the service task failed")?
        .context("the service stopped")?;
    result
}

async fn steps(
    demo: &Demo,
    settings: &Settings,
    port: u16,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "chartpilot demo --script: service on 127.0.0.1:{port}, repository {}",
        demo.repo.display()
    )?;
    writeln!(out, "\n[1/4] upgrade pass at start")?;
    for line in start_pulls(settings).await? {
        writeln!(out, "  {line}")?;
    }
    let target = Target {
        demo,
        settings,
        base: format!("http://127.0.0.1:{port}"),
    };
    let steps = [
        (Event::Push, "[2/4] push: merge the dev upgrade"),
        (Event::Alert, "[3/4] alert: prod rollout fails"),
        (Event::Chat, "[4/4] chat: /chartpilot status"),
    ];
    for (event, title) in steps {
        writeln!(out, "\n{title}")?;
        out.flush()?;
        for line in target.send(event).await? {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(
        out,
        "\ndone: every pull request is in {}",
        demo.pulls_log().display()
    )?;
    Ok(())
}

/// The upgrade pull requests the start pass opened, once it has settled.
async fn start_pulls(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let host = LocalGit::open(&settings.git).map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = tokio::time::Instant::now() + PASS_PATIENCE;
    let mut last: Option<(Vec<u64>, tokio::time::Instant)> = None;
    loop {
        let open: Vec<_> = host
            .open_pulls()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .filter(|p| p.head.starts_with("chartpilot/upgrade/"))
            .collect();
        let numbers: Vec<u64> = open.iter().map(|p| p.number).collect();
        let now = tokio::time::Instant::now();
        match &last {
            Some((seen, since)) if *seen == numbers && !numbers.is_empty() => {
                if now.duration_since(*since) >= SETTLED {
                    return Ok(open
                        .iter()
                        .map(|p| format!("PR #{}: {} (branch {})", p.number, p.title, p.head))
                        .collect());
                }
            }
            _ => last = Some((numbers, now)),
        }
        if now >= deadline {
            anyhow::bail!(
                "the start pass opened no upgrade PR within {}s",
                PASS_PATIENCE.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
