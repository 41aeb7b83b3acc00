//! The Checks API and commit statuses, as a GitHub App and a token use
//! them: check runs on a head commit (created, updated, listed by name)
//! and statuses by context.

use std::collections::HashMap;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::routes::message;
use super::State;

/// GitHub refuses more annotations than this in one request.
const MAX_ANNOTATIONS_PER_REQUEST: usize = 50;

/// GitHub refuses a longer status description.
const MAX_STATUS_DESCRIPTION: usize = 140;

#[derive(Debug, Clone)]
pub struct FakeCheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub title: String,
    pub summary: String,
    /// Every annotation sent, across the create and its updates.
    pub annotations: Vec<Value>,
    /// Requests that changed it after its creation.
    pub updates: usize,
}

#[derive(Debug, Clone)]
pub struct FakeStatus {
    pub sha: String,
    pub state: String,
    pub description: String,
    pub context: String,
}

impl FakeCheckRun {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "head_sha": self.head_sha,
            "status": self.status,
            "conclusion": self.conclusion,
            "output": {
                "title": self.title,
                "summary": self.summary,
                "annotations_count": self.annotations.len(),
            },
        })
    }

    /// Applies `output`: title and summary replace, annotations append.
    fn output(&mut self, output: &Value) -> Result<(), String> {
        if output.is_null() {
            return Ok(());
        }
        let annotations = output["annotations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if annotations.len() > MAX_ANNOTATIONS_PER_REQUEST {
            return Err(format!(
                "Only {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request"
            ));
        }
        if let Some(t) = output["title"].as_str() {
            self.title = t.to_owned();
        }
        if let Some(s) = output["summary"].as_str() {
            self.summary = s.to_owned();
        }
        self.annotations.extend(annotations);
        Ok(())
    }
}

impl State {
    /// `GET commits/{ref}/check-runs?check_name=`: the runs on the commit
    /// (a branch name resolves), newest first.
    pub(super) fn list_check_runs(
        &self,
        rev: &str,
        query: &HashMap<String, String>,
    ) -> HttpResponse {
        let Some(sha) = self.repo.resolve(rev, "commit") else {
            return message(422, &format!("No commit found for SHA: {rev}"));
        };
        let name = query.get("check_name");
        let runs: Vec<Value> = self
            .check_runs
            .iter()
            .rev()
            .filter(|r| r.head_sha == sha && name.is_none_or(|n| *n == r.name))
            .map(FakeCheckRun::json)
            .collect();
        HttpResponse::Ok().json(json!({ "total_count": runs.len(), "check_runs": runs }))
    }

    pub(super) fn create_check_run(&mut self, body: &Value) -> HttpResponse {
        let (Some(name), Some(head_sha)) = (body["name"].as_str(), body["head_sha"].as_str())
        else {
            return message(422, "Invalid request.");
        };
        if self.repo.object_type(head_sha).as_deref() != Some("commit") {
            return message(422, "No commit found for SHA");
        }
        let mut run = FakeCheckRun {
            id: self.check_runs.len() as u64 + 1,
            name: name.to_owned(),
            head_sha: head_sha.to_owned(),
            status: body["status"].as_str().unwrap_or("queued").to_owned(),
            conclusion: body["conclusion"].as_str().map(str::to_owned),
            title: String::new(),
            summary: String::new(),
            annotations: Vec::new(),
            updates: 0,
        };
        if run.status == "completed" && run.conclusion.is_none() {
            return message(422, "conclusion is required when status is completed");
        }
        if let Err(e) = run.output(&body["output"]) {
            return message(422, &e);
        }
        let answer = run.json();
        self.check_runs.push(run);
        HttpResponse::Created().json(answer)
    }

    pub(super) fn update_check_run(&mut self, id: &str, body: &Value) -> HttpResponse {
        let Some(run) = id
            .parse::<u64>()
            .ok()
            .and_then(|id| self.check_runs.iter_mut().find(|r| r.id == id))
        else {
            return message(404, "Not Found");
        };
        if let Some(status) = body["status"].as_str() {
            run.status = status.to_owned();
        }
        if let Some(c) = body["conclusion"].as_str() {
            run.conclusion = Some(c.to_owned());
        }
        if let Err(e) = run.output(&body["output"]) {
            return message(422, &e);
        }
        run.updates += 1;
        HttpResponse::Ok().json(run.json())
    }

    pub(super) fn create_status(&mut self, rev: &str, body: &Value) -> HttpResponse {
        if self.repo.object_type(rev).as_deref() != Some("commit") {
            return message(422, &format!("No commit found for SHA: {rev}"));
        }
        let Some(state) = body["state"].as_str() else {
            return message(422, "Invalid request.");
        };
        let description = body["description"].as_str().unwrap_or_default();
        if description.chars().count() > MAX_STATUS_DESCRIPTION {
            return message(422, "description is too long (maximum is 140 characters)");
        }
        let status = FakeStatus {
            sha: rev.to_owned(),
            state: state.to_owned(),
            description: description.to_owned(),
            context: body["context"].as_str().unwrap_or("default").to_owned(),
        };
        self.statuses.push(status.clone());
        HttpResponse::Created().json(json!({
            "id": self.statuses.len(),
            "state": status.state,
            "description": status.description,
            "context": status.context,
        }))
    }
}
