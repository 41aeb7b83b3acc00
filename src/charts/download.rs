//! Chart archives (`.tgz`) and their provenance (`.prov`), fetched through
//! the same mirrors, credentials, timeout and user agent as the indexes:
//! from a Helm repository, the release's first URL in `index.yaml`; from a
//! registry, the chart layer of the version's manifest.
//!
//! Sizes are capped while the bytes stream in: a server that lies in
//! `Content-Length` or never stops costs at most the cap.

use std::collections::BTreeSet;
use std::path::PathBuf;

use std::net::{IpAddr, Ipv4Addr};

use reqwest::{StatusCode, Url};
use tracing::Instrument;

mod cache;

use std::sync::Arc;

use super::fetch::route::{strip_userinfo, Routed};
use super::fetch::{read_limited, FetchError, FetchErrorKind};
use super::lookup::{source, Lookup, Source};
use super::provenance::MAX_PROVENANCE_BYTES;
use super::Release;

/// Largest chart archive accepted. The biggest public charts (kube-prometheus-
/// stack with its dashboards and CRDs) are well under 1 MiB compressed;
/// Helm itself refuses charts past 20 MiB unpacked.
pub const MAX_ARCHIVE_BYTES: u64 = 20 * 1024 * 1024;

pub(crate) use cache::ArchiveCache;
pub use cache::{MAX_CACHED_ARCHIVES, MAX_CACHED_BYTES};

/// One downloaded chart version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: Vec<u8>,
    /// The `.prov`, when asked for and published.
    pub provenance: Option<Vec<u8>>,
    /// Where the archive came from (after mirrors), without userinfo or
    /// query (presigned URLs carry tokens there): `https://…/app-1.2.0.tgz`
    /// or `oci://registry/path/app:1.2.0`.
    pub url: String,
}

impl Downloaded {
    /// The archive's file name, the key a `.prov` gives its digest under:
    /// the URL's last segment, or `app-1.2.0.tgz` for a registry (as
    /// `helm pull` names it; `_` in a tag is `+` in the version).
    pub fn file_name(&self) -> String {
        if let Some(rest) = self.url.strip_prefix("oci://") {
            let last = rest.rsplit('/').next().unwrap_or(rest);
            return match last.rsplit_once(':') {
                Some((name, tag)) => format!("{name}-{}.tgz", tag.replace('_', "+")),
                None => format!("{last}.tgz"),
            };
        }
        let path = self.url.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default().to_owned()
    }
}

impl Lookup {
    /// Downloads `chart` at `version` from `repository` as a pin records
    /// them, with its `.prov` when `with_provenance` and the source has
    /// one (a repository answering 404 for it: unsigned, no error).
    pub async fn download(
        &self,
        repository: Option<&str>,
        chart: &str,
        version: &str,
        with_provenance: bool,
    ) -> Result<Downloaded, FetchError> {
        let key = (
            repository.map(str::to_owned),
            chart.to_owned(),
            version.to_owned(),
        );
        if let Some(hit) = self.archives().get(&key, with_provenance) {
            let mut hit = Downloaded::clone(&hit);
            if !with_provenance {
                hit.provenance = None;
            }
            return Ok(hit);
        }
        let downloaded = self
            .download_uncached(repository, chart, version, with_provenance)
            .await?;
        self.archives()
            .put(key, with_provenance, Arc::new(downloaded.clone()));
        Ok(downloaded)
    }

    async fn download_uncached(
        &self,
        repository: Option<&str>,
        chart: &str,
        version: &str,
        with_provenance: bool,
    ) -> Result<Downloaded, FetchError> {
        let routes = &self.helm().transport().routes;
        let what = format!("{chart} {version}");
        let found = source(repository, Some(chart)).map_err(|why| {
            let pinned = routes.route(repository.unwrap_or(chart));
            FetchError::new(&pinned, FetchErrorKind::Unsupported(why)).about(what.clone())
        })?;
        let span = tracing::info_span!("chart_download", chart, version);
        match found {
            Source::Index { repository, chart } => {
                self.download_from_index(&repository, &chart, version, with_provenance)
                    .instrument(span)
                    .await
            }
            Source::Oci(oci) => {
                let pulled = self
                    .oci()
                    .pull(
                        &oci,
                        version,
                        with_provenance,
                        MAX_ARCHIVE_BYTES,
                        MAX_PROVENANCE_BYTES as u64,
                    )
                    .instrument(span)
                    .await
                    .map_err(|e| e.about(what))?;
                Ok(Downloaded {
                    bytes: pulled.chart,
                    provenance: pulled.provenance,
                    url: pulled.url,
                })
            }
        }
    }

