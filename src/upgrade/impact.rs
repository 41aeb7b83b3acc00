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

/// Longest impact section in a PR body: the body keeps room for the pin
/// table and the release notes under GitHub's 65,536 characters.
pub const MAX_SECTION_CHARS: usize = 12_000;

/// The production source: [`crate::impact`] on archives from the chart
/// downloader.
pub struct Analysis {
    pub archives: std::sync::Arc<dyn crate::impact::ArchiveSource>,
    pub policy: crate::settings::PolicySettings,
}

#[async_trait]
impl ImpactSource for Analysis {
    async fn section(&self, group: &Group, files: &[SourceFile]) -> Option<Section> {
        use crate::impact::render::{markdown, HEADING};
        // A range has no version of its own to compare from.
        let changes: Vec<_> = group
            .changes
            .iter()
            .filter(|c| c.range().is_none())
            .collect();
        if changes.is_empty() {
            return None;
        }
        let several = changes.len() > 1;
        let budget = MAX_SECTION_CHARS / changes.len();
        let mut breaks = false;
        let mut out = if several {
            format!("{HEADING}\n\n")
        } else {
            String::new()
        };
        for c in changes {
            let part = match crate::impact::of_pin(
                self.archives.as_ref(),
                &c.pin,
                &c.from,
                group.version(),
                files,
                None,
                &self.policy,
            )
            .await
            {
                Ok(impact) => {
                    breaks |= impact.breaks_overrides();
                    markdown(&impact, budget)
                }
                Err(e) => {
                    tracing::warn!(chart = %group.chart, version = %group.version(), error = %e, "impact not analysed");
                    format!(
                        "{HEADING}\n\nNot analysed: {}\n",
                        crate::text::inline(&e, 400)
                    )
                }
            };
            if several {
                let name = format!(
                    "#### {} ({})",
                    crate::text::inline(&c.pin.name, 200),
                    crate::text::code_span(&format!("{}:{}", c.pin.file, c.pin.line))
                );
                out.push_str(&part.replacen(HEADING, &name, 1));
            } else {
                out.push_str(&part);
            }
            out.push('\n');
        }
        Some(Section {
            markdown: out,
            breaks,
        })
    }
}
