//! The fake's endpoints. One dispatcher, so recording, faults and
//! authentication apply to every route alike.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use octocrab::jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::{Armed, Fault, Recorded, State};
use crate::support::contract::{checked_answer, Contract};

/// GitHub refuses App JWTs that live longer than ten minutes.
const MAX_JWT_LIFETIME_S: u64 = 600;

type Answer = HttpResponse;

/// The root of GitHub's REST documentation, which its errors link to.
const DOCS: &str = "https://docs.github.com/rest";

/// A GitHub error body: message, documentation link and the status as a
/// string, as GitHub writes them.
pub(super) fn message(status: u16, text: &str) -> Answer {
    documented(status, text, DOCS)
}

/// An error whose `documentation_url` names the operation, as GitHub's do.
pub(super) fn documented(status: u16, text: &str, documentation_url: &str) -> Answer {
    HttpResponse::build(StatusCode::from_u16(status).unwrap()).json(json!({
        "message": text,
        "documentation_url": documentation_url,
        "status": status.to_string(),
    }))
}

/// Where GitHub's errors for the refs and trees APIs point.
const CREATE_REF_DOCS: &str = "https://docs.github.com/rest/git/refs#create-a-reference";
const UPDATE_REF_DOCS: &str = "https://docs.github.com/rest/git/refs#update-a-reference";
const CREATE_TREE_DOCS: &str = "https://docs.github.com/rest/git/trees#create-a-tree";

