//! The check on the local host: lines in the pull log; and the provenance
//! input, through the checker itself with a verifier plugged in.

use std::sync::Arc;

use chartpilot::checks::rules::ProvenanceVerdict;
use chartpilot::checks::{Checked, Checker, ProvenanceCheck};
use chartpilot::domain::CommitSha;
use chartpilot::git::check::{AnnotationLevel, Conclusion};
use chartpilot::pins::Pin;
use chartpilot::worker::Outcome;

use super::support::git;
use super::*;

/// A repository with [`files`] on `main` and a branch `bump-prod` moving
/// prod to `version`; returns its path and the branch's head.
fn repository(dir: &Path, version: &str) -> (std::path::PathBuf, String) {
    repository_with(dir, &app("prod", version))
}

/// A repository with [`files`] on `main` and a branch `bump-prod` whose
/// prod file is `prod`; returns its path and the branch's head.
pub fn repository_with(dir: &Path, prod: &str) -> (std::path::PathBuf, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    for (p, text) in files() {
        let f = repo.join(&p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "pins"]);
    git(&repo, &["checkout", "-q", "-b", "bump-prod"]);
    std::fs::write(repo.join(path("prod")), prod).unwrap();
    git(&repo, &["commit", "-q", "-am", "prod bump"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);
    (repo, head)
}

/// Pull request `number` from `bump-prod` at `head` onto `main`.
pub fn bump_pull(number: u64, head: &str) -> chartpilot::jobs::PullRequest {
    chartpilot::jobs::PullRequest {
        repository: "acme/gitops".into(),
        action: "opened".into(),
        number,
        title: "prod bump".into(),
        merged: false,
        merge_commit_sha: None,
        head_ref: "bump-prod".into(),
        head_sha: CommitSha::parse(head).unwrap(),
        base_ref: "main".into(),
        author: "alice".into(),
        labels: vec![],
        body: String::new(),
    }
}

fn local_settings(dir: &Path, repo: &Path, secrets: &TestSecrets) -> Settings {
    settings(
        dir,
        secrets,
        &[
            ("GIT__PROVIDER", "local".to_owned()),
            ("GIT__PATH", repo.display().to_string()),
        ],
    )
}

#[tokio::test]
async fn the_local_host_appends_a_line_per_finding_and_a_summary_to_the_pull_log() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, head) = repository(dir.path(), "1.2.0");
    let secrets = TestSecrets::random();
    let s = local_settings(dir.path(), &repo, &secrets);
    let (port, worker) = support::start_service(&s).await;
    let body = pull_event("opened", "acme/gitops", 7, ("bump-prod", &head), &[]);
    for _ in 0..2 {
        // The second delivery (a new id) finds the check in the log.
        let status = support::post_github_event(port, &secrets.github, "pull_request", &body).await;
        assert_eq!(status, 202);
        assert_eq!(support::next_outcome(&worker).await, Outcome::Done);
    }
    let log = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let finding = &lines[0];
    assert_eq!(finding["check"], "chartpilot");
    assert_eq!(finding["number"], 7);
    assert_eq!(finding["sha"], head.as_str());
    assert_eq!(finding["rule"], "promotion-order");
    assert_eq!(finding["level"], "failure");
    assert_eq!(finding["file"], path("prod").as_str());
    assert_eq!(finding["line"], VERSION_LINE);
    let summary = &lines[1];
    assert_eq!(summary["conclusion"], "failure");
    assert_eq!(summary["message"], "1 changed pin: 1 error");
    // Readers of pull requests pass over the check's lines.
    let host = chartpilot::git::local::LocalGit::open(&s.git).unwrap();
    let pulls = chartpilot::git::GitHost::open_pulls(&host).await.unwrap();
    assert!(pulls.is_empty(), "{pulls:?}");
}

/// Says what it was built with for every pin, and records what it was
/// asked about.
struct Verifier(ProvenanceVerdict, std::sync::Mutex<Vec<(String, String)>>);

