//! Which published version to propose for a pin: the effective policy of a
//! chart and a pure selection over its releases.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::version::{update_type, Version};
use super::Release;
use crate::settings::{PolicySettings, UpdateType};

/// `[policy]` with the `[[policy.charts]]` entries for one chart applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    /// Sorted and without duplicates, so explanations read the same however
    /// the config lists them.
    pub update_types: Vec<UpdateType>,
    /// Ranges from `ignore`, kept with their spelling for explanations.
    pub ignore: Vec<(String, semver::VersionReq)>,
    pub min_release_age: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{key}: `{range}` is not a version range: {reason}")]
pub struct PolicyError {
    pub key: String,
    pub range: String,
    pub reason: String,
}

impl EffectivePolicy {
    /// The global policy overridden by every `[[policy.charts]]` entry naming
    /// `chart`, in file order: a later entry wins field by field, and an
    /// entry's `ignore` replaces the global list rather than adding to it.
    pub fn for_chart(policy: &PolicySettings, chart: &str) -> Result<EffectivePolicy, PolicyError> {
        let (mut types, mut ignore, mut ignore_key) = (
            &policy.update_types,
            &policy.ignore,
            "policy.ignore".to_owned(),
        );
        let mut min_release_age = policy.min_release_age;
        for (i, over) in policy.charts.iter().enumerate() {
            if over.chart != chart {
                continue;
            }
            if let Some(t) = &over.update_types {
                types = t;
            }
            if let Some(list) = &over.ignore {
                ignore = list;
                ignore_key = format!("policy.charts[{i}].ignore");
            }
            if let Some(age) = over.min_release_age {
                min_release_age = age;
            }
        }
        let mut update_types = types.clone();
        update_types.sort();
        update_types.dedup();
        let ignore = ignore
            .iter()
            .enumerate()
            .map(|(i, range)| {
                parse_range(range)
                    .map(|req| (range.clone(), req))
                    .map_err(|reason| PolicyError {
                        key: format!("{ignore_key}[{i}]"),
                        range: range.clone(),
                        reason,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(EffectivePolicy {
            update_types,
            ignore,
            min_release_age,
        })
    }

    /// Every update type, nothing ignored, no minimum age.
    pub fn any() -> EffectivePolicy {
        EffectivePolicy {
            update_types: vec![UpdateType::Patch, UpdateType::Minor, UpdateType::Major],
            ignore: Vec::new(),
            min_release_age: Duration::ZERO,
        }
    }
}

/// A semver range as `policy.ignore` takes it; shared with settings checks.
pub fn parse_range(range: &str) -> Result<semver::VersionReq, String> {
    semver::VersionReq::parse(range.trim()).map_err(|e| e.to_string())
}

/// The outcome of [`select`] for one pin.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection<'a> {
    /// The newest release the policy allows for this pin: a newer one when
    /// there is one, otherwise the newest allowed one not above the pin
    /// (usually the pin itself), so `latest` equals the pin when it is
    /// already the newest. `None` when no release passes the filters.
    pub latest: Option<&'a Release>,
    /// Set only when `latest` is newer than the pin.
    pub update: Option<UpdateType>,
    /// The newest release above `latest` (or above the pin) that the policy
    /// held back, and why; pre-releases count only for a pre-release pin.
    pub held_back: Option<HeldBack<'a>>,
}

/// A newer release that was not chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldBack<'a> {
    pub release: &'a Release,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    UpdateType {
        update: UpdateType,
        allowed: Vec<UpdateType>,
    },
    Prerelease,
    Deprecated,
    /// The `ignore` range that matched, as written.
    Ignored(String),
    TooYoung {
        age: Duration,
        min: Duration,
    },
    /// A minimum age is set and the index has no `created` time.
    NoCreatedTime,
}

/// Picks the release to propose for a pin at `current`.
///
/// A release is allowed when it is not deprecated, not a pre-release (by
/// SemVer or `artifacthub.io/prerelease`) unless the pin is one, outside
/// every `ignore` range (a pre-release is ignored along with its release),
/// at least `min_release_age` old at `now` (without a `created` time it
/// passes only when the minimum age is zero, since its age is unknown), and,
/// when newer than the pin, of an allowed update type. Releases at or below
/// the pin are never proposed.
pub fn select<'a>(
    current: &Version,
    releases: &'a [Release],
    policy: &EffectivePolicy,
    now: DateTime<Utc>,
) -> Selection<'a> {
    let pin_is_pre = current.is_prerelease();
    let mut best: Option<(&Release, Version)> = None;
    let mut best_not_newer: Option<(&Release, Version)> = None;
    let mut blocked: Option<(&Release, Version, Reason)> = None;
    for release in releases {
        let version = Version::parse(&release.version);
        let update = update_type(current, &version);
        match check(release, &version, update, pin_is_pre, policy, now) {
            Ok(()) if update.is_some() => keep_newest(&mut best, release, version),
            Ok(()) => keep_newest(&mut best_not_newer, release, version),
            Err(reason) if update.is_some() => {
                let quiet = reason == Reason::Prerelease && !pin_is_pre;
                if !quiet && blocked.as_ref().is_none_or(|(_, v, _)| version > *v) {
                    blocked = Some((release, version, reason));
                }
            }
            Err(_) => {}
        }
    }
    let held_back = blocked
        .filter(|(_, v, _)| best.as_ref().is_none_or(|(_, b)| v > b))
        .map(|(release, _, reason)| HeldBack { release, reason });
    let update = best.as_ref().and_then(|(_, v)| update_type(current, v));
    Selection {
        latest: best.or(best_not_newer).map(|(r, _)| r),
        update,
        held_back,
    }
}

