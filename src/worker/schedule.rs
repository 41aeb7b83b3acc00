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

/// When each repository in `keys` is due, keeping the times of those
/// already scheduled and spreading the new ones over one interval from
/// `now` (by their place in `keys`); repositories no longer in `keys` are
/// dropped.
pub fn reschedule(
    due: &mut Vec<(String, tokio::time::Instant)>,
    keys: &[String],
    now: tokio::time::Instant,
    settings: &UpgradeSettings,
    rng: &mut impl Rng,
) {
    due.retain(|(k, _)| keys.contains(k));
    let n = keys.len();
    for (i, key) in keys.iter().enumerate() {
        if !due.iter().any(|(k, _)| k == key) {
            due.push((
                key.clone(),
                now + first_offset(settings, i, n) + next_delay(settings, rng),
            ));
        }
    }
}

/// Publishes an upgrade job for each repository (`GitSettings::key`) after
/// each of its delays, until `stop` turns true; `repositories` may change
/// (discovery), and the schedule follows. Does nothing when the interval
/// is zero.
pub async fn run(
    settings: UpgradeSettings,
    mut repositories: watch::Receiver<Vec<String>>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    if settings.interval.is_zero() {
        return;
    }
    let mut due: Vec<(String, tokio::time::Instant)> = Vec::new();
    let mut listening = true;
    let keys = repositories.borrow_and_update().clone();
    reschedule(
        &mut due,
        &keys,
        tokio::time::Instant::now(),
        &settings,
        &mut rand::rng(),
    );
    loop {
        let next = due
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, at))| *at)
            .map(|(i, (_, at))| (i, *at));
        let far = tokio::time::Instant::now() + settings.interval;
        let at = next.map_or(far, |(_, at)| at);
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            _ = stop.changed() => return,
            changed = repositories.changed(), if listening => {
                // Err: the list can no longer change; keep the one there is.
                listening = changed.is_ok();
                let keys = repositories.borrow_and_update().clone();
                reschedule(&mut due, &keys, tokio::time::Instant::now(), &settings, &mut rand::rng());
                continue;
            }
        }
        if *stop.borrow() {
            return;
        }
        let Some((i, _)) = next else { continue };
        due[i].1 = tokio::time::Instant::now() + next_delay(&settings, &mut rand::rng());
        let repository = due[i].0.clone();
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

    /// An hourly interval with `jitter`.
    fn hourly(jitter: Duration) -> UpgradeSettings {
        UpgradeSettings {
            interval: Duration::from_secs(3600),
            jitter,
            labels: vec![],
            major_label: "major".into(),
            values_label: "needs-values-change".into(),
            dashboard: false,
        }
    }

    #[test]
    fn first_passes_spread_over_one_interval() {
        let s = hourly(Duration::ZERO);
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
    fn a_changed_list_keeps_known_times_spreads_new_ones_and_drops_the_gone() {
        let s = hourly(Duration::ZERO);
        let t0 = tokio::time::Instant::now();
        let keys = |k: &[&str]| k.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let mut due = Vec::new();
        reschedule(&mut due, &keys(&["a", "b"]), t0, &s, &mut rand::rng());
        assert_eq!(
            due,
            [
                ("a".to_owned(), t0 + Duration::from_secs(3600)),
                ("b".to_owned(), t0 + Duration::from_secs(5400)),
            ]
        );
        let t1 = t0 + Duration::from_secs(60);
        reschedule(
            &mut due,
            &keys(&["b", "c", "d", "e"]),
            t1,
            &s,
            &mut rand::rng(),
        );
        assert_eq!(
            due,
            [
                ("b".to_owned(), t0 + Duration::from_secs(5400)),
                ("c".to_owned(), t1 + Duration::from_secs(3600 + 900)),
                ("d".to_owned(), t1 + Duration::from_secs(3600 + 1800)),
                ("e".to_owned(), t1 + Duration::from_secs(3600 + 2700)),
            ],
            "b keeps its time; a is dropped; c, d and e spread by their place"
        );
    }

    #[test]
    fn delay_is_the_interval_plus_at_most_the_jitter() {
        let s = hourly(Duration::from_secs(600));
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