#[async_trait::async_trait]
impl ProvenanceCheck for Verifier {
    async fn verdict(&self, pin: &Pin, version: &str) -> Option<ProvenanceVerdict> {
        self.1
            .lock()
            .unwrap()
            .push((pin.file.clone(), version.to_owned()));
        Some(self.0.clone())
    }
}

#[tokio::test]
async fn a_plugged_in_verifier_fails_a_bad_signature_and_notes_an_unsigned_chart() {
    let dir = tempfile::tempdir().unwrap();
    // Staging never had 1.1.0 either, so promotion-order is switched off
    // to look at provenance alone.
    let (repo, head) = repository(dir.path(), "1.1.0");
    let mut s = local_settings(dir.path(), &repo, &TestSecrets::random());
    s.checks.promotion_order = chartpilot::settings::RuleLevel::Off;
    let host: Arc<dyn chartpilot::git::GitHost> =
        Arc::new(chartpilot::git::local::LocalGit::open(&s.git).unwrap());
    let pull = bump_pull(3, &head);
    let cases = [
        (
            ProvenanceVerdict::Bad("signature by an unknown key".into()),
            Conclusion::Failure,
            AnnotationLevel::Failure,
        ),
        (
            ProvenanceVerdict::Unsigned,
            Conclusion::Success,
            AnnotationLevel::Notice,
        ),
    ];
    for (verdict, conclusion, level) in cases {
        let mut checker = Checker::from_settings(&s, Arc::clone(&host)).unwrap();
        let verifier = Arc::new(Verifier(verdict.clone(), Default::default()));
        checker.provenance = Some(verifier.clone());
        let Checked::Reported(report) = checker.on_pull(&pull).await.unwrap() else {
            panic!("a pin changed: the check reports");
        };
        assert_eq!(report.conclusion, conclusion, "{verdict:?}: {report:#?}");
        let provenance: Vec<_> = report
            .annotations
            .iter()
            .filter(|a| a.title == "provenance")
            .collect();
        assert_eq!(provenance.len(), 1, "{report:#?}");
        assert_eq!(
            (provenance[0].level, provenance[0].path.as_str()),
            (level, path("prod").as_str())
        );
        assert_eq!(
            *verifier.1.lock().unwrap(),
            [(path("prod"), "1.1.0".to_owned())]
        );
    }
    // Without a verifier, nothing about provenance.
    let checker = Checker::from_settings(&s, host).unwrap();
    let Checked::Reported(report) = checker.on_pull(&pull).await.unwrap() else {
        panic!("a pin changed: the check reports");
    };
    assert!(
        report.annotations.iter().all(|a| a.title != "provenance"),
        "{report:#?}"
    );
}

fn release(version: &str) -> String {
    format!(
        "resource \"helm_release\" \"web\" {{\n  name       = \"web\"\n  repository = \"{CHARTS_URL}\"\n  chart      = \"web\"\n  version    = \"{version}\"\n}}\n"
    )
}

