//! `scan` without `--offline`: the newest version the policy allows for
//! every pin, looked up concurrently, one fetch per repository.

use chrono::Utc;

use super::{Latest, LookupFn};
use crate::charts::fetch::route::strip_userinfo;
use crate::charts::lookup::{ChartKey, Lookup};
use crate::pins::Pin;
use crate::settings::{PolicySettings, Settings};
use crate::upgrade::run::{ReleaseSource, Releases};
use crate::upgrade::source::choose;

/// Runs `f` with a lookup function for `cli::scan`. The lookups run on a
/// current-thread runtime; index parsing goes to the blocking pool, so
/// several repositories still parse in parallel.
pub fn with_lookups<T>(
    settings: &Settings,
    f: impl FnOnce(LookupFn<'_>) -> Result<T, String>,
) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let lookup = Lookup::one_shot(&settings.helm).map_err(|e| e.to_string())?;
    let policy = settings.policy.clone();
    let find = |pins: &[Pin]| -> (Vec<Latest>, Vec<String>) {
        runtime.block_on(async {
            let now = Utc::now();
            // Local charts are not published anywhere: never asked about.
            let published: Vec<Pin> = pins.iter().filter(|p| !p.local_chart).cloned().collect();
            let releases = ReleaseSource::releases(&lookup, &published, &policy, now).await;
            latest_of(&policy, pins, &releases, now)
        })
    };
    f(&find)
}

/// `latest` and friends for every pin (same order), and one line per chart
/// that could not be looked up.
pub fn latest_of(
    policy: &PolicySettings,
    pins: &[Pin],
    releases: &Releases,
    now: chrono::DateTime<Utc>,
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
    let failures = releases
        .iter()
        .filter_map(|(key, r)| {
            let e = r.as_ref().err()?;
            Some(format!(
                "{} from {}: {e}",
                key.chart.as_deref().unwrap_or("?"),
                strip_userinfo(key.repository.as_deref().unwrap_or("?"))
            ))
        })
        .collect();
    (latest, failures)
}
