//! Where chart archives come from. [`IndexArchives`] is the small stand-in
//! until the chart downloader (mirrors, credentials, OCI, provenance)
//! replaces it: it reads the Helm index through [`Lookup`] and fetches the
//! release's first URL over plain HTTP, size-capped.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::charts::archive::MAX_COMPRESSED_BYTES;
use crate::charts::lookup::{self, Lookup, Source};

/// Gives the bytes of a chart archive.
#[async_trait]
pub trait ArchiveSource: Send + Sync {
    async fn archive(
        &self,
        repository: Option<&str>,
        chart: &str,
        version: &str,
    ) -> Result<Vec<u8>, String>;
}

/// Chart archives of HTTP Helm repositories, by `Release.urls[0]`.
pub struct IndexArchives {
    lookup: Lookup,
    http: reqwest::Client,
}

impl IndexArchives {
    pub fn new(lookup: Lookup, timeout: std::time::Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("chartpilot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { lookup, http })
    }
}

#[async_trait]
impl ArchiveSource for IndexArchives {
    async fn archive(
        &self,
        repository: Option<&str>,
        chart: &str,
        version: &str,
    ) -> Result<Vec<u8>, String> {
        let (repository, name) = match lookup::source(repository, Some(chart))? {
            Source::Index { repository, chart } => (repository, chart),
            Source::Oci(c) => {
                return Err(format!(
                    "{}: OCI chart archives are not fetched yet",
                    c.reference()
                ))
            }
        };
        let wanted = BTreeSet::from([name.clone()]);
        let index = self
            .lookup
            .helm()
            .index(&repository, &wanted)
            .await
            .map_err(|e| e.to_string())?;
        let releases = index
            .get(&name)
            .ok_or_else(|| format!("chart repository {repository}: no chart `{name}`"))?;
        let release = releases
            .iter()
            .find(|r| r.version == version)
            .ok_or_else(|| {
                let newest = releases.first().map_or("none", |r| r.version.as_str());
                format!(
                    "chart repository {repository}: `{name}` has no version {version} \
                     (newest listed: {newest})"
                )
            })?;
        let url = release
            .urls
            .first()
            .ok_or_else(|| format!("`{name}` {version} lists no download URL"))?;
        fetch(&self.http, url).await
    }
}

/// The body of `url`, refused past [`MAX_COMPRESSED_BYTES`] whatever the
/// server announces.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let shown = crate::charts::fetch::route::strip_userinfo(url);
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{shown}: HTTP {status}"));
    }
    let too_large = || format!("{shown}: larger than {MAX_COMPRESSED_BYTES} bytes; refused");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_COMPRESSED_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("{shown}: {}", e.without_url()))?;
        if body.len() + chunk.len() > MAX_COMPRESSED_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
