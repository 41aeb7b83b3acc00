//! What a pass did, for the CLI, the logs and JSON output.

use serde::Serialize;

use super::plan::Skip;

/// What a pass did (or, in a dry run, would do) for one pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    Opened {
        number: u64,
        branch: String,
        title: String,
        url: Option<String>,
    },
    Updated {
        number: u64,
        branch: String,
        title: String,
    },
    Unchanged {
        number: u64,
        branch: String,
    },
    Closed {
        number: u64,
        branch: String,
        successor: u64,
    },
    WouldOpen {
        branch: String,
        title: String,
    },
    WouldClose {
        number: u64,
        branch: String,
        /// `superseded` or `no longer needed: …`.
        why: String,
    },
    /// No longer needed: the pins already read its version or newer.
    Obsolete {
        number: u64,
        branch: String,
        reason: String,
    },
    /// This version's PR was closed before (declined, or merged and since
    /// rolled back): it is not proposed again.
    Declined {
        number: u64,
        branch: String,
    },
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub base: Option<String>,
    pub actions: Vec<Action>,
    pub skipped: Vec<SkipOut>,
    /// Newer releases the policy kept back (update type, ignore range,
    /// minimum age…), with the reason.
    pub held_back: Vec<SkipOut>,
    /// Pins whose version the index deprecates or no longer lists, and
    /// ranges nothing allowed satisfies: worth a person's look.
    pub notes: Vec<SkipOut>,
    /// Pull requests that failed, `branch: reason`; the others went on.
    pub errors: Vec<String>,
    /// Repositories that could not be read; their charts were left alone.
    pub lookup_errors: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkipOut {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub reason: String,
}

impl From<Skip> for SkipOut {
    fn from(s: Skip) -> Self {
        Self {
            file: s.file,
            line: s.line,
            name: s.name,
            reason: s.reason,
        }
    }
}
