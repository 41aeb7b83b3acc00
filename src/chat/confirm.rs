//! Confirmation codes for `rollback` and `promote` in protected
//! environments, without state: a code carries the command, who may
//! confirm it and until when, sealed with an HMAC under a key every
//! replica derives from the same configuration. `/chartpilot confirm
//! <code>` from the same person before it expires runs the command.
//!
//! A code can be used more than once until it expires; the actions it
//! runs are idempotent (a second revert or upgrade PR is never opened).

use std::time::Duration;

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::authz::Principal;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a code: 80 bits, enough against guessing
/// within a few minutes, short enough to paste.
const MAC_BYTES: usize = 10;

#[derive(Clone)]
pub struct Confirmer {
    key: Option<[u8; 32]>,
    within: Duration,
}

impl std::fmt::Debug for Confirmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmer")
            .field("key", &self.key.map(|_| "<derived>"))
            .field("within", &self.within)
            .finish()
    }
}

impl Confirmer {
    /// The key is derived from the chat secrets of the configuration
    /// (Slack signing secret, generic chat secret, GitHub webhook secret),
    /// which every replica shares; None when all are empty.
    pub fn new(secrets: &[&str], within: Duration) -> Self {
        let key = (!secrets.iter().all(|s| s.is_empty())).then(|| {
            let mut m = HmacSha256::new_from_slice(b"chartpilot confirmation codes v1")
                .unwrap_or_else(|_| unreachable!());
            for s in secrets {
                m.update(&(s.len() as u64).to_be_bytes());
                m.update(s.as_bytes());
            }
            m.finalize().into_bytes().into()
        });
        Self { key, within }
    }

    pub fn within(&self) -> Duration {
        self.within
    }

    fn mac(key: &[u8; 32], who: &Principal, expiry: u32, command: &str) -> [u8; MAC_BYTES] {
        let mut m = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        for part in [
            format!("{:?}", who.source).as_bytes(),
            who.user.as_bytes(),
            &expiry.to_be_bytes(),
            command.as_bytes(),
        ] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part);
        }
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        out
    }

    /// A code for `who` to confirm `command` (its canonical text); None
    /// when no key can be derived.
    pub fn code(&self, who: &Principal, command: &str, now: DateTime<Utc>) -> Option<String> {
        let key = self.key.as_ref()?;
        // Seconds since 1970, in 32 bits: good until 2106.
        let within = i64::try_from(self.within.as_secs()).ok()?;
        let expiry = u32::try_from(now.timestamp().checked_add(within)?).ok()?;
        let mut bytes = expiry.to_be_bytes().to_vec();
        bytes.extend_from_slice(&Self::mac(key, who, expiry, command));
        bytes.extend_from_slice(command.as_bytes());
        Some(BASE32_NOPAD.encode(&bytes))
    }

    /// The command a code confirms, if `who` may confirm it now.
    pub fn check(&self, who: &Principal, code: &str, now: DateTime<Utc>) -> Result<String, String> {
        let key = self
            .key
            .as_ref()
            .ok_or("confirmation codes need a chat secret (slack.signing_secret, chat.secret or github.webhook_secret)")?;
        let bytes = BASE32_NOPAD
            .decode(code.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| "that is not a confirmation code chartpilot gave".to_owned())?;
        if bytes.len() <= 4 + MAC_BYTES {
            return Err("that is not a confirmation code chartpilot gave".into());
        }
        let expiry = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let mac = &bytes[4..4 + MAC_BYTES];
        let command = std::str::from_utf8(&bytes[4 + MAC_BYTES..])
            .map_err(|_| "that is not a confirmation code chartpilot gave".to_owned())?;
        let want = Self::mac(key, who, expiry, command);
        // Constant-time, like every other secret comparison here.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(mac, &want[..])) {
            return Err("that code was not given to you for a command (codes work only for the person who asked)".into());
        }
        if now.timestamp() >= i64::from(expiry) {
            return Err(format!(
                "that code expired; ask again with `/chartpilot {command}`"
            ));
        }
        Ok(command.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::ChatSource;

    fn who(user: &str) -> Principal {
        Principal::new(ChatSource::Slack, user)
    }

    #[test]
    fn a_code_confirms_its_command_for_its_person_until_it_expires() {
        let c = Confirmer::new(&["slack-secret", "", ""], Duration::from_secs(300));
        let now = Utc::now();
        let code = c
            .code(&who("U1"), "rollback frontend-app prod", now)
            .unwrap();
        assert_eq!(
            c.check(&who("U1"), &code, now),
            Ok("rollback frontend-app prod".into())
        );
        assert_eq!(
            c.check(
                &who("U1"),
                &code.to_lowercase(),
                now + chrono::TimeDelta::seconds(240)
            ),
            Ok("rollback frontend-app prod".into()),
            "case does not matter, and 4 minutes later it still holds"
        );
        assert!(c
            .check(&who("U2"), &code, now)
            .unwrap_err()
            .contains("only for the person"));
        let later = now + chrono::TimeDelta::seconds(400);
        assert!(c
            .check(&who("U1"), &code, later)
            .unwrap_err()
            .contains("expired"));
        // Another replica with the same configuration accepts it.
        let other = Confirmer::new(&["slack-secret", "", ""], Duration::from_secs(300));
        assert!(other.check(&who("U1"), &code, now).is_ok());
        // One with another secret does not.
        let stranger = Confirmer::new(&["other", "", ""], Duration::from_secs(300));
        assert!(stranger.check(&who("U1"), &code, now).is_err());
        // A changed command inside the code breaks the seal.
        let mut bytes = BASE32_NOPAD.decode(code.as_bytes()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] = b'x';
        let forged = BASE32_NOPAD.encode(&bytes);
        assert!(c.check(&who("U1"), &forged, now).is_err());
        assert!(c.check(&who("U1"), "K7Q2-9XPM", now).is_err());
        assert!(Confirmer::new(&["", "", ""], Duration::from_secs(60))
            .code(&who("U1"), "x", now)
            .is_none());
    }
}