fn keep_newest<'a>(slot: &mut Option<(&'a Release, Version)>, r: &'a Release, v: Version) {
    if slot.as_ref().is_none_or(|(_, best)| v > *best) {
        *slot = Some((r, v));
    }
}

fn check(
    release: &Release,
    version: &Version,
    update: Option<UpdateType>,
    pin_is_pre: bool,
    policy: &EffectivePolicy,
    now: DateTime<Utc>,
) -> Result<(), Reason> {
    if (version.is_prerelease() || release.prerelease) && !pin_is_pre {
        return Err(Reason::Prerelease);
    }
    if release.deprecated {
        return Err(Reason::Deprecated);
    }
    if let Some(update) = update {
        if !policy.update_types.contains(&update) {
            return Err(Reason::UpdateType {
                update,
                allowed: policy.update_types.clone(),
            });
        }
    }
    if let Some(v) = version.semver() {
        let release_only = semver::Version::new(v.major, v.minor, v.patch);
        let hit = policy
            .ignore
            .iter()
            .find(|(_, req)| req.matches(v) || (!v.pre.is_empty() && req.matches(&release_only)));
        if let Some((range, _)) = hit {
            return Err(Reason::Ignored(range.clone()));
        }
    }
    if !policy.min_release_age.is_zero() {
        let created = release.created.ok_or(Reason::NoCreatedTime)?;
        // A `created` in the future counts as age zero: not old enough.
        let age = (now - created).to_std().unwrap_or(Duration::ZERO);
        if age < policy.min_release_age {
            return Err(Reason::TooYoung {
                age,
                min: policy.min_release_age,
            });
        }
    }
    Ok(())
}

impl fmt::Display for HeldBack<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.release.version)?;
        match &self.reason {
            Reason::UpdateType { update, allowed } => {
                write!(f, "is a {} update; policy allows ", update.as_str())?;
                if allowed.is_empty() {
                    return f.write_str("no updates");
                }
                let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
                f.write_str(&names.join(", "))
            }
            Reason::Prerelease => f.write_str("is a pre-release"),
            Reason::Deprecated => f.write_str("is deprecated"),
            Reason::Ignored(range) => write!(f, "is ignored by policy (`{range}`)"),
            Reason::TooYoung { age, min } => write!(
                f,
                "is {} old; policy waits {}",
                humantime::format_duration(round_to_minutes(*age)),
                humantime::format_duration(*min)
            ),
            Reason::NoCreatedTime => {
                f.write_str("has no creation time; policy needs a minimum release age")
            }
        }
    }
}

/// Seconds and below are noise in "is 3h 12m old".
fn round_to_minutes(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() / 60 * 60)
}

#[cfg(test)]
mod tests;
