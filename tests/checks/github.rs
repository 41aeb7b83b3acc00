//! The check through the fake GitHub: a Check Run with an App, a commit
//! status and one comment with a token, and every API call counted.

use chartpilot::worker::{Outcome, Worker};

use super::support::fake_github::{FakeGithub, Fault, Recorded};
use super::*;

/// What a check of a pull request that changes one pin costs, when the
/// environment before it needs no history read: the comparison, the
/// head's tarball (the merge base is rebuilt from the comparison's hunks),
/// the lookup of an earlier run and the run's creation.
const CALLS_PER_CHECK: usize = 4;

struct Service {
    fake: FakeGithub,
    port: u16,
    worker: Worker,
    secrets: TestSecrets,
    _dir: tempfile::TempDir,
}

enum Auth {
    App,
    Token,
}

/// `main` seeded with [`files`] and then `main_changes` (one commit each),
/// and the service started against it.
async fn service(
    auth: Auth,
    main_changes: &[&[(&str, &str)]],
    tweak: impl FnOnce(&mut Settings),
) -> Service {
    let fake = FakeGithub::start().await;
    let seeded = files();
    fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
    );
    for change in main_changes {
        fake.commit_files("main", change);
    }
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let mut env = vec![
        ("GIT__PROVIDER", "github".to_owned()),
        ("GIT__REPOSITORY", fake.repository()),
        ("GITHUB__API_URL", fake.url.clone()),
    ];
    match auth {
        Auth::Token => env.push(("GITHUB__TOKEN", fake.token.clone())),
        Auth::App => {
            let app = fake.enable_app(77);
            env.push(("GITHUB__APP_ID", app.app_id.to_string()));
            env.push((
                "GITHUB__PRIVATE_KEY_FILE",
                app.key_file.display().to_string(),
            ));
        }
    }
    let mut s = settings(dir.path(), &secrets, &env);
    tweak(&mut s);
    let (port, worker) = support::start_service(&s).await;
    Service {
        fake,
        port,
        worker,
        secrets,
        _dir: dir,
    }
}

impl Service {
    /// A person's branch off `main` with `changes`, and its pull request.
    fn open_pull(&self, branch: &str, changes: &[(&str, &str)]) -> (u64, String) {
        let main = self.fake.branch("main").unwrap();
        self.fake.set_branch(branch, &main);
        let head = self.fake.commit_files(branch, changes);
        (self.fake.add_pull(branch, "A change"), head)
    }

    /// Posts the webhook and runs the job it queued; returns the API
    /// calls the job made.
    async fn deliver(
        &self,
        action: &str,
        number: u64,
        branch: &str,
        head: &str,
        labels: &[&str],
    ) -> Vec<Recorded> {
        self.fake.clear_requests();
        let body = pull_event(
            action,
            &self.fake.repository(),
            number,
            (branch, head),
            labels,
        );
        let status =
            support::post_github_event(self.port, &self.secrets.github, "pull_request", &body)
                .await;
        assert_eq!(status, 202);
        assert_eq!(support::next_outcome(&self.worker).await, Outcome::Done);
        self.fake.api_calls()
    }
}

/// Calls that fetch the App's installation token, which a long-running
/// service makes once an hour, not per check.
fn token_call(c: &Recorded) -> bool {
    c.path.ends_with("/installation") || c.path.contains("/access_tokens")
}

fn lines(calls: &[Recorded]) -> Vec<String> {
    calls.iter().map(Recorded::line).collect()
}

