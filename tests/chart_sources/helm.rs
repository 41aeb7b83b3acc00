use std::io::Write;
use std::time::Duration;

use chartpilot::charts::fetch::{FetchErrorKind, HelmClient};

use super::server::{Reply, Server};
use super::{basic, bearer, charts, mirror, settings, INDEX};

fn versions(index: &chartpilot::charts::ChartIndex, chart: &str) -> Vec<String> {
    index[chart].iter().map(|r| r.version.clone()).collect()
}

#[tokio::test]
async fn etag_revalidation_sends_if_none_match_and_reuses_the_body() {
    let server = Server::start(|_| {
        |req: &super::server::Request| match req.header("if-none-match") {
            Some("\"v1\"") => Reply::status(304).header("ETag", "\"v1\""),
            _ => Reply::ok(INDEX).header("ETag", "\"v1\""),
        }
    })
    .await;
    let client = HelmClient::new(&settings()).unwrap();
    let repo = format!("{}/stable", server.url());
    let first = client.index(&repo, &charts(&["app"])).await.unwrap();
    let second = client.index(&repo, &charts(&["app"])).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(versions(&second, "app"), ["1.1.0", "1.0.0"]);
    assert!(!second.contains_key("other"), "only wanted charts are kept");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.method == "GET"));
    assert_eq!(requests[0].path(), "/stable/index.yaml");
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert!(client.raw(&repo).await.unwrap().revalidated);
    let agent = requests[0].header("user-agent").unwrap();
    assert!(agent.starts_with("chartpilot/"), "{agent}");
}

