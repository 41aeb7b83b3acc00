//! Helm HTTP(S) repositories and `file://` repositories: `index.yaml`,
//! kept in memory as raw bytes and revalidated with `If-None-Match` /
//! `If-Modified-Since`, so a scheduled scan of an unchanged repository
//! costs a 304 and a parse.

mod error;
pub(crate) mod route;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{StatusCode, Url};
use tracing::Instrument;

use super::index::parse_index;
use super::ChartIndex;
use crate::settings::HelmSettings;
pub use error::{FetchError, FetchErrorKind, Target};
use route::{Routed, Routes};

/// Largest `index.yaml` accepted, counted after decompression while it
/// streams in. The biggest public indexes are tens of MiB (Bitnami's full
/// history passed 20 MiB before it was trimmed); this leaves ample room
/// while a wrong URL that streams forever cannot exhaust memory.
pub const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// How chartpilot introduces itself, so repository operators can tell its
/// periodic polling apart.
pub const USER_AGENT: &str = concat!("chartpilot/", env!("CARGO_PKG_VERSION"));

/// Builds the HTTP client every chart source uses: the configured timeout
/// per request (connect to last body byte), gzip accepted.
/// What Helm and OCI clients share: one connection pool, the mirror and
/// credential routes, the per-request timeout.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub routes: Arc<Routes>,
    pub timeout: Duration,
}

impl Transport {
    pub(crate) fn new(settings: &HelmSettings) -> Result<Self, FetchError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(settings.timeout)
            .gzip(true)
            .build()
            .map_err(|e| FetchError {
                target: Target {
                    repository: "(all)".into(),
                    mirror: None,
                    artifact: None,
                },
                kind: FetchErrorKind::Transport(e.to_string()),
            })?;
        Ok(Self {
            http,
            routes: Arc::new(Routes::new(settings)),
            timeout: settings.timeout,
        })
    }
}

/// Reads Helm repository indexes; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct HelmClient {
    /// Connection pool, routes and timeout, shared with the other client.
    net: Transport,
    /// Fetched index URL → last good body and its validators.
    cache: Mutex<HashMap<String, Cached>>,
    /// Off for one-shot commands (`scan`): nothing fetches twice there,
    /// and the bodies would only add to peak memory.
    keep_bodies: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    etag: Option<String>,
    last_modified: Option<String>,
    body: Bytes,
}

/// The raw index of one repository and where it came from.
#[derive(Debug, Clone)]
pub struct RawIndex {
    /// The index URL fetched (after mirror rewriting), base of relative
    /// chart URLs.
    pub url: Url,
    pub body: Bytes,
    /// True when the server answered 304 and the cached body was reused.
    pub revalidated: bool,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl HelmClient {
    pub fn new(settings: &HelmSettings) -> Result<Self, FetchError> {
        Ok(Self::with(Transport::new(settings)?))
    }

    pub(crate) fn with(t: Transport) -> Self {
        Self {
            net: t,
            cache: Mutex::new(HashMap::new()),
            keep_bodies: true,
        }
    }

    /// The connection pool, routes and timeout, for chart downloads.
    pub(crate) fn transport(&self) -> &Transport {
        &self.net
    }

    /// A client that keeps no index bodies for revalidation.
    pub fn one_shot(mut self) -> Self {
        self.keep_bodies = false;
        self
    }

    /// The releases of `charts` in `repository` (`https://…`, `http://…`,
    /// `file:///dir` or `file:///dir/index.yaml`). Chart URLs come back
    /// absolute, resolved against the index URL actually fetched.
    pub async fn index(
        &self,
        repository: &str,
        charts: &BTreeSet<String>,
    ) -> Result<ChartIndex, FetchError> {
        let routed = self.net.routes.route(repository);
        let span = tracing::info_span!("helm_index", repo = %routed.original, mirror = routed.mirror.as_deref());
        async {
            let raw = self.raw_index(&routed).await?;
            let wanted = charts.clone();
            let body = raw.body.clone();
            // A large index takes a while to parse; keep it off the reactor.
            let parsed = tokio::task::spawn_blocking(move || {
                parse_index(&body, &|name| wanted.contains(name))
            })
            .await
            .map_err(|e| FetchError::new(&routed, FetchErrorKind::Io(e.to_string())))?
            .map_err(|e| FetchError::new(&routed, FetchErrorKind::NotAnIndex(e.to_string())))?;
            if !raw.revalidated && self.keep_bodies {
                self.remember(&raw);
            }
            tracing::debug!(
                revalidated = raw.revalidated,
                bytes = raw.body.len(),
                "index read"
            );
            Ok(absolute_urls(parsed, &raw.url))
        }
        .instrument(span)
        .await
    }

    /// The bytes of a repository's index, from the cache when the server
    /// says it is unchanged. Not cached until [`HelmClient::index`] parsed it.
    pub async fn raw(&self, repository: &str) -> Result<RawIndex, FetchError> {
        self.raw_index(&self.net.routes.route(repository)).await
    }

    async fn raw_index(&self, routed: &Routed) -> Result<RawIndex, FetchError> {
        let url = index_url(&routed.url).ok_or_else(|| {
            FetchError::new(routed, FetchErrorKind::Unsupported(routed.url.clone()))
        })?;
        match url.scheme() {
            "http" | "https" => self.fetch_http(routed, url).await,
            "file" => read_file(routed, url).await,
            other => Err(FetchError::new(
                routed,
                FetchErrorKind::Unsupported(format!("scheme `{other}`")),
            )),
        }
    }

    async fn fetch_http(&self, routed: &Routed, url: Url) -> Result<RawIndex, FetchError> {
        let cached = self.cached(url.as_str());
        let mut request = self.net.http.get(url.clone());
        if let Some(cached) = &cached {
            if let Some(etag) = &cached.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &cached.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        if let Some(auth) = self.net.routes.auth_for(&url) {
            request = auth.apply(request);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::request(routed, e, self.net.timeout))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            let Some(cached) = cached else {
                return Err(FetchError::new(
                    routed,
                    FetchErrorKind::Protocol("304 Not Modified to an unconditional request".into()),
                ));
            };
            return Ok(RawIndex {
                url,
                body: cached.body,
                revalidated: true,
                etag: cached.etag,
                last_modified: cached.last_modified,
            });
        }
        if !status.is_success() {
            return Err(FetchError::status(routed, status));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let body = read_limited(routed, response, MAX_INDEX_BYTES, self.net.timeout).await?;
        Ok(RawIndex {
            url,
            body,
            revalidated: false,
            etag,
            last_modified,
        })
    }

    fn cached(&self, url: &str) -> Option<Cached> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(url).cloned()
    }

    /// Keeps only bodies with a validator: without one the next fetch is
    /// unconditional anyway, and the bytes would only cost memory.
    fn remember(&self, raw: &RawIndex) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if raw.etag.is_none() && raw.last_modified.is_none() {
            cache.remove(raw.url.as_str());
            return;
        }
        cache.insert(
            raw.url.to_string(),
            Cached {
                etag: raw.etag.clone(),
                last_modified: raw.last_modified.clone(),
                body: raw.body.clone(),
            },
        );
    }
}

