//! Label values from what the features report: each a small fixed set (or
//! a name from the configuration), so a label never grows with versions,
//! commit ids, alert names or chat text.

use crate::promote::run::Checked;
use crate::rollback::run::Outcome;
use crate::upgrade::report::{Action, Report};

/// A label value from configuration or a repository is cut here: a host
/// or a name is far shorter, and a long one must not bloat every scrape.
const MAX_LABEL_CHARS: usize = 64;

/// The `repository` label of a chart lookup: the host (and port) of a URL,
/// without credentials or path; a name as written (`@bitnami`); `file` for
/// a local path; `none` when the pin names no repository.
pub fn repository(written: Option<&str>) -> String {
    let Some(w) = written.map(str::trim).filter(|w| !w.is_empty()) else {
        return "none".to_owned();
    };
    let label = match reqwest::Url::parse(w) {
        Ok(u) if u.scheme() == "file" => "file".to_owned(),
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => u.scheme().to_owned(),
        },
        Err(_) => w.to_owned(),
    };
    label.chars().take(MAX_LABEL_CHARS).collect()
}

/// Every value of the `verb` label of chat commands: the grammar's verbs,
/// and `unknown` for anything else.
pub fn chat_verbs() -> impl Iterator<Item = &'static str> {
    crate::chat::command::VERBS
        .iter()
        .copied()
        .chain(["unknown"])
}

/// The verb of a chat command line (`/chartpilot status web prod` →
/// `status`), or `unknown`.
pub fn chat_verb(text: &str) -> &'static str {
    let mut words = text.split_whitespace();
    let first = match words.next() {
        Some("/chartpilot") => words.next(),
        other => other,
    };
    let Some(word) = first.map(str::to_lowercase) else {
        return "unknown";
    };
    crate::chat::command::VERBS
        .iter()
        .copied()
        .find(|v| *v == word)
        .unwrap_or("unknown")
}

/// Every value of the `outcome` label of chat commands.
pub const CHAT_OUTCOMES: [&str; 6] = [
    "allowed",
    "refused",
    "invalid",
    "awaiting_confirmation",
    "error",
    "other",
];

/// The chat audit line's decision as a label value.
pub fn chat_outcome(decision: &str) -> &'static str {
    match decision {
        "allowed" => "allowed",
        "refused" => "refused",
        "invalid" => "invalid",
        "awaiting confirmation" => "awaiting_confirmation",
        "error" => "error",
        _ => "other",
    }
}

/// Every value of the `action` label of pull request actions.
pub const PR_ACTIONS: [&str; 9] = [
    "opened",
    "updated",
    "unchanged",
    "closed",
    "obsolete",
    "declined",
    "would_open",
    "would_close",
    "failed",
];

pub fn pr_action(a: &Action) -> &'static str {
    match a {
        Action::Opened { .. } => "opened",
        Action::Updated { .. } => "updated",
        Action::Unchanged { .. } => "unchanged",
        Action::Closed { .. } => "closed",
        Action::Obsolete { .. } => "obsolete",
        Action::Declined { .. } => "declined",
        Action::WouldOpen { .. } => "would_open",
        Action::WouldClose { .. } => "would_close",
    }
}

/// The action labels of a pass: one per action, one `failed` per PR that
/// could not be made.
pub fn pr_actions(report: &Report) -> impl Iterator<Item = &'static str> + '_ {
    report
        .actions
        .iter()
        .map(pr_action)
        .chain(report.errors.iter().map(|_| "failed"))
}

/// Every value of the `outcome` label of promotion checks.
pub const PROMOTION_OUTCOMES: [&str; 7] = [
    "promoted",
    "already_open",
    "not_needed",
    "would_promote",
    "waiting",
    "gave_up",
    "failed",
];

/// What one promotion check came to: a PR `promoted` (opened), one
/// `already_open`, `not_needed` (every pin there is at the version),
/// `would_promote` (dry run), `waiting`, `gave_up`, or `failed` (an
/// error; the job retries).
pub fn promotion<E>(checked: &Result<Checked, E>) -> &'static str {
    match checked {
        Ok(Checked::Promoted(report)) => {
            let has = |f: fn(&Action) -> bool| report.actions.iter().any(f);
            if has(|a| matches!(a, Action::Opened { .. })) {
                "promoted"
            } else if has(|a| matches!(a, Action::WouldOpen { .. })) {
                "would_promote"
            } else if report.actions.is_empty() {
                "not_needed"
            } else {
                "already_open"
            }
        }
        Ok(Checked::Waiting { .. }) => "waiting",
        Ok(Checked::GaveUp { .. }) => "gave_up",
        Err(_) => "failed",
    }
}

/// Every (outcome, reason) pair of rollback decisions.
pub const ROLLBACK_DECISIONS: [(&str, &str); 17] = [
    ("reverted", "change_in_window"),
    ("rolled_back_in_argocd", "change_in_window"),
    ("would_revert", "change_in_window"),
    ("conflict", "revert_conflict"),
    ("noted_resolved", "alert_resolved"),
    ("skipped", "alert_resolved"),
    ("skipped", "frozen"),
    ("skipped", "no_recent_change"),
    ("skipped", "alert_before_change"),
    ("skipped", "outside_rollout_window"),
    ("skipped", "revert_of_revert"),
    ("skipped", "cooldown"),
    ("skipped", "already_reverting"),
    ("skipped", "unknown_app"),
    ("skipped", "ambiguous_environment"),
    ("skipped", "no_pin"),
    ("skipped", "other"),
];

/// A rollback decision as (outcome, reason). A skip's reason is a
/// sentence for people (`rollback::decide`); its kind is read from the
/// fixed words each kind of sentence has.
pub fn rollback(o: &Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Reverted { .. } => ("reverted", "change_in_window"),
        Outcome::RolledBackInArgoCd { .. } => ("rolled_back_in_argocd", "change_in_window"),
        Outcome::WouldRevert { .. } => ("would_revert", "change_in_window"),
        Outcome::Conflict { .. } => ("conflict", "revert_conflict"),
        Outcome::NotedResolved { .. } => ("noted_resolved", "alert_resolved"),
        Outcome::Skipped { reason, .. } => ("skipped", skip_reason(reason)),
    }
}

/// The kind of a skip sentence, checked in `decide`'s order. Sentences
/// that quote text from outside (commit subjects, freeze reasons) are told
/// apart by their fixed words before the quote.
fn skip_reason(sentence: &str) -> &'static str {
    let has = |s: &str| sentence.contains(s);
    // `prod is frozen by alice: …`: an environment name has no spaces.
    let frozen = sentence
        .split_once(" is frozen by ")
        .is_some_and(|(env, _)| !env.contains(' '));
    if sentence.starts_with("every alert about ") || has(" resolved before chartpilot acted") {
        "alert_resolved"
    } else if frozen {
        "frozen"
    } else if sentence.starts_with("no change to ") && has("(policy.rollout_window) before") {
        "no_recent_change"
    } else if has(" was already firing at ") {
        "alert_before_change"
    } else if has(", longer ago than policy.rollout_window") {
        "outside_rollout_window"
    } else if has("; chartpilot never reverts a revert") {
        "revert_of_revert"
    } else if has(" was rolled back ") && sentence.ends_with(" (policy.cooldown)") {
        "cooldown"
    } else if has(" is already being reverted") {
        "already_reverting"
    } else if has(" names no app") || has(", which the repository pins under no ") {
        "unknown_app"
    } else if sentence.starts_with("the alerts name no environment") {
        "ambiguous_environment"
    } else if has(" has no pin in ") {
        "no_pin"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests;
