//! History endpoints: commit listings, comparisons with their files, and
//! the pull requests of a commit, answered from the bare repository.

use std::collections::HashMap;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::routes::message;
use super::State;

/// The most commits the fake lists for one `GET commits`, across pages:
/// far beyond any test's history.
const MAX_LISTED_COMMITS: usize = 10_000;

/// The most files GitHub lists in a comparison.
const MAX_COMPARE_FILES: usize = 300;

/// `2024-01-01T00:00:00Z`, as GitHub writes dates.
fn github_date(iso: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(iso).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

impl State {
    /// `GET commits?sha=&since=&per_page=`: one page of the commits
    /// reachable from `sha` (the base branch when absent), newest first.
    pub(super) fn list_commits(&self, query: &HashMap<String, String>) -> HttpResponse {
        let rev = query.get("sha").map(String::as_str).unwrap_or("main");
        let Some(head) = self.repo.resolve(rev, "commit") else {
            return message(404, &format!("No commit found for SHA: {rev}"));
        };
        let since = match query.get("since") {
            None => None,
            Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(t.timestamp()),
                Err(_) => return message(422, "Invalid value for parameter 'since'"),
            },
        };
        let commits = match self.repo.log(
            &head,
            since,
            MAX_LISTED_COMMITS,
            query.get("path").map(String::as_str),
        ) {
            Ok(commits) => commits,
            Err(e) => return message(422, &e),
        };
        let items: Vec<Value> = commits
            .iter()
            .map(|c| {
                let date = github_date(&c.committed_at).unwrap();
                let signature =
                    json!({ "name": "chartpilot-test", "email": "test@example.invalid", "date": date });
                json!({
                    "sha": c.sha,
                    "commit": {
                        "message": c.message.trim_end(),
                        "tree": { "sha": c.tree },
                        "author": signature,
                        "committer": signature,
                    },
                    "parents": c.parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>(),
                })
            })
            .collect();
        self.paged("commits", query, items)
    }

    /// `GET compare/{base}...{head}`: how the two relate and the files
    /// `head` changed since their merge base.
    pub(super) fn compare(&self, range: &str) -> HttpResponse {
        let Some((base, head)) = range.split_once("...") else {
            return message(404, "Not Found");
        };
        let (Some(b), Some(h)) = (
            self.repo.resolve(base, "commit"),
            self.repo.resolve(head, "commit"),
        ) else {
            return message(404, "Not Found");
        };
        // GitHub answers 404 for histories with no common ancestor.
        let Some(merge_base) = self.repo.merge_base(&b, &h) else {
            return message(
                404,
                &format!("No common ancestor between {base} and {head}."),
            );
        };
        let status = if b == h {
            "identical"
        } else if merge_base == b {
            "ahead"
        } else if merge_base == h {
            "behind"
        } else {
            "diverged"
        };
        let files = match self.repo.name_status(&merge_base, &h) {
            Ok(files) => files,
            Err(e) => return message(422, &e),
        };
        // GitHub lists the first 300 files of a comparison and no more.
        let files: Vec<Value> = files
            .into_iter()
            .take(MAX_COMPARE_FILES)
            .map(|(letter, path)| {
                let status = match letter {
                    'A' => "added",
                    'D' => "removed",
                    _ => "modified",
                };
                // GitHub sends each text file's hunks, without the last
                // newline.
                match self.repo.patch(&merge_base, &h, &path) {
                    Some(patch) => json!({ "filename": path, "status": status, "patch": patch }),
                    None => json!({ "filename": path, "status": status }),
                }
            })
            .collect();
        HttpResponse::Ok().json(json!({
            "status": status,
            "merge_base_commit": { "sha": merge_base },
            "files": files,
        }))
    }

    /// `GET commits/{sha}/pulls`: the pull requests merged as `sha`, then
    /// those whose head branch points at it, newest first.
    pub(super) fn commit_pulls(&self, rev: &str, query: &HashMap<String, String>) -> HttpResponse {
        let Some(sha) = self.repo.resolve(rev, "commit") else {
            return message(422, &format!("No commit found for SHA: {rev}"));
        };
        let mut merged: Vec<Value> = Vec::new();
        let mut heads: Vec<Value> = Vec::new();
        for p in self.pulls.iter().rev() {
            if p.merge_commit_sha.as_deref() == Some(sha.as_str()) {
                merged.push(self.pull_json(p));
            } else if p.fork_owner.is_none()
                && self.repo.branch(&p.head).as_deref() == Some(sha.as_str())
            {
                heads.push(self.pull_json(p));
            }
        }
        merged.extend(heads);
        self.paged(&format!("commits/{rev}/pulls"), query, merged)
    }
}
