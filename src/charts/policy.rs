//! Which published version to propose for a pin: the effective policy of a
//! chart and a pure selection over its releases.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::constraint::Constraint;
use super::version::{update_type, Version};
use super::Release;
use crate::settings::{MajorSteps, PolicySettings, UpdateType};

/// `[policy]` with the `[[policy.charts]]` entries for one chart applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    /// Sorted and without duplicates, so explanations read the same however
    /// the config lists them.
    pub update_types: Vec<UpdateType>,
    /// Ranges from `ignore`, kept with their spelling for explanations.
    pub ignore: Vec<(String, semver::VersionReq)>,
    pub min_release_age: Duration,
    /// `policy.major_steps`: global, since stepping is about how people
    /// read breaking changes rather than about one chart.
    pub major_steps: MajorSteps,
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
            major_steps: policy.major_steps,
        })
    }

    /// Every update type, nothing ignored, no minimum age.
    pub fn any() -> EffectivePolicy {
        EffectivePolicy {
            update_types: vec![UpdateType::Patch, UpdateType::Minor, UpdateType::Major],
            ignore: Vec::new(),
            min_release_age: Duration::ZERO,
            major_steps: MajorSteps::Newest,
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
    /// The newest release the policy allows above the pin, when there is
    /// one. Never the pin or anything below it: a pin is not moved down,
    /// whatever the index says about it.
    pub newer: Option<&'a Release>,
    /// Set exactly when `newer` is.
    pub update: Option<UpdateType>,
    /// The newest release above `newer` (or above the pin) that the policy
    /// held back, and why; pre-releases count only for a pre-release pin.
    pub held_back: Option<HeldBack<'a>>,
    /// What the index says of the pinned version itself.
    pub pinned: Pinned<'a>,
}

/// The pinned version as the index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned<'a> {
    /// Listed and not deprecated.
    Listed(&'a Release),
    /// Listed and marked deprecated.
    Deprecated(&'a Release),
    /// Not in the index at all (yanked, a typo, another repository).
    Missing,
}

impl Selection<'_> {
    /// What `scan` prints as `latest`: the newer release, else the pin as
    /// the index spells it, else as written. Never below the pin.
    pub fn latest(&self, written: &str) -> String {
        match (self.newer, self.pinned) {
            (Some(r), _) => r.version.clone(),
            (None, Pinned::Listed(r) | Pinned::Deprecated(r)) => r.version.clone(),
            (None, Pinned::Missing) => written.to_owned(),
        }
    }
}

impl Pinned<'_> {
    /// Why the pinned version deserves a look, for people: `1.2.3 is
    /// deprecated in the index`; None when it is listed as usual.
    pub fn note(&self, written: &str) -> Option<String> {
        match self {
            Pinned::Listed(_) => None,
            Pinned::Deprecated(_) => Some(format!("{written} is deprecated in the index")),
            Pinned::Missing => Some(format!("{written} is not in the index")),
        }
    }

    /// Deprecated, or gone from the index (which is how repositories
    /// usually retire a version).
    pub fn is_deprecated(&self) -> bool {
        !matches!(self, Pinned::Listed(_))
    }
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
    /// `policy.major_steps = "one"`: a later major than the next one; the
    /// release proposed instead (`next`) opens the next major.
    MajorStep {
        next: Option<String>,
    },
}

