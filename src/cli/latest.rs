//! `scan` without `--offline`: the newest version the policy allows for
//! every pin, looked up concurrently, one fetch per repository.

use chrono::Utc;

use super::{Latest, LookupFn};
use crate::charts::lookup::{ChartKey, Lookup};
use crate::pins::Pin;
use crate::settings::Settings;
use crate::upgrade::run::ReleaseSource;
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
            let releases = ReleaseSource::releases(&lookup, pins, &policy, now).await;
            let latest = pins
                .iter()
                .map(|pin| match releases.get(&ChartKey::of(pin)) {
                    Some(Ok(list)) => {
                        let c = choose(&policy, pin, list, now);
                        Latest {
                            latest: c.latest,
                            update: c.target.map(|(_, u)| u),
                        }
                    }
                    _ => Latest::default(),
                })
                .collect();
            let failures = releases
                .iter()
                .filter_map(|(key, r)| {
                    let e = r.as_ref().err()?;
                    Some(format!(
                        "{} from {}: {e}",
                        key.chart.as_deref().unwrap_or("?"),
                        crate::charts::fetch::route::strip_userinfo(
                            key.repository.as_deref().unwrap_or("?")
                        )
                    ))
                })
                .collect();
            (latest, failures)
        })
    };
    f(&find)
}
