//! The production `ReleaseSource` (Helm indexes and OCI registries through
//! `charts::lookup`) and the policy's choice per pin.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::run::{ReleaseSource, Releases};
use crate::charts::constraint::Constraint;
use crate::charts::fetch::route::strip_userinfo;
use crate::charts::lookup::{ChartKey, Lookup, Outcome};
use crate::charts::policy::{select, select_range, EffectivePolicy};
use crate::charts::version::{update_type, Version};
use crate::charts::Release;
use crate::pins::Pin;
use crate::settings::{PolicySettings, RangePolicy, UpdateType};

#[async_trait]
impl ReleaseSource for Lookup {
    async fn releases(
        &self,
        pins: &[Pin],
        policy: &PolicySettings,
        now: DateTime<Utc>,
    ) -> Releases {
        let found = Lookup::releases(self, pins.iter()).await;
        let mut out = Releases::new();
        for (key, outcome) in found {
            match outcome {
                Outcome::Releases(r) => {
                    out.insert(key, Ok(r));
                }
                Outcome::Failed(e) => {
                    out.insert(key, Err(e));
                }
                Outcome::NoLookup(_) => {}
            }
        }
        fill_release_times(self, pins, policy, now, &mut out).await;
        out
    }
}

/// OCI tags carry no time; when a minimum release age applies, the
/// releases the policy would take but for their age get theirs from the
/// manifest, newest first, one request each, stopping at the first one old
/// enough: the policy picks the newest allowed release, so older ones
/// cannot change the answer.
async fn fill_release_times(
    lookup: &Lookup,
    pins: &[Pin],
    policy: &PolicySettings,
    now: DateTime<Utc>,
    out: &mut Releases,
) {
    for pin in pins {
        let Some(chart) = pin.chart_name().filter(|_| !pin.local_chart) else {
            continue;
        };
        let Ok(effective) = EffectivePolicy::for_chart(policy, chart) else {
            continue;
        };
        if effective.min_release_age.is_zero() {
            continue;
        }
        let key = ChartKey::of(pin);
        let Some(Ok(list)) = out.get_mut(&key) else {
            continue;
        };
        let min_age =
            chrono::Duration::from_std(effective.min_release_age).unwrap_or(chrono::Duration::MAX);
        // Only releases the policy would take but for their age are worth
        // a request: a major the policy forbids must not use up the search.
        let ageless = EffectivePolicy {
            min_release_age: std::time::Duration::ZERO,
            ..effective.clone()
        };
        // Under `major_steps = "one"`, releases past the next major are
        // never taken: their times must not use up the search either.
        let ceiling = pin.version.as_deref().and_then(|current| {
            let s = select(&Version::parse(current), list, &ageless, now);
            s.newer.map(|r| Version::parse(&r.version))
        });
        let mut newer: Vec<(Version, usize)> = list
            .iter()
            .enumerate()
            .filter(|(_, r)| would_take(pin, r, &ageless, now))
            .filter(|(_, r)| {
                ceiling.as_ref().is_none_or(|c| {
                    update_type(c, &Version::parse(&r.version)) != Some(UpdateType::Major)
                })
            })
            .map(|(i, r)| (Version::parse(&r.version), i))
            .collect();
        newer.sort_by(|a, b| b.0.cmp(&a.0));
        for (_, i) in newer {
            let Some(release) = list.get_mut(i) else {
                continue;
            };
            if release.created.is_none() {
                match lookup.release_time(&key, release).await {
                    Ok(t) => release.created = t,
                    Err(e) => tracing::warn!(
                        chart,
                        version = %release.version,
                        error = %e,
                        "release time unknown; the release waits"
                    ),
                }
            }
            if release.created.is_some_and(|t| now - t >= min_age) {
                break;
            }
        }
    }
}

/// Whether the policy (without its minimum age) would propose `release`
/// for `pin`: above an exact pin, or inside a range.
fn would_take(pin: &Pin, release: &Release, ageless: &EffectivePolicy, now: DateTime<Utc>) -> bool {
    let one = std::slice::from_ref(release);
    match (pin.version.as_deref(), pin.constraint.as_deref()) {
        (Some(current), _) => select(&Version::parse(current), one, ageless, now)
            .newer
            .is_some(),
        (None, Some(range)) => Constraint::parse(range)
            .is_ok_and(|c| select_range(&c, one, ageless, now).latest.is_some()),
        (None, None) => false,
    }
}

/// What the policy makes of one pin's releases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choice {
    /// What `scan` prints: the newest allowed release above the pin,
    /// spelled as published, else the pin itself; for a range, the newest
    /// allowed release in it. Never below the pin.
    pub latest: Option<String>,
    /// The release to move to, always above the pin; for a range, its
    /// newest allowed release when `policy.ranges = "pin"`.
    pub target: Option<(Release, UpdateType)>,
    /// A newer release the policy held back, and why, for people to read:
    /// `2.0.0 is a major update; policy allows patch, minor`.
    pub held_back: Option<String>,
    /// The pinned version is deprecated in the index, or not in it.
    pub deprecated: bool,
    /// Why the pin deserves a look: `1.2.3 is deprecated in the index`,
    /// `1.2.3 is not in the index`, a range that does not parse.
    pub note: Option<String>,
}

