//! History through the REST API: the first-parent line of a branch from
//! one commit listing, what two commits differ in from one comparison, and
//! the pull request that merged a commit.

use std::collections::HashMap;

use super::{wire, GithubHost, PER_PAGE};
use crate::domain::CommitSha;
use crate::git::{ChangeKind, ChangedPath, CommitInfo, GitError};

impl GithubHost {
    /// `GET commits?sha=&since=&per_page=100`, one call. GitHub lists every
    /// commit reachable from `head` (merged branches included), newest
    /// first; the first-parent chain is read out of that list and stops
    /// where a first parent is not in it (older than `since`, or past the
    /// hundredth commit).
    pub(super) async fn history(
        &self,
        head: &CommitSha,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CommitInfo>, GitError> {
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let per_page = PER_PAGE.to_string();
        let listed = self
            .list_commits(
                head,
                &[("since", since.as_str()), ("per_page", per_page.as_str())],
                &format!("history of {head}"),
            )
            .await?;
        let mut by_sha = HashMap::with_capacity(listed.len());
        for c in listed {
            if let Some(tree) = &c.commit.tree {
                self.remember_tree(&c.sha, &tree.sha);
            }
            let info = commit_info(c)?;
            by_sha.insert(info.sha.clone(), info);
        }
        let mut line = Vec::new();
        let mut next = Some(head.clone());
        while let Some(info) = next.take().and_then(|sha| by_sha.remove(&sha)) {
            next = info.parents.first().cloned();
            line.push(info);
        }
        Ok(line)
    }

    /// `GET commits?sha={rev}&…`, one call: the commits reachable from
    /// `rev` that the other parameters select, newest first. `what` names
    /// the read in errors.
    pub(super) async fn list_commits(
        &self,
        rev: &CommitSha,
        params: &[(&str, &str)],
        what: &str,
    ) -> Result<Vec<wire::ListedCommit>, GitError> {
        let mut pairs = vec![("sha", rev.as_ref())];
        pairs.extend_from_slice(params);
        let query = serde_urlencoded::to_string(&pairs)
            .map_err(|e| GitError::Refused(format!("commits query: {e}")))?;
        let reply = self
            .get(&format!("{}/commits?{query}", self.repo_path))
            .await?;
        match reply.status {
            404 | 422 => return Err(GitError::NotFound(format!("commit {rev}"))),
            _ if reply.is_success() => {}
            _ => return Err(reply.error(what)),
        }
        reply.json("commits")
    }

    /// `GET compare/{from}...{to}`, one call. GitHub lists what `to`
    /// changed since the merge base, so only a `from` that `to` contains
    /// is answered; and at most 300 files, so a longer list is refused
    /// rather than cut short.
    pub(super) async fn compare_paths(
        &self,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Vec<ChangedPath>, GitError> {
        let path = format!("{}/compare/{from}...{to}", self.repo_path);
        let reply = self.get(&path).await?;
        match reply.status {
            404 | 422 => return Err(GitError::NotFound(format!("commit {from} or {to}"))),
            _ if reply.is_success() => {}
            _ => return Err(reply.error(&format!("comparing {from}...{to}"))),
        }
        let compare: wire::Compare = reply.json("comparison")?;
        if !matches!(compare.status.as_str(), "ahead" | "identical") {
            return Err(GitError::Refused(format!(
                "{to} does not contain {from} ({}); GitHub's compare API lists only what {to} \
                 changed since their merge base",
                compare.status
            )));
        }
        if compare.files.len() >= wire::MAX_COMPARE_FILES {
            return Err(GitError::Refused(format!(
                "{from}...{to} changes {} files or more: too large to read through GitHub's \
                 compare API",
                wire::MAX_COMPARE_FILES
            )));
        }
        changed_paths(compare.files)
    }

    /// `GET commits/{sha}/pulls`, one call: the first merged pull request
    /// into the base branch among those GitHub associates with `sha`.
    pub(super) async fn merged_pull_of(&self, sha: &CommitSha) -> Result<Option<u64>, GitError> {
        let path = format!("{}/commits/{sha}/pulls?per_page={PER_PAGE}", self.repo_path);
        let reply = self.get(&path).await?;
        match reply.status {
            404 | 422 => return Ok(None),
            _ if reply.is_success() => {}
            _ => return Err(reply.error(&format!("pull requests of {sha}"))),
        }
        let pulls: Vec<wire::Pull> = reply.json("pull requests")?;
        Ok(pulls
            .into_iter()
            .find(|p| p.merged_at.is_some() && p.base.name == self.base)
            .map(|p| p.number))
    }
}

fn commit_info(c: wire::ListedCommit) -> Result<CommitInfo, GitError> {
    let parents = c
        .parents
        .iter()
        .map(wire::Sha::commit)
        .collect::<Result<_, _>>()?;
    let date = c.commit.committer.as_ref().map(|s| s.date.as_str());
    commit_info_of(&c.sha, parents, date, &c.commit.message)
}

/// A commit as GitHub describes it (REST or GraphQL): its id, parents
/// (parsed by the caller), committer date and message, checked.
pub(super) fn commit_info_of(
    sha: &str,
    parents: Vec<CommitSha>,
    committer_date: Option<&str>,
    message: &str,
) -> Result<CommitInfo, GitError> {
    let bad = |what: &str| {
        GitError::Unavailable(format!(
            "unexpected answer from GitHub: a bad {what} for commit {sha}"
        ))
    };
    let date = committer_date.ok_or_else(|| bad("committer"))?;
    Ok(CommitInfo {
        sha: CommitSha::parse(sha).map_err(|_| bad("id"))?,
        parents,
        committed_at: chrono::DateTime::parse_from_rfc3339(date)
            .map_err(|_| bad("committer date"))?
            .with_timezone(&chrono::Utc),
        message: message.trim_end().to_owned(),
    })
}

/// The compare API's files as removals, additions and modifications,
/// sorted by path.
pub(super) fn changed_paths(files: Vec<wire::ComparedFile>) -> Result<Vec<ChangedPath>, GitError> {
    let mut changed = Vec::with_capacity(files.len());
    for f in files {
        let kind = match f.status.as_str() {
            "added" | "copied" => ChangeKind::Added,
            "removed" => ChangeKind::Removed,
            "modified" | "changed" => ChangeKind::Modified,
            "unchanged" => continue,
            "renamed" => {
                let Some(old) = f.previous_filename else {
                    return Err(GitError::Unavailable(format!(
                        "unexpected answer from GitHub: rename to {} without its old path",
                        f.filename
                    )));
                };
                changed.push(ChangedPath {
                    path: old,
                    kind: ChangeKind::Removed,
                });
                ChangeKind::Added
            }
            other => {
                return Err(GitError::Unavailable(format!(
                    "unexpected answer from GitHub: file status `{other}` for {}",
                    f.filename
                )))
            }
        };
        changed.push(ChangedPath {
            path: f.filename,
            kind,
        });
    }
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str, status: &str, previous: Option<&str>) -> wire::ComparedFile {
        wire::ComparedFile {
            filename: filename.to_owned(),
            status: status.to_owned(),
            previous_filename: previous.map(str::to_owned),
            patch: None,
        }
    }

    fn path(path: &str, kind: ChangeKind) -> ChangedPath {
        ChangedPath {
            path: path.to_owned(),
            kind,
        }
    }

    #[test]
    fn renames_are_a_removal_and_an_addition_and_the_list_is_sorted() {
        let changed = changed_paths(vec![
            file("z.yaml", "modified", None),
            file("new/b.yaml", "renamed", Some("old/b.yaml")),
            file("c.yaml", "copied", None),
            file("a.yaml", "removed", None),
            file("m.yaml", "changed", None),
            file("u.yaml", "unchanged", None),
            file("d.yaml", "added", None),
        ])
        .unwrap();
        assert_eq!(
            changed,
            [
                path("a.yaml", ChangeKind::Removed),
                path("c.yaml", ChangeKind::Added),
                path("d.yaml", ChangeKind::Added),
                path("m.yaml", ChangeKind::Modified),
                path("new/b.yaml", ChangeKind::Added),
                path("old/b.yaml", ChangeKind::Removed),
                path("z.yaml", ChangeKind::Modified),
            ]
        );
    }

    #[test]
    fn a_rename_without_its_old_path_or_an_unknown_status_is_an_error() {
        assert!(matches!(
            changed_paths(vec![file("b", "renamed", None)]),
            Err(GitError::Unavailable(_))
        ));
        assert!(matches!(
            changed_paths(vec![file("b", "exploded", None)]),
            Err(GitError::Unavailable(_))
        ));
    }
}
