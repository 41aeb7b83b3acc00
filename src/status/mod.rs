//! What this process knows and did, for the status page at `/`: the
//! version matrix of its last upgrade pass and its last actions. Kept in
//! memory on purpose: git, Argo CD and Alertmanager hold the state, and a
//! restarted replica shows what it did since it started (the page says so).

mod actions;
pub mod page;

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::matrix::Matrix;

pub use actions::{from_promotion, from_rollback, from_sync, from_upgrade};

/// Actions the page lists, newest first.
pub const MAX_ACTIONS: usize = 50;

/// The matrix of one upgrade pass of one repository.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The repository (`GitSettings::key`).
    pub repository: String,
    pub at: DateTime<Utc>,
    pub matrix: Matrix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Upgrade,
    Promotion,
    Rollback,
    Sync,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Upgrade => "upgrade",
            ActionKind::Promotion => "promotion",
            ActionKind::Rollback => "rollback",
            ActionKind::Sync => "sync",
        }
    }
}

/// One thing chartpilot changed: a PR opened or closed, a revert, a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// The repository it acted on; set by [`Board::record`].
    pub repository: String,
    pub at: DateTime<Utc>,
    pub kind: ActionKind,
    /// In words, from repository text: rendered escaped.
    pub text: String,
    /// Where a person sees it (a PR on the git host).
    pub link: Option<String>,
    /// The PR it opened or closed, which moves the matrix's cells.
    #[serde(skip)]
    pub pull: Option<PullChange>,
}

/// A chartpilot PR opened or closed by an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullChange {
    Opened {
        number: u64,
        branch: String,
        url: Option<String>,
    },
    Closed(u64),
}

/// Written by the worker, read by the status page.
#[derive(Debug, Default)]
pub struct Board {
    worker: bool,
    /// The last matrix of each repository, by repository.
    matrices: RwLock<std::collections::BTreeMap<String, Snapshot>>,
    actions: Mutex<VecDeque<Action>>,
}

impl Board {
    /// The board of a process that runs jobs (`worker`) or only receives.
    pub fn new(worker: bool) -> Self {
        Self {
            worker,
            ..Self::default()
        }
    }

    /// Whether this process runs jobs, so its board fills.
    pub fn worker(&self) -> bool {
        self.worker
    }

    /// Replaces `repository`'s matrix with the one of the pass that just
    /// ran.
    pub fn set_matrix(&self, repository: &str, at: DateTime<Utc>, matrix: Matrix) {
        let mut all = self
            .matrices
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        all.insert(
            repository.to_owned(),
            Snapshot {
                repository: repository.to_owned(),
                at,
                matrix,
            },
        );
    }

    /// Drops `repository`'s matrix: it is no longer served. Its actions
    /// stay in the history.
    pub fn forget(&self, repository: &str) {
        self.matrices
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(repository);
    }

    /// The last matrix of each repository, by repository.
    pub fn matrices(&self) -> Vec<Snapshot> {
        self.matrices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Adds actions (oldest first); only the newest [`MAX_ACTIONS`] stay.
    /// The PRs they opened or closed move the matrix's cells at once: a
    /// promotion PR shows before the next pass.
    pub fn record(&self, repository: &str, actions: impl IntoIterator<Item = Action>) {
        let actions: Vec<Action> = actions
            .into_iter()
            .map(|a| Action {
                repository: repository.to_owned(),
                ..a
            })
            .collect();
        {
            let mut all = self
                .matrices
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(snapshot) = all.get_mut(repository) {
                for change in actions.iter().filter_map(|a| a.pull.as_ref()) {
                    match change {
                        PullChange::Opened {
                            number,
                            branch,
                            url,
                        } => crate::matrix::pull_opened(
                            &mut snapshot.matrix,
                            &crate::git::PullRequest {
                                number: *number,
                                head: branch.clone(),
                                base: String::new(),
                                title: String::new(),
                                body: String::new(),
                                state: crate::git::PullState::Open,
                                labels: Vec::new(),
                                url: url.clone(),
                                merge_commit: None,
                                merged_at: None,
                            },
                        ),
                        PullChange::Closed(number) => {
                            crate::matrix::pull_closed(&mut snapshot.matrix, *number)
                        }
                    }
                }
            }
        }
        let mut list = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        for a in actions {
            list.push_front(a);
        }
        list.truncate(MAX_ACTIONS);
    }

    /// Newest first.
    pub fn actions(&self) -> Vec<Action> {
        self.actions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(i: i64) -> Action {
        Action {
            repository: String::new(),
            at: DateTime::from_timestamp(i, 0).unwrap_or_default(),
            kind: ActionKind::Sync,
            text: format!("synced app-{i}"),
            link: None,
            pull: None,
        }
    }

    #[test]
    fn the_board_keeps_the_newest_actions_first_and_no_more_than_the_cap() {
        let board = Board::default();
        board.record("acme/a", (0..30).map(action));
        board.record("acme/b", (30..60).map(action));
        let list = board.actions();
        assert_eq!(list.len(), MAX_ACTIONS);
        assert_eq!(list[0].text, "synced app-59");
        assert_eq!(list[MAX_ACTIONS - 1].text, "synced app-10");
        assert_eq!(list[0].repository, "acme/b");
        assert_eq!(list[MAX_ACTIONS - 1].repository, "acme/a");
    }

    #[test]
    fn a_pr_opened_or_closed_after_the_pass_moves_its_cell_at_once() {
        use crate::pins::{Pin, PinKind};
        let pin = Pin::sample(PinKind::Argocd, Some("staging"), "web", "1.0.0");
        let m = crate::matrix::build(
            &[pin],
            None,
            &["staging".into()],
            &crate::promote::freeze::Freezes::default(),
        );
        let board = Board::new(true);
        board.set_matrix("acme/web", Utc::now(), m.clone());
        board.set_matrix("acme/other", Utc::now(), m);
        let pull_in = |b: &Board, repo: &str| {
            b.matrices()
                .into_iter()
                .find(|s| s.repository == repo)
                .and_then(|s| s.matrix.rows[0].cells["staging"].pull.clone())
                .map(|p| p.number)
        };
        let pull = |b: &Board| pull_in(b, "acme/web");
        let promoted = Action {
            pull: Some(PullChange::Opened {
                number: 5,
                branch: "chartpilot/upgrade/staging/web-1.1.0".into(),
                url: None,
            }),
            ..action(1)
        };
        board.record("acme/web", [promoted]);
        assert_eq!(pull(&board), Some(5));
        assert_eq!(
            pull_in(&board, "acme/other"),
            None,
            "another repository's matrix"
        );
        board.record(
            "acme/web",
            [Action {
                pull: Some(PullChange::Closed(5)),
                ..action(2)
            }],
        );
        assert_eq!(pull(&board), None);
    }
}
