//! Upgrade pull requests: one per chart and environment, the first
//! environment of the promotion order first. `plan` decides, `body` writes
//! what people read, `run` carries a plan out against a git host.

pub mod body;
mod changes;
mod dashboard;
mod existing;
pub mod impact;
mod notes;
pub mod plan;
pub mod report;
pub mod run;
pub mod source;

use std::sync::Arc;

use tokio::sync::Mutex;

pub use run::{Report, Upgrader};

use crate::charts::lookup::Lookup;
use crate::clock::Clock;
use crate::pins::DiscoverOptions;
use crate::settings::Settings;

impl Upgrader {
    /// The upgrader `serve` and `chartpilot upgrade` use: the configured
    /// git host, Helm/OCI lookups and policy. Needs a tokio runtime (the
    /// GitHub client is built in it).
    pub fn from_settings(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let host = crate::git::from_settings(settings, Arc::clone(&clock))?;
        let lookup = Arc::new(Lookup::new(&settings.helm)?);
        let impact: Arc<dyn impact::ImpactSource> = Arc::new(impact::Analysis {
            archives: Arc::clone(&lookup) as Arc<dyn crate::impact::ArchiveSource>,
            policy: settings.policy.clone(),
        });
        Ok(Upgrader {
            repository: settings.git.key(),
            host,
            source: lookup,
            impact: Some(impact),
            policy: settings.policy.clone(),
            upgrade: settings.upgrade.clone(),
            discover: DiscoverOptions {
                environments: settings.policy.environments.clone(),
                env_patterns: settings.pins.env_patterns.clone(),
                env_aliases: settings.pins.env_aliases.clone(),
            },
            clock,
            lock: Mutex::new(()),
            metrics: std::sync::OnceLock::new(),
            status: std::sync::OnceLock::new(),
            last_base: std::sync::Mutex::new(None),
        })
    }
}
