//! `scan` without `--offline`: the newest version the policy allows for
//! every pin, looked up concurrently, one fetch per repository.

use chrono::Utc;

use super::LookupFn;
use crate::charts::lookup::Lookup;
use crate::pins::Pin;
use crate::settings::Settings;
use crate::upgrade::run::ReleaseSource;
use crate::upgrade::source::{latest_of, Latest};

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
