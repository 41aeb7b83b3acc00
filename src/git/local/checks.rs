//! The `chartpilot` check on the local host: one line per finding and a
//! summary line, appended to the pull log under its lock. Readers of pull
//! requests skip these lines (they carry `check`), so one log tells a
//! person everything that happened to a pull request.

use serde::{Deserialize, Serialize};

use super::pulls::Locked;
use crate::git::{CheckReport, GitError};

/// A line of the check in the pull log: a finding (`level`, `file`, `line`)
/// or the summary (`conclusion`), both naming the head commit checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CheckLine {
    pub number: u64,
    /// Always `chartpilot`: what tells these lines from pull requests.
    pub check: String,
    pub sha: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl CheckLine {
    /// The lines of `report`: each finding, then the summary.
    fn of(report: &CheckReport) -> Vec<CheckLine> {
        let line = |message: String| CheckLine {
            number: report.pull,
            check: crate::git::check::CHECK_NAME.to_owned(),
            sha: report.head_sha.to_string(),
            conclusion: None,
            level: None,
            rule: None,
            file: None,
            line: None,
            message,
        };
        let mut lines: Vec<CheckLine> = report
            .annotations
            .iter()
            .map(|a| CheckLine {
                level: Some(a.level.as_str().to_owned()),
                rule: Some(a.title.clone()),
                file: Some(a.path.clone()),
                line: Some(a.line),
                ..line(a.message.clone())
            })
            .collect();
        lines.push(CheckLine {
            conclusion: Some(report.conclusion.as_str().to_owned()),
            ..line(report.title.clone())
        });
        lines
    }

    /// Whether this line closes a check (its summary).
    pub(super) fn is_summary(&self) -> bool {
        self.conclusion.is_some()
    }
}

/// Appends the check's lines unless a summary for the same pull request
/// and head is there already: a redelivered job says its piece once.
pub(super) fn append(log: &mut Locked<'_>, report: &CheckReport) -> Result<bool, GitError> {
    if log.checked(report.pull, report.head_sha.as_ref()) {
        return Ok(false);
    }
    for line in CheckLine::of(report) {
        log.append_check(&line)?;
    }
    Ok(true)
}
