//! `repositories.discover`: the repositories of the GitHub App's
//! installations that hold pins, each served with the top-level settings.
//!
//! A round lists the installations' repositories (conditional requests:
//! an unchanged organisation costs 304s), leaves out archived, disabled and
//! excluded ones, and reads each candidate's base branch through its own
//! upgrader (the same cached base read an upgrade pass makes, so the first
//! pass after it reads nothing new). A repository with pins is served; one
//! without is remembered with its client, so the next round asks again
//! conditionally. A repository that cannot be read keeps its place when it
//! was served (one failed read does not drop it), and waits for the next
//! round when it was not.

use std::sync::Arc;

use crate::clock::Clock;
use crate::git::github::{Installations, InstalledRepository};
use crate::git::GitError;
use crate::settings::Settings;

/// What the next round decides for one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Listed, but not for chartpilot (read-only, excluded, no pins).
    Leave,
    /// Its read failed: as it was.
    Keep,
}

/// Whether a repository is served after a round: `served` before, and
/// the pin check's answer (`None`: the read failed).
pub fn decide(served: bool, holds_pins: Option<bool>) -> Verdict {
    match holds_pins {
        Some(true) => Verdict::Serve,
        Some(false) => Verdict::Leave,
        None if served => Verdict::Keep,
        None => Verdict::Leave,
    }
}

pub struct Discoverer {
    installations: Installations,
    template: Settings,
    exclude: globset::GlobSet,
}

impl Discoverer {
    pub fn from_settings(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, GitError> {
        let mut exclude = globset::GlobSetBuilder::new();
        if let Some(d) = &settings.repositories.discovery {
            for pattern in &d.exclude {
                let glob = globset::GlobBuilder::new(pattern.trim())
                    .case_insensitive(true)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| GitError::Refused(format!("repositories.exclude: {e}")))?;
                exclude.add(glob);
            }
        }
        Ok(Self {
            installations: Installations::from_settings(&settings.github, clock)?,
            template: settings.clone(),
            exclude: exclude
                .build()
                .map_err(|e| GitError::Refused(format!("repositories.exclude: {e}")))?,
        })
    }

    pub fn attach_metrics(&self, metrics: &Arc<crate::metrics::Metrics>) {
        self.installations.attach_metrics(metrics);
    }

    /// The repositories worth a pin check, each with its settings, and how
    /// many were left out before it (read-only or excluded).
    pub async fn candidates(&self) -> Result<(Vec<Settings>, usize), GitError> {
        let listed = self.installations.repositories().await?;
        let mut out = Vec::new();
        let mut left_out = 0;
        for r in listed {
            if !self.wanted(&r) {
                left_out += 1;
                continue;
            }
            match self.template.discovered(&r.full_name, &r.default_branch) {
                Ok(s) => out.push(s),
                Err(e) => {
                    left_out += 1;
                    tracing::warn!(repository = %r.full_name, error = %e, "discovered repository not served");
                }
            }
        }
        Ok((out, left_out))
    }

    fn wanted(&self, r: &InstalledRepository) -> bool {
        !r.read_only && !self.exclude.is_match(&r.full_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_read_keeps_what_was_served_and_adds_nothing() {
        let cases = [
            (false, Some(true), Verdict::Serve),
            (true, Some(true), Verdict::Serve),
            (true, Some(false), Verdict::Leave),
            (false, Some(false), Verdict::Leave),
            (true, None, Verdict::Keep),
            (false, None, Verdict::Leave),
        ];
        for (served, pins, want) in cases {
            assert_eq!(decide(served, pins), want, "served {served}, pins {pins:?}");
        }
    }
}