/// `<repo>/index.yaml`, or the location itself when it already names a
/// YAML file (`file:///srv/charts/index.yaml`).
fn index_url(location: &str) -> Option<Url> {
    let mut url = Url::parse(location).ok()?;
    let path = url.path().to_owned();
    if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
        url.set_path(&format!("{}/index.yaml", path.trim_end_matches('/')));
    }
    Some(url)
}

/// Reads a response body, failing as soon as it passes `limit` bytes.
pub(crate) async fn read_limited(
    routed: &Routed,
    response: reqwest::Response,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, FetchError> {
    let too_large = || FetchError::new(routed, FetchErrorKind::TooLarge { limit });
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FetchError::request(routed, e, timeout))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Air-gapped setups and tests keep an index on disk.
async fn read_file(routed: &Routed, url: Url) -> Result<RawIndex, FetchError> {
    let io = |reason: String| FetchError::new(routed, FetchErrorKind::Io(reason));
    let path: PathBuf = url
        .to_file_path()
        .map_err(|()| io("a file:// repository needs an absolute path".into()))?;
    let shown = path.display().to_string();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        use std::io::Read;
        let file = std::fs::File::open(&path).map_err(|e| format!("{shown}: {e}"))?;
        let mut body = Vec::new();
        // One byte past the limit tells "exactly at the limit" from "over".
        file.take(MAX_INDEX_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok(body)
    })
    .await
    .map_err(|e| io(e.to_string()))?
    .map_err(io)?;
    if body.len() as u64 > MAX_INDEX_BYTES {
        return Err(FetchError::new(
            routed,
            FetchErrorKind::TooLarge {
                limit: MAX_INDEX_BYTES,
            },
        ));
    }
    Ok(RawIndex {
        url,
        body: Bytes::from(body),
        revalidated: false,
        etag: None,
        last_modified: None,
    })
}

/// Helm allows chart URLs relative to the index; callers get them absolute.
fn absolute_urls(mut index: ChartIndex, base: &Url) -> ChartIndex {
    for release in index.values_mut().flatten() {
        for url in &mut release.urls {
            if let Ok(joined) = base.join(url) {
                *url = joined.to_string();
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::Release;

    #[test]
    fn index_url_appends_index_yaml_unless_named() {
        let u = |s: &str| index_url(s).map(|u| u.to_string());
        assert_eq!(
            u("https://a.io/charts").as_deref(),
            Some("https://a.io/charts/index.yaml")
        );
        assert_eq!(
            u("https://a.io").as_deref(),
            Some("https://a.io/index.yaml")
        );
        assert_eq!(
            u("file:///srv/x/index.yaml").as_deref(),
            Some("file:///srv/x/index.yaml")
        );
        assert_eq!(
            u("https://a.io/c?sig=1").as_deref(),
            Some("https://a.io/c/index.yaml?sig=1")
        );
        assert_eq!(u("not a url"), None);
    }

    #[test]
    fn relative_chart_urls_resolve_against_the_index() {
        let mut index = ChartIndex::new();
        index.insert(
            "a".into(),
            vec![Release {
                urls: vec![
                    "a-1.0.0.tgz".into(),
                    "https://cdn.io/a.tgz".into(),
                    "../b/a.tgz".into(),
                ],
                ..Release::default()
            }],
        );
        let base = Url::parse("https://h.io/charts/index.yaml").unwrap();
        let urls = &absolute_urls(index, &base)["a"][0].urls;
        assert_eq!(
            urls,
            &[
                "https://h.io/charts/a-1.0.0.tgz",
                "https://cdn.io/a.tgz",
                "https://h.io/b/a.tgz"
            ]
        );
    }
}
