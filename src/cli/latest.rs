//! `scan` without `--offline`: the newest version the policy allows for
//! every pin, looked up concurrently, one fetch per repository.

use chrono::Utc;

use super::{Latest, LookupFn};
use crate::charts::lookup::{ChartKey, Lookup};
use crate::charts::policy::{select, EffectivePolicy};
use crate::charts::version::Version;
use crate::pins::Pin;
use crate::settings::Settings;
use crate::upgrade::run::ReleaseSource;

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
            let releases = ReleaseSource::releases(&lookup, pins, &policy).await;
            let now = Utc::now();
            let latest = pins
                .iter()
                .map(|pin| {
                    let (Some(Ok(list)), Some(chart), Some(version)) = (
                        releases.get(&ChartKey::of(pin)),
                        pin.chart_name(),
                        pin.version.as_deref(),
                    ) else {
                        return Latest::default();
                    };
                    let Ok(effective) = EffectivePolicy::for_chart(&policy, chart) else {
                        return Latest::default();
                    };
                    let s = select(&Version::parse(version), list, &effective, now);
                    Latest {
                        latest: s.latest.map(|r| r.version.clone()),
                        update: s.update,
                    }
                })
                .collect();
            let failures = releases
                .iter()
                .filter_map(|(key, r)| {
                    let e = r.as_ref().err()?;
                    Some(format!(
                        "{} from {}: {e}",
                        key.chart.as_deref().unwrap_or("?"),
                        key.repository.as_deref().unwrap_or("?")
                    ))
                })
                .collect();
            (latest, failures)
        })
    };
    f(&find)
}
