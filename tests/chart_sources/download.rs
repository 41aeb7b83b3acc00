use chartpilot::charts::download::{Downloaded, MAX_ARCHIVE_BYTES};
use chartpilot::charts::fetch::FetchErrorKind;
use chartpilot::charts::lookup::Lookup;
use chartpilot::charts::oci::{CHART_LAYER, OCI_MANIFEST, PROVENANCE_LAYER};
use sha2::{Digest, Sha256};

use super::server::{Reply, Request, Server};
use super::{bearer, chart_tgz, mirror, settings};

/// An index listing `app` 1.0.0 at `url` (relative or absolute).
fn index(url: &str) -> String {
    format!("apiVersion: v1\nentries:\n  app:\n    - version: 1.0.0\n      urls: [{url}]\n")
}

/// A Helm repository under `/stable` serving `app-1.0.0.tgz` (and its
/// `.prov` when given) from `charts/`, listed with a relative URL.
fn repository(archive: Vec<u8>, prov: Option<Vec<u8>>) -> impl Fn(&Request) -> Reply + Send + Sync {
    move |req: &Request| match req.path() {
        "/stable/index.yaml" => Reply::ok(index("charts/app-1.0.0.tgz")),
        "/stable/charts/app-1.0.0.tgz" => Reply::ok(archive.clone()),
        "/stable/charts/app-1.0.0.tgz.prov" => match &prov {
            Some(prov) => Reply::ok(prov.clone()),
            None => Reply::status(404),
        },
        _ => Reply::status(404),
    }
}

fn paths(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect()
}

#[tokio::test]
async fn a_relative_chart_url_resolves_against_the_index_and_the_prov_comes_along() {
    let archive = chart_tgz("app", "1.0.0");
    let server = Server::start(|_| repository(archive.clone(), Some(b"signed".to_vec()))).await;
    let lookup = Lookup::new(&settings()).unwrap();
    let repo = format!("{}/stable", server.url());
    let got = lookup
        .download(Some(&repo), "app", "1.0.0", true)
        .await
        .unwrap();
    assert_eq!(got.bytes, archive);
    assert_eq!(got.provenance.as_deref(), Some(&b"signed"[..]));
    assert_eq!(got.url, format!("{repo}/charts/app-1.0.0.tgz"));
    assert_eq!(got.file_name(), "app-1.0.0.tgz");
    assert_eq!(
        paths(&server),
        [
            "/stable/index.yaml",
            "/stable/charts/app-1.0.0.tgz",
            "/stable/charts/app-1.0.0.tgz.prov"
        ]
    );
    let agent = server.requests()[1]
        .header("user-agent")
        .unwrap()
        .to_owned();
    assert!(agent.starts_with("chartpilot/"), "{agent}");

    // The same version again comes from the cache, without its `.prov`
    // when that is not asked for.
    let before = server.requests().len();
    let again = lookup
        .download(Some(&repo), "app", "1.0.0", false)
        .await
        .unwrap();
    assert_eq!((&again.bytes, &again.provenance), (&archive, &None));
    assert_eq!(
        server.requests().len(),
        before,
        "no request for a cached archive"
    );

    // A fresh lookup not asking for provenance makes no `.prov` request.
    let plain = Lookup::new(&settings())
        .unwrap()
        .download(Some(&repo), "app", "v1.0.0", false)
        .await
        .unwrap();
    assert_eq!((plain.bytes, plain.provenance), (archive, None));
    let after: Vec<String> = paths(&server).split_off(before);
    assert_eq!(
        after,
        ["/stable/index.yaml", "/stable/charts/app-1.0.0.tgz"]
    );
}

#[tokio::test]
async fn a_missing_prov_is_unsigned_not_an_error_and_a_missing_version_is_named() {
    let server = Server::start(|_| repository(chart_tgz("app", "1.0.0"), None)).await;
    let lookup = Lookup::new(&settings()).unwrap();
    let repo = format!("{}/stable", server.url());
    let got = lookup
        .download(Some(&repo), "app", "1.0.0", true)
        .await
        .unwrap();
    assert_eq!(got.provenance, None);

    let error = lookup
        .download(Some(&repo), "app", "9.9.9", false)
        .await
        .unwrap_err();
    assert!(matches!(error.kind, FetchErrorKind::NotFound(_)), "{error}");
    let text = error.to_string();
    assert!(text.contains("app 9.9.9") && text.contains(&repo), "{text}");
}

