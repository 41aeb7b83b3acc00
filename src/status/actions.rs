//! The actions of a feature's report, in words for the status page. Only
//! what changed something: a dry run, an unchanged PR or a skip is no
//! action.

use chrono::{DateTime, Utc};

use super::{Action, ActionKind, PullChange};
use crate::rollback::run::Outcome;
use crate::sync::run::SyncReport;
use crate::upgrade::report::{Action as PullAction, Report};

fn action(at: DateTime<Utc>, kind: ActionKind, text: String, link: Option<String>) -> Action {
    Action {
        repository: String::new(),
        at,
        kind,
        text,
        link,
        pull: None,
    }
}

fn pulls(report: &Report, kind: ActionKind, at: DateTime<Utc>) -> Vec<Action> {
    report
        .actions
        .iter()
        .filter_map(|a| {
            let (text, link, pull) = match a {
                PullAction::Opened {
                    number,
                    title,
                    url,
                    branch,
                } => (
                    format!("opened #{number}: {title}"),
                    url.clone(),
                    Some(PullChange::Opened {
                        number: *number,
                        branch: branch.clone(),
                        url: url.clone(),
                    }),
                ),
                PullAction::Updated { number, title, .. } => {
                    (format!("updated #{number}: {title}"), None, None)
                }
                PullAction::Closed {
                    number, successor, ..
                } => (
                    format!("closed #{number}, superseded by #{successor}"),
                    None,
                    Some(PullChange::Closed(*number)),
                ),
                PullAction::Obsolete { number, reason, .. } => (
                    format!("closed #{number}: {reason}"),
                    None,
                    Some(PullChange::Closed(*number)),
                ),
                PullAction::Unchanged { .. }
                | PullAction::WouldOpen { .. }
                | PullAction::WouldClose { .. }
                | PullAction::Declined { .. } => return None,
            };
            Some(Action {
                pull,
                ..action(at, kind, text, link)
            })
        })
        .collect()
}

/// The PRs an upgrade pass opened, updated or closed.
pub fn from_upgrade(report: &Report, at: DateTime<Utc>) -> Vec<Action> {
    pulls(report, ActionKind::Upgrade, at)
}

/// The PR a promotion opened.
pub fn from_promotion(report: &Report, at: DateTime<Utc>) -> Vec<Action> {
    pulls(report, ActionKind::Promotion, at)
}

/// Reverts, Argo CD rollbacks, and reverts that need a person.
pub fn from_rollback(outcomes: &[Outcome], at: DateTime<Utc>) -> Vec<Action> {
    outcomes
        .iter()
        .filter_map(|o| {
            let text = match o {
                Outcome::Reverted {
                    app,
                    commit,
                    pull: Some(pull),
                    ..
                } => format!("opened revert #{pull} of {} for {app}", commit.short()),
                Outcome::Reverted {
                    app,
                    commit,
                    pushed: Some(pushed),
                    ..
                } => format!(
                    "pushed {} reverting {} for {app}",
                    pushed.short(),
                    commit.short()
                ),
                Outcome::Reverted { app, commit, .. } => {
                    format!("reverted {} for {app}", commit.short())
                }
                Outcome::RolledBackInArgoCd { app, revision } => {
                    format!("rolled {app} back to revision {revision} in Argo CD")
                }
                Outcome::Conflict {
                    app,
                    commit,
                    reason,
                } => format!(
                    "could not revert {} for {app}, a person must: {reason}",
                    commit.short()
                ),
                Outcome::NotedResolved { pull } => {
                    format!("noted on #{pull} that the alert resolved")
                }
                Outcome::WouldRevert { .. } | Outcome::Skipped { .. } => return None,
            };
            Some(action(at, ActionKind::Rollback, text, None))
        })
        .collect()
}

/// Apps synced or refreshed after a push.
pub fn from_sync(report: &SyncReport, at: DateTime<Utc>) -> Vec<Action> {
    let synced = report
        .synced
        .iter()
        .map(|app| action(at, ActionKind::Sync, format!("synced {app}"), None));
    let refreshed = report
        .refreshed
        .iter()
        .map(|app| action(at, ActionKind::Sync, format!("refreshed {app}"), None));
    synced.chain(refreshed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CommitSha;

    fn sha(c: char) -> CommitSha {
        CommitSha::parse(&c.to_string().repeat(40)).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn only_what_changed_something_is_an_action() {
        let at = Utc::now();
        let report = Report {
            actions: vec![
                PullAction::Opened {
                    number: 7,
                    branch: "chartpilot/dev/app-1.2.0".into(),
                    title: "app 1.2.0 in dev".into(),
                    url: Some("https://github.com/o/r/pull/7".into()),
                },
                PullAction::Unchanged {
                    number: 3,
                    branch: "b".into(),
                },
                PullAction::WouldOpen {
                    branch: "b".into(),
                    title: "t".into(),
                },
                PullAction::Closed {
                    number: 3,
                    branch: "b".into(),
                    successor: 7,
                },
            ],
            ..Report::default()
        };
        let got: Vec<(String, Option<String>)> = from_upgrade(&report, at)
            .into_iter()
            .map(|a| (a.text, a.link))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "opened #7: app 1.2.0 in dev".to_owned(),
                    Some("https://github.com/o/r/pull/7".to_owned())
                ),
                ("closed #3, superseded by #7".to_owned(), None),
            ]
        );
        let outcomes = [
            Outcome::Reverted {
                app: "web".into(),
                commit: sha('a'),
                pull: Some(9),
                pushed: None,
            },
            Outcome::Skipped {
                app: "api".into(),
                reason: "not ours".into(),
            },
            Outcome::Reverted {
                app: "api".into(),
                commit: sha('b'),
                pull: None,
                pushed: Some(sha('c')),
            },
        ];
        let texts: Vec<String> = from_rollback(&outcomes, at)
            .into_iter()
            .map(|a| a.text)
            .collect();
        assert_eq!(
            texts,
            [
                "opened revert #9 of aaaaaaaaaaaa for web",
                "pushed cccccccccccc reverting bbbbbbbbbbbb for api"
            ]
        );
    }
}
