//! What `serve` logs for an upgrade pass and a push, read as operators
//! read it: JSON lines with Display values and an `event` field.

use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::domain::CommitSha;
use chartpilot::jobs::{Job, JobEnvelope, Push, UpgradeRequest};
use chartpilot::worker::service::ServiceHandler;
use chartpilot::worker::JobHandler;

use super::support::logs::capture;
use super::*;

fn envelope(job: &Job) -> JobEnvelope {
    JobEnvelope::new(job, "logs-test".into(), None, chrono::Utc::now()).unwrap()
}

/// Each chart whose repository cannot be read is one WARN line,
/// `event=chart_lookup_failed`, not one more from the fetch beneath it.
#[tokio::test]
async fn a_failed_lookup_is_logged_once_per_chart() {
    let scratch = scratch("6.6.0");
    std::fs::remove_dir_all(&scratch.index_dir).unwrap();
    let handler =
        ServiceHandler::from_settings(&scratch.local_settings(), Arc::new(SystemClock)).await;
    let logs = capture();
    let job = Job::Upgrade(UpgradeRequest {
        reason: "logs test".into(),
    });
    handler.handle(&job, &envelope(&job)).await.unwrap();

    let failed = logs.events("chart_lookup_failed");
    for chart in ["cert-manager", "podinfo", "redis"] {
        let about: Vec<_> = logs
            .warnings()
            .into_iter()
            .filter(|l| l.to_string().contains(&format!("{chart} from ")))
            .collect();
        assert_eq!(about.len(), 1, "{chart}: {about:#?}");
        assert_eq!(about[0]["level"], "WARN");
        assert_eq!(about[0]["fields"]["event"], "chart_lookup_failed");
    }
    assert_eq!(failed.len(), 3, "{failed:#?}");
    // Nothing else warns about the same repository.
    assert_eq!(logs.warnings().len(), 3, "{:#?}", logs.warnings());
}

/// A push for another repository than `git.repository` is not acted on,
/// and says so once, naming both.
#[tokio::test]
async fn a_push_for_a_repository_not_watched_is_warned_once_naming_both() {
    let scratch = scratch("6.6.0");
    let mut settings = scratch.local_settings();
    settings.git.repository = "acme/gitops".into();
    let handler = ServiceHandler::from_settings(&settings, Arc::new(SystemClock)).await;
    let logs = capture();
    let sha = |c: &str| CommitSha::parse(&c.repeat(40)).unwrap();
    let job = Job::Push(Push {
        repository: "someone/else".into(),
        git_ref: "refs/heads/main".into(),
        before: sha("a"),
        after: sha("b"),
        created: false,
        deleted: false,
        forced: false,
        commits: Vec::new(),
        sender: "person".into(),
    });
    let follow_ups = handler.handle(&job, &envelope(&job)).await.unwrap();
    assert!(
        follow_ups.is_empty(),
        "no upgrade pass for another repository"
    );

    let warned = logs.warnings();
    assert_eq!(warned.len(), 1, "{warned:#?}");
    let fields = &warned[0]["fields"];
    assert_eq!(fields["event"], "push_not_watched");
    assert_eq!(fields["repository"], "someone/else");
    assert_eq!(fields["watched"], "acme/gitops");

    // Ours (any case) is no such event.
    let ours = Job::Push(Push {
        repository: "Acme/GitOps".into(),
        ..match &job {
            Job::Push(p) => p.clone(),
            _ => unreachable!(),
        }
    });
    let _ = handler.handle(&ours, &envelope(&ours)).await;
    assert_eq!(logs.events("push_not_watched").len(), 1);
}
