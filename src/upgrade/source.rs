//! The production `ReleaseSource` (Helm indexes and OCI registries through
//! `charts::lookup`) and the policy's choice per pin.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::run::{ReleaseSource, Releases};
use crate::charts::lookup::{ChartKey, Lookup, Outcome};
use crate::charts::policy::{select, EffectivePolicy};
use crate::charts::version::Version;
use crate::charts::Release;
use crate::pins::Pin;
use crate::settings::{PolicySettings, UpdateType};

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
        let (Some(chart), Some(current)) = (pin.chart_name(), pin.version.as_deref()) else {
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
        let current = Version::parse(current);
        let min_age =
            chrono::Duration::from_std(effective.min_release_age).unwrap_or(chrono::Duration::MAX);
        // Only releases the policy would take but for their age are worth
        // a request: a major the policy forbids must not use up the search.
        let ageless = EffectivePolicy {
            min_release_age: std::time::Duration::ZERO,
            ..effective.clone()
        };
        let mut newer: Vec<(Version, usize)> = list
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                select(&current, std::slice::from_ref(*r), &ageless, now)
                    .update
                    .is_some()
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

/// What the policy makes of one pin's releases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choice {
    /// The newest allowed release, spelled as published: the pin's own
    /// version when nothing newer is allowed (what `scan` prints).
    pub latest: Option<String>,
    /// The newest allowed release when it is newer than the pin.
    pub target: Option<(Release, UpdateType)>,
    /// A newer release the policy held back, and why, for people to read:
    /// `2.0.0 is a major update; policy allows patch, minor`.
    pub held_back: Option<String>,
}

/// The newest release the policy allows for `pin`, when newer than it.
pub fn choose(
    policy: &PolicySettings,
    pin: &Pin,
    releases: &[Release],
    now: DateTime<Utc>,
) -> Choice {
    let (Some(chart), Some(version)) = (pin.chart_name(), pin.version.as_deref()) else {
        return Choice::default();
    };
    // Validated when the settings were loaded; a chart it fails for gets
    // no proposal rather than an unchecked one.
    let Ok(effective) = EffectivePolicy::for_chart(policy, chart) else {
        return Choice::default();
    };
    let selection = select(&Version::parse(version), releases, &effective, now);
    Choice {
        latest: selection.latest.map(|r| r.version.clone()),
        target: selection
            .latest
            .zip(selection.update)
            .map(|(r, u)| (r.clone(), u)),
        held_back: selection.held_back.map(|h| h.to_string()),
    }
}
