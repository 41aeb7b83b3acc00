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

/// When repository `i` of `n` has its first pass: spread evenly over one
/// interval, so `n` repositories do not all reach GitHub (one budget per
/// installation) and the workers in the same minute.
pub fn first_offset(settings: &UpgradeSettings, i: usize, n: usize) -> Duration {
    let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    let i = u32::try_from(i).unwrap_or(u32::MAX).min(n - 1);
    settings.interval / n * i
}

/// Publishes an upgrade job for each repository (`GitSettings::key`) after
/// each of its delays, until `stop` turns true. Does nothing when the
/// interval is zero.
pub async fn run(
    settings: UpgradeSettings,
    repositories: Vec<String>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    if settings.interval.is_zero() || repositories.is_empty() {
        return;
    }
    let start = tokio::time::Instant::now();
    let n = repositories.len();
    let mut due: Vec<tokio::time::Instant> = (0..n)
        .map(|i| start + first_offset(&settings, i, n) + next_delay(&settings, &mut rand::rng()))
        .collect();
    loop {
        let Some((i, at)) = due.iter().copied().enumerate().min_by_key(|(_, at)| *at) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        due[i] = tokio::time::Instant::now() + next_delay(&settings, &mut rand::rng());
        let repository = &repositories[i];
        let now = clock.now();
        let job = Job::Upgrade(UpgradeRequest {
            reason: "schedule".into(),
        });
        let key = format!("upgrade-schedule-{repository}-{}", now.timestamp());
        match JobEnvelope::new(&job, key, None, now) {
            Ok(envelope) => {
                let envelope = envelope.in_repository(repository.as_str());
                if let Err(e) = queue.publish(&envelope).await {
                    tracing::warn!(repository = %repository, error = %e, "scheduled upgrade not queued; next interval tries again");
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
    fn first_passes_spread_over_one_interval() {
        let s = UpgradeSettings {
            interval: Duration::from_secs(3600),
            jitter: Duration::ZERO,
            labels: vec![],
            major_label: "major".into(),
            values_label: "needs-values-change".into(),
            dashboard: false,
        };
        let cases = [
            (0, 1, 0),
            (0, 4, 0),
            (1, 4, 900),
            (3, 4, 2700),
            (199, 200, 3582),
            (9, 4, 2700),
        ];
        for (i, n, secs) in cases {
            assert_eq!(first_offset(&s, i, n).as_secs(), secs, "{i} of {n}");
        }
    }

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
