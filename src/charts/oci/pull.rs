//! A chart's archive (and provenance) from a registry: the version's
//! manifest names the layers by media type and digest; each blob is read
//! size-capped and checked against its digest before it is returned.

use sha2::{Digest, Sha256};

use super::{valid_tag, OciChart, OciClient, Registry, MAX_JSON_BYTES, OCI_MANIFEST};
use crate::charts::fetch::{read_limited, FetchError, FetchErrorKind};

/// Helm's chart archive layer.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Helm's provenance layer, pushed by `helm push` next to a signed chart.
pub const PROVENANCE_LAYER: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/// What [`OciClient::pull`] brings back.
#[derive(Debug)]
pub struct Pulled {
    pub chart: Vec<u8>,
    pub provenance: Option<Vec<u8>>,
    /// `oci://registry/path/chart:tag` as contacted (after mirrors).
    pub url: String,
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(serde::Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

impl OciClient {
    /// The chart layer of `version`, at most `chart_limit` bytes, and with
    /// `with_provenance` the provenance layer, at most `prov_limit` bytes.
    pub async fn pull(
        &self,
        chart: &OciChart,
        version: &str,
        with_provenance: bool,
        chart_limit: u64,
        prov_limit: u64,
    ) -> Result<Pulled, FetchError> {
        let registry = self.registry(chart)?;
        let tag = version.replace('+', "_");
        if !valid_tag(&tag) {
            return Err(FetchError::new(
                &registry.routed,
                FetchErrorKind::Unsupported(format!("`{version}` is not a tag")),
            ));
        }
        let protocol = |m: String| FetchError::new(&registry.routed, FetchErrorKind::Protocol(m));
        let url = self.api_url(&registry, &format!("manifests/{tag}"))?;
        let response = self.get(&registry, url, Some(OCI_MANIFEST)).await?;
        let body =
            read_limited(&registry.routed, response, MAX_JSON_BYTES, self.net.timeout).await?;
        let manifest: Manifest =
            serde_json::from_slice(&body).map_err(|e| protocol(format!("manifest: {e}")))?;
        let layer = |media: &str| manifest.layers.iter().find(|l| l.media_type == media);
        let chart_layer = layer(CHART_LAYER).ok_or_else(|| {
            FetchError::new(
                &registry.routed,
                FetchErrorKind::NotFound(format!(
                    "the manifest of {tag} has no {CHART_LAYER} layer"
                )),
            )
        })?;
        let bytes = self.blob(&registry, chart_layer, chart_limit).await?;
        let provenance = match layer(PROVENANCE_LAYER).filter(|_| with_provenance) {
            Some(prov) => Some(self.blob(&registry, prov, prov_limit).await?),
            None => None,
        };
        Ok(Pulled {
            chart: bytes,
            provenance,
            url: format!("{}:{tag}", registry.routed.url),
        })
    }

    /// One blob, refused past `limit` (the declared size is checked first,
    /// the streamed bytes again) or when its SHA-256 is not its digest.
    async fn blob(
        &self,
        registry: &Registry,
        layer: &Layer,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let fail = |kind| FetchError::new(&registry.routed, kind);
        let expected = layer
            .digest
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                fail(FetchErrorKind::Unsupported(format!(
                    "layer digest `{}` is not sha256:<hex>",
                    layer.digest.chars().take(80).collect::<String>()
                )))
            })?
            .to_ascii_lowercase();
        if layer.size.is_some_and(|size| size > limit) {
            return Err(fail(FetchErrorKind::TooLarge { limit }));
        }
        let url = self.api_url(registry, &format!("blobs/sha256:{expected}"))?;
        let response = self.get(registry, url, None).await?;
        let bytes = read_limited(&registry.routed, response, limit, self.net.timeout).await?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != expected {
            return Err(fail(FetchErrorKind::DigestMismatch {
                expected: format!("sha256:{expected}"),
                actual: format!("sha256:{actual}"),
            }));
        }
        Ok(bytes.to_vec())
    }
}
