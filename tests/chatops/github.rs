//! Commands in GitHub comments, through the fake GitHub: 👀 and one reply
//! comment, and a freeze that has to retry when someone pushed meanwhile.

use super::*;

#[tokio::test]
async fn a_github_comment_gets_eyes_and_a_reply_comment() {
    let fake = FakeGithub::start().await;
    let seeded: Vec<(&str, String)> = files();
    fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (*p, t.as_str()))
            .collect::<Vec<_>>(),
    );
    fake.set_branch("feature", &fake.branch("main").unwrap());
    let issue = fake.add_pull("feature", "Some change");
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let extra =
        support::env_vars(&[fake.env(), vec![("UPGRADE__INTERVAL", "0s".to_owned())]].concat());
    let settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let (port, worker) = support::start_service(&settings).await;
    let body = serde_json::json!({
        "action": "created",
        "issue": { "number": issue, "pull_request": { "url": "x" } },
        "comment": {
            "id": 4242,
            "body": "Is it deployed?\n/chartpilot status jupyterhub\n```\n/chartpilot freeze prod\n```",
            "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": fake.repository() },
        "sender": { "login": "alice", "type": "User" }
    })
    .to_string();
    let status = support::post_github_event(port, &secrets.github, "issue_comment", &body).await;
    assert_eq!(status, 202);
    let outcome = support::next_outcome(&worker).await;
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(fake.reactions(), [(4242, "eyes".to_owned())]);
    let comments = fake.comments(issue);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].starts_with("> `/chartpilot status jupyterhub`"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("prod: jupyterhub `3.1.0`"),
        "{}",
        comments[0]
    );
    assert!(
        !comments[0].contains("freeze"),
        "code blocks are not commands: {}",
        comments[0]
    );
}

/// `freeze` from a GitHub comment, against the fake GitHub, while someone
/// else pushes to main between chartpilot's read and its ref update:
/// GitHub refuses the update as real GitHub does (422 "Update is not a
/// fast forward"), chartpilot reads again, and the freeze lands once, on
/// top of the other push, which is kept.
#[tokio::test]
async fn a_freeze_that_loses_a_race_with_a_push_lands_once_on_top_of_it() {
    let fake = FakeGithub::start().await;
    let seeded: Vec<(&str, String)> = files();
    fake.seed(
        &seeded
            .iter()
            .map(|(p, t)| (*p, t.as_str()))
            .collect::<Vec<_>>(),
    );
    fake.set_branch("feature", &fake.branch("main").unwrap());
    let issue = fake.add_pull("feature", "Release week");
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let extra =
        support::env_vars(&[fake.env(), vec![("UPGRADE__INTERVAL", "0s".to_owned())]].concat());
    let mut settings = test_settings(Backend::Embedded, "", dir.path(), &secrets, &extra);
    let overlay = dir.path().join("overlay.toml");
    std::fs::write(
        &overlay,
        "[[chat.allow]]\nverbs = [\"freeze\"]\nenvironments = [\"*\"]\ngithub_users = [\"alice\"]\n",
    )
    .unwrap();
    settings.chat.allow = Settings::load(Some(&overlay), &Default::default())
        .unwrap()
        .chat
        .allow;
    let (port, worker) = support::start_service(&settings).await;
    fake.race_next_update("main", &[("README.md", "someone else's change\n")]);
    fake.clear_requests();
    let body = serde_json::json!({
        "action": "created",
        "issue": { "number": issue, "pull_request": { "url": "x" } },
        "comment": {
            "id": 4343,
            "body": "/chartpilot freeze staging release week",
            "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": fake.repository() },
        "sender": { "login": "alice", "type": "User" }
    })
    .to_string();
    let status = support::post_github_event(port, &secrets.github, "issue_comment", &body).await;
    assert_eq!(status, 202);

    let outcome = support::next_outcome(&worker).await;

    assert_eq!(outcome, Outcome::Done);
    // One commit on main each try (a GraphQL mutation expecting the head
    // it read): refused once, then taken.
    let commits = fake
        .api_calls()
        .iter()
        .filter(|c| c.is_write() && c.line() == "POST /graphql")
        .count();
    assert_eq!(commits, 2, "refused once, then taken");
    let head = fake.branch("main").unwrap();
    let freeze = String::from_utf8(fake.file(&head, ".chartpilot/freeze.yaml").unwrap()).unwrap();
    assert_eq!(freeze.matches("staging").count(), 1, "{freeze}");
    assert!(freeze.contains("release week"), "{freeze}");
    // The freeze commit sits on the other push, which is kept.
    let parents = fake.parents(&head);
    assert_eq!(parents.len(), 1);
    assert_eq!(
        fake.file(&parents[0], "README.md").as_deref(),
        Some(&b"someone else's change\n"[..])
    );
    assert!(fake.file(&parents[0], ".chartpilot/freeze.yaml").is_none());
    assert_eq!(
        fake.file(&head, "README.md").as_deref(),
        Some(&b"someone else's change\n"[..])
    );
    let comments = fake.comments(issue);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("staging is frozen: release week"),
        "{}",
        comments[0]
    );
}
