//! The mutations of `POST /graphql` chartpilot sends, run in order as
//! GitHub runs them: each changes the bare repository or the fake's pull
//! requests, labels and comments, or fails alone with an error naming its
//! field in GitHub's words while the next still runs.

use graphql_parser::query::{Selection, SelectionSet};
use serde_json::{json, Map, Value};

use super::graphql::{args_of, label_id, pull_id, ref_id, repository_id, Node, Run};
use super::State;
use crate::support::contract::graphql::GraphqlSchema;

/// A failed mutation: GitHub's error `type` and message.
type Failure = (&'static str, String);

fn not_found(id: &str) -> Failure {
    (
        "NOT_FOUND",
        format!("Could not resolve to a node with the global id of '{id}'"),
    )
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

impl State {
    pub(super) fn mutate_root(
        &mut self,
        schema: &'static GraphqlSchema,
        variables: &Value,
        set: &SelectionSet<'_, String>,
    ) -> (Value, Vec<Value>) {
        let mut out = Map::new();
        let mut errors = Vec::new();
        for item in &set.items {
            let Selection::Field(f) = item else { continue };
            let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
            let args = args_of(variables, f);
            let input = args.get("input").cloned().unwrap_or(Value::Null);
            let value = match self.apply(&f.name, &input) {
                Ok(payload) => {
                    let mut run = Run {
                        st: self,
                        schema,
                        variables,
                        errors: Vec::new(),
                    };
                    let v = run.select(&payload, &f.selection_set, std::slice::from_ref(&key));
                    errors.append(&mut run.errors);
                    v
                }
                Err((kind, message)) => {
                    errors.push(json!({ "type": kind, "path": [key], "message": message }));
                    Value::Null
                }
            };
            out.insert(key, value);
        }
        (Value::Object(out), errors)
    }

    fn apply(&mut self, name: &str, input: &Value) -> Result<Node, Failure> {
        if let Some(armed) = self
            .field_faults
            .iter_mut()
            .find(|(f, n)| f == name && *n > 0)
        {
            armed.1 -= 1;
            return Err((
                "INTERNAL",
                "Something went wrong while executing your query. Please include the request ID in your report.".to_owned(),
            ));
        }
        match name {
            "createRef" => self.gql_create_ref(input),
            "createCommitOnBranch" => self.gql_commit_on_branch(input),
            "createPullRequest" => self.gql_create_pull(input),
            "addLabelsToLabelable" => self.gql_add_labels(input),
            "addComment" => self.gql_add_comment(input),
            "deleteRef" => {
                let id = text(input, "refId");
                let branch = self
                    .repo
                    .branches()
                    .into_iter()
                    .map(|(b, _)| b)
                    .find(|b| ref_id(b) == id)
                    .ok_or_else(|| not_found(id))?;
                self.repo.delete_branch(&branch);
                Ok(Node::Payload("DeleteRefPayload", Vec::new()))
            }
            other => Err((
                "INTERNAL",
                format!("the fake GitHub does not model Mutation.{other}; add it to tests/support/fake_github/graphql_mutations.rs"),
            )),
        }
    }

    fn check_repository(&self, input: &Value) -> Result<(), Failure> {
        let id = text(input, "repositoryId");
        if id == repository_id(self) {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    fn gql_create_ref(&mut self, input: &Value) -> Result<Node, Failure> {
        self.check_repository(input)?;
        let name = text(input, "name");
        let Some(branch) = name.strip_prefix("refs/heads/") else {
            return Err((
                "UNPROCESSABLE",
                format!("Reference name {name} is not valid: the fake makes branches only"),
            ));
        };
        if self.repo.branch(branch).is_some() {
            return Err((
                "UNPROCESSABLE",
                format!("A ref named \"{name}\" already exists in the repository."),
            ));
        }
        let oid = text(input, "oid");
        if self.repo.object_type(oid).as_deref() != Some("commit") {
            return Err(("UNPROCESSABLE", format!("Object {oid} does not exist")));
        }
        self.repo.set_branch(branch, oid);
        Ok(Node::Payload(
            "CreateRefPayload",
            vec![("ref", Node::Ref(branch.to_owned()))],
        ))
    }

    fn gql_commit_on_branch(&mut self, input: &Value) -> Result<Node, Failure> {
        let target = &input["branch"];
        let branch = match target.get("id").and_then(Value::as_str) {
            Some(id) => self
                .repo
                .branches()
                .into_iter()
                .map(|(b, _)| b)
                .find(|b| ref_id(b) == id)
                .ok_or_else(|| not_found(id))?,
            None => {
                let owner_name = text(target, "repositoryNameWithOwner");
                if !owner_name.eq_ignore_ascii_case(&format!("{}/{}", self.owner, self.name)) {
                    return Err((
                        "NOT_FOUND",
                        format!("Could not resolve to a Repository with the name '{owner_name}'."),
                    ));
                }
                text(target, "branchName").to_owned()
            }
        };
        // Someone else's push armed to land just before this one.
        self.race(&branch);
        let Some(head) = self.repo.branch(&branch) else {
            return Err((
                "NOT_FOUND",
                format!("Could not resolve to a Ref with the name 'refs/heads/{branch}'."),
            ));
        };
        let expected = text(input, "expectedHeadOid");
        if expected != head {
            return Err((
                "STALE_DATA",
                format!("Expected branch to point to \"{expected}\" but it did not. Pull and try again."),
            ));
        }
        let changes = &input["fileChanges"];
        let mut files = Vec::new();
        for a in changes["additions"].as_array().into_iter().flatten() {
            let path = text(a, "path");
            let contents = data_encoding::BASE64
                .decode(text(a, "contents").as_bytes())
                .map_err(|_| {
                    (
                        "UNPROCESSABLE",
                        format!("The contents of {path} are not Base64"),
                    )
                })?;
            let mode = self
                .repo
                .mode(&head, path)
                .unwrap_or_else(|| "100644".to_owned());
            files.push((path.to_owned(), mode, contents));
        }
        let base = self.repo.resolve(&head, "tree");
        let mut tree = self
            .repo
            .write_tree(base.as_deref(), &files)
            .map_err(|e| ("UNPROCESSABLE", e.to_string()))?;
        let deletions: Vec<&str> = changes["deletions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| text(d, "path"))
            .collect();
        if !deletions.is_empty() {
            tree = self
                .repo
                .tree_without(&tree, &deletions)
                .map_err(|e| ("UNPROCESSABLE", e.to_string()))?;
        }
        let message = &input["message"];
        let body = text(message, "body");
        let full = if body.is_empty() {
            text(message, "headline").to_owned()
        } else {
            format!("{}\n\n{body}", text(message, "headline"))
        };
        let sha = self
            .repo
            .commit_tree(&tree, &[head], &full)
            .map_err(|e| ("UNPROCESSABLE", e.to_string()))?;
        self.repo.set_branch(&branch, &sha);
        Ok(Node::Payload(
            "CreateCommitOnBranchPayload",
            vec![("commit", Node::Commit(sha)), ("ref", Node::Ref(branch))],
        ))
    }

    fn gql_create_pull(&mut self, input: &Value) -> Result<Node, Failure> {
        self.check_repository(input)?;
        let (head, base) = (text(input, "headRefName"), text(input, "baseRefName"));
        let (Some(head_sha), Some(base_sha)) = (self.repo.branch(head), self.repo.branch(base))
        else {
            return Err((
                "UNPROCESSABLE",
                "Head sha can't be blank, Base sha can't be blank, Head ref must be a branch"
                    .to_owned(),
            ));
        };
        if self
            .pulls
            .iter()
            .any(|p| p.head == head && p.state == "open" && p.fork_owner.is_none())
        {
            return Err((
                "UNPROCESSABLE",
                format!("A pull request already exists for {}:{head}.", self.owner),
            ));
        }
        if self.repo.is_ancestor(&head_sha, &base_sha) {
            return Err((
                "UNPROCESSABLE",
                format!("No commits between {base} and {head}"),
            ));
        }
        let number = self.new_pull(head, base, text(input, "title"), text(input, "body"));
        Ok(Node::Payload(
            "CreatePullRequestPayload",
            vec![("pullRequest", Node::Pull(number))],
        ))
    }

    fn pull_of_id(&self, id: &str) -> Result<u64, Failure> {
        self.pulls
            .iter()
            .map(|p| p.number)
            .find(|n| pull_id(self, *n) == id)
            .ok_or_else(|| not_found(id))
    }

    fn gql_add_labels(&mut self, input: &Value) -> Result<Node, Failure> {
        let number = self.pull_of_id(text(input, "labelableId"))?;
        let mut names = Vec::new();
        for id in input["labelIds"].as_array().into_iter().flatten() {
            let id = id.as_str().unwrap_or_default();
            let name = self
                .labels
                .iter()
                .find(|l| label_id(l) == id)
                .cloned()
                .ok_or_else(|| not_found(id))?;
            names.push(name);
        }
        let updated = self.next_update;
        self.next_update += 1;
        let pull = self.pulls.iter_mut().find(|p| p.number == number).unwrap();
        for name in names {
            if !pull.labels.contains(&name) {
                pull.labels.push(name);
            }
        }
        pull.updated = updated;
        Ok(Node::Payload(
            "AddLabelsToLabelablePayload",
            vec![("labelable", Node::Pull(number))],
        ))
    }

    fn gql_add_comment(&mut self, input: &Value) -> Result<Node, Failure> {
        let number = self.pull_of_id(text(input, "subjectId"))?;
        self.comments.push((number, text(input, "body").to_owned()));
        Ok(Node::Payload(
            "AddCommentPayload",
            vec![("subject", Node::Pull(number))],
        ))
    }
}
