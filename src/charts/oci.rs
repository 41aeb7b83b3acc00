//! Charts in OCI registries (`oci://ghcr.io/org/charts` + `argo-cd`, or
//! Argo CD's scheme-less `ghcr.io/org/charts`), read with the distribution
//! API: tags for the versions, and a manifest per version only when its
//! release time is asked for ([`OciClient::release_time`]).
//!
//! Registries are reached over HTTPS, except loopback hosts and mirrors
//! whose `to` says `http://`, which use plain HTTP.

mod auth;
mod challenge;
mod pull;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::LINK;
use reqwest::Url;
use tracing::Instrument;

use super::fetch::route::{is_loopback, strip_userinfo, Routed};
use super::fetch::{read_limited, FetchError, FetchErrorKind, Transport};
use super::Release;
use crate::settings::{HelmSettings, Secret};
use challenge::next_link;
pub use pull::{Pulled, CHART_LAYER, PROVENANCE_LAYER};

/// Registries page tag lists (often 100–1000 per page); this many pages
/// covers any chart's history and stops a `Link` loop.
pub const MAX_TAG_PAGES: usize = 100;

/// Tag pages, manifests and token answers are small JSON documents; this
/// bounds what a misbehaving registry can make us buffer.
pub const MAX_JSON_BYTES: u64 = 8 * 1024 * 1024;

/// Token lifetime when the token endpoint does not say (the token
/// protocol's own default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A token is dropped this long before it expires, so a request never
/// starts with one about to lapse.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// Helm pushes charts with an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Set by `helm push` since Helm 3.13 (and by most CI pushers); Helm's
/// config blob is Chart.yaml as JSON and carries no time.
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// One chart in a registry, as `oci://registry/path/chart`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OciChart {
    reference: String,
}

impl OciChart {
    /// From a pin: `chart` may be a full `oci://` reference (Terraform
    /// allows that without a repository); otherwise `repository` is
    /// `oci://registry/path` or scheme-less `registry/path`.
    pub fn new(repository: Option<&str>, chart: &str) -> Result<Self, String> {
        let chart = chart.trim().trim_end_matches('/');
        let reference = if chart.starts_with("oci://") {
            chart.to_owned()
        } else {
            let repository = repository
                .map(|r| r.trim().trim_end_matches('/'))
                .filter(|r| !r.is_empty())
                .ok_or("an OCI chart needs a repository")?;
            let repository = match repository.split_once("://") {
                Some(("oci", _)) => repository.to_owned(),
                Some((scheme, _)) => return Err(format!("`{scheme}://` is not an OCI registry")),
                None => format!("oci://{repository}"),
            };
            format!("{repository}/{chart}")
        };
        let reference = strip_userinfo(&reference);
        let rest = reference.strip_prefix("oci://").unwrap_or(&reference);
        match rest.split_once('/') {
            Some((host, name)) if !host.is_empty() && valid_name(name) => Ok(Self { reference }),
            _ => Err(format!("`{reference}` is not registry/name")),
        }
    }

    /// `oci://registry/path/chart`.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// Repository names of the distribution spec, loosely: path components
/// that cannot change the request path or query.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
}

/// Tags allowed by the distribution spec.
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Helm stores `1.0.0+build` as tag `1.0.0_build` (`+` is not allowed in a
/// tag); tags that are not SemVer (`latest`, signatures) are not releases.
fn version_of_tag(tag: &str) -> Option<String> {
    let version = tag.replace('_', "+");
    semver::Version::parse(version.strip_prefix('v').unwrap_or(&version)).ok()?;
    Some(version)
}

/// Where one chart's API lives after mirror routing.
struct Registry {
    routed: Routed,
    /// `scheme://host[:port]`.
    base: Url,
    name: String,
}

#[derive(serde::Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

/// Reads chart versions from registries; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct OciClient {
    /// Connection pool, routes and timeout, shared with the other client.
    net: Transport,
    /// `base|scope` → token and when to stop using it.
    tokens: Mutex<HashMap<String, (Secret, Instant)>>,
    /// `reference:version` → release time; a pushed tag keeps its manifest.
    times: Mutex<HashMap<String, Option<DateTime<Utc>>>>,
}

impl OciClient {
    pub fn new(settings: &HelmSettings) -> Result<Self, FetchError> {
        Ok(Self::with(Transport::new(settings)?))
    }

    pub(crate) fn with(t: Transport) -> Self {
        Self {
            net: t,
            tokens: Mutex::new(HashMap::new()),
            times: Mutex::new(HashMap::new()),
        }
    }

