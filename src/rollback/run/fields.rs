//! An [`Outcome`] as log fields people read and query:
//! `outcome=reverted commit=1a2b3c4d5e6f pull=12`, never Rust's `Debug`.

use super::Outcome;

impl Outcome {
    /// One word per kind of outcome, stable for log queries and alerts.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Reverted {
                pushed: Some(_), ..
            } => "reverted_pushed",
            Outcome::Reverted { .. } => "reverted",
            Outcome::RolledBackInArgoCd { .. } => "rolled_back_in_argocd",
            Outcome::WouldRevert { .. } => "would_revert",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Conflict { .. } => "conflict",
            Outcome::NotedResolved { .. } => "noted_resolved",
        }
    }

    /// The commit reverted (or that would be), as people quote it.
    pub fn commit_short(&self) -> Option<&str> {
        match self {
            Outcome::Reverted { commit, .. }
            | Outcome::WouldRevert { commit, .. }
            | Outcome::Conflict { commit, .. } => Some(commit.short()),
            _ => None,
        }
    }

    /// The revert PR opened, or the one a resolved alert was noted on.
    pub fn pull(&self) -> Option<u64> {
        match self {
            Outcome::Reverted { pull, .. } => *pull,
            Outcome::NotedResolved { pull } => Some(*pull),
            _ => None,
        }
    }

    /// Why nothing (or not all) was done; what Argo CD was asked to deploy.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::WouldRevert { reason, .. }
            | Outcome::Skipped { reason, .. }
            | Outcome::Conflict { reason, .. } => Some(reason),
            Outcome::RolledBackInArgoCd { revision, .. } => Some(revision),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;
    use crate::domain::CommitSha;

    #[test]
    fn outcomes_read_as_words_and_short_commits() {
        let sha = CommitSha::parse(&"1a2b3c4d5e6f".repeat(4)[..40]).unwrap();
        let reverted = Outcome::Reverted {
            app: "podinfo".into(),
            commit: sha.clone(),
            pull: Some(12),
            pushed: None,
        };
        assert_eq!(
            (reverted.kind(), reverted.commit_short(), reverted.pull()),
            ("reverted", Some("1a2b3c4d5e6f"), Some(12))
        );
        let pushed = Outcome::Reverted {
            app: "podinfo".into(),
            commit: sha,
            pull: None,
            pushed: Some(CommitSha::parse(&"f".repeat(40)).unwrap()),
        };
        assert_eq!((pushed.kind(), pushed.pull()), ("reverted_pushed", None));
        let skipped = Outcome::Skipped {
            app: "podinfo".into(),
            reason: "in cooldown".into(),
        };
        assert_eq!(
            (skipped.kind(), skipped.commit_short(), skipped.detail()),
            ("skipped", None, Some("in cooldown"))
        );
        let noted = Outcome::NotedResolved { pull: 7 };
        assert_eq!((noted.kind(), noted.pull()), ("noted_resolved", Some(7)));
    }
}