/// Picks the release to propose for a pin at `current`.
///
/// A release is allowed when it is not deprecated, not a pre-release (by
/// SemVer or `artifacthub.io/prerelease`) unless the pin is one, outside
/// every `ignore` range (a pre-release is ignored along with its release),
/// at least `min_release_age` old at `now` (without a `created` time it
/// passes only when the minimum age is zero, since its age is unknown), and
/// of an allowed update type. Releases at or below the pin are never
/// proposed, even when the pin itself is deprecated or missing.
///
/// Under `major_steps = "one"`, only releases up to the next major are
/// proposed: the lowest major above the pin that has a release the policy
/// would take once old enough. A next major still too young holds the
/// later ones back too, so waiting never turns into a jump.
pub fn select<'a>(
    current: &Version,
    releases: &'a [Release],
    policy: &EffectivePolicy,
    now: DateTime<Utc>,
) -> Selection<'a> {
    let pin_is_pre = current.is_prerelease();
    let mut allowed: Vec<(&Release, Version)> = Vec::new();
    let mut next_major: Option<Version> = None;
    let mut blocked: Option<(&Release, Version, Reason)> = None;
    for release in releases {
        let version = Version::parse(&release.version);
        // Nothing at or below the pin is a candidate, so no later rule can
        // turn one into a proposal.
        let Some(update) = update_type(current, &version) else {
            continue;
        };
        let verdict = check(release, &version, Some(update), pin_is_pre, policy, now);
        let waits = matches!(
            verdict,
            Ok(()) | Err(Reason::TooYoung { .. } | Reason::NoCreatedTime)
        );
        if waits && update == UpdateType::Major && next_major.as_ref().is_none_or(|n| version < *n)
        {
            next_major = Some(version.clone());
        }
        match verdict {
            Ok(()) => allowed.push((release, version)),
            Err(reason) => {
                let quiet = reason == Reason::Prerelease && !pin_is_pre;
                if !quiet && blocked.as_ref().is_none_or(|(_, v, _)| version > *v) {
                    blocked = Some((release, version, reason));
                }
            }
        }
    }
    let next_major = next_major.filter(|_| policy.major_steps == MajorSteps::One);
    let mut best: Option<(&Release, Version)> = None;
    let mut beyond: Option<(&Release, Version)> = None;
    for (release, version) in allowed {
        let later = next_major
            .as_ref()
            .is_some_and(|n| update_type(n, &version) == Some(UpdateType::Major));
        keep_newest(
            if later { &mut beyond } else { &mut best },
            release,
            version,
        );
    }
    if let Some((release, version)) = beyond {
        if blocked.as_ref().is_none_or(|(_, v, _)| version > *v) {
            let next = best.as_ref().map(|(r, _)| r.version.clone());
            blocked = Some((release, version, Reason::MajorStep { next }));
        }
    }
    let held_back = blocked
        .filter(|(_, v, _)| best.as_ref().is_none_or(|(_, b)| v > b))
        .map(|(release, _, reason)| HeldBack { release, reason });
    let update = best.as_ref().and_then(|(_, v)| update_type(current, v));
    Selection {
        newer: best.map(|(r, _)| r),
        update,
        held_back,
        pinned: pinned(current, releases),
    }
}

/// The index's entry for the pinned version: the same spelling first,
/// else the same precedence (`v1.2.3` pinned, `1.2.3` published).
fn pinned<'a>(current: &Version, releases: &'a [Release]) -> Pinned<'a> {
    let found = releases
        .iter()
        .find(|r| r.version == current.as_str())
        .or_else(|| {
            releases.iter().find(|r| {
                Version::parse(&r.version).cmp_precedence(current) == std::cmp::Ordering::Equal
            })
        });
    match found {
        Some(r) if r.deprecated => Pinned::Deprecated(r),
        Some(r) => Pinned::Listed(r),
        None => Pinned::Missing,
    }
}

/// The outcome of [`select_range`] for a pin written as a range.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSelection<'a> {
    /// The newest release in the range that the policy allows: what the
    /// deploy tool resolves the range to, as far as policy goes.
    pub latest: Option<&'a Release>,
    /// The newest release in the range above `latest` that the policy
    /// held back, and why.
    pub held_back: Option<HeldBack<'a>>,
}

/// The newest release that satisfies `range` and the policy. Update types
/// do not apply (a range has no version to move from); pre-releases pass
/// only when the range names one, as Helm reads it.
pub fn select_range<'a>(
    range: &Constraint,
    releases: &'a [Release],
    policy: &EffectivePolicy,
    now: DateTime<Utc>,
) -> RangeSelection<'a> {
    let pre_ok = range.names_prerelease();
    let mut best: Option<(&Release, Version)> = None;
    let mut blocked: Option<(&Release, Version, Reason)> = None;
    for release in releases {
        let version = Version::parse(&release.version);
        if !version.semver().is_some_and(|v| range.matches(v)) {
            continue;
        }
        match check(release, &version, None, pre_ok, policy, now) {
            Ok(()) => keep_newest(&mut best, release, version),
            Err(Reason::Prerelease) => {}
            Err(reason) => {
                if blocked.as_ref().is_none_or(|(_, v, _)| version > *v) {
                    blocked = Some((release, version, reason));
                }
            }
        }
    }
    let held_back = blocked
        .filter(|(_, v, _)| best.as_ref().is_none_or(|(_, b)| v > b))
        .map(|(release, _, reason)| HeldBack { release, reason });
    RangeSelection {
        latest: best.map(|(r, _)| r),
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
            Reason::MajorStep { next: Some(next) } => write!(
                f,
                "is more than one major ahead; policy.major_steps = \"one\" takes {next} first"
            ),
            Reason::MajorStep { next: None } => f.write_str(
                "is more than one major ahead; policy.major_steps = \"one\" waits for the next major",
            ),
        }
    }
}

/// Seconds and below are noise in "is 3h 12m old".
fn round_to_minutes(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() / 60 * 60)
}

#[cfg(test)]
mod tests;
