//! Where chart archives come from: the chart downloader of
//! [`crate::charts::lookup::Lookup`] (HTTP indexes and OCI registries,
//! through the same mirrors, credentials, size caps and cache as the
//! versions), behind a small trait so the analysis can be tested with
//! archives built in the test.

use async_trait::async_trait;

use crate::charts::lookup::Lookup;

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

#[async_trait]
impl ArchiveSource for Lookup {
    async fn archive(
        &self,
        repository: Option<&str>,
        chart: &str,
        version: &str,
    ) -> Result<Vec<u8>, String> {
        self.download(repository, chart, version, false)
            .await
            .map(|d| d.bytes)
            .map_err(|e| e.to_string())
    }
}
