//! A stateful fake of the GitHub REST API, in the manner of rust-lang/bors'
//! test suite: the real `GithubHost` talks HTTP to it, a real bare git
//! repository stands behind it, and tests assert on what it ends up holding
//! (branches, files, pull requests, comments, labels) and on every request
//! it received. Only the endpoints chartpilot calls exist.

mod checks;
mod git;
mod graphql;
mod graphql_mutations;
mod history;
mod issues;
mod pages;
mod pulls;
mod routes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::web;
use chartpilot::settings::{GitProvider, GitSettings, GithubSettings, Secret};

pub use self::checks::{FakeCheckRun, FakeStatus};
use self::git::BareRepo;
pub use self::issues::FakeIssue;
use super::contract::Violations;

/// The repository a fake started with [`FakeGithub::start`] holds.
pub const OWNER: &str = "acme";
pub const NAME: &str = "gitops";

/// GitHub's installation tokens live one hour.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub status: u16,
    /// The `Authorization` header, to tell App JWTs from tokens.
    pub auth: Option<String>,
    /// When the fake took the request and when its answer was ready (the
    /// rollback bench times "PR opened" by these).
    pub received: Instant,
    pub answered: Instant,
}

impl Recorded {
    /// Whether the call may change something: not a GET, and not a
    /// GraphQL query (a read sent as POST; a mutation is a write).
    pub fn is_write(&self) -> bool {
        if self.method == "GET" {
            return false;
        }
        if self.path == "/graphql" {
            let query = serde_json::from_str::<serde_json::Value>(&self.body)
                .ok()
                .and_then(|b| b["query"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return query.trim_start().starts_with("mutation");
        }
        true
    }

    /// `POST /repos/acme/gitops/git/trees`: what tests compare against.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the next matching requests answer instead of doing their work.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 403 with `x-ratelimit-remaining: 0` and a reset this far ahead.
    RateLimit { reset_in: Duration },
    /// 403 "secondary rate limit" with `retry-after`.
    SecondaryRateLimit { retry_after: u64 },
    /// 429 with `retry-after`.
    TooMany { retry_after: u64 },
    /// 502 with an HTML body, as a load balancer sends it.
    BadGateway,
    /// This status and JSON body instead of the fake's own: an answer that
    /// breaks the contract, to prove the check sees it.
    Answer {
        status: u16,
        body: serde_json::Value,
    },
    /// 429 with `x-ratelimit-remaining: 0` and a reset this far ahead, no
    /// `retry-after`: GitHub's other answer to an exhausted primary limit.
    TooManyUntilReset { reset_in: Duration },
}

#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    /// Set by [`FakeGithub::merge_into_base`]: the merge commit on the base
    /// branch and when it was made (RFC 3339).
    pub merge_commit_sha: Option<String>,
    pub merged_at: Option<String>,
    pub labels: Vec<String>,
    /// The owner of the fork the head branch lives in; None for branches
    /// of the repository itself.
    pub fork_owner: Option<String>,
    /// When it last changed, in the fake's own order of events (what
    /// `sort=updated` lists by).
    pub updated: u64,
    /// The head when the PR was opened (GitHub updates it on pushes; the
    /// branch, when it exists, is what the fake shows).
    pub head_sha: Option<String>,
}

/// A file as the fake commits it: path, git mode, content.
type FileEntry = (String, String, Vec<u8>);

struct Armed {
    method: String,
    path_contains: String,
    fault: Fault,
    remaining: usize,
    /// The fake does the work, then answers the fault: GitHub made the PR
    /// and the answer was lost on the way.
    after_acting: bool,
}

#[derive(Clone)]
struct AppKey {
    id: u64,
    public_pem: Vec<u8>,
    installation: u64,
}

pub struct State {
    base_url: String,
    /// The one repository this fake holds: `owner/name`.
    owner: String,
    name: String,
    repo: BareRepo,
    /// Token → expiry (unix seconds; None never expires); shared by the
    /// repositories of one organisation (see [`FakeGithub::start_org`]).
    tokens: Arc<Mutex<HashMap<String, Option<i64>>>>,
    /// Every repository on this server (the organisation's; this one
    /// alone otherwise), as the installation lists them.
    org: Arc<Mutex<Vec<OrgRepo>>>,
    /// Counted calls of the organisation's budget (one installation's),
    /// less those of cleared requests.
    spent: Arc<std::sync::atomic::AtomicUsize>,
    app: Option<AppKey>,
    token_lifetime: Duration,
    pulls: Vec<FakePull>,
    /// The repository's labels (GitHub creates one the first time a
    /// request names it; GraphQL finds only those).
    labels: Vec<String>,
    comments: Vec<(u64, String)>,
    issues: Vec<FakeIssue>,
    /// `(comment id, content)` of each reaction.
    reactions: Vec<(u64, String)>,
    /// `(org/slug, login)` memberships.
    teams: Vec<(String, String)>,
    /// `(login, role)`: admin, maintain, write, triage or read.
    permissions: Vec<(String, String)>,
    next_number: u64,
    /// The next value of [`FakePull::updated`].
    next_update: u64,
    requests: Vec<Recorded>,
    faults: Vec<Armed>,
    /// Tarballs of the tree alone, without the pax header naming the
    /// commit (not what GitHub serves: to prove the fallback).
    plain_tarballs: bool,
    /// `(mutation field, times)` armed by [`FakeGithub::fail_field`].
    field_faults: Vec<(String, usize)>,
    codeload_tokens: Vec<String>,
    /// What chartpilot sent, or the fake answered, against GitHub's
    /// description.
    violations: Violations,
    /// Files someone else commits on a branch just before the next ref
    /// update of that branch reaches the fake: a push that lost a race.
    races: Vec<(String, Vec<FileEntry>)>,
    check_runs: Vec<FakeCheckRun>,
    statuses: Vec<FakeStatus>,
}

/// A repository of the organisation, as the installation lists it.
pub struct OrgRepo {
    full_name: String,
    archived: bool,
    installed: bool,
}

/// The repositories one fake server holds: one, or an organisation's.
pub struct Fleet(pub Vec<Arc<Mutex<State>>>);

impl Fleet {
    /// The repository a path is about (`/repos/{owner}/{name}/…`, or its
    /// codeload archive); the first for the App's and the organisation's
    /// own routes.
    fn pick(&self, path: &str) -> &Arc<Mutex<State>> {
        let rest = path
            .strip_prefix("/repos/")
            .or_else(|| path.strip_prefix("/_codeload/"));
        let named = rest.and_then(|r| {
            let mut parts = r.splitn(3, '/');
            Some(format!("{}/{}", parts.next()?, parts.next()?).to_ascii_lowercase())
        });
        named
            .and_then(|n| {
                self.0.iter().find(|st| {
                    let st = st.lock().unwrap();
                    format!("{}/{}", st.owner, st.name).to_ascii_lowercase() == n
                })
            })
            .unwrap_or(&self.0[0])
    }
}

pub struct FakeGithub {
    /// The API root, what `github.api_url` is set to.
    pub url: String,
    /// A personal token the fake accepts.
    pub token: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
    dir: tempfile::TempDir,
    violations: Violations,
}

/// What `app_settings` points chartpilot at.
pub struct AppCredentials {
    pub app_id: u64,
    pub key_file: PathBuf,
}

impl FakeGithub {
    /// Starts the fake on 127.0.0.1:0 with an empty repository
    /// `acme/gitops` and one accepted personal token.
    pub async fn start() -> FakeGithub {
        Self::start_named(OWNER, NAME).await
    }