#[tokio::test]
async fn mirrors_apply_to_the_index_and_to_archive_urls_under_the_mirrored_prefix() {
    let archive = chart_tgz("app", "1.0.0");
    let server = Server::start(|_| {
        let archive = archive.clone();
        move |req: &Request| match req.path() {
            "/m/stable/index.yaml" => Reply::ok(index(
                "https://charts.example.org/stable/charts/app-1.0.0.tgz",
            )),
            "/m/stable/charts/app-1.0.0.tgz" => Reply::ok(archive.clone()),
            _ => Reply::status(404),
        }
    })
    .await;
    let mut settings = settings();
    settings.mirrors = vec![mirror(
        "https://charts.example.org",
        &format!("{}/m", server.url()),
    )];
    let lookup = Lookup::new(&settings).unwrap();
    let got = lookup
        .download(
            Some("https://charts.example.org/stable"),
            "app",
            "1.0.0",
            true,
        )
        .await
        .unwrap();
    assert_eq!(got.bytes, archive);
    assert_eq!(
        got.url,
        format!("{}/m/stable/charts/app-1.0.0.tgz", server.url())
    );
    assert_eq!(
        paths(&server),
        [
            "/m/stable/index.yaml",
            "/m/stable/charts/app-1.0.0.tgz",
            "/m/stable/charts/app-1.0.0.tgz.prov"
        ]
    );
}

#[tokio::test]
async fn credentials_go_to_the_repository_host_only_not_to_a_chart_url_elsewhere() {
    let archive = chart_tgz("app", "1.0.0");
    let cdn = Server::start(|_| {
        let archive = archive.clone();
        move |req: &Request| match req.path() {
            "/app-1.0.0.tgz" => Reply::ok(archive.clone()),
            _ => Reply::status(404),
        }
    })
    .await;
    let cdn_url = format!("{}/app-1.0.0.tgz", cdn.url());
    let repo = Server::start(|_| {
        move |req: &Request| match (req.path(), req.header("authorization")) {
            ("/index.yaml", Some("Bearer repo-secret")) => Reply::ok(index(&cdn_url)),
            (_, None) => Reply::status(401),
            _ => Reply::status(403),
        }
    })
    .await;
    let mut settings = settings();
    settings.credentials = vec![bearer(&repo.addr.to_string(), "repo-secret")];
    let lookup = Lookup::new(&settings).unwrap();
    let got = lookup
        .download(Some(&repo.url()), "app", "1.0.0", false)
        .await
        .unwrap();
    assert_eq!(got.bytes, archive);
    assert_eq!(
        repo.requests()[0].header("authorization"),
        Some("Bearer repo-secret")
    );
    let fetched = cdn.requests();
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0].header("authorization"),
        None,
        "another host gets no credential"
    );
}

#[tokio::test]
async fn archives_past_the_cap_are_refused_whatever_the_server_declares() {
    let over = (MAX_ARCHIVE_BYTES + 1024 * 1024) as usize;
    // Honest and too large; then no length at all, chunked past the cap.
    let server = Server::start(|_| {
        move |req: &Request| match req.path() {
            "/index.yaml" => Reply::ok(
                "apiVersion: v1\nentries:\n  big:\n    - version: 1.0.0\n      urls: [big.tgz]\n  \
                 endless:\n    - version: 1.0.0\n      urls: [endless.tgz]\n",
            ),
            "/big.tgz" => Reply::ok(vec![0u8; over]),
            "/endless.tgz" => {
                let mut body = format!("{over:x}\r\n").into_bytes();
                body.resize(body.len() + over, b'x');
                body.extend_from_slice(b"\r\n0\r\n\r\n");
                Reply::ok(body).header("Transfer-Encoding", "chunked")
            }
            _ => Reply::status(404),
        }
    })
    .await;
    let mut settings = settings();
    settings.credentials = vec![bearer(&server.addr.to_string(), "cap-secret")];
    let lookup = Lookup::new(&settings).unwrap();
    let pinned = format!("http://robot:pin-password@{}", server.addr);
    for chart in ["big", "endless"] {
        let error = lookup
            .download(Some(&pinned), chart, "1.0.0", false)
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind, FetchErrorKind::TooLarge { limit } if limit == MAX_ARCHIVE_BYTES),
            "{chart}: {error}"
        );
        let text = error.to_string();
        assert!(
            text.contains(&format!("{chart} 1.0.0 at {}/{chart}.tgz", server.url())),
            "{text}"
        );
        assert!(
            !text.contains("pin-password")
                && !text.contains("cap-secret")
                && !text.contains("robot"),
            "{text}"
        );
    }
}

