use chartpilot::charts::oci::{OciChart, OciClient, OCI_MANIFEST};
use chrono::{TimeZone, Utc};

use super::server::{Reply, Request, Server};
use super::{basic, settings};

pub const TOKEN: &str = "tok-1";

/// A registry holding `charts/app`, paginated two tags per page, that
/// wants a pull token from its own `/token` realm. With `login`, the token
/// endpoint also demands basic credentials `robot:pw`.
pub fn registry(base: String, login: bool) -> impl Fn(&Request) -> Reply + Send + Sync {
    move |req: &Request| {
        let bearer = req.header("authorization") == Some(&*format!("Bearer {TOKEN}"));
        match req.path() {
            "/token" => {
                let scope_ok = req.query("scope").as_deref() == Some("repository:charts/app:pull")
                    && req.query("service").as_deref() == Some("fake-registry");
                // robot:pw
                let login_ok = !login || req.header("authorization") == Some("Basic cm9ib3Q6cHc=");
                match (scope_ok, login_ok) {
                    (true, true) => Reply::ok(format!(r#"{{"access_token":"{TOKEN}","expires_in":300}}"#)),
                    (true, false) => Reply::status(401),
                    _ => Reply::status(400),
                }
            }
            p if p.starts_with("/v2/") && !bearer => Reply::status(401).header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="{base}/token",service="fake-registry",scope="repository:charts/app:pull""#),
            ),
            "/v2/charts/app/tags/list" => match req.query("last").as_deref() {
                None => Reply::ok(r#"{"name":"charts/app","tags":["1.0.0","1.0.1"]}"#)
                    .header("Link", r#"</v2/charts/app/tags/list?last=1.0.1&n=2>; rel="next""#),
                Some("1.0.1") => Reply::ok(r#"{"name":"charts/app","tags":["1.1.0_build.5","latest"]}"#)
                    .header("Link", r#"</v2/charts/app/tags/list?last=latest&n=2>; rel="next""#),
                Some(_) => Reply::ok(r#"{"name":"charts/app","tags":["sha256-abc.sig","v2.0.0-rc.1"]}"#),
            },
            "/v2/charts/app/manifests/1.1.0_build.5" if req.header("accept") == Some(OCI_MANIFEST) => Reply::ok(
                r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json"},
                   "annotations":{"org.opencontainers.image.created":"2024-05-02T08:30:00Z"}}"#,
            ),
            "/v2/charts/app/manifests/1.0.0" => Reply::ok(r#"{"schemaVersion":2,"layers":[]}"#),
            _ => Reply::status(404),
        }
    }
}

fn app(server: &Server) -> OciChart {
    OciChart::new(Some(&format!("oci://{}/charts", server.addr)), "app").unwrap()
}

fn versions(releases: &[chartpilot::charts::Release]) -> Vec<&str> {
    releases.iter().map(|r| r.version.as_str()).collect()
}

#[tokio::test]
async fn anonymous_token_flow_asks_for_the_pull_scope_once() {
    let server = Server::start(|base| registry(base, false)).await;
    let client = OciClient::new(&settings()).unwrap();
    client.versions(&app(&server)).await.unwrap();
    client.versions(&app(&server)).await.unwrap();
    let requests = server.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.path() == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is reused: {requests:#?}");
    assert_eq!(
        tokens[0].query("scope").as_deref(),
        Some("repository:charts/app:pull")
    );
    assert_eq!(tokens[0].header("authorization"), None, "anonymous");
    assert_eq!(requests[0].header("authorization"), None);
    let last = requests.last().unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer tok-1"));
}

#[tokio::test]
async fn tags_follow_link_pages_and_only_versions_remain() {
    let server = Server::start(|base| registry(base, false)).await;
    let client = OciClient::new(&settings()).unwrap();
    let releases = client.versions(&app(&server)).await.unwrap();
    // `_` is Helm's spelling of `+` in a tag; `latest` and signatures go.
    assert_eq!(
        versions(&releases),
        ["1.0.0", "1.0.1", "1.1.0+build.5", "v2.0.0-rc.1"]
    );
    assert_eq!(
        releases[2].urls,
        [format!("oci://{}/charts/app:1.1.0_build.5", server.addr)]
    );
    assert!(
        releases.iter().all(|r| r.created.is_none()),
        "times are fetched lazily"
    );
    let pages: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with("/tags/list") && r.header("authorization").is_some())
        .map(|r| r.query("last"))
        .collect();
    assert_eq!(pages, [None, Some("1.0.1".into()), Some("latest".into())]);
}

#[tokio::test]
async fn release_time_comes_from_the_manifest_annotation() {
    let server = Server::start(|base| registry(base, false)).await;
    let client = OciClient::new(&settings()).unwrap();
    let chart = app(&server);
    let created = client.release_time(&chart, "1.1.0+build.5").await.unwrap();
    assert_eq!(
        created,
        Some(Utc.with_ymd_and_hms(2024, 5, 2, 8, 30, 0).unwrap())
    );
    assert_eq!(client.release_time(&chart, "1.0.0").await.unwrap(), None);
    let before = server.requests().len();
    client.release_time(&chart, "1.1.0+build.5").await.unwrap();
    assert_eq!(server.requests().len(), before, "times are cached");
    let manifest = server
        .requests()
        .into_iter()
        .find(|r| {
            r.path() == "/v2/charts/app/manifests/1.1.0_build.5"
                && r.header("authorization").is_some()
        })
        .unwrap();
    assert_eq!(manifest.header("accept"), Some(OCI_MANIFEST));
}

#[tokio::test]
async fn configured_basic_credentials_reach_the_token_endpoint() {
    let server = Server::start(|base| registry(base, true)).await;
    let mut settings = settings();
    settings.credentials = vec![basic(&server.addr.to_string(), "robot", "pw")];
    let client = OciClient::new(&settings).unwrap();
    let releases = client.versions(&app(&server)).await.unwrap();
    assert_eq!(releases.len(), 4);
    let token = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/token")
        .unwrap();
    assert_eq!(token.header("authorization"), Some("Basic cm9ib3Q6cHc="));

    // Without the credential the token endpoint refuses: a typed, clean error.
    let error = OciClient::new(&super::settings())
        .unwrap()
        .versions(&app(&server))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("oci://{}/charts/app", server.addr)),
        "{error}"
    );
    assert!(error.contains("401"), "{error}");
}

#[tokio::test]
async fn unknown_chart_is_an_error_naming_the_reference() {
    let server = Server::start(|base| registry(base, false)).await;
    let client = OciClient::new(&settings()).unwrap();
    let chart = OciChart::new(Some(&format!("{}/charts", server.addr)), "nope").unwrap();
    let error = client.versions(&chart).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("oci://{}/charts/nope", server.addr)),
        "{error}"
    );
}
