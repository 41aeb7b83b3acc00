//! Pull requests, labels and listing with GitHub's pagination.

use std::collections::HashMap;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::routes::message;
use super::{FakePull, State, NAME, OWNER};

/// GitHub's page size when `per_page` is not given, and its largest.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

impl State {
    pub(super) fn pull_json(&self, p: &FakePull) -> Value {
        json!({
            "number": p.number,
            "state": p.state,
            "title": p.title,
            "body": p.body,
            "head": {
                "ref": p.head,
                "label": format!("{}:{}", p.fork_owner.as_deref().unwrap_or(OWNER), p.head),
                "sha": self.repo.branch(&p.head),
                "repo": { "full_name": format!("{}/{NAME}", p.fork_owner.as_deref().unwrap_or(OWNER)) },
            },
            "base": { "ref": p.base, "label": format!("{OWNER}:{}", p.base) },
            "merged_at": p.merged.then(|| p.merged_at.clone().unwrap_or_else(|| "2024-01-01T00:00:00Z".to_owned())),
            "merge_commit_sha": p.merge_commit_sha,
            "labels": p.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
            "html_url": format!("https://github.example/{OWNER}/{NAME}/pull/{}", p.number),
        })
    }

    pub(super) fn find(&self, number: &str) -> Option<u64> {
        let n: u64 = number.parse().ok()?;
        self.pulls.iter().any(|p| p.number == n).then_some(n)
    }

    pub(super) fn list_pulls(&self, query: &HashMap<String, String>) -> HttpResponse {
        let state = query.get("state").map(String::as_str).unwrap_or("open");
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        let page: usize = query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        // GitHub's default order: newest first.
        let mut matching: Vec<&FakePull> = self
            .pulls
            .iter()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| {
                query.get("head").is_none_or(|h| {
                    *h == format!("{}:{}", p.fork_owner.as_deref().unwrap_or(OWNER), p.head)
                })
            })
            .collect();
        matching.sort_by_key(|p| std::cmp::Reverse(p.number));
        let items: Vec<Value> = matching
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|p| self.pull_json(p))
            .collect();
        let mut answer = HttpResponse::Ok();
        if page * per_page < matching.len() {
            let mut next = query.clone();
            next.insert("page".to_owned(), (page + 1).to_string());
            let mut pairs: Vec<_> = next.into_iter().collect();
            pairs.sort();
            let next = serde_urlencoded::to_string(pairs).unwrap();
            let link = format!(
                "<{}/repos/{OWNER}/{NAME}/pulls?{next}>; rel=\"next\"",
                self.base_url
            );
            answer.insert_header(("link", link));
        }
        answer.json(items)
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
            return message(
                422,
                &format!("A pull request already exists for {OWNER}:{head}."),
            );
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
