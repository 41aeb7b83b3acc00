//! Pull requests, labels and listing with GitHub's pagination.

use std::collections::HashMap;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::routes::message;
use super::{FakePull, State};

impl State {
    pub(super) fn pull_json(&self, p: &FakePull) -> Value {
        json!({
            "number": p.number,
            "state": p.state,
            "title": p.title,
            "body": p.body,
            "head": {
                "ref": p.head,
                "label": format!("{}:{}", p.fork_owner.as_deref().unwrap_or(&self.owner), p.head),
                // GitHub keeps the last head of a PR whose branch is gone;
                // a pull a test seeded without a branch gets a null object id.
                "sha": self.repo.branch(&p.head).or_else(|| p.head_sha.clone()).unwrap_or_else(|| "0".repeat(40)),
                "repo": { "full_name": format!("{}/{}", p.fork_owner.as_deref().unwrap_or(&self.owner), self.name) },
            },
            "base": { "ref": p.base, "label": format!("{}:{}", self.owner, p.base) },
            "merged_at": p.merged.then(|| p.merged_at.clone().unwrap_or_else(|| "2024-01-01T00:00:00Z".to_owned())),
            "merge_commit_sha": p.merge_commit_sha,
            "labels": p.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
            "html_url": format!("https://github.example/{}/{}/pull/{}", self.owner, self.name, p.number),
        })
    }

    pub(super) fn find(&self, number: &str) -> Option<u64> {
        let n: u64 = number.parse().ok()?;
        self.pulls.iter().any(|p| p.number == n).then_some(n)
    }

    pub(super) fn list_pulls(&self, query: &HashMap<String, String>) -> HttpResponse {
        let state = query.get("state").map(String::as_str).unwrap_or("open");
        let mut matching: Vec<&FakePull> = self
            .pulls
            .iter()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| {
                query.get("head").is_none_or(|h| {
                    *h == format!(
                        "{}:{}",
                        p.fork_owner.as_deref().unwrap_or(&self.owner),
                        p.head
                    )
                })
            })
            .collect();
        // `created` (the default) and `updated` as GitHub orders them;
        // the fake has no reactions or ages, so `popularity` and
        // `long-running` fall back to creation order.
        let sort = query.get("sort").map(String::as_str).unwrap_or("created");
        if sort == "updated" {
            matching.sort_by_key(|p| (p.updated, p.number));
        } else {
            matching.sort_by_key(|p| p.number);
        }
        // GitHub: descending by default for `created`, else ascending.
        let default_direction = if sort == "created" { "desc" } else { "asc" };
        if query
            .get("direction")
            .map(String::as_str)
            .unwrap_or(default_direction)
            == "desc"
        {
            matching.reverse();
        }
        let items: Vec<Value> = matching.iter().map(|p| self.pull_json(p)).collect();
        self.paged("pulls", query, items)
    }

    pub(super) fn create_pull(&mut self, body: &Value) -> HttpResponse {
        let (Some(title), Some(head), Some(base)) = (
            body["title"].as_str(),
            body["head"].as_str(),
            body["base"].as_str(),
        ) else {
            return message(422, "Validation Failed");
        };
        if self.repo.branch(head).is_none() || self.repo.branch(base).is_none() {
            return message(422, "Validation Failed");
        }
        if self
            .pulls
            .iter()
            .any(|p| p.head == head && p.state == "open" && p.fork_owner.is_none())
        {
            // GitHub's answer: the reason is in `errors`, not `message`.
            let text = format!("A pull request already exists for {}:{head}.", self.owner);
            return HttpResponse::UnprocessableEntity().json(json!({
                "message": "Validation Failed",
                "errors": [{ "resource": "PullRequest", "code": "custom", "message": text }],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                "status": "422",
            }));
        }
        let number = self.new_pull(head, base, title, body["body"].as_str().unwrap_or(""));
        let pull = self.pulls.iter().find(|p| p.number == number).unwrap();
        HttpResponse::Created().json(self.pull_json(pull))
    }

    pub(super) fn update_pull(&mut self, number: &str, body: &Value) -> HttpResponse {
        let Some(number) = self.find(number) else {
            return message(404, "Not Found");
        };
        let pull = self.pulls.iter_mut().find(|p| p.number == number).unwrap();
        if let Some(title) = body["title"].as_str() {
            pull.title = title.to_owned();
        }
        if let Some(text) = body["body"].as_str() {
            pull.body = text.to_owned();
        }
        pull.updated = self.next_update;
        self.next_update += 1;
        match body["state"].as_str() {
            Some(s @ ("open" | "closed")) if !pull.merged => pull.state = s.to_owned(),
            Some(_) => return message(422, "Validation Failed"),
            None => {}
        }
        let pull = pull.clone();
        HttpResponse::Ok().json(self.pull_json(&pull))
    }

    pub(super) fn add_labels(&mut self, number: &str, body: &Value) -> HttpResponse {
        let Some(number) = self.find(number) else {
            return message(404, "Not Found");
        };
        let Some(labels) = body["labels"].as_array() else {
            return message(422, "Validation Failed");
        };
        for label in labels.iter().filter_map(Value::as_str) {
            self.remember_label(label);
        }
        let pull = self.pulls.iter_mut().find(|p| p.number == number).unwrap();
        for label in labels.iter().filter_map(Value::as_str) {
            if !pull.labels.iter().any(|l| l == label) {
                pull.labels.push(label.to_owned());
            }
        }
        let all: Vec<Value> = pull.labels.iter().map(|l| json!({ "name": l })).collect();
        HttpResponse::Ok().json(all)
    }
}
