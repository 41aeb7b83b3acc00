//! What people read about a rollback: the revert PR, the comment on the PR
//! that introduced the change, the chat message. Alert text comes from
//! rules people wrote, but labels come from anything Prometheus scrapes:
//! it is shown in code spans and only http(s) links are linked.

use std::fmt::Write;

use super::decide::PinChange;
use crate::jobs::Alert;
use crate::text;

/// Alerts listed in a PR body; a storm is summarised after these.
const MAX_ALERTS: usize = 20;

/// A label value or alert name shown in a body is cut to this many chars.
const MAX_VALUE_CHARS: usize = 200;

/// Fingerprints kept in the body's marker (for resolved notes).
const MAX_FINGERPRINTS: usize = 100;

/// GitHub refuses bodies over 65,536 characters.
const MAX_BODY_CHARS: usize = 60_000;

fn cut(s: &str) -> String {
    text::cut(s, MAX_VALUE_CHARS).into_owned()
}

/// What a revert is about, for every text about it.
pub struct Revert<'a> {
    pub app: &'a str,
    pub env: Option<&'a str>,
    pub change: &'a PinChange,
    pub reason: &'a str,
    pub alerts: &'a [&'a Alert],
}

/// `Revert "<subject>"`, git's own title for a revert.
pub fn title(change: &PinChange) -> String {
    format!("Revert \"{}\"", change.subject)
}

/// The commit message: git's revert form, so people and tools (and
/// chartpilot itself) recognise it as a revert.
pub fn commit_message(r: &Revert<'_>) -> String {
    format!(
        "{}\n\nThis reverts commit {}.\n\n{}\n",
        title(r.change),
        r.change.sha,
        r.reason
    )
}

fn where_(r: &Revert<'_>) -> String {
    match r.env {
        Some(env) => format!("**{}** in **{env}**", r.app),
        None => format!("**{}**", r.app),
    }
}

/// The revert PR's body: what is reverted and why, the alerts, and a
/// marker (app, environment, commit, fingerprints) chartpilot reads back.
pub fn pr_body(r: &Revert<'_>) -> String {
    let c = r.change;
    let mut b = String::new();
    let _ = writeln!(
        b,
        "Reverts {} ({}), which moved {} from {} to {}.\n",
        c.sha,
        text::code_span(&c.subject),
        where_(r),
        text::code_span(&c.from),
        text::code_span(&c.to)
    );
    let _ = writeln!(b, "**Why:** {}\n", text::code_span(r.reason));
    if !r.alerts.is_empty() {
        let _ = writeln!(b, "### Alerts\n");
        let _ = writeln!(b, "| Alert | Started | Labels | Links |");
        let _ = writeln!(b, "| --- | --- | --- | --- |");
        for a in r.alerts.iter().take(MAX_ALERTS) {
            let name = a.labels.get("alertname").map(String::as_str).unwrap_or("?");
            let labels: Vec<String> = a
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname")
                .map(|(k, v)| text::code_span(&cut(&format!("{k}={v}")).replace('|', "¦")))
                .collect();
            let mut links = Vec::new();
            if let Some(u) = text::link(&a.generator_url) {
                links.push(format!("[source]({u})"));
            }
            if let Some(u) = a.annotations.get("runbook_url").and_then(|u| text::link(u)) {
                links.push(format!("[runbook]({u})"));
            }
            let _ = writeln!(
                b,
                "| {} | {} | {} | {} |",
                text::code_span(&cut(name).replace('|', "¦")),
                a.starts_at.format("%Y-%m-%d %H:%M:%S UTC"),
                labels.join(" "),
                links.join(" · ")
            );
        }
        if r.alerts.len() > MAX_ALERTS {
            let _ = writeln!(b, "\n…and {} more alerts.", r.alerts.len() - MAX_ALERTS);
        }
    }
    let _ = writeln!(
        b,
        "\n---\nOpened by chartpilot. Merge to roll back through GitOps; close to keep the change. chartpilot opens no second revert of this commit."
    );
    let fingerprints: Vec<&str> = r
        .alerts
        .iter()
        .take(MAX_FINGERPRINTS)
        .map(|a| a.fingerprint.as_ref())
        .collect();
    let marker = format!(
        "\n<!-- chartpilot:rollback commit={} alerts={} -->\n",
        c.sha,
        fingerprints.join(",")
    );
    if b.len() + marker.len() > MAX_BODY_CHARS {
        let mut end = MAX_BODY_CHARS.saturating_sub(marker.len() + 40);
        while !b.is_char_boundary(end) {
            end -= 1;
        }
        b.truncate(end);
        b.push_str("\n\n…(cut: too many alerts to list)\n");
    }
    b.push_str(&marker);
    b
}

/// Whether a revert PR's body names the alert with `fingerprint`.
pub fn names_alert(body: &str, fingerprint: &str) -> bool {
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("<!-- chartpilot:rollback "))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("alerts=")))
        .any(|list| list.split(',').any(|f| f == fingerprint))
}

/// The comment on the PR that introduced the change.
pub fn origin_comment(r: &Revert<'_>, revert: &str) -> String {
    if r.alerts.is_empty() {
        return format!(
            "chartpilot is rolling this change back: {revert}.\n\n{}",
            text::code_span(r.reason)
        );
    }
    let first = r
        .alerts
        .first()
        .and_then(|a| a.labels.get("alertname"))
        .map(String::as_str)
        .unwrap_or("an alert");
    format!(
        "chartpilot is rolling this change back: {revert}.\n\n{} fired for {} after {} landed. {}",
        text::code_span(first),
        where_(r),
        text::code_span(r.change.sha.short()),
        text::code_span(r.reason)
    )
}

/// The chat message, plain text (escape it for Slack).
pub fn chat_message(r: &Revert<'_>, revert: &str) -> String {
    format!(
        "chartpilot rollback: {}{} goes back from {} to {} ({}). {}",
        r.app,
        r.env.map(|e| format!(" in {e}")).unwrap_or_default(),
        r.change.to,
        r.change.from,
        revert,
        r.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inert_http_links_and_slack_text_cannot_ping() {
        assert_eq!(
            text::link("https://runbooks.example.org/a?b=c"),
            Some("https://runbooks.example.org/a?b=c")
        );
        assert_eq!(
            text::link("https://x/|@acme/security|https://evil.example"),
            None
        );
        assert_eq!(text::link("javascript:alert(1)"), None);
        assert_eq!(text::link("https://x/[y](z)"), None);
        assert_eq!(
            crate::text::slack("PodinfoDown <!channel> & <https://evil|click>"),
            "PodinfoDown &lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
        let long = "x".repeat(500);
        assert_eq!(cut(&long).chars().count(), MAX_VALUE_CHARS + 1);
    }
}
