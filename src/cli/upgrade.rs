//! What `chartpilot upgrade` prints: one line per pull request it opened,
//! updated, closed or left alone, then the pins it skipped and why.

use std::fmt::Write;

use crate::upgrade::run::{Action, Report};

fn line(out: &mut String, what: &str, number: Option<u64>, branch: &str, rest: &str) {
    let number = number.map(|n| format!("#{n}")).unwrap_or_default();
    let text = format!("{what:<10} {number:<6} {branch}  {rest}");
    let _ = writeln!(out, "{}", text.trim_end());
}

/// The report as text for people and cron logs.
pub fn render(report: &Report, dry_run: bool) -> String {
    let mut out = String::new();
    let (mut opened, mut updated, mut closed, mut unchanged) = (0, 0, 0, 0);
    for a in &report.actions {
        match a {
            Action::Opened {
                number,
                branch,
                title,
                url,
            } => {
                opened += 1;
                let url = url.as_deref().unwrap_or("");
                line(
                    &mut out,
                    "opened",
                    Some(*number),
                    branch,
                    &format!("{title}  {url}"),
                );
            }
            Action::Updated {
                number,
                branch,
                title,
            } => {
                updated += 1;
                let what = if dry_run { "would update" } else { "updated" };
                line(&mut out, what, Some(*number), branch, title);
            }
            Action::Unchanged { number, branch } => {
                unchanged += 1;
                line(&mut out, "unchanged", Some(*number), branch, "");
            }
            Action::Closed {
                number,
                branch,
                successor,
            } => {
                closed += 1;
                line(
                    &mut out,
                    "closed",
                    Some(*number),
                    branch,
                    &format!("superseded by #{successor}"),
                );
            }
            Action::WouldOpen { branch, title } => {
                opened += 1;
                line(&mut out, "would open", None, branch, title);
            }
            Action::WouldClose {
                number,
                branch,
                why,
            } => {
                closed += 1;
                line(&mut out, "would close", Some(*number), branch, why);
            }
            Action::Obsolete {
                number,
                branch,
                reason,
            } => {
                closed += 1;
                line(
                    &mut out,
                    "closed",
                    Some(*number),
                    branch,
                    &format!("no longer needed: {reason}"),
                );
            }
            Action::Declined { number, branch } => line(
                &mut out,
                "declined",
                Some(*number),
                branch,
                "closed before (declined, or merged and rolled back); not proposed again",
            ),
        }
    }
    for s in &report.skipped {
        let _ = writeln!(
            out,
            "skipped    {}:{} {}: {}",
            s.file, s.line, s.name, s.reason
        );
    }
    for h in &report.held_back {
        let _ = writeln!(
            out,
            "held back  {}:{} {}: {}",
            h.file, h.line, h.name, h.reason
        );
    }
    for n in &report.notes {
        let _ = writeln!(
            out,
            "note       {}:{} {}: {}",
            n.file, n.line, n.name, n.reason
        );
    }
    for e in &report.errors {
        let _ = writeln!(out, "failed     {e}");
    }
    for e in &report.lookup_errors {
        let _ = writeln!(out, "lookup failed  {e}");
    }
    let verb = if dry_run { "would be " } else { "" };
    let _ = writeln!(
        out,
        "{opened} {verb}opened, {updated} {verb}updated, {closed} {verb}closed, {unchanged} unchanged"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_gets_a_line_and_the_summary_counts_them() {
        let report = Report {
            actions: vec![
                Action::Opened {
                    number: 3,
                    branch: "chartpilot/upgrade/dev/a-1.1.0".into(),
                    title: "chore(deps): upgrade a to 1.1.0 in dev".into(),
                    url: None,
                },
                Action::Closed {
                    number: 1,
                    branch: "chartpilot/upgrade/dev/a-1.0.1".into(),
                    successor: 3,
                },
                Action::Unchanged {
                    number: 2,
                    branch: "chartpilot/upgrade/any/b-2.0.0".into(),
                },
            ],
            lookup_errors: vec!["c from https://x: 404".into()],
            notes: vec![crate::upgrade::run::SkipOut {
                file: "environments/dev/d.yaml".into(),
                line: 9,
                name: "d".into(),
                reason: "1.2.3 is deprecated in the index".into(),
            }],
            ..Report::default()
        };
        let text = render(&report, false);
        assert_eq!(
            text,
            "opened     #3     chartpilot/upgrade/dev/a-1.1.0  chore(deps): upgrade a to 1.1.0 in dev\n\
             closed     #1     chartpilot/upgrade/dev/a-1.0.1  superseded by #3\n\
             unchanged  #2     chartpilot/upgrade/any/b-2.0.0\n\
             note       environments/dev/d.yaml:9 d: 1.2.3 is deprecated in the index\n\
             lookup failed  c from https://x: 404\n\
             1 opened, 0 updated, 1 closed, 1 unchanged\n"
        );
    }
}