    /// Like [`FakeGithub::start`], holding `owner/name`.
    pub async fn start_named(owner: &str, name: &str) -> FakeGithub {
        Self::start_org(owner, &[name]).await.pop().unwrap()
    }

    /// One server holding several repositories of `owner`, as one
    /// organisation on GitHub: a token or an installation token it issues
    /// is good for all of them, and an App enabled on the first
    /// ([`FakeGithub::enable_app_on_all`]) is installed on all of them.
    pub async fn start_org(owner: &str, names: &[&str]) -> Vec<FakeGithub> {
        let (listener, url) = super::loopback();
        let token = format!("ghp_{}", uuid::Uuid::new_v4().simple());
        let tokens = Arc::new(Mutex::new(HashMap::from([(token.clone(), None)])));
        let spent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let org = Arc::new(Mutex::new(
            names
                .iter()
                .map(|n| OrgRepo {
                    full_name: format!("{owner}/{n}"),
                    archived: false,
                    installed: true,
                })
                .collect::<Vec<_>>(),
        ));
        let mut fakes = Vec::new();
        let mut states = Vec::new();
        for name in names {
            let dir = tempfile::tempdir().unwrap();
            let violations = Violations::default();
            let state = Arc::new(Mutex::new(State {
                base_url: url.clone(),
                owner: owner.to_owned(),
                name: (*name).to_owned(),
                repo: BareRepo::init(dir.path()),
                tokens: Arc::clone(&tokens),
                org: Arc::clone(&org),
                spent: Arc::clone(&spent),
                app: None,
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                pulls: Vec::new(),
                labels: Vec::new(),
                field_faults: Vec::new(),
                plain_tarballs: false,
                comments: Vec::new(),
                issues: Vec::new(),
                reactions: Vec::new(),
                teams: Vec::new(),
                permissions: Vec::new(),
                next_number: 1,
                next_update: 1,
                requests: Vec::new(),
                faults: Vec::new(),
                codeload_tokens: Vec::new(),
                violations: violations.clone(),
                races: Vec::new(),
                check_runs: Vec::new(),
                statuses: Vec::new(),
            }));
            states.push(Arc::clone(&state));
            fakes.push((state, dir, violations));
        }
        let data = web::Data::new(Fleet(states));
        let server = super::serve(listener, move |cfg| {
            cfg.app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(routes::handle));
        });
        fakes
            .into_iter()
            .map(|(state, dir, violations)| FakeGithub {
                url: url.clone(),
                token: token.clone(),
                state,
                server: server.clone(),
                dir,
                violations,
            })
            .collect()
    }

