//! A revert PR through `GitHost::open_revert`: two GraphQL mutations on
//! github.com, single REST calls on GitHub Enterprise Server (whose GraphQL
//! endpoint the client cannot reach); the same PR, labels, commit and one
//! comment either way, and a second run finds the first run's PR.

use chartpilot::git::github::GithubHost;
use chartpilot::git::{GitHost, NewPull, PullRequest, RevertOpened, RevertWrite, Tell};

use super::support::fake_github::FakeGithub;
use super::{change, sha};

/// Seeds a bump merged by PR #1, lets the host read the step's history
/// (where it learns the repository's and the PR's node ids, as a rollback
/// does), opens the revert PR twice and returns what the host did and the
/// GitHub calls of the first.
async fn revert_twice(
    fake: &FakeGithub,
    gh: &GithubHost,
) -> (RevertOpened, RevertOpened, Vec<String>) {
    fake.seed(&[("apps/podinfo.yaml", "targetRevision: 6.5.0\n")]);
    fake.set_branch("bump", &fake.branch("main").unwrap());
    fake.commit_files("bump", &[("apps/podinfo.yaml", "targetRevision: 6.6.0\n")]);
    let bump = fake.add_pull("bump", "Bump podinfo");
    let merge = fake.merge_into_base(bump);
    fake.create_label("rollback");
    fake.create_label("chartpilot");
    let steps = gh
        .path_steps(
            &sha(&merge),
            chrono::DateTime::UNIX_EPOCH,
            &["apps/podinfo.yaml".to_owned()],
            Some("revert/"),
        )
        .await
        .unwrap();
    assert_eq!(steps.len(), 1);
    let say = |pr: &PullRequest| {
        (
            format!("k-{}", pr.number),
            format!("reverted in #{}", pr.number),
        )
    };
    let pull = NewPull {
        head: format!("revert/{merge}"),
        base: "main".into(),
        title: "Revert the bump".into(),
        body: "Because.".into(),
        labels: vec!["rollback".into(), "chartpilot".into()],
    };
    let changes = [change("apps/podinfo.yaml", "targetRevision: 6.5.0\n")];
    let write = RevertWrite {
        parent: &sha(&merge),
        message: "Revert the bump\n\nThis reverts commit x.\n",
        changes: &changes,
        pull: &pull,
        tell: Some(Tell {
            number: bump,
            say: &say,
        }),
    };
    fake.clear_requests();
    let first = gh.open_revert(&write).await.unwrap();
    let calls = fake.api_calls().iter().map(|c| c.line()).collect();
    let second = gh.open_revert(&write).await.unwrap();
    (first, second, calls)
}

fn check(fake: &FakeGithub, first: &RevertOpened, second: &RevertOpened) {
    let RevertOpened::Opened { pull, told } = first else {
        panic!("{first:?}");
    };
    assert_eq!(*told, Some(true));
    assert_eq!(pull.title, "Revert the bump");
    assert_eq!(pull.labels, ["rollback", "chartpilot"]);
    assert!(pull
        .url
        .as_deref()
        .unwrap()
        .ends_with(&format!("/pull/{}", pull.number)));
    let held = fake.pull(pull.number);
    assert_eq!(held.labels, ["rollback", "chartpilot"]);
    assert_eq!(held.body, "Because.");
    let head = fake.branch(&pull.head).unwrap();
    assert_eq!(fake.parents(&head), [fake.branch("main").unwrap()]);
    assert_eq!(
        String::from_utf8(fake.file(&head, "apps/podinfo.yaml").unwrap()).unwrap(),
        "targetRevision: 6.5.0\n"
    );
    assert_eq!(
        fake.message(&head).trim_end(),
        "Revert the bump\n\nThis reverts commit x."
    );
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(
        comments[0],
        format!(
            "reverted in #{}\n\n<!-- chartpilot:k-{} -->",
            pull.number, pull.number
        )
    );
    // The second run finds the first's PR and writes nothing.
    let RevertOpened::Existing(existing) = second else {
        panic!("{second:?}");
    };
    assert_eq!(existing.number, pull.number);
    assert_eq!(fake.pulls().len(), 2);
    assert_eq!(fake.comments(1).len(), 1);
    assert!(fake.take_violations().is_empty());
}

#[tokio::test]
async fn on_github_a_revert_pr_is_two_mutations() {
    let fake = FakeGithub::start().await;
    let gh = GithubHost::from_settings(&fake.github_settings(), &fake.git_settings()).unwrap();
    let (first, second, calls) = revert_twice(&fake, &gh).await;
    assert_eq!(calls, ["POST /graphql", "POST /graphql"]);
    check(&fake, &first, &second);
}

#[tokio::test]
async fn on_github_enterprise_server_a_revert_pr_is_single_rest_calls() {
    let fake = FakeGithub::start().await;
    let mut settings = fake.github_settings();
    settings.api_url = format!("{}/api/v3", fake.url);
    let gh = GithubHost::from_settings(&settings, &fake.git_settings()).unwrap();
    let (first, second, calls) = revert_twice(&fake, &gh).await;
    assert!(!calls.iter().any(|c| c.contains("graphql")), "{calls:#?}");
    assert!(
        calls.contains(&"POST /repos/acme/gitops/git/refs".to_owned()),
        "{calls:#?}"
    );
    check(&fake, &first, &second);
}
