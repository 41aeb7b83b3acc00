//! The outcomes that are not a revert, each through the service's handler
//! against the fake GitHub: the Conflict and its notice, and every reason
//! a notification is skipped, each leaving the repository, GitHub and chat
//! as they were.

use std::sync::Arc;

use chartpilot::clock::FixedClock;
use chartpilot::domain::CommitSha;
use chartpilot::jobs::AlertStatus;
use chartpilot::rollback::run::Outcome;

use super::alertmanager::Alertmanager;
use super::world::{rollbacker, skipped, World};
use super::*;

fn short(sha: &str) -> String {
    CommitSha::parse(sha).unwrap().short().to_owned()
}

#[tokio::test]
async fn a_revert_that_does_not_apply_cleanly_is_a_conflict_told_to_chat_and_nothing_is_written() {
    let w = World::new().await;
    // After the bump someone annotated the very line the revert would
    // change; the pin stays 6.6.0, so that edit is no step of its own.
    let annotated = app("prod", "6.6.0").replace(
        "targetRevision: 6.6.0",
        "targetRevision: 6.6.0 # held for INC-42",
    );
    let head = w
        .fake
        .commit_files("main", &[("environments/prod/podinfo.yaml", &annotated)]);
    w.fake.clear_requests();
    let h = w.handler("revert-pr", "").await;

    let outcomes = rollbacker(&h)
        .on_notification(&notification(AlertStatus::Firing, "d0d0d0"))
        .await
        .unwrap();
    let reason = format!(
        "cannot revert {} cleanly: environments/prod/podinfo.yaml changed on the branch since, in lines the revert would touch (a conflict)",
        short(&w.merge)
    );
    assert_eq!(
        outcomes,
        [Outcome::Conflict {
            app: "podinfo-prod".into(),
            commit: CommitSha::parse(&w.merge).unwrap(),
            reason: reason.clone(),
        }]
    );
    assert_eq!(
        w.chat(),
        [format!(
            "chartpilot rollback of podinfo-prod needs a person: {reason}"
        )]
    );
    // Nothing written: no commit, branch, PR or comment; main as it was.
    assert!(w.writes().is_empty(), "{:#?}", w.writes());
    assert_eq!(w.fake.branch("main").unwrap(), head);
    assert_eq!(w.fake.pulls().len(), 1);
    assert!(w.fake.comments(w.bump_pr).is_empty());
}

#[tokio::test]
async fn alerts_naming_no_app_or_an_app_without_a_pin_are_skipped_with_the_reason() {
    let w = World::new().await;
    let h = w.handler("revert-pr", "").await;

    let mut n = notification(AlertStatus::Firing, "e0e0e1");
    n.alerts[0].labels.remove("argocd_app");
    assert_eq!(
        skipped(&h, &n).await,
        "PodinfoDown names no app (none of the rule's app labels is set)"
    );

    let mut n = notification(AlertStatus::Firing, "e0e0e2");
    n.alerts[0]
        .labels
        .insert("argocd_app".into(), "podinfo-qa".into());
    assert_eq!(
        skipped(&h, &n).await,
        "PodinfoDown names podinfo-qa, which the repository pins under no Application or helm_release of that name"
    );

    let mut n = notification(AlertStatus::Firing, "e0e0e3");
    n.alerts[0].labels.insert("env".into(), "staging".into());
    assert_eq!(skipped(&h, &n).await, "podinfo-prod has no pin in staging");

    w.assert_untouched();
}

#[tokio::test]
async fn an_alert_without_an_environment_for_an_app_pinned_in_two_is_skipped() {
    let w = World::new().await;
    let web = |env: &str| app(env, "1.0.0").replace(&format!("podinfo-{env}"), "web");
    w.fake.commit_files(
        "main",
        &[
            ("environments/dev/web.yaml", &web("dev")),
            ("environments/prod/web.yaml", &web("prod")),
        ],
    );
    let head = w.fake.branch("main").unwrap();
    w.fake.clear_requests();
    let h = w.handler("revert-pr", "").await;
    let mut n = notification(AlertStatus::Firing, "e0e0e4");
    n.alerts[0].labels.insert("argocd_app".into(), "web".into());
    n.alerts[0].labels.remove("env");
    assert_eq!(
        skipped(&h, &n).await,
        "the alerts name no environment, and web is pinned in dev, prod"
    );
    assert_eq!(w.fake.branch("main").unwrap(), head);
    assert!(w.writes().is_empty(), "{:#?}", w.writes());
    assert!(w.chat().is_empty());
}

