//! The "Impact on this repository" section of upgrade and promotion PRs:
//! what the target version does to the values this repository overrides.
//! The analysis is `crate::impact`'s; this is where a pass asks for it, so
//! the pass can run without it (a CLI pass, a test) and a failed analysis
//! never holds a PR back.

use async_trait::async_trait;

use super::plan::Group;
use crate::pins::SourceFile;

/// The section as written into the PR body, and whether the target breaks
/// an override (the PR then gets `upgrade.values_label`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub markdown: String,
    pub breaks: bool,
}

#[async_trait]
pub trait ImpactSource: Send + Sync {
    /// The section for `group` against the base branch's `files`; `None`
    /// when it cannot be said (the archives cannot be fetched), which the
    /// section then says itself when it can.
    async fn section(&self, group: &Group, files: &[SourceFile]) -> Option<Section>;
}
