//! The check's conclusion and its text, from the findings: pure.

use super::rules::Finding;
use crate::domain::CommitSha;
use crate::git::check::{Annotation, AnnotationLevel, CheckReport, Conclusion};

/// GitHub's limit on a Check Run summary and a comment is 65,535
/// characters; the rest is left for the title and the marker.
pub const MAX_SUMMARY_CHARS: usize = 60_000;

/// One finding's message in the summary; the annotation keeps it whole.
const MAX_MESSAGE_CHARS: usize = 1_000;

/// `failure` when a finding's rule is an error, `neutral` for warnings
/// only, `success` otherwise (notes never count).
pub fn conclusion(findings: &[Finding]) -> Conclusion {
    let worst = findings.iter().map(|f| f.level).max();
    match worst {
        Some(AnnotationLevel::Failure) => Conclusion::Failure,
        Some(AnnotationLevel::Warning) => Conclusion::Neutral,
        _ => Conclusion::Success,
    }
}

fn count(findings: &[Finding], level: AnnotationLevel) -> usize {
    findings.iter().filter(|f| f.level == level).count()
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The report for `pull` at `head_sha`: `changed` pins judged, findings
/// sorted by file and line.
pub fn build(
    pull: u64,
    head_sha: &CommitSha,
    changed: usize,
    mut findings: Vec<Finding>,
) -> CheckReport {
    findings.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    let conclusion = conclusion(&findings);
    let pins = plural(changed, "changed pin");
    let title = match (
        count(&findings, AnnotationLevel::Failure),
        count(&findings, AnnotationLevel::Warning),
    ) {
        (0, 0) => format!("{pins}: no problems"),
        (e, 0) => format!("{pins}: {}", plural(e, "error")),
        (0, w) => format!("{pins}: {}", plural(w, "warning")),
        (e, w) => format!("{pins}: {}, {}", plural(e, "error"), plural(w, "warning")),
    };
    let mut summary = String::new();
    let mut left = 0;
    for f in &findings {
        let line = format!(
            "- **{}** `{}` at {}: {}\n",
            f.level.as_str(),
            f.rule.id(),
            crate::text::code_span(&format!("{}:{}", f.file, f.line)),
            crate::text::inline(&f.message, MAX_MESSAGE_CHARS)
        );
        if summary.chars().count() + line.chars().count() > MAX_SUMMARY_CHARS {
            left += 1;
        } else {
            summary.push_str(&line);
        }
    }
    if left > 0 {
        summary.push_str(&format!("- … and {left} more\n"));
    }
    if summary.is_empty() {
        summary = "Every changed pin is exact, from an allowed repository, and promoted in order."
            .to_owned();
    }
    CheckReport {
        pull,
        head_sha: head_sha.clone(),
        conclusion,
        title,
        summary,
        annotations: findings
            .into_iter()
            .map(|f| Annotation {
                path: f.file,
                line: f.line,
                level: f.level,
                title: f.rule.id().to_owned(),
                message: f.message,
            })
            .collect(),
    }
}
