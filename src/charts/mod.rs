//! Published chart versions: Helm HTTP indexes, OCI registries and
//! `file://` repositories, and the policy that picks the version to propose.

pub mod archive;
pub mod constraint;
pub mod download;
pub mod fetch;
pub mod index;
pub mod lookup;
pub mod oci;
pub mod policy;
pub mod provenance;
pub mod version;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// One published version of a chart: only the fields chartpilot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// As the repository spells it (`v1.13.2` stays `v1.13.2`).
    pub version: String,
    pub app_version: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub deprecated: bool,
    /// `artifacthub.io/prerelease: "true"`.
    pub prerelease: bool,
    /// `artifacthub.io/changes`, as written (YAML list or text).
    pub changes: Option<String>,
    pub home: Option<String>,
    pub sources: Vec<String>,
    /// Download URLs of the chart archive, absolute (relative ones are
    /// resolved against the index URL by the fetcher).
    pub urls: Vec<String>,
}

/// The charts of one repository that were asked for: name → releases, in
/// the order the repository lists them.
pub type ChartIndex = HashMap<String, Vec<Release>>;