    fn org_entry(&self, change: impl FnOnce(&mut OrgRepo)) {
        let st = self.state();
        let name = format!("{}/{}", st.owner, st.name);
        let mut org = st.org.lock().unwrap();
        change(org.iter_mut().find(|r| r.full_name == name).unwrap());
    }

    /// Marks the repository archived, as the installation lists it.
    pub fn set_archived(&self, archived: bool) {
        self.org_entry(|r| r.archived = archived);
    }

    /// Leaves the repository out of (or puts it back into) what the
    /// installation sees, as when an organisation owner changes the App's
    /// repository selection.
    pub fn set_installed(&self, installed: bool) {
        self.org_entry(|r| r.installed = installed);
    }

    /// [`FakeGithub::enable_app`] on the first of an organisation's
    /// repositories, the same App installed on all of them.
    pub fn enable_app_on_all(fakes: &[FakeGithub], app_id: u64) -> AppCredentials {
        let creds = fakes[0].enable_app(app_id);
        let app = fakes[0].state().app.clone();
        for f in &fakes[1..] {
            f.state().app = app.clone();
        }
        creds
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The `[git]` and `[github]` overrides that point chartpilot at this
    /// fake, for `support::env_vars`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GIT__PROVIDER", "github".to_owned()),
            ("GIT__REPOSITORY", self.repository()),
            ("GITHUB__TOKEN", self.token.clone()),
            ("GITHUB__API_URL", self.url.clone()),
        ]
    }

    pub fn repository(&self) -> String {
        let st = self.state();
        format!("{}/{}", st.owner, st.name)
    }

    /// Settings that authenticate with the fake's personal token.
    pub fn github_settings(&self) -> GithubSettings {
        self.github_settings_with_token(&self.token)
    }

    pub fn github_settings_with_token(&self, token: &str) -> GithubSettings {
        GithubSettings {
            webhook_secret: Secret::default(),
            webhook_secret_file: None,
            token: Secret::new(token),
            token_file: None,
            app_id: None,
            private_key_file: None,
            api_url: self.url.clone(),
        }
    }

    pub fn git_settings(&self) -> GitSettings {
        GitSettings {
            provider: GitProvider::Github,
            path: PathBuf::from("."),
            repository: self.repository(),
            branch: "main".to_owned(),
            pulls_log: None,
        }
    }

    /// Registers a GitHub App installed on the repository, with an RSA key
    /// made now by `openssl` (tests make their own secrets).
    pub fn enable_app(&self, app_id: u64) -> AppCredentials {
        let key_file = self.dir.path().join("app-key.pem");
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
            out.stdout
        };
        let key_path = key_file.to_str().unwrap();
        run(&["genrsa", "-out", key_path, "2048"]);
        let public_pem = run(&["rsa", "-in", key_path, "-pubout"]);
        self.state().app = Some(AppKey {
            id: app_id,
            public_pem,
            installation: 4242,
        });
        AppCredentials { app_id, key_file }
    }

    pub fn app_settings(&self, app: &AppCredentials) -> GithubSettings {
        GithubSettings {
            token: Secret::default(),
            app_id: Some(app.app_id),
            private_key_file: Some(app.key_file.clone()),
            ..self.github_settings()
        }
    }

    /// How long the installation tokens issued from now on live.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state().token_lifetime = lifetime;
    }

    /// Commits `files` (path, content) on `branch` (created if missing) and
    /// returns the new commit.
    pub fn commit_files(&self, branch: &str, files: &[(&str, &str)]) -> String {
        let files: Vec<_> = files
            .iter()
            .map(|(p, c)| (p.to_string(), "100644".to_owned(), c.as_bytes().to_vec()))
            .collect();
        self.commit_with_modes(branch, &files)
    }

    /// Like `commit_files`, with a git mode per file (`100755`).
    pub fn commit_with_modes(&self, branch: &str, files: &[(String, String, Vec<u8>)]) -> String {
        let st = self.state();
        let parent = st.repo.branch(branch);
        let base = parent.as_deref().and_then(|p| st.repo.resolve(p, "tree"));
        let tree = st.repo.write_tree(base.as_deref(), files).unwrap();
        let parents: Vec<String> = parent.into_iter().collect();
        let sha = st.repo.commit_tree(&tree, &parents, "seed").unwrap();
        st.repo.set_branch(branch, &sha);
        sha
    }

    /// Commits the removal of `paths` on `branch` (which must exist) and
    /// returns the new commit.
    pub fn delete_files(&self, branch: &str, paths: &[&str]) -> String {
        let st = self.state();
        let parent = st.repo.branch(branch).unwrap();
        let base = st.repo.resolve(&parent, "tree").unwrap();
        let tree = st.repo.tree_without(&base, paths).unwrap();
        let sha = st.repo.commit_tree(&tree, &[parent], "seed").unwrap();
        st.repo.set_branch(branch, &sha);
        sha
    }

    /// Points `name` at `sha`, creating the branch, without an API call.
    pub fn set_branch(&self, name: &str, sha: &str) {
        self.state().repo.set_branch(name, sha);
    }

    /// Seeds `main` with `files`.
    pub fn seed(&self, files: &[(&str, &str)]) -> String {
        self.commit_files("main", files)
    }

    pub fn branch(&self, name: &str) -> Option<String> {
        self.state().repo.branch(name)
    }

    pub fn file(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        self.state().repo.file(rev, path)
    }

    pub fn mode(&self, rev: &str, path: &str) -> Option<String> {
        self.state().repo.mode(rev, path)
    }

    /// Paths that differ between two revisions.
    pub fn changed_files(&self, from: &str, to: &str) -> Vec<String> {
        self.state().repo.changed_files(from, to)
    }

    /// Parents of a commit, for checking what `commit` built on.
    /// A commit's full message.
    pub fn message(&self, sha: &str) -> String {
        let st = self.state();
        st.repo
            .log(sha, None, 1, None)
            .ok()
            .and_then(|l| l.into_iter().next())
            .map(|c| c.message)
            .unwrap_or_default()
    }

    pub fn parents(&self, sha: &str) -> Vec<String> {
        let out = self
            .state()
            .repo
            .git(&["rev-list", "--parents", "-n1", sha], None, None)
            .unwrap();
        String::from_utf8(out)
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    /// Adds a pull request without an API call, as if someone opened it.
    pub fn add_pull(&self, head: &str, title: &str) -> u64 {
        let mut st = self.state();
        st.new_pull(head, "main", title, "")
    }

    /// A pull request from a fork whose branch has the given name, as
    /// anyone who can fork the repository may open.
    pub fn add_fork_pull(&self, fork_owner: &str, head: &str, title: &str) -> u64 {
        let mut st = self.state();
        let number = st.new_pull(head, "main", title, "");
        if let Some(p) = st.pulls.iter_mut().find(|p| p.number == number) {
            p.fork_owner = Some(fork_owner.to_owned());
        }
        number
    }

    pub fn merge_pull(&self, number: u64) {
        let mut st = self.state();
        let t = st.tick();
        let pull = st.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pull.updated = t;
        pull.state = "closed".to_owned();
        pull.merged = true;
    }

    /// Merges a pull request as GitHub's merge button does: a merge
    /// commit on the base branch whose parents are the base and the head,
    /// with the head's tree (the head must contain the base). Returns the
    /// merge commit.
    pub fn merge_into_base(&self, number: u64) -> String {
        let mut st = self.state();
        let pull = st
            .pulls
            .iter()
            .find(|p| p.number == number)
            .unwrap()
            .clone();
        let base = st.repo.branch(&pull.base).unwrap();
        let head = st.repo.branch(&pull.head).unwrap();
        assert!(
            st.repo.is_ancestor(&base, &head),
            "the head contains the base"
        );
        let tree = st.repo.resolve(&head, "tree").unwrap();
        let message = format!(
            "Merge pull request #{number} from {}/{}\n\n{}",
            st.owner, pull.head, pull.title
        );
        let sha = st.repo.commit_tree(&tree, &[base, head], &message).unwrap();
        st.repo.set_branch(&pull.base, &sha);
        let t = st.tick();
        let pull = st.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pull.updated = t;
        pull.state = "closed".to_owned();
        pull.merged = true;
        pull.merge_commit_sha = Some(sha.clone());
        pull.merged_at =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        sha
    }

    /// Closes a pull request without merging, as a person does in the UI.
    pub fn close_pull_as_person(&self, number: u64) {
        let mut st = self.state();
        let t = st.tick();
        let pull = st.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pull.updated = t;
        pull.state = "closed".to_owned();
    }

    pub fn pulls(&self) -> Vec<FakePull> {
        self.state().pulls.clone()
    }

    pub fn pull(&self, number: u64) -> FakePull {
        self.pulls()
            .into_iter()
            .find(|p| p.number == number)
            .unwrap()
    }

    /// Puts `login` in team `org/slug`.
    pub fn add_team_member(&self, team: &str, login: &str) {
        self.state().teams.push((team.to_owned(), login.to_owned()));
    }

    /// Gives `login` a role on the repository (`write`, `maintain`, …).
    pub fn set_permission(&self, login: &str, role: &str) {
        self.state()
            .permissions
            .push((login.to_owned(), role.to_owned()));
    }

    /// `(comment id, content)` of each reaction made.
    pub fn reactions(&self) -> Vec<(u64, String)> {
        self.state().reactions.clone()
    }

    /// Issues that are not pull requests, oldest first.
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.state().issues.clone()
    }

    /// A person opens an issue; returns its number.
    pub fn add_issue(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        let mut st = self.state();
        let number = st.next_number;
        st.next_number += 1;
        st.issues.push(FakeIssue {
            number,
            title: title.to_owned(),
            body: body.to_owned(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            state: "open".into(),
            edits: 0,
        });
        number
    }

    /// A person edits issue `number`'s body, as the web page does.
    pub fn set_issue_body(&self, number: u64, body: &str) {
        let mut st = self.state();
        let issue = st.issues.iter_mut().find(|i| i.number == number).unwrap();
        issue.body = body.to_owned();
        issue.edits += 1;
    }

    /// Creates a label in the repository, as a person does in its settings.
    pub fn create_label(&self, name: &str) {
        self.state().remember_label(name);
    }

    /// The repository's labels.
    pub fn labels(&self) -> Vec<String> {
        self.state().labels.clone()
    }

    pub fn comments(&self, number: u64) -> Vec<String> {
        let st = self.state();
        st.comments
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Check runs created, oldest first.
    pub fn check_runs(&self) -> Vec<FakeCheckRun> {
        self.state().check_runs.clone()
    }

    /// Makes run `id` say `conclusion` and `title`, as an earlier report
    /// of another content would have.
    pub fn set_check_run_outcome(&self, id: u64, conclusion: &str, title: &str) {
        let mut st = self.state();
        let run = st.check_runs.iter_mut().find(|r| r.id == id).unwrap();
        run.conclusion = Some(conclusion.to_owned());
        run.title = title.to_owned();
    }

    /// Commit statuses set, oldest first.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        self.state().statuses.clone()
    }

    /// Every request so far, codeload downloads included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The requests that count against GitHub's API quota: all but the
    /// codeload download a tarball redirects to.
    pub fn api_calls(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.starts_with("/_codeload/"))
            .collect()
    }

    /// The API calls GitHub counts against the rate limit: a 304 to a
    /// conditional request is free.
    pub fn counted_calls(&self) -> Vec<Recorded> {
        self.api_calls()
            .into_iter()
            .filter(|r| r.status != 304)
            .collect()
    }

    pub fn clear_requests(&self) {
        let mut st = self.state();
        let counted = st
            .requests
            .iter()
            // As the budget counted them: not codeload, not GraphQL (a
            // budget of its own), not a 304.
            .filter(|r| {
                !r.path.starts_with("/_codeload/") && r.path != "/graphql" && r.status != 304
            })
            .count();
        st.spent
            .fetch_sub(counted, std::sync::atomic::Ordering::SeqCst);
        st.requests.clear();
    }

    /// The next `times` requests whose method is `method` and whose path
    /// contains `path_contains` answer `fault`.
    pub fn fail(&self, method: &str, path_contains: &str, fault: Fault, times: usize) {
        self.state().faults.push(Armed {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            fault,
            remaining: times,
            after_acting: false,
        });
    }

    /// Like [`FakeGithub::fail`], but the fake does the work first and
    /// then answers `fault`: the case a call made once exists for.
    pub fn fail_after_acting(&self, method: &str, path_contains: &str, fault: Fault, times: usize) {
        self.state().faults.push(Armed {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            fault,
            remaining: times,
            after_acting: true,
        });
    }

    /// The GraphQL mutation field `field` fails the next `times` times with
    /// GitHub's error for a failure inside it, doing nothing; the other
    /// fields of the mutation still run.
    pub fn fail_field(&self, field: &str, times: usize) {
        self.state().field_faults.push((field.to_owned(), times));
    }

    /// Serves tarballs without the pax header that names their commit.
    pub fn serve_plain_tarballs(&self) {
        self.state().plain_tarballs = true;
    }

    /// Adds a comment to a pull request without an API call, as someone
    /// else does; returns its id.
    pub fn add_comment(&self, number: u64, body: &str) -> u64 {
        let mut st = self.state();
        st.comments.push((number, body.to_owned()));
        st.comments.len() as u64
    }

    /// Deletes a branch, as "Delete branch" on a closed PR does.
    pub fn delete_branch(&self, name: &str) {
        let st = self.state();
        st.repo
            .git(
                &["update-ref", "-d", &format!("refs/heads/{name}")],
                None,
                None,
            )
            .unwrap();
    }

    /// Disarms every fault still waiting.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// The contract violations so far, forgotten (for tests that cause
    /// them on purpose; any left make the fake panic when dropped).
    pub fn take_violations(&self) -> Vec<String> {
        self.violations.take()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// Someone commits `files` on `branch` between chartpilot's read and
    /// its next update of that branch (a REST ref update, or a GraphQL
    /// commit on it), which GitHub then refuses: not a fast forward, or not
    /// the expected head.
    pub fn race_next_update(&self, branch: &str, files: &[(&str, &str)]) {
        let files = files
            .iter()
            .map(|(p, c)| (p.to_string(), "100644".to_owned(), c.as_bytes().to_vec()))
            .collect();
        self.state().races.push((branch.to_owned(), files));
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.violations.assert_none("the fake GitHub");
    }
}