#[tokio::test]
async fn last_modified_revalidation_sends_if_modified_since() {
    const DATE: &str = "Wed, 01 May 2024 10:00:00 GMT";
    let server = Server::start(|_| {
        |req: &super::server::Request| match req.header("if-modified-since") {
            Some(DATE) => Reply::status(304),
            _ => Reply::ok(INDEX).header("Last-Modified", DATE),
        }
    })
    .await;
    let client = HelmClient::new(&settings()).unwrap();
    let repo = server.url();
    client.index(&repo, &charts(&["other"])).await.unwrap();
    let again = client.index(&repo, &charts(&["other"])).await.unwrap();
    assert_eq!(versions(&again, "other"), ["v2.0.0"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-modified-since"), Some(DATE));
    assert_eq!(requests[1].header("if-none-match"), None);
}

#[tokio::test]
async fn gzip_encoded_index_is_decoded() {
    let server = Server::start(|_| {
        |req: &super::server::Request| {
            assert!(req.header("accept-encoding").unwrap_or("").contains("gzip"));
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(INDEX.as_bytes()).unwrap();
            Reply::ok(gz.finish().unwrap()).header("Content-Encoding", "gzip")
        }
    })
    .await;
    let client = HelmClient::new(&settings()).unwrap();
    let index = client
        .index(&server.url(), &charts(&["app"]))
        .await
        .unwrap();
    assert_eq!(versions(&index, "app"), ["1.1.0", "1.0.0"]);
}

/// Resolution itself is unit-tested in `charts::fetch`; this checks the
/// path end to end for whatever `urls` the index parser returns.
#[tokio::test]
async fn chart_urls_come_back_absolute() {
    let server = Server::start(|_| |_: &super::server::Request| Reply::ok(INDEX)).await;
    let client = HelmClient::new(&settings()).unwrap();
    let repo = format!("{}/stable/", server.url());
    let index = client
        .index(&repo, &charts(&["app", "other"]))
        .await
        .unwrap();
    for release in index["app"].iter() {
        for url in &release.urls {
            let want = format!("{}/stable/charts/app-{}.tgz", server.url(), release.version);
            assert_eq!(url, &want);
        }
    }
    for url in &index["other"][0].urls {
        assert_eq!(url, "https://cdn.example.org/other-2.0.0.tgz");
    }
}

#[tokio::test]
async fn file_repository_by_folder_or_by_index_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.yaml"), INDEX).unwrap();
    let client = HelmClient::new(&settings()).unwrap();
    let folder = format!("file://{}", dir.path().display());
    for repo in [folder.clone(), format!("{folder}/index.yaml")] {
        let index = client.index(&repo, &charts(&["app"])).await.unwrap();
        assert_eq!(versions(&index, "app"), ["1.1.0", "1.0.0"], "{repo}");
    }
    let missing = client
        .index(&format!("{folder}/nope"), &charts(&["app"]))
        .await
        .unwrap_err();
    assert!(matches!(missing.kind, FetchErrorKind::Io(_)), "{missing}");
}

#[tokio::test]
async fn mirror_gets_the_request_and_errors_name_both() {
    let server = Server::start(|_| {
        |req: &super::server::Request| match req.path() {
            "/mirror/stable/index.yaml" => Reply::ok(INDEX),
            _ => Reply::status(404),
        }
    })
    .await;
    let mut settings = settings();
    settings.mirrors = vec![
        mirror(
            "https://charts.example.invalid",
            &format!("{}/wrong", server.url()),
        ),
        mirror(
            "https://charts.example.invalid/stable/",
            &format!("{}/mirror/stable", server.url()),
        ),
        mirror(
            "https://charts.example.invalid/stable/x",
            "http://unused.invalid",
        ),
    ];
    // Credentials go to the host contacted: the mirror's.
    settings.credentials = vec![
        bearer(&server.addr.to_string(), "mirror-token"),
        bearer("charts.example.invalid", "origin-token"),
    ];
    let client = HelmClient::new(&settings).unwrap();
    let index = client
        .index("https://charts.example.invalid/stable", &charts(&["app"]))
        .await
        .unwrap();
    assert_eq!(versions(&index, "app"), ["1.1.0", "1.0.0"]);
    let error = client
        .index("https://charts.example.invalid/gone", &charts(&["app"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("https://charts.example.invalid/gone"),
        "{error}"
    );
    assert!(
        error.contains(&format!("via mirror {}/wrong/gone", server.url())),
        "{error}"
    );
    assert!(error.contains("404"), "{error}");
    let requests = server.requests();
    assert_eq!(requests[0].path(), "/mirror/stable/index.yaml");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer mirror-token")
    );
}

#[tokio::test]
async fn basic_and_bearer_credentials_go_only_to_their_host() {
    let handler = |_| |_: &super::server::Request| Reply::ok(INDEX);
    let (a, b, c) = (
        Server::start(handler).await,
        Server::start(handler).await,
        Server::start(handler).await,
    );
    let mut settings = settings();
    settings.credentials = vec![
        basic(&a.addr.to_string(), "user", "pass"),
        bearer(&b.addr.to_string(), "b-token"),
    ];
    let client = HelmClient::new(&settings).unwrap();
    for server in [&a, &b, &c] {
        client
            .index(&server.url(), &charts(&["app"]))
            .await
            .unwrap();
    }
    let auth = |s: &Server| s.requests()[0].header("authorization").map(str::to_owned);
    assert_eq!(auth(&a).as_deref(), Some("Basic dXNlcjpwYXNz"));
    assert_eq!(auth(&b).as_deref(), Some("Bearer b-token"));
    assert_eq!(auth(&c), None);
}

#[tokio::test]
async fn errors_name_the_url_without_secrets() {
    let server = Server::start(|_| {
        |req: &super::server::Request| match req.path() {
            "/missing/index.yaml" => Reply::status(404),
            "/broken/index.yaml" => Reply::status(500),
            "/slow/index.yaml" => Reply::ok(INDEX).delayed(Duration::from_secs(3)),
            "/html/index.yaml" => Reply::ok("<html><body>Sign in</body></html>"),
            _ => Reply::ok(INDEX).header("Content-Length", "999999999999"),
        }
    })
    .await;
    let mut settings = settings();
    settings.timeout = Duration::from_millis(500);
    settings.credentials = vec![basic(&server.addr.to_string(), "user", "s3cret-pass")];
    let client = HelmClient::new(&settings).unwrap();
    let base = format!("http://someone:hunter2@{}", server.addr);
    let fail = |path: &'static str| {
        let client = &client;
        let repo = format!("{base}/{path}");
        async move { client.index(&repo, &charts(&["app"])).await.unwrap_err() }
    };
    for (path, reason) in [
        ("missing", "HTTP 404"),
        ("broken", "HTTP 500"),
        ("slow", "no answer within"),
        ("html", "not a Helm repository index"),
        ("huge", "limit"),
    ] {
        let error = fail(path).await;
        let text = error.to_string();
        assert!(
            text.contains(&format!("chart repository {}/{path}", server.url())),
            "{text}"
        );
        assert!(text.contains(reason), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret") && !text.contains("someone"),
            "{text}"
        );
        assert!(!format!("{error:?}").contains("s3cret"));
    }
    assert!(matches!(
        fail("slow").await.kind,
        FetchErrorKind::Timeout(_)
    ));
}