#[tokio::test]
async fn a_resolved_notification_and_an_alert_alertmanager_no_longer_reports_are_skipped() {
    let w = World::new().await;
    let h = w.handler("revert-pr", "").await;
    assert_eq!(
        skipped(&h, &notification(AlertStatus::Resolved, "e0e0e5")).await,
        "every alert about podinfo-prod in this notification is resolved"
    );

    // Alertmanager (a real one, with no alert in it) is asked just before
    // acting: the alert resolved in the meantime.
    let am = Alertmanager::start("http://127.0.0.1:9/none", "unused").await;
    let h = w
        .handler(
            "revert-pr",
            &format!("[alertmanager]\napi_url = \"{}\"\n", am.url),
        )
        .await;
    assert_eq!(
        skipped(&h, &notification(AlertStatus::Firing, "e0e0e6")).await,
        "PodinfoDown resolved before chartpilot acted: Alertmanager no longer reports it firing"
    );
    w.assert_untouched();
}

#[tokio::test]
async fn an_alert_that_started_before_the_change_or_long_after_it_is_skipped() {
    let w = World::new().await;
    let h = w.handler("revert-pr", "").await;
    let merge = short(&w.merge);

    // Firing since before the bump landed: the bump did not cause it.
    let mut n = notification(AlertStatus::Firing, "e0e0e7");
    n.alerts[0].starts_at = chrono::Utc::now() - chrono::Duration::hours(1);
    let reason = skipped(&h, &n).await;
    assert!(
        reason.starts_with("PodinfoDown was already firing at ")
            && reason.contains(&format!(", before {merge} landed at "))
            && reason.ends_with(" UTC: that change did not cause it"),
        "{reason}"
    );

    // Ten days later: the bump is outside the history read at all
    // (rollout window 2h, cooldown 30m by default) ...
    let later = chrono::Utc::now() + chrono::Duration::days(10);
    let h = w
        .handler_at("revert-pr", "", Arc::new(FixedClock(later)))
        .await;
    let mut n = notification(AlertStatus::Firing, "e0e0e8");
    n.alerts[0].starts_at = later;
    assert_eq!(
        skipped(&h, &n).await,
        "no change to podinfo-prod's pin reached the branch in the 2h (policy.rollout_window) before PodinfoDown started"
    );

    // ... and, with a cooldown that reads it, read but too old.
    let h = w
        .handler_at(
            "revert-pr",
            "[policy]\ncooldown = \"30days\"\n",
            Arc::new(FixedClock(later)),
        )
        .await;
    let reason = skipped(&h, &n).await;
    assert!(
        reason.starts_with(&format!("{merge} landed 10days "))
            && reason.ends_with(
                "before PodinfoDown started, longer ago than policy.rollout_window (2h)"
            ),
        "{reason}"
    );
    w.assert_untouched();
}

#[tokio::test]
async fn a_new_bump_within_the_cooldown_of_a_rollback_is_not_rolled_back_again() {
    let w = World::new().await;
    // A person reverted the bump (GitHub's revert button), then bumped
    // again: the new bump is the newest change, the revert minutes old.
    let revert = {
        w.fake.set_branch("revert-1-bump-podinfo", &w.merge);
        w.fake.commit_files(
            "revert-1-bump-podinfo",
            &[("environments/prod/podinfo.yaml", &app("prod", "6.5.0"))],
        );
        let pr = w.fake.add_pull(
            "revert-1-bump-podinfo",
            "Revert \"Merge pull request #1 from acme/bump-podinfo\"",
        );
        w.fake.merge_into_base(pr)
    };
    let again = {
        w.fake.set_branch("bump-again", &revert);
        w.fake.commit_files(
            "bump-again",
            &[("environments/prod/podinfo.yaml", &app("prod", "6.6.0"))],
        );
        let pr = w
            .fake
            .add_pull("bump-again", "chore(deps): upgrade podinfo to 6.6.0 again");
        w.fake.merge_into_base(pr)
    };
    w.fake.clear_requests();
    let h = w.handler("revert-pr", "").await;
    let reason = skipped(&h, &notification(AlertStatus::Firing, "e0e0e9")).await;
    assert!(
        reason.starts_with("podinfo-prod was rolled back ")
            && reason.ends_with(&format!(
                " ago by {}; one rollback per 30m (policy.cooldown)",
                short(&revert)
            )),
        "{reason}"
    );
    assert_eq!(w.fake.branch("main").unwrap(), again);
    assert!(w.writes().is_empty(), "{:#?}", w.writes());
    assert!(w.chat().is_empty());
    assert_eq!(w.fake.pulls().len(), 3);
}
