//! What people hear about a rollback: the comment on the PR that brought
//! the change, the chat message, the note on a revert PR whose alert
//! resolved.

use super::{Outcome, RollbackError, Rollbacker, Step, REVERT_PREFIX};
use crate::git::{comment_once, comment_once_among, PullRequest};
use crate::jobs::Alert;
use crate::rollback::body::{self, Revert};
use crate::rollback::decide::PinChange;

impl Rollbacker {
    /// The comment on the PR that brought the change, and the chat message,
    /// for a push or an Argo CD rollback: each is an action of its own
    /// (an Argo CD rollback of one change may be made again), told each time.
    pub(super) async fn tell(&self, r: &Revert<'_>, what: &str, change: &PinChange) {
        if let Some(n) = self.origin_pull(change).await {
            if let Err(e) = self.host.comment(n, &body::origin_comment(r, what)).await {
                tracing::warn!(pr = n, error = %e, "comment on the PR that brought the change failed");
            }
        }
        self.chat(r, what).await;
    }

    /// The same for a revert PR that a later run found open: said only if
    /// the run that opened it stopped before telling (GitHub opened the PR
    /// and its answer was lost), found by the marker the comment carries
    /// (`comment_once`), among the comments the history read when it did.
    /// Chat goes out with the comment. Without a PR that brought the change
    /// there is nothing to mark, and chat is not told again.
    pub(super) async fn tell_untold(&self, r: &Revert<'_>, pr: &PullRequest, step: &Step) {
        let Some((n, known)) = self.origin_of(step).await else {
            return;
        };
        let (key, text) = origin_notice(r, &step.change, pr);
        let host = self.host.as_ref();
        let wrote = match known {
            Some(comments) => comment_once_among(host, n, &key, &text, &comments).await,
            None => comment_once(host, n, &key, &text).await,
        };
        match wrote {
            Ok(true) => self.chat(r, &revert_pr_text(pr)).await,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(pr = n, error = %e, "comment on the PR that brought the change failed");
            }
        }
    }

    /// The PR that brought the change: from the merge or squash subject,
    /// else asked of the host.
    async fn origin_pull(&self, change: &PinChange) -> Option<u64> {
        if let Some(n) = pull_number(&change.subject) {
            return Some(n);
        }
        match self.host.pull_of_commit(&change.sha).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot find the PR that brought the change");
                None
            }
        }
    }

    /// The PR that brought the step, with its comments when the history
    /// read them: from the merge or squash subject, else as the history
    /// read found it, else asked of the host.
    pub(super) async fn origin_of(&self, step: &Step) -> Option<(u64, Option<Vec<String>>)> {
        let read = step.pulls.as_ref().map(|p| p.origin.clone());
        if let Some(n) = pull_number(&step.change.subject) {
            let comments = read
                .flatten()
                .filter(|o| o.number == n)
                .and_then(|o| o.comments);
            return Some((n, comments));
        }
        match read {
            Some(origin) => origin.map(|o| (o.number, o.comments)),
            None => self.origin_pull(&step.change).await.map(|n| (n, None)),
        }
    }

    pub(super) async fn chat(&self, r: &Revert<'_>, what: &str) {
        if let Some(slack) = &self.slack {
            slack
                .post(&crate::text::slack(&body::chat_message(r, what)))
                .await;
        }
    }

    /// A resolved alert whose revert PR is still open: say so on the PR.
    pub(super) async fn note_resolved(
        &self,
        resolved: &[&Alert],
    ) -> Result<Vec<Outcome>, RollbackError> {
        let open = self.host.open_pulls().await?;
        let mut out = Vec::new();
        for pr in open.iter().filter(|p| p.head.starts_with(REVERT_PREFIX)) {
            let named: Vec<&&Alert> = resolved
                .iter()
                .filter(|a| body::names_alert(&pr.body, a.fingerprint.as_ref()))
                .collect();
            if named.is_empty() {
                continue;
            }
            let lines: Vec<String> = named
                .iter()
                .map(|a| {
                    format!(
                        "- {} resolved{}",
                        crate::text::code_span(
                            a.labels.get("alertname").map(String::as_str).unwrap_or("?")
                        ),
                        a.ends_at
                            .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let text = format!(
                "Alertmanager reports resolved:\n{}\n\nThe revert may no longer be needed; merging or closing it is a person's call.",
                lines.join("\n")
            );
            let fingerprints: Vec<&str> = named.iter().map(|a| a.fingerprint.as_ref()).collect();
            let key = format!("resolved-{}", fingerprints.join("-"));
            match comment_once(self.host.as_ref(), pr.number, &key, &text).await {
                Ok(true) => out.push(Outcome::NotedResolved { pull: pr.number }),
                Ok(false) => {}
                // A note, not an action: the notification's decisions go on.
                Err(e) => tracing::warn!(pr = pr.number, error = %e, "resolved note not written"),
            }
        }
        Ok(out)
    }
}

/// How the notices name a revert PR: its link, else its number.
pub(super) fn revert_pr_text(pr: &PullRequest) -> String {
    pr.url
        .clone()
        .map(|u| format!("revert PR {u}"))
        .unwrap_or_else(|| format!("revert PR #{}", pr.number))
}

/// The comment on the PR that brought `change` about its revert PR `pr`:
/// the key of its marker (said once per revert PR) and its text.
pub(super) fn origin_notice(
    r: &Revert<'_>,
    change: &PinChange,
    pr: &PullRequest,
) -> (String, String) {
    (
        format!("rollback-{}-pr-{}", change.sha, pr.number),
        body::origin_comment(r, &revert_pr_text(pr)),
    )
}

/// The PR number in a merge or squash subject: `Merge pull request #12
/// from …` or `… (#12)`.
pub fn pull_number(subject: &str) -> Option<u64> {
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let inner = subject.trim_end().strip_suffix(')')?;
    let (_, n) = inner.rsplit_once("(#")?;
    n.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::pull_number;

    #[test]
    fn pr_numbers_come_from_merge_and_squash_subjects() {
        assert_eq!(
            pull_number("Merge pull request #12 from acme/chartpilot/upgrade/dev/podinfo-6.6.0"),
            Some(12)
        );
        assert_eq!(
            pull_number("chore(deps): upgrade podinfo to 6.6.0 in prod (#31)"),
            Some(31)
        );
        assert_eq!(pull_number("chore(deps): upgrade podinfo to 6.6.0"), None);
        assert_eq!(pull_number("fix (#abc)"), None);
    }
}
