//! The dashboard issue on the fake GitHub: opened by the first pass, read
//! and left alone while nothing changed, and a box a person ticks (a signed
//! `issues` edited webhook) opens that upgrade PR once, as that person,
//! authorized like the chat `upgrade` verb.

use std::sync::Arc;
use std::time::Duration;

use chartpilot::clock::SystemClock;
use chartpilot::settings::{ChatAllow, Secret};
use chartpilot::upgrade::Upgrader;
use chartpilot::worker::{Outcome, Worker};

use super::scratch;
use super::support;
use super::support::fake_github::FakeGithub;

const STAGING_BOX: &str = "- [ ] <!-- chartpilot:upgrade podinfo staging 6.6.0 -->";

fn edited(repo: &str, number: u64, sender: (&str, &str), from: &str, body: &str) -> String {
    serde_json::json!({
        "action": "edited",
        "issue": { "number": number, "title": "chartpilot dashboard", "body": body },
        "changes": { "body": { "from": from } },
        "repository": { "full_name": repo },
        "sender": { "login": sender.0, "type": sender.1 }
    })
    .to_string()
}

async fn run_one(worker: &Worker) {
    assert_eq!(support::next_outcome(worker).await, Outcome::Done);
}

fn staging_pulls(fake: &FakeGithub) -> usize {
    fake.pulls()
        .iter()
        .filter(|p| p.head == "chartpilot/upgrade/staging/podinfo-6.6.0")
        .count()
}

#[tokio::test]
async fn a_ticked_box_opens_that_pr_once_and_only_for_a_person_allowed_to_ask() {
    let fake = FakeGithub::start().await;
    let scratch = scratch("6.6.0");
    let mut settings = scratch.github_settings(&fake);
    let secret = support::random_secret();
    settings.github.webhook_secret = Secret::new(secret.clone());
    settings.upgrade.interval = Duration::ZERO;
    settings.queue.path = scratch.tmp.path().join("queue");
    settings.chat.allow = vec![ChatAllow {
        verbs: vec!["upgrade".into()],
        environments: vec!["staging".into()],
        github_users: vec!["alice".into()],
        ..ChatAllow::default()
    }];
    let (port, worker) = support::start_service(&settings).await;
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).unwrap();
    up.run(false).await.unwrap();
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "one dashboard");
    let dashboard = issues[0].clone();
    let old = dashboard.body.clone();
    assert!(old.contains(STAGING_BOX), "{old}");
    let ticked = old.replace(STAGING_BOX, &STAGING_BOX.replace("[ ]", "[x]"));
    fake.set_issue_body(dashboard.number, &ticked);
    let repo = fake.repository();

    // Someone the rules do not name: told so, nothing opened.
    let bob = edited(&repo, dashboard.number, ("bob", "User"), &old, &ticked);
    assert_eq!(
        support::post_github_event(port, &secret, "issues", &bob).await,
        202
    );
    run_one(&worker).await;
    assert_eq!(staging_pulls(&fake), 0);
    let comments = fake.comments(dashboard.number);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].starts_with("> `/chartpilot upgrade podinfo to 6.6.0 staging`"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("Not allowed: bob may not `upgrade` in staging"),
        "{}",
        comments[0]
    );

    // Alice may: the PR opens, as the chat verb opens it.
    let alice = edited(&repo, dashboard.number, ("alice", "User"), &old, &ticked);
    assert_eq!(
        support::post_github_event(port, &secret, "issues", &alice).await,
        202
    );
    run_one(&worker).await;
    assert_eq!(staging_pulls(&fake), 1);
    let pr = fake
        .pulls()
        .into_iter()
        .find(|p| p.head == "chartpilot/upgrade/staging/podinfo-6.6.0")
        .unwrap();
    assert!(pr.body.contains("Requested by alice"), "{}", pr.body);
    // The same edit delivered again (a redelivery has a new id): once.
    assert_eq!(
        support::post_github_event(port, &secret, "issues", &alice).await,
        202
    );
    run_one(&worker).await;
    assert_eq!(staging_pulls(&fake), 1);

    // The same box on an issue someone else opened (marker and all, no
    // label): the job runs nothing, answers nothing.
    let impostor = fake.add_issue("looks like the dashboard", &old, &[]);
    let elsewhere = edited(&repo, impostor, ("alice", "User"), &old, &ticked);
    assert_eq!(
        support::post_github_event(port, &secret, "issues", &elsewhere).await,
        202
    );
    run_one(&worker).await;
    assert!(fake.comments(impostor).is_empty());
    let prod_pulls = |fake: &FakeGithub| {
        fake.pulls()
            .iter()
            .filter(|p| p.head.starts_with("chartpilot/upgrade/prod/"))
            .count()
    };
    assert_eq!(prod_pulls(&fake), 0);

    // A box whose hidden marker asks for something else than its text
    // says is no box.
    const DISGUISED: &str =
        "- [ ] <!-- chartpilot:upgrade podinfo prod 6.6.0 --> `podinfo` → `6.6.0` in **staging**";
    let disguised = old.replace(STAGING_BOX, DISGUISED);
    let disguised_ticked = disguised.replace(DISGUISED, &DISGUISED.replace("[ ]", "[x]"));
    let body = edited(
        &repo,
        dashboard.number,
        ("alice", "User"),
        &disguised,
        &disguised_ticked,
    );
    assert_eq!(
        support::post_github_event(port, &secret, "issues", &body).await,
        200
    );
    assert_eq!(prod_pulls(&fake), 0);

    // chartpilot's own rewrite, unticking, or a title edit: no job.
    for body in [
        edited(
            &repo,
            dashboard.number,
            ("chartpilot[bot]", "Bot"),
            &old,
            &ticked,
        ),
        edited(&repo, dashboard.number, ("alice", "User"), &ticked, &old),
        serde_json::json!({
            "action": "edited",
            "issue": { "number": dashboard.number, "body": ticked },
            "changes": { "title": { "from": "x" } },
            "repository": { "full_name": repo },
            "sender": { "login": "alice", "type": "User" }
        })
        .to_string(),
    ] {
        assert_eq!(
            support::post_github_event(port, &secret, "issues", &body).await,
            200,
            "{body}"
        );
    }

    // The next pass lists the PR and drops the box; one dashboard still.
    up.run(false).await.unwrap();
    let issues: Vec<_> = fake
        .issues()
        .into_iter()
        .filter(|i| i.labels == ["chartpilot-dashboard"])
        .collect();
    assert_eq!(issues.len(), 1);
    assert!(
        !issues[0].body.contains("podinfo staging 6.6.0"),
        "{}",
        issues[0].body
    );
    assert!(
        issues[0].body.contains(&format!(
            "- #{} chore(deps): upgrade podinfo to 6.6.0 in staging",
            pr.number
        )),
        "{}",
        issues[0].body
    );
}
