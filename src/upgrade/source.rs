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
    async fn releases(&self, pins: &[Pin], policy: &PolicySettings) -> Releases {
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
        fill_release_times(self, pins, policy, &mut out).await;
        out
    }
}

/// OCI tags carry no time; when a minimum release age applies, the
/// candidates newer than a pin get theirs from the manifest, one request
/// each, only for those.
async fn fill_release_times(
    lookup: &Lookup,
    pins: &[Pin],
    policy: &PolicySettings,
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
        for release in list.iter_mut() {
            if release.created.is_some() || Version::parse(&release.version) <= current {
                continue;
            }
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
    }
}

/// The newest release the policy allows for `pin`, when newer than it.
pub fn choose(
    policy: &PolicySettings,
    pin: &Pin,
    releases: &[Release],
    now: DateTime<Utc>,
) -> Option<(Release, UpdateType)> {
    let effective = EffectivePolicy::for_chart(policy, pin.chart_name()?).ok()?;
    let selection = select(
        &Version::parse(pin.version.as_deref()?),
        releases,
        &effective,
        now,
    );
    Some((selection.latest?.clone(), selection.update?))
}
