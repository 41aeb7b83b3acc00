//! Issues that are not pull requests (the dashboard): create, list by
//! label and state with GitHub's pagination, edit the body. They share
//! the number sequence with pull requests, as on GitHub.

use std::collections::HashMap;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::routes::message;
use super::State;

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Body edits, chartpilot's and people's, in order.
    pub edits: usize,
}

impl State {
    fn issue_json(&self, i: &FakeIssue) -> Value {
        json!({
            "number": i.number,
            "title": i.title,
            "body": i.body,
            "state": i.state,
            "labels": i.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
            "html_url": format!("https://github.example/{}/{}/issues/{}", self.owner, self.name, i.number),
        })
    }

    /// The number of an issue (not a pull request), when there is one.
    pub(super) fn find_issue(&self, number: &str) -> Option<u64> {
        let n: u64 = number.parse().ok()?;
        self.issues.iter().any(|i| i.number == n).then_some(n)
    }

    /// `GET issues`: GitHub lists pull requests here too; the fake's
    /// pulls carry no labels chartpilot filters issues by, so only issues
    /// are listed, newest first as GitHub's default.
    pub(super) fn list_issues(&self, query: &HashMap<String, String>) -> HttpResponse {
        let state = query.get("state").map(String::as_str).unwrap_or("open");
        let labels: Vec<&str> = query
            .get("labels")
            .map(|l| l.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let mut matching: Vec<&FakeIssue> = self
            .issues
            .iter()
            .filter(|i| state == "all" || i.state == state)
            .filter(|i| labels.iter().all(|l| i.labels.iter().any(|have| have == l)))
            .collect();
        matching.sort_by_key(|i| std::cmp::Reverse(i.number));
        let items = matching.into_iter().map(|i| self.issue_json(i)).collect();
        self.paged("issues", query, items)
    }

    pub(super) fn create_issue(&mut self, body: &Value) -> HttpResponse {
        let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) else {
            return message(422, "Validation Failed");
        };
        // GitHub refuses bodies over 65 536 characters.
        let text = body["body"].as_str().unwrap_or("");
        if text.chars().count() > 65_536 {
            return message(422, "Validation Failed");
        }
        let number = self.next_number;
        self.next_number += 1;
        let issue = FakeIssue {
            number,
            title: title.to_owned(),
            body: text.to_owned(),
            labels: body["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect(),
            state: "open".into(),
            edits: 0,
        };
        let answer = self.issue_json(&issue);
        self.issues.push(issue);
        HttpResponse::Created().json(answer)
    }

    pub(super) fn update_issue(&mut self, number: &str, body: &Value) -> HttpResponse {
        let Some(issue) = number
            .parse::<u64>()
            .ok()
            .and_then(|n| self.issues.iter_mut().find(|i| i.number == n))
        else {
            return message(404, "Not Found");
        };
        if let Some(text) = body["body"].as_str() {
            if text.chars().count() > 65_536 {
                return message(422, "Validation Failed");
            }
            issue.body = text.to_owned();
            issue.edits += 1;
        }
        if let Some(state) = body["state"].as_str() {
            issue.state = state.to_owned();
        }
        let issue = issue.clone();
        let answer = self.issue_json(&issue);
        HttpResponse::Ok().json(answer)
    }
}
