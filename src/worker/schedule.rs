//! The scheduled upgrade pass: every `upgrade.interval` plus a random part
//! of `upgrade.jitter`, an upgrade job goes through the queue, so it gets
//! the same retries and parking as any other job. Replicas each publish
//! their own; the pass is idempotent, so the worst case is a pass that
//! finds nothing to do.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::jobs::{Job, JobEnvelope, UpgradeRequest};
use crate::queue::JobQueue;
use crate::settings::UpgradeSettings;

/// The wait before the next pass.
pub fn next_delay(settings: &UpgradeSettings, rng: &mut impl Rng) -> Duration {
    let jitter_ms = u64::try_from(settings.jitter.as_millis()).unwrap_or(u64::MAX);
    let extra = if jitter_ms == 0 {
        0
    } else {
        rng.random_range(0..=jitter_ms)
    };
    settings.interval + Duration::from_millis(extra)
}

/// Publishes an upgrade job after each delay until `stop` turns true. Does
/// nothing when the interval is zero.
pub async fn run(
    settings: UpgradeSettings,
    repository: String,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    if settings.interval.is_zero() {
        return;
    }
    loop {
        let delay = next_delay(&settings, &mut rand::rng());
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let now = clock.now();
        let job = Job::Upgrade(UpgradeRequest {
            reason: "schedule".into(),
        });
        let key = format!("upgrade-schedule-{}", now.timestamp());
        match JobEnvelope::new(&job, key, None, now) {
            Ok(envelope) => {
                let envelope = envelope.in_repository(repository.as_str());
                if let Err(e) = queue.publish(&envelope).await {
                    tracing::warn!(error = %e, "scheduled upgrade not queued; next interval tries again");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode the upgrade job"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_the_interval_plus_at_most_the_jitter() {
        let s = UpgradeSettings {
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(600),
            labels: vec![],
            major_label: "major".into(),
            values_label: "needs-values-change".into(),
            dashboard: false,
        };
        let mut rng = rand::rng();
        let delays: Vec<Duration> = (0..200).map(|_| next_delay(&s, &mut rng)).collect();
        assert!(delays
            .iter()
            .all(|d| *d >= s.interval && *d <= s.interval + s.jitter));
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies");
        let flat = UpgradeSettings {
            jitter: Duration::ZERO,
            ..s
        };
        assert_eq!(next_delay(&flat, &mut rng), flat.interval);
    }
}