impl State {
    /// Plays a race armed by [`FakeGithub::race_next_update`] for `branch`.
    fn race(&mut self, branch: &str) {
        let Some(i) = self.races.iter().position(|(b, _)| b == branch) else {
            return;
        };
        let (_, files) = self.races.remove(i);
        let parent = self.repo.branch(branch);
        let base = parent.as_deref().and_then(|p| self.repo.resolve(p, "tree"));
        let tree = self.repo.write_tree(base.as_deref(), &files).unwrap();
        let parents: Vec<String> = parent.into_iter().collect();
        let sha = self
            .repo
            .commit_tree(&tree, &parents, "someone else's push")
            .unwrap();
        self.repo.set_branch(branch, &sha);
    }

    /// The next point in the fake's order of events.
    fn tick(&mut self) -> u64 {
        self.next_update += 1;
        self.next_update - 1
    }

    fn remember_label(&mut self, name: &str) {
        if !self.labels.iter().any(|l| l.eq_ignore_ascii_case(name)) {
            self.labels.push(name.to_owned());
        }
    }

    fn new_pull(&mut self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        self.pulls.push(FakePull {
            number,
            head: head.to_owned(),
            base: base.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            state: "open".to_owned(),
            merged: false,
            merge_commit_sha: None,
            merged_at: None,
            labels: Vec::new(),
            fork_owner: None,
            updated: self.next_update,
            head_sha: self.repo.branch(head),
        });
        self.next_update += 1;
        number
    }
}
