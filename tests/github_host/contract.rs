//! The fake GitHub answers as GitHub does and holds chartpilot to GitHub's
//! published description: these prove the checks see what they must, and
//! that `GithubHost` copes with the strict answers (pages, a PR made before
//! a 502, a busy PR's comments).

use chartpilot::git::{comment_once, GitError, GitHost, NewPull};
use serde_json::json;

use super::support::fake_github::{FakeGithub, Fault};
use super::{change, host, sha};

fn client(fake: &FakeGithub) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let auth = format!("Bearer {}", fake.token);
    headers.insert("authorization", auth.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_request_without_a_required_field_is_refused_and_recorded() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);

    // `POST git/commits` requires `tree`.
    let answer = client(&fake)
        .post(format!("{}/repos/acme/gitops/git/commits", fake.url))
        .json(&json!({ "message": "m", "parents": [main] }))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 422);
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("\"tree\" is a required property"),
        "{violations:?}"
    );
    assert!(fake.pulls().is_empty());
}

#[tokio::test]
async fn an_unknown_route_or_parameter_is_recorded() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    let http = client(&fake);

    let route = http
        .get(format!("{}/repos/acme/gitops/branches/main", fake.url))
        .send()
        .await
        .unwrap();
    // `newest` is not a sort GitHub lists pull requests by.
    let param = http
        .get(format!("{}/repos/acme/gitops/pulls?sort=newest", fake.url))
        .send()
        .await
        .unwrap();

    assert_eq!(
        (route.status().as_u16(), param.status().as_u16()),
        (404, 422)
    );
    let violations = fake.take_violations();
    assert!(
        violations[0].contains("no operation of GitHub"),
        "{violations:?}"
    );
    assert!(violations[1].contains("`sort`=newest"), "{violations:?}");
}

#[tokio::test]
async fn a_fake_answer_that_breaks_the_schema_is_recorded() {
    let fake = FakeGithub::start().await;
    fake.seed(&[("a", "1")]);
    fake.fail(
        "GET",
        "/git/ref/heads/main",
        Fault::Answer {
            status: 200,
            body: json!({ "ref": "refs/heads/main", "object": { "sha": 7, "type": "commit" } }),
        },
        1,
    );

    let _ = host(&fake).branch_head("main").await;

    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("/object/sha"), "{violations:?}");
}

#[tokio::test]
async fn a_commit_id_as_base_tree_gets_githubs_422() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);

    let answer = client(&fake)
        .post(format!("{}/repos/acme/gitops/git/trees", fake.url))
        .json(&json!({ "base_tree": main, "tree": [{ "path": "b", "mode": "100644", "type": "blob", "content": "2" }] }))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 422);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap(),
        json!({
            "message": "base_tree is not a valid tree oid",
            "documentation_url": "https://docs.github.com/rest/git/trees#create-a-tree",
            "status": "422",
        })
    );
}

#[tokio::test]
async fn listings_page_with_link_headers() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    for i in 0..5 {
        fake.set_branch(&format!("chartpilot/upgrade/dev/c-{i}"), &main);
    }

    let answer = client(&fake)
        .get(format!(
            "{}/repos/acme/gitops/git/matching-refs/heads/chartpilot/?per_page=2&page=2",
            fake.url
        ))
        .send()
        .await
        .unwrap();

    let link = answer.headers()["link"].to_str().unwrap().to_owned();
    for rel in ["prev", "next", "last", "first"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
    }
    assert!(link.contains("?page=3&per_page=2>; rel=\"last\""), "{link}");
    let refs: Vec<serde_json::Value> = answer.json().await.unwrap();
    assert_eq!(refs[0]["ref"], "refs/heads/chartpilot/upgrade/dev/c-2");
    // The host follows the pages of its own.
    let mut all = host(&fake).branches("chartpilot/").await.unwrap();
    all.sort();
    assert_eq!(all.len(), 5, "{all:?}");
}