/// A registry holding `charts/app` 1.0.0 with a chart layer (and a
/// provenance layer), blobs served by digest; `wrong` serves other bytes
/// under the chart's digest.
fn registry(
    archive: Vec<u8>,
    prov: Vec<u8>,
    wrong: bool,
) -> impl Fn(&Request) -> Reply + Send + Sync {
    let digest = |b: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(b)));
    let (chart_digest, prov_digest) = (digest(&archive), digest(&prov));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "sha256:00", "size": 2},
        "layers": [
            {"mediaType": CHART_LAYER, "digest": chart_digest, "size": archive.len()},
            {"mediaType": PROVENANCE_LAYER, "digest": prov_digest, "size": prov.len()},
        ],
    })
    .to_string();
    move |req: &Request| {
        let path = req.path();
        if path == "/v2/charts/app/manifests/1.0.0" {
            assert_eq!(req.header("accept"), Some(OCI_MANIFEST));
            return Reply::ok(manifest.clone());
        }
        if path == format!("/v2/charts/app/blobs/{chart_digest}") {
            let mut body = archive.clone();
            if wrong {
                body.push(0);
            }
            return Reply::ok(body);
        }
        if path == format!("/v2/charts/app/blobs/{prov_digest}") {
            return Reply::ok(prov.clone());
        }
        Reply::status(404)
    }
}

#[tokio::test]
async fn oci_charts_come_from_the_chart_layer_checked_against_its_digest() {
    let archive = chart_tgz("app", "1.0.0");
    let server = Server::start(|_| registry(archive.clone(), b"prov".to_vec(), false)).await;
    let lookup = Lookup::new(&settings()).unwrap();
    let repo = format!("oci://{}/charts", server.addr);
    let got: Downloaded = lookup
        .download(Some(&repo), "app", "1.0.0", true)
        .await
        .unwrap();
    assert_eq!(got.bytes, archive);
    assert_eq!(got.provenance.as_deref(), Some(&b"prov"[..]));
    assert_eq!(got.url, format!("oci://{}/charts/app:1.0.0", server.addr));
    assert_eq!(got.file_name(), "app-1.0.0.tgz");
    let unsigned = lookup
        .download(Some(&repo), "app", "1.0.0", false)
        .await
        .unwrap();
    assert_eq!(unsigned.provenance, None, "not asked for");

    let tampered = Server::start(|_| registry(archive.clone(), b"prov".to_vec(), true)).await;
    let repo = format!("oci://{}/charts", tampered.addr);
    let error = lookup
        .download(Some(&repo), "app", "1.0.0", false)
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind, FetchErrorKind::DigestMismatch { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("app 1.0.0") && text.contains(&repo), "{text}");
}

#[tokio::test]
async fn an_operators_file_mirror_serves_archives_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let archive = chart_tgz("app", "1.0.0");
    std::fs::write(dir.path().join("index.yaml"), index("app-1.0.0.tgz")).unwrap();
    std::fs::write(dir.path().join("app-1.0.0.tgz"), &archive).unwrap();
    std::fs::write(dir.path().join("other.yaml"), index("gone-1.0.0.tgz")).unwrap();
    let mut settings = settings();
    let folder = format!("file://{}", dir.path().display());
    settings.mirrors = vec![mirror("https://charts.example.org", &folder)];
    let lookup = Lookup::new(&settings).unwrap();
    let got = lookup
        .download(Some("https://charts.example.org"), "app", "1.0.0", true)
        .await
        .unwrap();
    assert_eq!(got.bytes, archive);
    assert_eq!(got.provenance, None, "no .prov on disk: unsigned");
    assert_eq!(got.url, format!("{folder}/app-1.0.0.tgz"));

    // The index names a file that is not there: an error, not empty bytes.
    let error = lookup
        .download(
            Some("https://charts.example.org/other.yaml"),
            "app",
            "1.0.0",
            false,
        )
        .await
        .unwrap_err();
    assert!(matches!(error.kind, FetchErrorKind::NotFound(_)), "{error}");
    assert!(error.to_string().contains("gone-1.0.0.tgz"), "{error}");
}
