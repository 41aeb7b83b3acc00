//! Whether an alert about one app means "revert the change that broke
//! it": a pure function over the alerts, the app's recent pin changes as
//! git shows them, chartpilot's own earlier work, freezes and policy.
//! Every reason is a sentence for the log, the PR body or a chat reply.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::CommitSha;
use crate::promote::freeze::Freeze;

/// One commit on the branch (a first-parent step) that moved the app's pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub sha: CommitSha,
    /// The first line of its message.
    pub subject: String,
    /// When it reached the branch (the step's committer date).
    pub landed_at: DateTime<Utc>,
    /// The pin's version before and after.
    pub from: String,
    pub to: String,
    /// A revert itself, by chartpilot or a person (`Revert "…"`, `This
    /// reverts commit …`).
    pub is_revert: bool,
}

/// One alert about the app, as the notification carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub firing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput<'a> {
    pub app: &'a str,
    /// The environment, when the alert or the app's pins name one.
    pub env: Option<&'a str>,
    /// Every alert of the notification about this app.
    pub alerts: &'a [AlertView],
    /// Changes to the app's pin, newest first, back to the rollout window
    /// before the earliest firing alert started.
    pub changes: &'a [PinChange],
    /// chartpilot's revert of the newest change, when one exists (`revert
    /// PR #12`, `branch chartpilot/revert/…`).
    pub existing: Option<&'a str>,
    /// Whether Alertmanager still reports a firing alert now (None when
    /// its API is not configured).
    pub still_firing: Option<bool>,
    pub freeze: Option<&'a Freeze>,
    pub now: DateTime<Utc>,
    pub rollout_window: Duration,
    pub cooldown: Duration,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Revert {
        commit: CommitSha,
        reason: String,
    },
    /// `policy.dry_run`: what would have happened.
    WouldRevert {
        commit: CommitSha,
        reason: String,
    },
    Skip {
        reason: String,
    },
}

fn skip(reason: String) -> Decision {
    Decision::Skip { reason }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let d = (to - from).to_std().unwrap_or_default();
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// `t - d`, the earliest time there is when `d` reaches past it.
pub fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The decision. Checks run from "is there anything to act on" to "may
/// chartpilot act now", so the reason given is the first that holds.
pub fn decide(i: &DecisionInput<'_>) -> Decision {
    let app = i.app;
    let firing: Vec<&AlertView> = i.alerts.iter().filter(|a| a.firing).collect();
    let Some(first) = firing.iter().min_by_key(|a| a.starts_at) else {
        return skip(format!(
            "every alert about {app} in this notification is resolved"
        ));
    };
    if i.still_firing == Some(false) {
        return skip(format!(
            "{} resolved before chartpilot acted: Alertmanager no longer reports it firing",
            first.name
        ));
    }
    if let Some(f) = i.freeze {
        return skip(f.describe(i.env.unwrap_or("the environment")));
    }
    let window = humantime::format_duration(i.rollout_window);
    let Some(newest) = i.changes.first() else {
        return skip(format!(
            "no change to {app}'s pin reached the branch in the {window} (policy.rollout_window) before {} started",
            first.name
        ));
    };
    // Only alerts that started after the change can have been caused by
    // it; one that was firing before (flapping, or broken by something
    // else) says nothing about this change.
    let caused: Vec<&AlertView> = firing
        .iter()
        .copied()
        .filter(|a| a.starts_at >= newest.landed_at)
        .collect();
    let Some(first) = caused.iter().min_by_key(|a| a.starts_at).copied() else {
        return skip(format!(
            "{} was already firing at {}, before {} landed at {}: that change did not cause it",
            first.name,
            when(first.starts_at),
            newest.sha.short(),
            when(newest.landed_at)
        ));
    };
    let window_start = before(first.starts_at, i.rollout_window);
    if newest.landed_at < window_start {
        return skip(format!(
            "{} landed {} before {} started, longer ago than policy.rollout_window ({window})",
            newest.sha.short(),
            span(newest.landed_at, first.starts_at),
            first.name
        ));
    }
    if newest.is_revert {
        return skip(format!(
            "the newest change to {app}'s pin, {} (\"{}\"), is itself a revert; chartpilot never reverts a revert",
            newest.sha.short(),
            newest.subject
        ));
    }
    let cooldown_start = before(i.now, i.cooldown);
    if let Some(r) = i
        .changes
        .iter()
        .find(|c| c.is_revert && c.landed_at >= cooldown_start)
    {
        return skip(format!(
            "{app} was rolled back {} ago by {}; one rollback per {} (policy.cooldown)",
            span(r.landed_at, i.now),
            r.sha.short(),
            humantime::format_duration(i.cooldown)
        ));
    }
    if let Some(existing) = i.existing {
        return skip(format!(
            "{} is already being reverted: {existing}",
            newest.sha.short()
        ));
    }
    let others = caused.len() - 1;
    let reason = format!(
        "{} (\"{}\") moved {app}{} from {} to {} at {}; {} started firing {} later{}",
        newest.sha.short(),
        newest.subject,
        i.env.map(|e| format!(" in {e}")).unwrap_or_default(),
        newest.from,
        newest.to,
        when(newest.landed_at),
        first.name,
        span(newest.landed_at, first.starts_at),
        if others > 0 {
            format!(
                " (and {others} more alert{})",
                if others == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    if i.dry_run {
        Decision::WouldRevert {
            commit: newest.sha.clone(),
            reason,
        }
    } else {
        Decision::Revert {
            commit: newest.sha.clone(),
            reason,
        }
    }
}

/// Whether a commit message is a revert's: git's (`Revert "…"`, `This
/// reverts commit …`), a squash of a revert PR (`Revert "…" (#12)`), or
/// the merge commit of a revert PR, whose body holds the PR's title and
/// whose subject names its branch (chartpilot's `chartpilot/revert/…`,
/// GitHub's revert button's `revert-12-…`).
pub fn is_revert_message(message: &str) -> bool {
    let subject = message.lines().next().unwrap_or("");
    let merged_branch = subject
        .strip_prefix("Merge pull request #")
        .and_then(|rest| rest.split_once(" from "))
        .and_then(|(_, from)| from.split_once('/'))
        .map(|(_, branch)| branch);
    message
        .lines()
        .any(|l| l.trim_start().starts_with("Revert \""))
        || message.contains("This reverts commit ")
        || merged_branch.is_some_and(|b| {
            b.starts_with("chartpilot/revert/")
                || b.strip_prefix("revert-")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests;
