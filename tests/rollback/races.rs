//! Runs that meet the world changing under them, as the queue runs them
//! (the real job handler, a retry after a transient failure): a pushed
//! revert whose branch moved between read and push, and a revert PR GitHub
//! opened before its answer was lost.

use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use chartpilot::clock::SystemClock;
use chartpilot::jobs::{AlertNotification, AlertStatus, Job, JobEnvelope};
use chartpilot::rollback::run::Outcome;
use chartpilot::worker::service::ServiceHandler;
use chartpilot::worker::{Disposition, JobError, JobHandler};
use tokio::sync::oneshot;

use super::support::fake_github::Fault;
use super::world::{rollbacker, World};
use super::*;

/// Runs the notification as the worker runs a queued job.
async fn handle(h: &ServiceHandler, n: &AlertNotification) -> Result<(), JobError> {
    let job = Job::Alert(n.clone());
    let envelope = JobEnvelope::new(
        &job,
        format!("alert-{}", n.group_key),
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    h.handle(&job, &envelope).await.map(drop)
}

/// Held until the test lets it go on.
type Hold = oneshot::Sender<oneshot::Sender<()>>;

struct Gate {
    upstream: String,
    client: reqwest::Client,
    /// `(method, path, text the body holds)` to hold, and whom to tell
    /// when it arrives.
    hold: Mutex<Option<(String, String, String, Hold)>>,
}

/// A pass-through in front of the fake GitHub that holds the first
/// request with `method` and `path` until the test has acted: the moment
/// between chartpilot's read and its write, made to order. Returns its
/// URL and the signal that the request is held (answer it to release it).
fn gate(
    upstream: &str,
    method: &str,
    path: &str,
    needle: &str,
) -> (
    String,
    oneshot::Receiver<oneshot::Sender<()>>,
    actix_web::dev::ServerHandle,
) {
    let (held, on_hold) = oneshot::channel();
    let state = web::Data::new(Gate {
        upstream: upstream.to_owned(),
        client: reqwest::Client::new(),
        hold: Mutex::new(Some((
            method.to_owned(),
            path.to_owned(),
            needle.to_owned(),
            held,
        ))),
    });
    let (listener, url) = super::support::loopback();
    let server = super::support::serve(listener, move |cfg| {
        cfg.app_data(state.clone()).default_service(web::to(pass));
    });
    (url, on_hold, server)
}

async fn pass(req: HttpRequest, body: web::Bytes, gate: web::Data<Gate>) -> HttpResponse {
    let held = {
        let mut hold = gate.hold.lock().unwrap();
        match hold.take() {
            Some((m, p, needle, tell))
                if m == req.method().as_str()
                    && p == req.path()
                    && String::from_utf8_lossy(&body).contains(&needle) =>
            {
                Some(tell)
            }
            other => {
                *hold = other;
                None
            }
        }
    };
    if let Some(tell) = held {
        let (go, wait) = oneshot::channel();
        tell.send(go).unwrap();
        wait.await.unwrap();
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = gate
        .client
        .request(method, format!("{}{}", gate.upstream, req.uri()))
        .body(body.to_vec());
    for (name, value) in req.headers() {
        if !matches!(name.as_str(), "host" | "content-length") {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = out.send().await.unwrap();
    let mut back = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status().as_u16()).unwrap(),
    );
    for (name, value) in answer.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "content-encoding"
        ) {
            back.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    back.body(answer.bytes().await.unwrap())
}

/// A commit's message, as GitHub lists it.
async fn message(w: &World, sha: &str) -> String {
    let commits: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/repos/acme/gitops/commits", w.fake.url))
        .query(&[("sha", sha), ("per_page", "1")])
        .bearer_auth(&w.fake.token)
        .header("user-agent", "test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    commits[0]["commit"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_pushed_revert_that_loses_the_race_for_main_is_made_again_on_the_new_head_once() {
    let w = World::new().await;
    let h = w.handler("revert-push", "").await;
    let firing = notification(AlertStatus::Firing, "f1f1f1");
    let readme = "# platform\n\nOn call: #platform-oncall\n";

    // chartpilot read main and built its revert; as it commits on main,
    // someone else's commit lands first.
    w.fake.race_next_update("main", &[("README.md", readme)]);
    let err = handle(&h, &firing).await.unwrap_err();
    assert_eq!(err.disposition, Disposition::Retry, "{:#}", err.error);
    // GitHub refused the commit (main is not where the revert was built);
    // main kept the other commit, and nobody was told of a revert that did
    // not land.
    let other = w.fake.branch("main").unwrap();
    assert_eq!(w.fake.parents(&other), vec![w.merge.clone()]);
    assert_eq!(w.writes(), ["POST /graphql"], "one commit, refused");
    assert!(w.fake.comments(w.bump_pr).is_empty());
    assert!(w.chat().is_empty(), "{:?}", w.chat());

    // The queue retries: the revert is made on the new head, once, in six
    // calls (the four reads, the commit, the comment).
    let calls = w.fake.api_calls().len();
    handle(&h, &firing).await.unwrap();
    let retry: Vec<String> = w.fake.api_calls()[calls..]
        .iter()
        .map(|c| c.line())
        .collect();
    assert_eq!(retry.len(), 6, "{retry:#?}");
    let main = w.fake.branch("main").unwrap();
    assert_eq!(
        w.fake.parents(&main),
        vec![other.clone()],
        "one commit on top"
    );
    assert_eq!(w.fake.parents(&other), vec![w.merge.clone()]);
    assert_eq!(
        w.fake.changed_files(&other, &main),
        ["environments/prod/podinfo.yaml"]
    );
    let text = |path: &str| String::from_utf8(w.fake.file(&main, path).unwrap()).unwrap();
    assert_eq!(text("environments/prod/podinfo.yaml"), app("prod", "6.5.0"));
    assert_eq!(text("README.md"), readme, "the other commit's work stays");
    assert!(message(&w, &main)
        .await
        .contains(&format!("This reverts commit {}.", w.merge)));
    assert_eq!(w.fake.comments(w.bump_pr).len(), 1);
    let chat = w.chat();
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(
        chat[0].contains(&format!(
            "(pushed as {})",
            chartpilot::domain::CommitSha::parse(&main).unwrap().short()
        )),
        "{}",
        chat[0]
    );
    let commits = w.writes().iter().filter(|c| *c == "POST /graphql").count();
    assert_eq!(commits, 2, "refused once, then taken: {:#?}", w.writes());

    // Podinfo alerts again: the newest change is the revert, which stays.
    let again = rollbacker(&h)
        .on_notification(&notification(AlertStatus::Firing, "f1f1f3"))
        .await
        .unwrap();
    assert!(
        matches!(&again[..], [Outcome::Skipped { reason, .. }] if reason.contains("is itself a revert")),
        "{again:#?}"
    );
    assert_eq!(w.fake.branch("main").unwrap(), main);
    assert_eq!(w.chat().len(), 1);
}

#[tokio::test]
async fn a_revert_pr_whose_answer_was_lost_is_told_to_its_origin_and_chat_exactly_once() {
    let w = World::new().await;
    let h = w.handler("revert-pr", "").await;
    let firing = notification(AlertStatus::Firing, "f2f2f2");
    let branch = format!("chartpilot/revert/{}", w.merge);

    // GitHub opens the PR, then answers 502: the job fails for a retry.
    w.fake
        .fail_after_acting("POST", "graphql:createPullRequest", Fault::BadGateway, 1);
    let err = handle(&h, &firing).await.unwrap_err();
    assert_eq!(err.disposition, Disposition::Retry, "{:#}", err.error);
    let opened: Vec<_> = w
        .fake
        .pulls()
        .into_iter()
        .filter(|p| p.head == branch)
        .collect();
    assert_eq!(opened.len(), 1, "GitHub made the PR once");
    let pr = opened[0].number;
    assert!(w.fake.comments(w.bump_pr).is_empty());
    assert!(w.chat().is_empty());

    // The retry finds that PR: no second PR or commit, and it says what
    // the lost run never said, on the bump's PR and in chat.
    let outcomes = rollbacker(&h).on_notification(&firing).await.unwrap();
    assert_eq!(
        outcomes,
        [Outcome::Skipped {
            app: "podinfo-prod".into(),
            reason: format!(
                "{} is already being reverted: revert PR #{pr} (open)",
                chartpilot::domain::CommitSha::parse(&w.merge)
                    .unwrap()
                    .short()
            ),
        }]
    );
    let comments = w.fake.comments(w.bump_pr);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].starts_with("chartpilot is rolling this change back: revert PR http"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains(&format!("/pull/{pr}.")),
        "{}",
        comments[0]
    );
    assert!(comments[0].contains(&format!("<!-- chartpilot:rollback-{}-pr-{pr} -->", w.merge)));
    let chat = w.chat();
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(
        chat[0].starts_with(
            "chartpilot rollback: podinfo-prod in prod goes back from 6.6.0 to 6.5.0 (revert PR http"
        ),
        "{}",
        chat[0]
    );

    // Further deliveries read (the tarball, the two queries with the
    // revert PR and the bump's comments, the step's comparison), and write
    // nothing more.
    let writes = w.writes();
    let calls = w.fake.api_calls().len();
    handle(&h, &firing).await.unwrap();
    let read: Vec<String> = w.fake.api_calls()[calls..]
        .iter()
        .map(|c| c.line())
        .collect();
    assert_eq!(read.len(), 4, "{read:#?}");
    handle(&h, &firing).await.unwrap();
    assert_eq!(w.writes(), writes);
    assert_eq!(w.fake.comments(w.bump_pr).len(), 1);
    assert_eq!(w.chat().len(), 1);
    assert_eq!(
        w.fake.pulls().iter().filter(|p| p.head == branch).count(),
        1
    );
}

#[tokio::test]
async fn a_run_that_loses_the_revert_branch_to_another_process_writes_nothing_more() {
    let w = World::new().await;
    // The mutation that makes the branch, commits and opens the PR.
    let (url, on_hold, _gate) = gate(&w.fake.url, "POST", "/graphql", "createRef");
    let h = w
        .handler_on("revert-pr", "", Arc::new(SystemClock), &url)
        .await;
    let branch = format!("chartpilot/revert/{}", w.merge);
    let firing = notification(AlertStatus::Firing, "f3f3f3");

    // Both found no revert PR; the other process makes the branch and
    // opens its PR while this run's branch request is on its way.
    let (outcomes, theirs) = tokio::join!(rollbacker(&h).on_notification(&firing), async {
        let go = on_hold.await.unwrap();
        w.fake.set_branch(&branch, &w.merge);
        let head = w.fake.commit_files(
            &branch,
            &[("environments/prod/podinfo.yaml", &app("prod", "6.5.0"))],
        );
        let pr = w.fake.add_pull(&branch, "Revert \"Merge pull request #1\"");
        go.send(()).unwrap();
        (pr, head)
    });
    let (theirs, theirs_head) = theirs;
    let outcomes = outcomes.unwrap();
    assert_eq!(
        outcomes,
        [Outcome::Skipped {
            app: "podinfo-prod".into(),
            reason: format!(
                "{} is already being reverted: revert PR #{theirs}",
                chartpilot::domain::CommitSha::parse(&w.merge)
                    .unwrap()
                    .short()
            ),
        }]
    );
    // GitHub refused the second branch, the commit on it and the second
    // PR (the one mutation this run wrote); the other process's PR and
    // branch are as it left them. Telling is its part.
    assert_eq!(w.writes(), ["POST /graphql"], "{:#?}", w.writes());
    assert_eq!(
        w.fake.pulls().iter().filter(|p| p.head == branch).count(),
        1
    );
    assert_eq!(w.fake.branch(&branch), Some(theirs_head));
    assert!(w.fake.comments(w.bump_pr).is_empty());
    assert!(w.chat().is_empty(), "{:?}", w.chat());
    assert_eq!(w.fake.branch("main").unwrap(), w.merge);
}