#[tokio::test]
async fn a_prod_bump_past_staging_fails_with_an_annotation_on_the_prod_line() {
    let prod = path("prod");
    let staging = path("staging");
    let dev = path("dev");
    let svc = service(
        Auth::App,
        &[
            &[(&dev, &app("dev", "1.2.0"))],
            &[(&staging, &app("staging", "1.1.0"))],
        ],
        |_| {},
    )
    .await;
    let (number, head) = svc.open_pull("bump-prod", &[(&prod, &app("prod", "1.2.0"))]);
    let calls = svc.deliver("opened", number, "bump-prod", &head, &[]).await;
    eprintln!(
        "check of a prod bump that skipped staging: {} GitHub API calls ({} for the App token):\n{}",
        calls.len(),
        calls.iter().filter(|c| token_call(c)).count(),
        lines(&calls).join("\n")
    );
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(
        (run.name.as_str(), run.head_sha.as_str()),
        ("chartpilot", head.as_str())
    );
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.annotations.len(), 1, "{:#?}", run.annotations);
    let a = &run.annotations[0];
    assert_eq!(a["path"], prod.as_str());
    assert_eq!(a["start_line"], VERSION_LINE);
    assert_eq!(a["end_line"], VERSION_LINE);
    assert_eq!(a["annotation_level"], "failure");
    assert_eq!(a["title"], "promotion-order");
    let message = a["message"].as_str().unwrap();
    assert!(
        message.contains("prod moves to 1.2.0, which staging neither pins (it pins 1.1.0)"),
        "{message}"
    );
    assert!(run.title.contains("1 error"), "{}", run.title);
    // The history of staging's file was read, and nothing was checked out.
    let reads = lines(&calls);
    assert!(
        reads.iter().any(|l| l == "GET /repos/acme/gitops/commits"),
        "{reads:#?}"
    );
    assert!(
        calls.iter().any(|c| c.path.ends_with("/commits")
            && c.query.contains("path=environments%2Fstaging%2Fweb.yaml")),
        "{reads:#?}"
    );
}

#[tokio::test]
async fn a_bump_staging_already_had_passes_within_the_call_budget_and_a_redelivery_makes_no_second_run(
) {
    let prod = path("prod");
    let staging = path("staging");
    let svc = service(
        Auth::App,
        &[&[(&staging, &app("staging", "1.1.0"))]],
        |_| {},
    )
    .await;
    let (number, head) = svc.open_pull("bump-prod", &[(&prod, &app("prod", "1.1.0"))]);
    let calls = svc.deliver("opened", number, "bump-prod", &head, &[]).await;
    let per_check: Vec<Recorded> = calls.iter().filter(|c| !token_call(c)).cloned().collect();
    eprintln!(
        "check of a PR changing one pin: {} GitHub API calls (+{} for the App token):\n{}",
        per_check.len(),
        calls.len() - per_check.len(),
        lines(&per_check).join("\n")
    );
    assert_eq!(per_check.len(), CALLS_PER_CHECK, "{:#?}", lines(&per_check));
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].conclusion.as_deref(),
        Some("success"),
        "{:#?}",
        runs[0]
    );
    assert!(runs[0].annotations.is_empty(), "{:#?}", runs[0].annotations);

    // GitHub delivers the same head again (a redelivery under a new id, a
    // reopen): the run found says the same, so nothing is written.
    let again = svc
        .deliver("reopened", number, "bump-prod", &head, &[])
        .await;
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].updates, 0);
    assert!(
        again.iter().all(|c| c.method == "GET" || token_call(c)),
        "{:#?}",
        lines(&again)
    );

    // A run that says something else (an older chartpilot, other
    // settings) is brought up to date, not doubled.
    svc.fake
        .set_check_run_outcome(runs[0].id, "failure", "stale");
    let again = svc
        .deliver("reopened", number, "bump-prod", &head, &[])
        .await;
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(
        (runs[0].updates, runs[0].conclusion.as_deref()),
        (1, Some("success"))
    );
    assert!(
        lines(&again)
            .iter()
            .all(|l| l != "POST /repos/acme/gitops/check-runs"),
        "{:#?}",
        lines(&again)
    );

    // A new push gets a run of its own on the new head.
    let newer = svc
        .fake
        .commit_files("bump-prod", &[("docs/guide.md", "More.\n")]);
    svc.deliver("synchronize", number, "bump-prod", &newer, &[])
        .await;
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].head_sha, newer);
}