    /// Every tag that is a version, `_` mapped back to `+`, in the
    /// registry's order; `created` is left empty (see `release_time`).
    pub async fn versions(&self, chart: &OciChart) -> Result<Vec<Release>, FetchError> {
        let registry = self.registry(chart)?;
        let span = tracing::info_span!("oci_tags", repo = %registry.routed.original, mirror = registry.routed.mirror.as_deref());
        async {
            let protocol =
                |m: String| FetchError::new(&registry.routed, FetchErrorKind::Protocol(m));
            let mut url = self.api_url(&registry, "tags/list")?;
            let mut tags = Vec::new();
            for _ in 0..MAX_TAG_PAGES {
                let response = self.get(&registry, url.clone(), None).await?;
                let next = match response
                    .headers()
                    .get(LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(next_link)
                {
                    Some(target) => {
                        let next = url
                            .join(target)
                            .map_err(|e| protocol(format!("Link `{target}`: {e}")))?;
                        // The token and credentials are for this registry only.
                        if next.origin() != registry.base.origin() {
                            return Err(protocol(format!(
                                "Link to another host: {}",
                                strip_userinfo(target)
                            )));
                        }
                        Some(next)
                    }
                    None => None,
                };
                let body =
                    read_limited(&registry.routed, response, MAX_JSON_BYTES, self.net.timeout)
                        .await?;
                let page: TagList = serde_json::from_slice(&body)
                    .map_err(|e| protocol(format!("tag list: {e}")))?;
                tags.extend(page.tags.unwrap_or_default());
                match next {
                    Some(next) => url = next,
                    None => {
                        tracing::debug!(tags = tags.len(), "tags listed");
                        return Ok(tags
                            .iter()
                            .filter_map(|tag| {
                                Some(Release {
                                    version: version_of_tag(tag)?,
                                    urls: vec![format!("{}:{tag}", chart.reference)],
                                    ..Release::default()
                                })
                            })
                            .collect());
                    }
                }
            }
            Err(protocol(format!("more than {MAX_TAG_PAGES} pages of tags")))
        }
        .instrument(span)
        .await
    }

    /// When `version` was published, from its manifest's
    /// `org.opencontainers.image.created`; None when the pusher did not
    /// record it. One request per version, so ask only for candidates.
    pub async fn release_time(
        &self,
        chart: &OciChart,
        version: &str,
    ) -> Result<Option<DateTime<Utc>>, FetchError> {
        let key = format!("{}:{version}", chart.reference);
        if let Some(time) = lock(&self.times).get(&key) {
            return Ok(*time);
        }
        let registry = self.registry(chart)?;
        let tag = version.replace('+', "_");
        if !valid_tag(&tag) {
            return Err(FetchError::new(
                &registry.routed,
                FetchErrorKind::Unsupported(format!("`{version}` is not a tag")),
            ));
        }
        let span =
            tracing::info_span!("oci_manifest", repo = %registry.routed.original, tag = %tag);
        async {
            let url = self.api_url(&registry, &format!("manifests/{tag}"))?;
            let response = self.get(&registry, url, Some(OCI_MANIFEST)).await?;
            let body =
                read_limited(&registry.routed, response, MAX_JSON_BYTES, self.net.timeout).await?;
            let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| {
                FetchError::new(
                    &registry.routed,
                    FetchErrorKind::Protocol(format!("manifest: {e}")),
                )
            })?;
            let created = manifest
                .annotations
                .as_ref()
                .and_then(|a| a.get(CREATED_ANNOTATION))
                .and_then(|c| DateTime::parse_from_rfc3339(c.trim()).ok())
                .map(|c| c.with_timezone(&Utc));
            lock(&self.times).insert(key, created);
            Ok(created)
        }
        .instrument(span)
        .await
    }

    fn registry(&self, chart: &OciChart) -> Result<Registry, FetchError> {
        let routed = self.net.routes.route(&chart.reference);
        let unsupported = |m: String| FetchError::new(&routed, FetchErrorKind::Unsupported(m));
        let (scheme, rest) = routed
            .url
            .split_once("://")
            .ok_or_else(|| unsupported(routed.url.clone()))?;
        let (authority, name) = rest.split_once('/').unwrap_or((rest, ""));
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        let plain = match scheme {
            "http" => true,
            "https" => false,
            "oci" => is_loopback(host),
            other => return Err(unsupported(format!("scheme `{other}` for an OCI registry"))),
        };
        let base = Url::parse(&format!(
            "{}://{authority}",
            if plain { "http" } else { "https" }
        ))
        .map_err(|e| unsupported(format!("{authority}: {e}")))?;
        if !valid_name(name) {
            return Err(unsupported(format!("`{name}` is not a repository name")));
        }
        Ok(Registry {
            name: name.to_owned(),
            routed,
            base,
        })
    }

    fn api_url(&self, registry: &Registry, rest: &str) -> Result<Url, FetchError> {
        registry
            .base
            .join(&format!("/v2/{}/{rest}", registry.name))
            .map_err(|e| {
                FetchError::new(&registry.routed, FetchErrorKind::Unsupported(e.to_string()))
            })
    }
}

/// A poisoned cache is still a valid cache: entries are written whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