    async fn download_from_index(
        &self,
        repository: &str,
        chart: &str,
        version: &str,
        with_provenance: bool,
    ) -> Result<Downloaded, FetchError> {
        let net = self.helm().transport();
        let what = format!("{chart} {version}");
        let wanted = BTreeSet::from([chart.to_owned()]);
        let index = self
            .helm()
            .index(repository, &wanted)
            .await
            .map_err(|e| e.about(what.clone()))?;
        let index_routed = net.routes.route(repository);
        let missing = |m: String| {
            FetchError::new(&index_routed, FetchErrorKind::NotFound(m)).about(what.clone())
        };
        let release = index
            .get(chart)
            .and_then(|releases| pick(releases, version))
            .ok_or_else(|| missing(format!("no version {version} of `{chart}` in the index")))?;
        let location = release
            .urls
            .first()
            .ok_or_else(|| missing("the release lists no download URL".into()))?;
        // The archive may live under a mirrored prefix of its own (a CDN).
        let routed = net.routes.route(location);
        let about = format!("{what} at {}", shown(&routed.url));
        let fail = |e: FetchError| rebrand(e, repository, &about);
        let refuse = |m: String| fail(FetchError::new(&routed, FetchErrorKind::Unsupported(m)));
        let url = Url::parse(&routed.url).map_err(|e| refuse(format!("archive URL: {e}")))?;
        let index_url = Url::parse(&index_routed.url).ok();
        archive_allowed(index_url.as_ref(), &url).map_err(refuse)?;
        let bytes = match url.scheme() {
            "file" => read_file(&routed, &url, MAX_ARCHIVE_BYTES).await,
            _ => self.http_get(&routed, &url, MAX_ARCHIVE_BYTES, false).await,
        }
        .map_err(fail)?
        .ok_or_else(|| {
            fail(FetchError::new(
                &routed,
                FetchErrorKind::NotFound("no archive at the index's URL".into()),
            ))
        })?;
        let provenance = if with_provenance {
            let mut prov_url = url.clone();
            prov_url.set_path(&format!("{}.prov", url.path()));
            let limit = MAX_PROVENANCE_BYTES as u64;
            match prov_url.scheme() {
                "file" => read_file(&routed, &prov_url, limit).await,
                _ => self.http_get(&routed, &prov_url, limit, true).await,
            }
            .map_err(|e| rebrand(e, repository, &format!("{about}.prov")))?
        } else {
            None
        };
        tracing::debug!(
            bytes = bytes.len(),
            signed = provenance.is_some(),
            "chart downloaded"
        );
        Ok(Downloaded {
            bytes,
            provenance,
            url: shown(url.as_str()),
        })
    }

    /// A GET with the credential of `url`'s own host (none for another
    /// host); with `missing_ok`, 404 and 410 are `None`.
    async fn http_get(
        &self,
        routed: &Routed,
        url: &Url,
        limit: u64,
        missing_ok: bool,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let net = self.helm().transport();
        let mut request = net.http.get(url.clone());
        if let Some(auth) = net.routes.auth_for(url) {
            request = auth.apply(request);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::request(routed, e, net.timeout))?;
        let status = response.status();
        if missing_ok && matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(FetchError::status(routed, status));
        }
        let body = read_limited(routed, response, limit, net.timeout).await?;
        Ok(Some(body.to_vec()))
    }
}

/// The release whose version is `version` as written, else the one equal
/// to it as SemVer (`v1.2.0` pinned, `1.2.0` published).
fn pick<'r>(releases: &'r [Release], version: &str) -> Option<&'r Release> {
    let semver = |v: &str| semver::Version::parse(v.trim().trim_start_matches('v')).ok();
    releases.iter().find(|r| r.version == version).or_else(|| {
        let wanted = semver(version)?;
        releases
            .iter()
            .find(|r| semver(&r.version).is_some_and(|v| v == wanted))
    })
}

/// Whether an archive URL read from the index at `index` may be fetched:
/// HTTP(S), and not a local or private address unless the index was on one
/// too (a test, a local mirror); `file://` only from an operator's
/// `file://` mirror, never named by an index fetched over the network.
fn archive_allowed(index: Option<&Url>, archive: &Url) -> Result<(), String> {
    let index_scheme = index.map_or("", Url::scheme);
    match archive.scheme() {
        "file" if index_scheme == "file" => Ok(()),
        "http" | "https" if internal(archive) && !index.is_some_and(internal) => Err(
            "an index reached over the network names an archive on a local or private address"
                .into(),
        ),
        "http" | "https" => Ok(()),
        other => Err(format!("archive URL scheme `{other}`")),
    }
}

/// A URL as errors and callers see it: no userinfo, no query or fragment.
fn shown(location: &str) -> String {
    let clean = strip_userinfo(location);
    match clean.find(['?', '#']) {
        Some(end) => clean[..end].to_owned(),
        None => clean,
    }
}

/// Loopback, private, link-local (cloud metadata) or unspecified hosts,
/// written as such. A public index naming one would make chartpilot probe
/// its own network; names that merely resolve there are not caught.
fn internal(url: &Url) -> bool {
    fn v4(ip: Ipv4Addr) -> bool {
        ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => v4(ip),
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(v4)
        }
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// Errors about the archive name the pinned repository and the archive.
fn rebrand(e: FetchError, repository: &str, about: &str) -> FetchError {
    let mut e = e.about(about.to_owned());
    e.target.repository = strip_userinfo(repository);
    e
}

/// A file from an operator's `file://` mirror, read up to `limit`; a
/// missing file is `None` (an unsigned chart's `.prov`).
async fn read_file(routed: &Routed, url: &Url, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
    let io = |reason: String| FetchError::new(routed, FetchErrorKind::Io(reason));
    let path: PathBuf = url
        .to_file_path()
        .map_err(|()| io("a file:// URL needs an absolute path".into()))?;
    let read = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, String> {
        use std::io::Read;
        let shown = path.display().to_string();
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{shown}: {e}")),
        };
        let mut bytes = Vec::new();
        // One byte past the limit tells "at the limit" from "over".
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok(Some(bytes))
    })
    .await
    .map_err(|e| io(e.to_string()))?
    .map_err(io)?;
    if read.as_ref().is_some_and(|b| b.len() as u64 > limit) {
        return Err(FetchError::new(routed, FetchErrorKind::TooLarge { limit }));
    }
    Ok(read)
}

#[cfg(test)]
mod tests;