#[tokio::test]
async fn a_pull_request_that_only_touches_docs_gets_no_check() {
    let svc = service(Auth::App, &[], |_| {}).await;
    let (number, head) = svc.open_pull(
        "docs",
        &[
            ("docs/guide.md", "How we deploy, now.\n"),
            ("README.md", "# x\n"),
        ],
    );
    let calls = svc.deliver("opened", number, "docs", &head, &[]).await;
    assert!(svc.fake.check_runs().is_empty());
    assert!(svc.fake.statuses().is_empty());
    let per_check: Vec<String> = calls
        .iter()
        .filter(|c| !token_call(c))
        .map(Recorded::line)
        .collect();
    assert_eq!(
        per_check,
        ["GET /repos/acme/gitops/compare/main...".to_owned() + &head],
        "one comparison, nothing more"
    );
}

#[tokio::test]
async fn a_range_fails_when_ranges_is_an_error_and_is_neutral_as_a_warning() {
    let dev = path("dev");
    for (level, conclusion, annotation) in [
        ("error", "failure", "failure"),
        ("warning", "neutral", "warning"),
    ] {
        let svc = service(Auth::App, &[], |s| {
            s.checks.ranges = match level {
                "error" => chartpilot::settings::RuleLevel::Error,
                _ => chartpilot::settings::RuleLevel::Warning,
            };
        })
        .await;
        let (number, head) = svc.open_pull("range", &[(&dev, &app("dev", "1.x"))]);
        svc.deliver("opened", number, "range", &head, &[]).await;
        let runs = svc.fake.check_runs();
        assert_eq!(runs.len(), 1, "{level}");
        assert_eq!(
            runs[0].conclusion.as_deref(),
            Some(conclusion),
            "{level}: {:#?}",
            runs[0]
        );
        let a = &runs[0].annotations;
        assert_eq!(a.len(), 1, "{level}: {a:#?}");
        assert_eq!(
            (a[0]["title"].as_str(), a[0]["annotation_level"].as_str()),
            (Some("ranges"), Some(annotation))
        );
        assert_eq!(
            (a[0]["path"].as_str(), a[0]["start_line"].as_u64()),
            (Some(dev.as_str()), Some(VERSION_LINE as u64))
        );
    }
}

