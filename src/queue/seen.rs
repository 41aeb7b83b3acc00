//! Idempotency keys already queued, so a replayed or redelivered webhook
//! runs once. The embedded queue keeps them in its store; the AMQP queue
//! keeps them per replica in [`SeenKeys`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a queued key is remembered. GitHub and Alertmanager redeliver
/// within minutes to hours; a day covers a person pressing "Redeliver" the
/// next morning, and bounds what a captured request can still do.
pub const SEEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Most keys remembered at once; the oldest go first beyond it. About
/// 100 bytes each in memory (AMQP) or on disk (embedded), so a few MB at
/// most, and far above a day of webhooks for the repositories one
/// chartpilot serves.
pub const MAX_SEEN_KEYS: usize = 50_000;

pub(crate) type Digest = [u8; 32];

/// Keys are stored as their SHA-256: an alert group's key grows with its
/// alerts, and a fixed size keeps both bounds above honest.
pub(crate) fn key_digest(key: &str) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Being published; its confirm has not come yet.
    Pending,
    Queued,
}

/// What [`SeenKeys::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// New (or expired): the caller publishes, then calls `confirmed` or
    /// `forget`.
    New,
    /// Queued before: do not publish again.
    Duplicate,
    /// Another publish of the same key waits for its confirm. Answering
    /// "duplicate" could acknowledge a job that is then refused, so the
    /// caller reports the queue busy and the sender tries again.
    InFlight,
}

/// A bounded, expiring set of keys, for one process.
#[derive(Debug, Default)]
pub(crate) struct SeenKeys {
    keys: HashMap<Digest, (Instant, State)>,
    /// Insertion order, for expiry and the size bound. An entry whose key
    /// was claimed again later, or forgotten, is skipped when it comes up.
    order: VecDeque<(Instant, Digest)>,
}

impl SeenKeys {
    pub(crate) fn claim(&mut self, key: &str, now: Instant) -> Claim {
        self.prune(now);
        let digest = key_digest(key);
        match self.keys.get(&digest) {
            Some((_, State::Queued)) => Claim::Duplicate,
            Some((_, State::Pending)) => Claim::InFlight,
            None => {
                self.keys.insert(digest, (now, State::Pending));
                self.order.push_back((now, digest));
                Claim::New
            }
        }
    }

    pub(crate) fn confirmed(&mut self, key: &str) {
        if let Some(entry) = self.keys.get_mut(&key_digest(key)) {
            entry.1 = State::Queued;
        }
    }

    /// The publish failed: the sender's retry must be queued.
    pub(crate) fn forget(&mut self, key: &str) {
        self.keys.remove(&key_digest(key));
    }

    fn prune(&mut self, now: Instant) {
        while let Some((at, digest)) = self.order.front().copied() {
            let expired = now.saturating_duration_since(at) >= SEEN_TTL;
            // Below the bound, so the claim that follows stays within it.
            if !expired && self.order.len() < MAX_SEEN_KEYS {
                break;
            }
            self.order.pop_front();
            if self.keys.get(&digest).is_some_and(|(t, _)| *t == at) {
                self.keys.remove(&digest);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmed_key_is_a_duplicate_until_it_expires() {
        let mut seen = SeenKeys::default();
        let t0 = Instant::now();
        assert_eq!(seen.claim("github:1", t0), Claim::New);
        assert_eq!(seen.claim("github:1", t0), Claim::InFlight);
        seen.confirmed("github:1");
        assert_eq!(seen.claim("github:1", t0), Claim::Duplicate);
        assert_eq!(seen.claim("github:2", t0), Claim::New);
        let later = t0 + SEEN_TTL;
        assert_eq!(seen.claim("github:1", later), Claim::New, "expired");
    }

    #[test]
    fn a_failed_publish_is_forgotten() {
        let mut seen = SeenKeys::default();
        let t0 = Instant::now();
        assert_eq!(seen.claim("k", t0), Claim::New);
        seen.forget("k");
        assert_eq!(seen.claim("k", t0), Claim::New);
    }

    #[test]
    fn the_oldest_keys_go_beyond_the_bound() {
        let mut seen = SeenKeys::default();
        let t0 = Instant::now();
        for i in 0..=MAX_SEEN_KEYS {
            assert_eq!(seen.claim(&format!("k{i}"), t0), Claim::New);
            seen.confirmed(&format!("k{i}"));
        }
        // Pruning runs on the next claim.
        assert_eq!(seen.claim("k-last", t0), Claim::New);
        assert_eq!(seen.len(), MAX_SEEN_KEYS);
        assert_eq!(seen.claim("k0", t0), Claim::New, "oldest forgotten");
        assert_eq!(
            seen.claim(&format!("k{MAX_SEEN_KEYS}"), t0),
            Claim::Duplicate
        );
    }

    #[test]
    fn a_key_claimed_again_after_expiry_outlives_its_old_entry() {
        let mut seen = SeenKeys::default();
        let t0 = Instant::now();
        seen.claim("k", t0);
        seen.confirmed("k");
        let t1 = t0 + SEEN_TTL;
        assert_eq!(seen.claim("k", t1), Claim::New);
        seen.confirmed("k");
        assert_eq!(
            seen.claim("k", t1 + Duration::from_secs(1)),
            Claim::Duplicate
        );
    }
}