#[tokio::test]
async fn a_duplicate_pull_request_gets_githubs_422() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    fake.set_branch("topic", &main);
    let gh = host(&fake);
    let new = NewPull {
        head: "topic".to_owned(),
        base: "main".to_owned(),
        title: "t".to_owned(),
        body: "b".to_owned(),
        labels: Vec::new(),
    };
    gh.create_pull(&new).await.unwrap();

    let err = gh.create_pull(&new).await.unwrap_err();

    assert!(matches!(err, GitError::Refused(_)), "{err:?}");
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.status, 422);
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn a_pull_github_made_before_answering_502_is_there_for_the_retry() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    fake.set_branch("topic", &main);
    fake.fail_after_acting("POST", "/pulls", Fault::BadGateway, 1);
    let gh = host(&fake);

    let err = gh
        .create_pull(&NewPull {
            head: "topic".to_owned(),
            base: "main".to_owned(),
            title: "t".to_owned(),
            body: "b".to_owned(),
            labels: Vec::new(),
        })
        .await
        .unwrap_err();

    // Sent once: a retry would meet "already exists". The retry of the
    // job finds the PR by its branch.
    assert!(err.is_transient(), "{err:?}");
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
    let found = gh
        .find_pull("topic")
        .await
        .unwrap()
        .expect("the PR GitHub made");
    assert_eq!(found.number, 1);
}

#[tokio::test]
async fn comment_once_sees_its_marker_on_a_busy_pull_request() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);
    fake.set_branch("topic", &main);
    let number = fake.add_pull("topic", "busy");
    for i in 0..250 {
        fake.add_comment(number, &format!("comment {i}"));
    }
    let gh = host(&fake);

    assert!(comment_once(&gh, number, "k1", "said once").await.unwrap());
    fake.clear_requests();
    assert!(!comment_once(&gh, number, "k1", "said once").await.unwrap());

    assert_eq!(fake.comments(number).len(), 251);
    // Page one tells the last page; the newest page is read next, and
    // the marker is on it. Page two is read too (all pages within the
    // bound): three calls, no POST.
    let lines: Vec<String> = fake
        .api_calls()
        .iter()
        .map(|r| format!("{} {}", r.method, r.query))
        .collect();
    assert_eq!(
        lines,
        [
            "GET per_page=100&page=1",
            "GET per_page=100&page=3",
            "GET per_page=100&page=2"
        ]
    );
}

#[tokio::test]
async fn a_short_sha_is_not_a_ref_target() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a", "1")]);

    let answer = client(&fake)
        .post(format!("{}/repos/acme/gitops/git/refs", fake.url))
        .json(&json!({ "ref": "refs/heads/short", "sha": &main[..7] }))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 422);
    assert!(fake.branch("short").is_none());
    // And a commit that moves a branch backwards is refused as GitHub does.
    let gh = host(&fake);
    let next = gh
        .commit(&sha(&main), "m", &[change("a", "2")])
        .await
        .unwrap();
    gh.create_branch("topic", &next).await.unwrap();
    let err = gh.update_branch("topic", &sha(&main)).await.unwrap_err();
    assert!(matches!(err, GitError::NotFastForward(_)), "{err:?}");
}