#[tokio::test]
async fn a_repository_outside_the_allowed_ones_fails() {
    let dev = path("dev");
    let svc = service(Auth::App, &[], |s| {
        s.policy.allowed_repositories = vec![format!("{CHARTS_URL}/**")];
    })
    .await;
    // A loopback address nothing listens on: the lookup fails, which is
    // a note, not a finding.
    let elsewhere = "http://127.0.0.1:9/charts";
    let (number, head) =
        svc.open_pull("elsewhere", &[(&dev, &app_from("dev", elsewhere, "1.1.0"))]);
    svc.deliver("opened", number, "elsewhere", &head, &[]).await;
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    let by_rule: Vec<(String, String)> = runs[0]
        .annotations
        .iter()
        .map(|a| {
            (
                a["title"].as_str().unwrap().to_owned(),
                a["annotation_level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_rule,
        [
            ("allowed-repositories".to_owned(), "failure".to_owned()),
            ("deprecated".to_owned(), "notice".to_owned())
        ],
        "{:#?}",
        runs[0].annotations
    );
    let message = runs[0].annotations[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "{elsewhere} is not in policy.allowed_repositories"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn with_a_token_the_check_is_a_commit_status_and_one_comment_kept_current() {
    let dev = path("dev");
    let svc = service(Auth::Token, &[], |_| {}).await;
    let (number, head) = svc.open_pull("range", &[(&dev, &app("dev", "latest"))]);
    let calls = svc.deliver("opened", number, "range", &head, &[]).await;
    eprintln!(
        "token-only check of a PR changing one pin, with a finding: {} GitHub API calls:\n{}",
        calls.len(),
        lines(&calls).join("\n")
    );
    assert!(
        svc.fake.check_runs().is_empty(),
        "no Checks API without an App"
    );
    let statuses = svc.fake.statuses();
    assert_eq!(statuses.len(), 1);
    let s = &statuses[0];
    assert_eq!(
        (s.sha.as_str(), s.state.as_str(), s.context.as_str()),
        (head.as_str(), "failure", "chartpilot")
    );
    assert!(
        s.description.chars().count() <= 140 && s.description.contains("1 error"),
        "{}",
        s.description
    );
    let comments = svc.fake.comments(number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].contains(&format!("`{dev}:{VERSION_LINE}`")),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("`latest`") || comments[0].contains("latest"),
        "{}",
        comments[0]
    );

    // A redelivery of the same head writes the status again (GitHub keeps
    // the newest per context) and leaves the comment alone.
    let again = svc.deliver("reopened", number, "range", &head, &[]).await;
    assert!(
        again
            .iter()
            .all(|c| c.method == "GET" || c.path.contains("/statuses/")),
        "{:#?}",
        lines(&again)
    );
    assert_eq!(svc.fake.comments(number).len(), 1);

    // The person fixes the pin: the status passes and the same comment says so.
    let fixed = svc
        .fake
        .commit_files("range", &[(&dev, &app("dev", "1.1.0"))]);
    svc.deliver("synchronize", number, "range", &fixed, &[])
        .await;
    let statuses = svc.fake.statuses();
    assert_eq!(
        statuses.last().map(|s| (s.sha.as_str(), s.state.as_str())),
        Some((fixed.as_str(), "success"))
    );
    let comments = svc.fake.comments(number);
    assert_eq!(comments.len(), 1, "edited in place: {comments:#?}");
    assert!(comments[0].contains("no problems"), "{}", comments[0]);
}

#[tokio::test]
async fn more_than_fifty_annotations_go_in_updates_of_the_same_run() {
    let svc = service(Auth::App, &[], |_| {}).await;
    let paths: Vec<String> = (0..60)
        .map(|i| format!("environments/dev/web{i:02}.yaml"))
        .collect();
    let ranged = app("dev", "1.x");
    let changes: Vec<(&str, &str)> = paths
        .iter()
        .map(|p| (p.as_str(), ranged.as_str()))
        .collect();
    let (number, head) = svc.open_pull("ranges", &changes);
    let calls = svc.deliver("opened", number, "ranges", &head, &[]).await;
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].annotations.len(), 60);
    assert_eq!(runs[0].updates, 1, "50 with the creation, 10 in one update");
    let writes: Vec<String> = calls
        .iter()
        .filter(|c| c.method != "GET" && !token_call(c))
        .map(Recorded::line)
        .collect();
    assert_eq!(
        writes,
        [
            "POST /repos/acme/gitops/check-runs",
            "PATCH /repos/acme/gitops/check-runs/1"
        ]
    );
    let files: std::collections::BTreeSet<&str> = runs[0]
        .annotations
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 60, "one annotation per pin");
}

#[tokio::test]
async fn without_hunks_in_the_comparison_the_merge_base_tarball_is_read() {
    let prod = path("prod");
    let staging = path("staging");
    let svc = service(
        Auth::App,
        &[&[(&staging, &app("staging", "1.2.0"))]],
        |_| {},
    )
    .await;
    let base = svc.fake.branch("main").unwrap();
    let (number, head) = svc.open_pull("bump-prod", &[(&prod, &app("prod", "1.2.0"))]);
    // GitHub leaves hunks out of large diffs.
    svc.fake.fail(
        "GET",
        "/compare/",
        Fault::Answer {
            status: 200,
            body: serde_json::json!({
                "status": "ahead",
                "merge_base_commit": { "sha": base },
                "files": [{ "filename": prod, "status": "modified" }],
            }),
        },
        1,
    );
    let calls = svc.deliver("opened", number, "bump-prod", &head, &[]).await;
    let tarballs: Vec<String> = calls
        .iter()
        .filter(|c| c.path.contains("/tarball/"))
        .map(Recorded::line)
        .collect();
    assert_eq!(
        tarballs,
        [
            format!("GET /repos/acme/gitops/tarball/{head}"),
            format!("GET /repos/acme/gitops/tarball/{base}")
        ]
    );
    let runs = svc.fake.check_runs();
    assert_eq!(runs.len(), 1);
    // The base read from the tarball knows prod was at 1.0.0: one changed
    // pin, which staging has.
    assert_eq!(
        runs[0].conclusion.as_deref(),
        Some("success"),
        "{:#?}",
        runs[0]
    );
    assert!(
        runs[0].title.starts_with("1 changed pin"),
        "{}",
        runs[0].title
    );
}