#[tokio::test]
async fn terraform_pins_without_an_environment_follow_tier1_order() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("platform/canary")).unwrap();
    std::fs::create_dir_all(repo.join("platform/main")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("platform/canary/main.tf"), release("1.1.0")).unwrap();
    std::fs::write(repo.join("platform/main/main.tf"), release("1.0.0")).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tier 1"]);
    let mut heads = Vec::new();
    for version in ["1.1.0", "1.2.0"] {
        git(
            &repo,
            &["checkout", "-q", "-b", &format!("main-{version}"), "main"],
        );
        std::fs::write(repo.join("platform/main/main.tf"), release(version)).unwrap();
        git(&repo, &["commit", "-q", "-am", "bump"]);
        heads.push(git(&repo, &["rev-parse", "HEAD"]));
    }
    git(&repo, &["checkout", "-q", "main"]);
    let mut s = local_settings(dir.path(), &repo, &TestSecrets::random());
    s.policy.tier1_order = vec!["platform/canary".into(), "platform/main".into()];
    let host: Arc<dyn chartpilot::git::GitHost> =
        Arc::new(chartpilot::git::local::LocalGit::open(&s.git).unwrap());
    let checker = Checker::from_settings(&s, host).unwrap();
    let pull = |n: u64, head: &str| chartpilot::jobs::PullRequest {
        repository: String::new(),
        action: "opened".into(),
        number: n,
        title: "bump".into(),
        merged: false,
        merge_commit_sha: None,
        head_ref: "b".into(),
        head_sha: CommitSha::parse(head).unwrap(),
        base_ref: "main".into(),
        author: "alice".into(),
        labels: vec![],
        body: String::new(),
    };
    // The canary has 1.1.0: passes. It never had 1.2.0: fails at the line.
    for (n, head, want) in [
        (1, &heads[0], Conclusion::Success),
        (2, &heads[1], Conclusion::Failure),
    ] {
        let Checked::Reported(report) = checker.on_pull(&pull(n, head)).await.unwrap() else {
            panic!("a pin changed: the check reports");
        };
        assert_eq!(report.conclusion, want, "{report:#?}");
        if want == Conclusion::Failure {
            let a = &report.annotations[0];
            assert_eq!(
                (a.title.as_str(), a.path.as_str(), a.line),
                ("promotion-order", "platform/main/main.tf", 5)
            );
            assert!(
                a.message.starts_with("platform/main moves to 1.2.0, which platform/canary neither pins (it pins 1.1.0)"),
                "{}",
                a.message
            );
        }
    }
}

#[tokio::test]
async fn a_bump_whose_target_renames_an_overridden_key_fails_the_values_rule_at_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    // prod overrides `metrics.enabled` and moves to 1.1.0, which renamed
    // `metrics` to `monitoring`.
    let prod = app("prod", "1.1.0").replace(
        "    targetRevision: 1.1.0\n",
        "    targetRevision: 1.1.0\n    helm:\n      values: |\n        metrics:\n          enabled: true\n",
    );
    let (repo, head) = repository_with(dir.path(), &prod);
    let override_line = prod
        .lines()
        .position(|l| l.trim() == "enabled: true")
        .unwrap()
        + 1;
    let mut s = local_settings(dir.path(), &repo, &TestSecrets::random());
    s.checks.promotion_order = chartpilot::settings::RuleLevel::Off;
    web_archive(
        &dir.path().join("charts"),
        "1.1.0",
        "replicaCount: 1\nmonitoring:\n  enabled: false\n  port: 9797\n",
    );
    let host: Arc<dyn chartpilot::git::GitHost> =
        Arc::new(chartpilot::git::local::LocalGit::open(&s.git).unwrap());
    let checker = Checker::from_settings(&s, host).unwrap();
    let pull = bump_pull(9, &head);
    let Checked::Reported(report) = checker.on_pull(&pull).await.unwrap() else {
        panic!("a pin changed: the check reports");
    };
    assert_eq!(report.conclusion, Conclusion::Failure, "{report:#?}");
    let values: Vec<_> = report
        .annotations
        .iter()
        .filter(|a| a.title == "values")
        .collect();
    assert_eq!(values.len(), 1, "{report:#?}");
    assert_eq!(values[0].level, AnnotationLevel::Failure);
    assert_eq!(
        (values[0].path.as_str(), values[0].line),
        (path("prod").as_str(), VERSION_LINE)
    );
    let message = &values[0].message;
    assert!(
        message.contains(&format!(
            "`metrics.enabled` at environments/prod/web.yaml:{override_line} (now `monitoring.enabled`)"
        )),
        "{message}"
    );

    // Set to a warning, the same finding leaves the check neutral.
    s.checks.values = chartpilot::settings::RuleLevel::Warning;
    let host: Arc<dyn chartpilot::git::GitHost> =
        Arc::new(chartpilot::git::local::LocalGit::open(&s.git).unwrap());
    let Checked::Reported(report) = Checker::from_settings(&s, host)
        .unwrap()
        .on_pull(&pull)
        .await
        .unwrap()
    else {
        panic!("a pin changed: the check reports");
    };
    assert_eq!(report.conclusion, Conclusion::Neutral, "{report:#?}");
}