/// One `POST /graphql` to the fake, its answer as JSON.
async fn graphql(
    fake: &FakeGithub,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    client(fake)
        .post(format!("{}/graphql", fake.url))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /graphql` is held to GitHub's published schema: a query GitHub
/// would refuse gets GitHub's `errors` and is recorded, in GitHub's words;
/// a valid one is answered from the repository.
#[tokio::test]
async fn a_graphql_query_github_would_refuse_is_refused_and_recorded() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a.yaml", "x: 1\n")]);
    let vars = json!({ "owner": "acme", "name": "gitops", "oid": main });
    let cases = [
        (
            "query($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { nope } } } }",
            "Field 'nope' doesn't exist on type 'Commit'",
        ),
        (
            "query($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { history { nodes { oid } } } } } }",
            "You must provide a `first` or `last` value to properly paginate the `history` connection",
        ),
        (
            "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { object(oid: $oid) { oid } } }",
            "Variable $oid is used by anonymous query but not declared",
        ),
        (
            "query($owner: String!, $name: String!, $oid: String!) { repository(owner: $owner, name: $name) { object(oid: $oid) { oid } } }",
            "Type mismatch on variable $oid and argument (String! / GitObjectID)",
        ),
        (
            "query($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Blob { text { x } } } } }",
            "Selections can't be made on scalars",
        ),
    ];
    for (query, want) in cases {
        let answer = graphql(&fake, query, vars.clone()).await;
        let message = answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.starts_with(want), "{query}\n→ {answer}");
        let violations = fake.take_violations();
        assert!(
            violations.len() == 1 && violations[0].contains(want),
            "{violations:?}"
        );
    }
    // A valid query: the commit's file and its text.
    let answer = graphql(&fake,
        "query($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { f: file(path: \"a.yaml\") { oid object { ... on Blob { text } } } } } } }",
        vars,
    )
    .await;
    assert_eq!(
        answer["data"]["repository"]["object"]["f"]["object"]["text"], "x: 1\n",
        "{answer}"
    );
    assert!(fake.take_violations().is_empty());
}

/// Mutations are held to the schema's input types (a field the input does
/// not have, a required one missing, a value of the wrong type), and run
/// in order as GitHub runs them: each field fails alone, in GitHub's words,
/// and the next still runs.
#[tokio::test]
async fn graphql_mutations_check_their_inputs_and_fail_field_by_field() {
    let fake = FakeGithub::start().await;
    let main = fake.seed(&[("a.yaml", "x: 1\n")]);
    let repo_id = graphql(
        &fake,
        "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }",
        json!({ "owner": "acme", "name": "gitops" }),
    )
    .await["data"]["repository"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create_ref =
        "mutation($input: CreateRefInput!) { createRef(input: $input) { ref { name } } }";
    let cases = [
        (
            json!({ "repositoryId": repo_id, "name": "refs/heads/x", "oid": main, "sha": main }),
            "Variable $input of type CreateRefInput! was provided invalid value for sha (Field is not defined on CreateRefInput)",
        ),
        (
            json!({ "repositoryId": repo_id, "oid": main }),
            "Variable $input of type CreateRefInput! was provided invalid value for name (Expected value to not be null)",
        ),
        (
            json!({ "repositoryId": repo_id, "name": 7, "oid": main }),
            "Variable $input of type CreateRefInput! was provided invalid value for name (Could not coerce value 7 to String)",
        ),
    ];
    for (input, want) in cases {
        let answer = graphql(&fake, create_ref, json!({ "input": input })).await;
        assert_eq!(answer["errors"][0]["message"], want, "{answer}");
        assert_eq!(fake.take_violations().len(), 1);
        assert!(fake.branch("x").is_none(), "a refused request does nothing");
    }
    let nested = graphql(&fake,
        "mutation($input: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $input) { commit { oid } } }",
        json!({ "input": {
            "branch": { "branchName": "main", "repositoryNameWithOwner": "acme/gitops" },
            "expectedHeadOid": main,
            "message": { "headline": "h" },
            "fileChanges": { "additions": [{ "path": "a.yaml" }] },
        } }),
    )
    .await;
    assert_eq!(
        nested["errors"][0]["message"],
        "Variable $input of type CreateCommitOnBranchInput! was provided invalid value for fileChanges.additions.0.contents (Expected value to not be null)",
        "{nested}"
    );
    assert_eq!(fake.take_violations().len(), 1);

    // Valid: the ref is made, the commit on `main` fails (stale head) and
    // the PR after it still runs (nothing between main and x: refused).
    let answer = graphql(&fake,
        "mutation($ref: CreateRefInput!, $commit: CreateCommitOnBranchInput!, $pull: CreatePullRequestInput!) { \
           createRef(input: $ref) { ref { name } } \
           createCommitOnBranch(input: $commit) { commit { oid } } \
           createPullRequest(input: $pull) { pullRequest { number } } }",
        json!({
            "ref": { "repositoryId": repo_id, "name": "refs/heads/x", "oid": main },
            "commit": {
                "branch": { "branchName": "main", "repositoryNameWithOwner": "acme/gitops" },
                "expectedHeadOid": "0".repeat(40),
                "message": { "headline": "h" },
                "fileChanges": { "additions": [{ "path": "a.yaml", "contents": "eDogMgo=" }] },
            },
            "pull": { "repositoryId": repo_id, "baseRefName": "main", "headRefName": "x", "title": "t" },
        }),
    )
    .await;
    assert!(fake.take_violations().is_empty());
    assert_eq!(answer["data"]["createRef"]["ref"]["name"], "x", "{answer}");
    assert!(answer["data"]["createCommitOnBranch"].is_null());
    assert!(answer["data"]["createPullRequest"].is_null());
    let errors: Vec<(String, String)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"][0].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "createCommitOnBranch".to_owned(),
                format!(
                    "Expected branch to point to \"{}\" but it did not. Pull and try again.",
                    "0".repeat(40)
                )
            ),
            (
                "createPullRequest".to_owned(),
                "No commits between main and x".to_owned()
            ),
        ]
    );
    assert_eq!(fake.branch("x").as_deref(), Some(main.as_str()));
    assert_eq!(fake.branch("main").as_deref(), Some(main.as_str()));
    assert!(fake.pulls().is_empty());
}