/// The newest release the policy allows for `pin`, when newer than it (or,
/// for a range under `policy.ranges = "pin"`, the one to pin it to).
/// Local charts get nothing: they are not published anywhere.
pub fn choose(
    policy: &PolicySettings,
    pin: &Pin,
    releases: &[Release],
    now: DateTime<Utc>,
) -> Choice {
    let Some(chart) = pin.chart_name().filter(|_| !pin.local_chart) else {
        return Choice::default();
    };
    // Validated when the settings were loaded; a chart it fails for gets
    // no proposal rather than an unchecked one.
    let Ok(effective) = EffectivePolicy::for_chart(policy, chart) else {
        return Choice::default();
    };
    if let (None, Some(range)) = (pin.version.as_deref(), pin.constraint.as_deref()) {
        return choose_in_range(policy, range, releases, &effective, now);
    }
    let Some(version) = pin.version.as_deref() else {
        return Choice::default();
    };
    let selection = select(&Version::parse(version), releases, &effective, now);
    Choice {
        latest: Some(selection.latest(version)),
        target: selection
            .newer
            .zip(selection.update)
            .map(|(r, u)| (r.clone(), u)),
        held_back: selection.held_back.map(|h| h.to_string()),
        deprecated: selection.pinned.is_deprecated(),
        note: selection.pinned.note(version),
    }
}

fn choose_in_range(
    policy: &PolicySettings,
    range: &str,
    releases: &[Release],
    effective: &EffectivePolicy,
    now: DateTime<Utc>,
) -> Choice {
    let constraint = match Constraint::parse(range) {
        Ok(c) => c,
        Err(e) => {
            return Choice {
                note: Some(format!("range `{range}` is not understood: {e}")),
                ..Choice::default()
            }
        }
    };
    let selection = select_range(&constraint, releases, effective, now);
    let note = match selection.latest {
        Some(_) => None,
        None => Some(format!("no allowed release satisfies `{range}`")),
    };
    Choice {
        latest: selection.latest.map(|r| r.version.clone()),
        // Turning a range into a pin changes what is written, not what is
        // deployed: the smallest kind of update.
        target: selection
            .latest
            .filter(|_| policy.ranges == RangePolicy::Pin)
            .map(|r| (r.clone(), UpdateType::Patch)),
        held_back: selection.held_back.map(|h| h.to_string()),
        deprecated: false,
        note,
    }
}

/// What a lookup found for one pin: the newest version the policy allows
/// (spelled as the repository publishes it, never below the pin) and its
/// update type; or, when the chart could not be looked up, why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latest {
    pub latest: Option<String>,
    pub update: Option<UpdateType>,
    /// The pinned version is deprecated in the index, or not in it.
    pub deprecated: bool,
    /// `1.2.3 is deprecated in the index`, `1.2.3 is not in the index`.
    pub note: Option<String>,
    /// A newer release the policy held back, and why.
    pub held_back: Option<String>,
    /// Why the chart could not be looked up (no credentials in it): so
    /// `latest: null` never stands for both "failed" and "nothing found".
    pub error: Option<String>,
}

/// `latest` and friends for every pin (same order), and one line per chart
/// that could not be looked up.
pub fn latest_of(
    policy: &PolicySettings,
    pins: &[Pin],
    releases: &Releases,
    now: DateTime<Utc>,
) -> (Vec<Latest>, Vec<String>) {
    let latest = pins
        .iter()
        .map(|pin| match releases.get(&ChartKey::of(pin)) {
            _ if pin.local_chart => Latest::default(),
            Some(Ok(list)) => {
                let c = choose(policy, pin, list, now);
                Latest {
                    latest: c.latest,
                    // A range is not moved by `scan`'s reckoning: what it
                    // resolves to is `latest`, and there is no update.
                    update: c.target.filter(|_| pin.version.is_some()).map(|(_, u)| u),
                    deprecated: c.deprecated,
                    note: c.note,
                    held_back: c.held_back,
                    error: None,
                }
            }
            Some(Err(e)) => Latest {
                error: Some(e.clone()),
                ..Latest::default()
            },
            None => Latest::default(),
        })
        .collect();
    (latest, lookup_failures(releases))
}

/// One line per chart that could not be looked up, `chart from repository:
/// reason`, without the credentials a repository URL may hold.
pub fn lookup_failures(releases: &Releases) -> Vec<String> {
    releases
        .iter()
        .filter_map(|(key, r)| {
            let e = r.as_ref().err()?;
            Some(format!(
                "{} from {}: {e}",
                key.chart.as_deref().unwrap_or("?"),
                strip_userinfo(key.repository.as_deref().unwrap_or("?"))
            ))
        })
        .collect()
}
