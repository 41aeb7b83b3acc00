//! Whether a version that merged in environment N may go to N+1 now: a
//! pure function from (Argo CD state, firing alerts, times, freeze,
//! policy) to Promote, Wait with the reason, or GiveUp with the reason.
//! Every reason is a sentence a person reads in a PR comment.

use chrono::{DateTime, Utc};

use super::freeze::Freeze;
use crate::charts::version::Version;
use crate::cluster::AppStatus;

/// One environment-N app as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppView {
    pub status: AppStatus,
    /// Whether the revision Argo CD deployed contains the merge commit
    /// (the same commit, or one after it on the branch).
    pub has_merge: bool,
}

/// A firing alert for one of the apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    pub name: String,
    pub app: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateInput<'a> {
    pub chart: &'a str,
    pub from_env: &'a str,
    pub to_env: &'a str,
    /// The version that merged.
    pub version: &'a str,
    /// Short form of the merge commit, for messages.
    pub merge: &'a str,
    /// The chart's versions in `from_env` on the branch now: a revert or a
    /// newer merge since means this version is not the one to carry on.
    pub pinned: &'a [String],
    /// Whether the chart reaches `from_env` through Argo CD (false for
    /// Terraform `helm_release` pins, which have no Application to check).
    pub expect_apps: bool,
    pub apps: &'a [AppView],
    /// Apps the repository pins that Argo CD does not know (yet).
    pub missing: &'a [String],
    pub alerts: &'a [FiringAlert],
    /// What could not be read this time (Argo CD or Alertmanager down):
    /// no promotion on half the facts.
    pub unavailable: Option<&'a str>,
    /// Why the facts can never be had (`argocd.mode = "none"` for a chart
    /// Argo CD deploys): give up at once rather than wait for nothing.
    pub impossible: Option<&'a str>,
    pub freeze: Option<&'a Freeze>,
    pub merged_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// `policy.soak`.
    pub soak: std::time::Duration,
    /// After this, waiting turns into giving up.
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Promote,
    /// `until`: when waiting is all that is left (the soak), the moment it
    /// ends; otherwise check again after the usual backoff.
    Wait {
        reason: String,
        until: Option<DateTime<Utc>>,
    },
    GiveUp {
        reason: String,
    },
}

/// Health states a rollout can still leave on its own.
fn may_recover(health: &str) -> bool {
    matches!(health, "Progressing" | "Unknown" | "Missing" | "Suspended")
}

/// The gate. Checks run in the order a person would: is the next
/// environment open, did the merge reach every app, is it synced, healthy,
/// quiet, and has it soaked.
pub fn decide(input: &GateInput<'_>) -> Gate {
    match waiting_reason(input) {
        Ok(()) => Gate::Promote,
        Err(Stop::GiveUp(reason)) => Gate::GiveUp { reason },
        Err(Stop::Wait(reason) | Stop::Soak(reason, _)) if input.now >= input.deadline => {
            Gate::GiveUp {
                reason: format!("gave up waiting: {reason}"),
            }
        }
        Err(Stop::Wait(reason)) => Gate::Wait {
            reason,
            until: None,
        },
        Err(Stop::Soak(reason, until)) => Gate::Wait {
            reason,
            until: Some(until),
        },
    }
}

enum Stop {
    Wait(String),
    /// Only time is missing, until then.
    Soak(String, DateTime<Utc>),
    GiveUp(String),
}

fn waiting_reason(i: &GateInput<'_>) -> Result<(), Stop> {
    if let Some(why) = i.impossible {
        return Err(Stop::GiveUp(why.to_owned()));
    }
    if i.pinned.is_empty() {
        return Err(Stop::GiveUp(format!(
            "{} no longer pins {}",
            i.from_env, i.chart
        )));
    }
    // Pins of one chart may lag on purpose (a narrower policy for one of
    // them); what counts is that the version is there and nothing newer.
    let version = Version::parse(i.version);
    if let Some(newer) = i.pinned.iter().find(|v| Version::parse(v) > version) {
        return Err(Stop::GiveUp(format!(
            "{} now pins {} at {newer}, past {}; the newer version is promoted on its own",
            i.from_env, i.chart, i.version
        )));
    }
    if !i.pinned.iter().any(|v| Version::parse(v) == version) {
        return Err(Stop::GiveUp(format!(
            "{} no longer pins {} at {} (now {}): reverted since the merge {}",
            i.from_env,
            i.chart,
            i.version,
            i.pinned.join(", "),
            i.merge
        )));
    }
    if let Some(f) = i.freeze {
        return Err(Stop::Wait(f.describe(i.to_env)));
    }
    if let Some(what) = i.unavailable {
        return Err(Stop::Wait(what.to_owned()));
    }
    if let Some(name) = i.missing.first() {
        return Err(Stop::Wait(format!("Argo CD has no application {name} yet")));
    }
    if i.apps.is_empty() && i.expect_apps {
        return Err(Stop::Wait(format!(
            "Argo CD has no application of {} in {} yet",
            i.chart, i.from_env
        )));
    }
    for app in i.apps {
        let s = &app.status;
        // The last operation's result: it counts only when it ran after the
        // merge (a failed sync of the old version is no verdict on this one).
        let failed_since_merge = matches!(s.operation_phase.as_deref(), Some("Failed" | "Error"))
            && s.operation_finished_at.is_none_or(|t| t >= i.merged_at);
        if failed_since_merge && app.has_merge {
            return Err(Stop::GiveUp(format!(
                "the sync of {} failed ({})",
                s.name,
                s.operation_phase.as_deref().unwrap_or("")
            )));
        }
        if !app.has_merge {
            return Err(Stop::Wait(format!(
                "{} runs {}, which does not contain the merge {} yet",
                s.name,
                s.revision.as_deref().map(short).unwrap_or("no revision"),
                i.merge
            )));
        }
        if s.sync != "Synced" {
            return Err(Stop::Wait(format!(
                "{} is {}",
                s.name,
                if s.sync.is_empty() {
                    "not synced"
                } else {
                    &s.sync
                }
            )));
        }
        if s.health != "Healthy" {
            let reason = format!("{} is {}", s.name, s.health);
            return Err(if may_recover(&s.health) {
                Stop::Wait(reason)
            } else {
                // Degraded after the merge: a rollback's business, and no
                // reason to carry the version further.
                Stop::GiveUp(reason)
            });
        }
    }
    if let Some(a) = i.alerts.first() {
        let more = i.alerts.len() - 1;
        return Err(Stop::Wait(format!(
            "alert {} is firing for {}{}",
            a.name,
            a.app,
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        )));
    }
    let soaked = (i.now - i.merged_at).to_std().unwrap_or_default();
    if soaked < i.soak {
        let until = chrono::Duration::from_std(i.soak)
            .ok()
            .and_then(|d| i.merged_at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        return Err(Stop::Soak(
            format!(
                "soaking in {}: {} of {}",
                i.from_env,
                humantime::format_duration(round_secs(soaked)),
                humantime::format_duration(i.soak)
            ),
            until,
        ));
    }
    Ok(())
}

fn short(rev: &str) -> &str {
    rev.get(..12).unwrap_or(rev)
}

fn round_secs(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests;