/// Whether `sha` is a full object id: the Git refs API takes nothing else.
fn full_sha(sha: &str) -> bool {
    sha.len() == 40
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub async fn handle(req: HttpRequest, body: web::Bytes, fleet: web::Data<super::Fleet>) -> Answer {
    let received = std::time::Instant::now();
    // GitHub Enterprise Server serves the same REST API under `/api/v3`
    // (and GraphQL at `/api/graphql`, which the fake does not serve).
    let path = req.path();
    let path = path
        .strip_prefix("/api/v3")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    let mut st = fleet.pick(path).lock().unwrap();
    let method = req.method().as_str().to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    // Codeload is another host in GitHub proper, outside the API and its
    // description.
    let api = !path.starts_with("/_codeload/");
    // GraphQL is described by GitHub's schema, not its OpenAPI: checked
    // where it is answered (graphql.rs).
    let graphql = path == "/graphql";
    let contract = Contract::github();
    let (op, broken) = if api && !graphql {
        contract.request(&method, path, req.query_string(), &body)
    } else {
        (None, Vec::new())
    };
    let answer = if broken.is_empty() {
        st.respond(&method, path, &query, &body, auth.as_deref(), &accept)
    } else {
        let answer = match op {
            // What GitHub answers a request its schema refuses.
            Some(_) => message(422, &format!("Invalid request.\n\n{}", broken.join("\n"))),
            None => message(404, "Not Found"),
        };
        st.violations.record(broken);
        answer
    };
    let answer = match op {
        Some(op) => {
            let what = format!("{method} {}", path);
            let violations = st.violations.clone();
            checked_answer(contract, op, &what, answer, &violations)
        }
        None => answer,
    };
    let answer = if api && method == "GET" {
        conditional(&req, answer)
    } else {
        answer
    };
    let answer = if api && !graphql {
        // GitHub's budget headers on every answer; a 304 costs nothing.
        // GraphQL has a budget of its own (points), not modelled.
        // One budget for the installation: every repository of the
        // organisation spends from it.
        let counted = answer.status() != StatusCode::NOT_MODIFIED;
        let spent =
            st.spent.fetch_add(usize::from(counted), Ordering::SeqCst) + usize::from(counted);
        with_budget(answer, spent)
    } else {
        answer
    };
    st.requests.push(Recorded {
        method,
        path: path.to_owned(),
        query: req.query_string().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: answer.status().as_u16(),
        auth,
        received,
        answered: std::time::Instant::now(),
    });
    answer
}

/// GitHub's conditional requests: a 200 to a GET carries a weak `ETag`
/// of its body, and a GET whose `If-None-Match` names the current one gets
/// 304 and no body (which GitHub does not count against the rate limit).
/// The fake's hourly budget, as GitHub gives a token or an installation.
pub const BUDGET: usize = 5000;

/// `answer` with GitHub's rate-limit headers after `spent` counted calls;
/// an answer that carries its own (a rate limit fault) keeps them.
fn with_budget(mut answer: Answer, spent: usize) -> Answer {
    use actix_web::http::header::{HeaderName, HeaderValue};
    if answer.headers().contains_key("x-ratelimit-remaining") {
        return answer;
    }
    let reset = now() + 3600;
    for (name, value) in [
        ("x-ratelimit-limit", BUDGET.to_string()),
        (
            "x-ratelimit-remaining",
            BUDGET.saturating_sub(spent).to_string(),
        ),
        ("x-ratelimit-used", spent.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            answer
                .headers_mut()
                .insert(HeaderName::from_static(name), v);
        }
    }
    answer
}

fn conditional(req: &HttpRequest, answer: Answer) -> Answer {
    use actix_web::body::MessageBody;
    use sha2::{Digest, Sha256};
    if answer.status() != actix_web::http::StatusCode::OK {
        return answer;
    }
    let (head, body) = answer.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => return head.set_body(body),
    };
    let etag = format!("W/\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
    let matched = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matched {
        return HttpResponse::NotModified()
            .insert_header(("etag", etag))
            .finish();
    }
    let mut head = head.set_body(bytes);
    head.headers_mut().insert(
        actix_web::http::header::ETAG,
        actix_web::http::header::HeaderValue::from_str(&etag).unwrap(),
    );
    head.map_into_boxed_body()
}

impl State {
    fn respond(
        &mut self,
        method: &str,
        path: &str,
        query: &HashMap<String, String>,
        body: &[u8],
        auth: Option<&str>,
        accept: &str,
    ) -> Answer {
        match self.fault(method, path, body) {
            Some((answer, false)) => return answer,
            Some((answer, true)) => {
                // GitHub did the work, then the answer was lost.
                let _ = self.act(method, path, query, body, auth, accept);
                return answer;
            }
            None => {}
        }
        self.act(method, path, query, body, auth, accept)
    }

    fn act(
        &mut self,
        method: &str,
        path: &str,
        query: &HashMap<String, String>,
        body: &[u8],
        auth: Option<&str>,
        accept: &str,
    ) -> Answer {
        if let Some(rest) = path.strip_prefix(&format!("/_codeload/{}/{}/", self.owner, self.name))
        {
            return self.codeload(rest, query);
        }
        if (method, path) == ("POST", "/graphql") {
            if let Err(why) = self.check_token(auth) {
                return message(401, &why);
            }
            return self.graphql(body);
        }
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if (method, path) == ("GET", "/app/installations") {
            if let Err(why) = self.check_jwt(auth) {
                return message(401, &why);
            }
            let Some(app) = &self.app else {
                return message(404, "Not Found");
            };
            let installation = json!({
                "id": app.installation,
                "app_id": app.id,
                "account": { "login": self.owner, "type": "Organization" },
                "target_type": "Organization",
                "repository_selection": "selected",
                "suspended_at": null,
            });
            return self.paged_at("/app/installations", query, vec![installation]);
        }
        if (method, path) == ("GET", "/installation/repositories") {
            if let Err(why) = self.check_token(auth) {
                return message(401, &why);
            }
            // An installation token (`ghs_`): a personal token is refused.
            if !auth.is_some_and(|a| a.contains("ghs_")) {
                return message(403, "You must authenticate with an installation access token in order to list repositories for an installation.");
            }
            let repos: Vec<Value> = self
                .org
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.installed)
                .map(|r| {
                    let (owner, name) = r.full_name.split_once('/').unwrap();
                    json!({
                        "name": name,
                        "full_name": r.full_name,
                        "owner": { "login": owner, "type": "Organization" },
                        "default_branch": "main",
                        "archived": r.archived,
                        "disabled": false,
                        "private": true,
                    })
                })
                .collect();
            let (range, link) = self.page("/installation/repositories", query, repos.len());
            let mut answer = HttpResponse::Ok();
            if let Some(link) = link {
                answer.insert_header(("link", link));
            }
            return answer.json(json!({
                "total_count": repos.len(),
                "repository_selection": "selected",
                "repositories": &repos[range],
            }));
        }
        if let Some(rest) = path.strip_prefix("/app/installations/") {
            return match (method, rest.strip_suffix("/access_tokens")) {
                ("POST", Some(id)) => self.access_token(id, auth),
                _ => message(404, "Not Found"),
            };
        }
        if let Some(rest) = path.strip_prefix("/orgs/") {
            if let Err(why) = self.check_token(auth) {
                return message(401, &why);
            }
            // `{org}/teams/{slug}/memberships/{user}`
            let parts: Vec<&str> = rest.split('/').collect();
            return match (method, parts.as_slice()) {
                ("GET", [org, "teams", slug, "memberships", user]) => {
                    let team = format!("{org}/{slug}");
                    if self
                        .teams
                        .iter()
                        .any(|(t, u)| *t == team && u.eq_ignore_ascii_case(user))
                    {
                        HttpResponse::Ok().json(json!({ "state": "active", "role": "member" }))
                    } else {
                        message(404, "Not Found")
                    }
                }
                _ => message(404, "Not Found"),
            };
        }
        let Some(rest) = path.strip_prefix(&format!("/repos/{}/{}/", self.owner, self.name)) else {
            return message(404, "Not Found");
        };
        if (method, rest) == ("GET", "installation") {
            return match (self.check_jwt(auth), &self.app) {
                (Ok(()), Some(app)) => HttpResponse::Ok().json(json!({ "id": app.installation })),
                (Err(why), _) => message(401, &why),
                _ => message(404, "Not Found"),
            };
        }
        if let Err(why) = self.check_token(auth) {
            return message(401, &why);
        }
        let parts: Vec<&str> = rest.splitn(3, '/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["git", "ref", branch]) => match branch.strip_prefix("heads/").and_then(|b| self.repo.branch(b)) {
                Some(sha) => HttpResponse::Ok().json(json!({ "ref": format!("refs/{branch}"), "object": { "sha": sha, "type": "commit" } })),
                None => message(404, "Not Found"),
            },
            ("GET", ["git", "matching-refs", prefix]) => {
                let mut branches = self.repo.branches();
                // GitHub lists refs in name order.
                branches.sort();
                let refs: Vec<serde_json::Value> = branches
                    .into_iter()
                    .filter(|(name, _)| format!("heads/{name}").starts_with(*prefix))
                    .map(|(name, sha)| json!({ "ref": format!("refs/heads/{name}"), "object": { "sha": sha, "type": "commit" } }))
                    .collect();
                self.paged(&format!("git/matching-refs/{prefix}"), query, refs)
            }
            ("POST", ["git", "refs"]) => self.create_ref(&body),
            ("PATCH", ["git", "refs", branch]) => self.update_ref(branch.strip_prefix("heads/").unwrap_or(branch), &body),
            ("POST", ["git", "trees"]) => self.create_tree(&body),
            ("POST", ["git", "commits"]) => self.create_commit(&body),
            ("GET", ["git", "commits", sha]) => match self.repo.resolve(sha, "tree") {
                Some(tree) if self.repo.object_type(sha).as_deref() == Some("commit") => {
                    HttpResponse::Ok().json(json!({ "sha": sha, "tree": { "sha": tree } }))
                }
                _ => message(404, "Not Found"),
            },
            ("GET", ["compare", range]) => self.compare(range),
            ("GET", ["commits"]) => self.list_commits(query),
            ("GET", ["commits", sha, "pulls"]) => self.commit_pulls(sha, query),
            ("GET", ["commits", sha, "check-runs"]) => self.list_check_runs(sha, query),
            ("POST", ["check-runs"]) => self.create_check_run(&body),
            ("PATCH", ["check-runs", id]) => self.update_check_run(id, &body),
            ("POST", ["statuses", sha]) => self.create_status(sha, &body),
            ("PATCH", ["issues", "comments", id]) => match (id.parse::<usize>(), body["body"].as_str()) {
                (Ok(id), Some(text)) if id >= 1 && id <= self.comments.len() => {
                    self.comments[id - 1].1 = text.to_owned();
                    HttpResponse::Ok().json(json!({ "id": id, "body": text }))
                }
                (Ok(_), Some(_)) => message(404, "Not Found"),
                _ => message(422, "Validation Failed"),
            },
            ("GET", ["tarball", rev]) => match self.repo.resolve(rev, "commit") {
                Some(sha) => {
                    let token = uuid::Uuid::new_v4().simple().to_string();
                    self.codeload_tokens.push(token.clone());
                    let location = format!("{}/_codeload/{}/{}/legacy.tar.gz/{sha}?token={token}", self.base_url, self.owner, self.name);
                    HttpResponse::Found().insert_header(("location", location)).finish()
                }
                None => message(404, "Not Found"),
            },
            ("GET", ["contents", first, rest]) => self.contents(&format!("{first}/{rest}"), query, accept),
            ("GET", ["contents", file]) => self.contents(file, query, accept),
            ("GET", ["pulls"]) => self.list_pulls(query),
            ("POST", ["pulls"]) => self.create_pull(&body),
            ("PATCH", ["pulls", n]) => self.update_pull(n, &body),
            ("POST", ["issues", n, "labels"]) => self.add_labels(n, &body),
            ("GET", ["issues"]) => self.list_issues(query),
            ("POST", ["issues"]) => self.create_issue(&body),
            ("PATCH", ["issues", n]) => self.update_issue(n, &body),
            ("GET", ["issues", n, "comments"]) => match self.find(n).or_else(|| self.find_issue(n)) {
                // Oldest first, as GitHub lists an issue's comments.
                Some(number) => {
                    let items = self
                        .comments
                        .iter()
                        .enumerate()
                        .filter(|(_, (m, _))| *m == number)
                        .map(|(i, (_, body))| json!({ "id": i + 1, "body": body }))
                        .collect();
                    self.paged(&format!("issues/{n}/comments"), query, items)
                }
                None => message(404, "Not Found"),
            },
            ("GET", ["collaborators", user, "permission"]) => {
                let role = self
                    .permissions
                    .iter()
                    .find(|(u, _)| u.eq_ignore_ascii_case(user))
                    .map(|(_, r)| r.clone());
                match role {
                    Some(role) => {
                        let permission = match role.as_str() {
                            "maintain" => "write",
                            "triage" => "read",
                            other => other,
                        };
                        HttpResponse::Ok().json(json!({ "permission": permission, "role_name": role, "user": { "login": user } }))
                    }
                    None => message(404, "Not Found"),
                }
            }
            ("POST", ["issues", "comments", rest]) => match rest.split_once('/') {
                Some((id, "reactions")) => match (id.parse::<u64>(), body["content"].as_str()) {
                    (Ok(id), Some(content)) => {
                        self.reactions.push((id, content.to_owned()));
                        HttpResponse::Created().json(json!({ "id": self.reactions.len(), "content": content }))
                    }
                    _ => message(422, "Validation Failed"),
                },
                _ => message(404, "Not Found"),
            },
            ("POST", ["issues", n, "comments"]) => match (self.find(n).or_else(|| self.find_issue(n)), body["body"].as_str()) {
                (Some(number), Some(text)) => {
                    self.comments.push((number, text.to_owned()));
                    HttpResponse::Created().json(json!({ "id": self.comments.len(), "body": text }))
                }
                (None, _) => message(404, "Not Found"),
                _ => message(422, "Validation Failed"),
            },
            _ => message(404, "Not Found"),
        }
    }

    /// The fault armed for this request, if any, and whether the fake
    /// acts before answering it.
    /// A fault armed for `graphql:NAME` matches a `POST /graphql` whose
    /// query names `NAME` (a mutation field).
    fn fault(&mut self, method: &str, path: &str, body: &[u8]) -> Option<(Answer, bool)> {
        let query = || {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|b| b["query"].as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let matches = |f: &Armed| match f.path_contains.strip_prefix("graphql:") {
            Some(name) => path == "/graphql" && query().contains(name),
            None => path.contains(&f.path_contains),
        };
        let armed = self
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && f.method == method && matches(f))?;
        armed.remaining -= 1;
        let after = armed.after_acting;
        Some((
            match armed.fault.clone() {
                Fault::RateLimit { reset_in } => {
                    let reset = now() + i64::try_from(reset_in.as_secs()).unwrap();
                    HttpResponse::Forbidden()
                        .insert_header(("x-ratelimit-limit", "5000"))
                        .insert_header(("x-ratelimit-remaining", "0"))
                        .insert_header(("x-ratelimit-reset", reset.to_string()))
                        .json(json!({ "message": "API rate limit exceeded for installation." }))
                }
                Fault::SecondaryRateLimit { retry_after } => HttpResponse::Forbidden()
                    .insert_header(("retry-after", retry_after.to_string()))
                    .json(json!({ "message": "You have exceeded a secondary rate limit." })),
                Fault::TooMany { retry_after } => HttpResponse::TooManyRequests()
                    .insert_header(("retry-after", retry_after.to_string()))
                    .json(json!({ "message": "Too many requests" })),
                Fault::BadGateway => HttpResponse::BadGateway()
                    .content_type("text/html")
                    .body("<html><body>502 Bad Gateway</body></html>"),
                Fault::Answer { status, body } => {
                    HttpResponse::build(StatusCode::from_u16(status).unwrap()).json(body)
                }
                Fault::TooManyUntilReset { reset_in } => {
                    let reset = now() + i64::try_from(reset_in.as_secs()).unwrap();
                    HttpResponse::TooManyRequests()
                        .insert_header(("x-ratelimit-limit", "5000"))
                        .insert_header(("x-ratelimit-remaining", "0"))
                        .insert_header(("x-ratelimit-used", "5000"))
                        .insert_header(("x-ratelimit-reset", reset.to_string()))
                        .json(json!({ "message": "API rate limit exceeded for installation." }))
                }
            },
            after,
        ))
    }

    /// Err holds the 401 message.
    fn check_token(&self, auth: Option<&str>) -> Result<(), String> {
        let token = auth.and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
        });
        let tokens = self.tokens.lock().unwrap();
        match token.and_then(|t| tokens.get(t)) {
            Some(None) => Ok(()),
            Some(Some(expiry)) if *expiry > now() => Ok(()),
            _ => Err("Bad credentials".to_owned()),
        }
    }

    /// An App JWT: RS256, signed by the App's key, `iss` the App id, and no
    /// longer-lived than GitHub allows.
    fn check_jwt(&self, auth: Option<&str>) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Claims {
            iss: u64,
            iat: u64,
            exp: u64,
        }
        let refuse = |why: &str| Err(format!("A JSON web token could not be decoded: {why}"));
        let Some(app) = &self.app else {
            return refuse("no App");
        };
        let Some(jwt) = auth.and_then(|a| a.strip_prefix("Bearer ")) else {
            return refuse("no bearer");
        };
        let key = DecodingKey::from_rsa_pem(&app.public_pem).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        // octocrab sends `iss` as a number, which jsonwebtoken's own issuer
        // check cannot read; the claims struct below requires it instead.
        validation.set_required_spec_claims(&["exp"]);
        let claims = match decode::<Claims>(jwt, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return refuse(&e.to_string()),
        };
        if claims.iss != app.id {
            return refuse("wrong issuer");
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_JWT_LIFETIME_S {
            return refuse("expires too late");
        }
        Ok(())
    }

    fn access_token(&mut self, id: &str, auth: Option<&str>) -> Answer {
        if let Err(why) = self.check_jwt(auth) {
            return message(401, &why);
        }
        if self
            .app
            .as_ref()
            .map(|a| a.installation.to_string())
            .as_deref()
            != Some(id)
        {
            return message(404, "Not Found");
        }
        let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
        let expiry = now() + i64::try_from(self.token_lifetime.as_secs()).unwrap();
        self.tokens
            .lock()
            .unwrap()
            .insert(token.clone(), Some(expiry));
        let expires_at = chrono::DateTime::from_timestamp(expiry, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        HttpResponse::Created().json(json!({
            "token": token,
            "expires_at": expires_at,
            "permissions": { "contents": "write", "pull_requests": "write" },
            "repository_selection": "selected",
        }))
    }

    fn codeload(&mut self, rest: &str, query: &HashMap<String, String>) -> Answer {
        let token_ok = query
            .get("token")
            .is_some_and(|t| self.codeload_tokens.contains(t));
        let Some(sha) = rest.strip_prefix("legacy.tar.gz/").filter(|_| token_ok) else {
            return message(404, "Not Found");
        };
        let prefix = format!("{}-{}-{}", self.owner, self.name, &sha[..7.min(sha.len())]);
        // `git archive` of a commit writes its id in a pax header; of a
        // tree, not.
        let rev = if self.plain_tarballs {
            format!("{sha}^{{tree}}")
        } else {
            sha.to_owned()
        };
        match self.repo.tarball(&rev, &prefix) {
            Ok(bytes) => HttpResponse::Ok()
                .content_type("application/x-gzip")
                .body(bytes),
            Err(_) => message(404, "Not Found"),
        }
    }

    fn contents(&self, path: &str, query: &HashMap<String, String>, accept: &str) -> Answer {
        let rev = query.get("ref").map(String::as_str).unwrap_or("main");
        match self.repo.file(rev, path) {
            Some(bytes) if accept.contains("vnd.github.raw") => HttpResponse::Ok()
                .content_type("application/vnd.github.raw")
                .body(bytes),
            Some(_) => message(415, "the fake serves contents only as raw"),
            None => message(404, "Not Found"),
        }
    }

    fn create_ref(&mut self, body: &Value) -> Answer {
        let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
            return message(422, "Invalid request.");
        };
        let Some(branch) = name.strip_prefix("refs/heads/") else {
            return message(422, "Reference name must start with 'refs/'.");
        };
        if self.repo.branch(branch).is_some() {
            return documented(422, "Reference already exists", CREATE_REF_DOCS);
        }
        if !full_sha(sha) || self.repo.object_type(sha).as_deref() != Some("commit") {
            return documented(422, "Object does not exist", CREATE_REF_DOCS);
        }
        self.repo.set_branch(branch, sha);
        HttpResponse::Created()
            .json(json!({ "ref": name, "object": { "sha": sha, "type": "commit" } }))
    }

    fn update_ref(&mut self, branch: &str, body: &Value) -> Answer {
        self.race(branch);
        let Some(sha) = body["sha"].as_str() else {
            return message(422, "Invalid request.");
        };
        let Some(old) = self.repo.branch(branch) else {
            return documented(422, "Reference does not exist", UPDATE_REF_DOCS);
        };
        if !full_sha(sha) || self.repo.object_type(sha).as_deref() != Some("commit") {
            return documented(422, "Object does not exist", UPDATE_REF_DOCS);
        }
        let force = body["force"].as_bool().unwrap_or(false);
        if !force && !self.repo.is_ancestor(&old, sha) {
            return documented(422, "Update is not a fast forward", UPDATE_REF_DOCS);
        }
        self.repo.set_branch(branch, sha);
        HttpResponse::Ok()
            .json(json!({ "ref": format!("refs/heads/{branch}"), "object": { "sha": sha } }))
    }

    fn create_tree(&mut self, body: &Value) -> Answer {
        // GitHub takes a tree id and nothing else: a commit id, even one
        // whose tree it could find, is refused.
        let base = match body["base_tree"].as_str() {
            None => None,
            Some(b) if full_sha(b) && self.repo.object_type(b).as_deref() == Some("tree") => {
                Some(b.to_owned())
            }
            Some(_) => {
                return documented(422, "base_tree is not a valid tree oid", CREATE_TREE_DOCS)
            }
        };
        let mut files = Vec::new();
        for entry in body["tree"].as_array().cloned().unwrap_or_default() {
            let (Some(path), Some(mode), Some(content)) = (
                entry["path"].as_str(),
                entry["mode"].as_str(),
                entry["content"].as_str(),
            ) else {
                return message(422, "tree entries need path, mode and content in this fake");
            };
            files.push((
                path.to_owned(),
                mode.to_owned(),
                content.as_bytes().to_vec(),
            ));
        }
        match self.repo.write_tree(base.as_deref(), &files) {
            Ok(sha) => HttpResponse::Created().json(json!({ "sha": sha })),
            Err(e) => message(422, &e),
        }
    }

    fn create_commit(&mut self, body: &Value) -> Answer {
        let (Some(message_text), Some(tree)) = (body["message"].as_str(), body["tree"].as_str())
        else {
            return message(422, "Invalid request.");
        };
        let parents: Vec<String> = body["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        if self.repo.object_type(tree).as_deref() != Some("tree")
            || parents
                .iter()
                .any(|p| self.repo.object_type(p).as_deref() != Some("commit"))
        {
            return message(422, "Tree SHA does not exist");
        }
        match self.repo.commit_tree(tree, &parents, message_text) {
            Ok(sha) => HttpResponse::Created().json(json!({ "sha": sha, "tree": { "sha": tree } })),
            Err(e) => message(422, &e),
        }
    }
}
