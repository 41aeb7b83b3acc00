//! What a host publishes for the `chartpilot` pull request check, and what
//! it reads to run it: below the `checks` feature, so every host speaks
//! one vocabulary.

use crate::domain::CommitSha;

use super::ChangedPath;

/// The check's name on GitHub (Check Run name, commit status context).
pub const CHECK_NAME: &str = "chartpilot";

/// What a pull request changed: the commit its branch left the base at,
/// and the files it changed since then (its own diff, whatever the base
/// did meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullChanges {
    pub merge_base: CommitSha,
    pub paths: Vec<ChangedPath>,
    /// The unified diff (hunks only, as GitHub's comparison gives them)
    /// of an added, modified or removed path, when the host sent one: what
    /// lets the check rebuild the merge base's files from the head's
    /// without a second snapshot. Empty on hosts whose reads cost nothing.
    pub patches: std::collections::BTreeMap<String, String>,
}

/// GitHub's conclusions that the check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conclusion {
    Success,
    Neutral,
    Failure,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Neutral => "neutral",
            Conclusion::Failure => "failure",
        }
    }
}

/// An annotation's weight, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

impl AnnotationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Notice => "notice",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Failure => "failure",
        }
    }
}

/// One finding at `path:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub level: AnnotationLevel,
    /// The rule's id, GitHub's annotation title.
    pub title: String,
    pub message: String,
}

/// The result of the check on one pull request's head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub pull: u64,
    pub head_sha: CommitSha,
    pub conclusion: Conclusion,
    /// One line: what the check concluded.
    pub title: String,
    /// Markdown, already bounded.
    pub summary: String,
    pub annotations: Vec<Annotation>,
}
