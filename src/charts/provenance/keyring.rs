//! `helm.keyring`: the public keys whose signatures chartpilot trusts, from
//! a binary keyring (`gpg --export`, Helm's legacy `pubring.gpg`) or
//! ASCII-armored blocks, one or several concatenated.

use std::io::Read;
use std::path::Path;

use pgp::composed::{PublicOrSecret, SignedPublicKey};

use super::MAX_KEYRING_BYTES;

/// Why `helm.keyring` cannot be used; names the file, never its contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} is larger than the {limit}-byte limit for a keyring")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// Public keys trusted to sign charts; a secret key given by mistake is
/// kept only as its public half.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub(super) keys: Vec<SignedPublicKey>,
}

/// Armor line that starts each key block of an armored keyring.
const ARMOR_BEGIN: &str = "-----BEGIN PGP ";

impl Keyring {
    /// Reads a keyring file, at most [`MAX_KEYRING_BYTES`].
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        let shown = path.display().to_string();
        let unreadable = |e: std::io::Error| KeyringError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut bytes = Vec::new();
        // One byte past the limit tells "at the limit" from "over".
        file.take(MAX_KEYRING_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_KEYRING_BYTES {
            return Err(KeyringError::TooLarge {
                path: shown,
                limit: MAX_KEYRING_BYTES,
            });
        }
        Self::parse(&bytes).map_err(|reason| KeyringError::Invalid {
            path: shown,
            reason,
        })
    }

    /// Parses keyring bytes. Keys whose self-signatures do not verify are
    /// left out, as gpg leaves them out; a keyring with no usable key is an
    /// error, since it could verify nothing.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() as u64 > MAX_KEYRING_BYTES {
            return Err(format!(
                "larger than the {MAX_KEYRING_BYTES}-byte limit for a keyring"
            ));
        }
        let mut found = Vec::new();
        let text = std::str::from_utf8(bytes).ok();
        match text.filter(|t| t.trim_start().starts_with(ARMOR_BEGIN)) {
            Some(text) => {
                let starts: Vec<usize> = text.match_indices(ARMOR_BEGIN).map(|(i, _)| i).collect();
                for (n, &start) in starts.iter().enumerate() {
                    let end = starts.get(n + 1).copied().unwrap_or(text.len());
                    let block = &text[start..end];
                    let (keys, _) = PublicOrSecret::from_armor_many(block.as_bytes())
                        .map_err(|e| format!("armored block {}: {e}", n + 1))?;
                    collect(keys, &mut found)
                        .map_err(|e| format!("armored block {}: {e}", n + 1))?;
                }
            }
            // Every OpenPGP packet header has its top bit set.
            None if bytes.first().is_none_or(|b| b & 0x80 == 0) => {
                return Err(
                    "neither ASCII-armored (-----BEGIN PGP …) nor a binary OpenPGP keyring".into(),
                )
            }
            None => collect(
                PublicOrSecret::from_bytes_many(bytes).map_err(|e| e.to_string())?,
                &mut found,
            )?,
        }
        let total = found.len();
        let keys: Vec<SignedPublicKey> = found
            .into_iter()
            .filter(|k| k.verify_bindings().is_ok())
            .collect();
        match (total, keys.len()) {
            (0, _) => Err("no OpenPGP public key found".into()),
            (n, 0) => Err(format!("none of the {n} keys has valid self-signatures")),
            _ => Ok(Self { keys }),
        }
    }

    /// Keys usable for verification.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn collect(
    keys: impl Iterator<Item = pgp::errors::Result<PublicOrSecret>>,
    into: &mut Vec<SignedPublicKey>,
) -> Result<(), String> {
    for key in keys {
        let key = key.map_err(|e| format!("key {}: {e}", into.len() + 1))?;
        into.push(match key {
            PublicOrSecret::Public(k) => k,
            PublicOrSecret::Secret(k) => k.to_public_key(),
        });
    }
    Ok(())
}
