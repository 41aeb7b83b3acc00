//! Helm provenance (`.prov`) verification, as `helm verify` does it: the
//! file is an OpenPGP clearsigned statement about one chart archive; it
//! passes when a key of `helm.keyring` made the signature and the archive's
//! SHA-256 is the one the statement gives for the archive's file name.

mod keyring;
mod statement;

use std::fmt;

use pgp::composed::{CleartextSignedMessage, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::KeyDetails;
use sha2::{Digest, Sha256};

pub use keyring::{Keyring, KeyringError};
pub use statement::{parse as parse_statement, Statement};

/// Largest `.prov` read. Helm's are about 1 KiB (Chart.yaml, one digest
/// and a signature); a large Chart.yaml with many maintainers stays far
/// below this, and nothing bigger is parsed.
pub const MAX_PROVENANCE_BYTES: usize = 64 * 1024;

/// Largest keyring file read. A key with its signatures is a few KiB; a
/// personal `pubring.gpg` with hundreds of keys is a few MiB.
pub const MAX_KEYRING_BYTES: u64 = 16 * 1024 * 1024;

/// Who signed a verified archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Fingerprint of the key (or subkey) that made the signature, upper hex.
    pub fingerprint: String,
    /// Long key id (last 16 hex digits of a v4 fingerprint), upper hex.
    pub key_id: String,
    /// The primary user id of the key (`Name <mail>`), when it has one.
    pub user_id: Option<String>,
    /// What the signed statement says about the chart.
    pub chart: Option<String>,
    pub version: Option<String>,
}

impl fmt::Display for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user_id {
            Some(user) => write!(f, "{user} (key {})", self.key_id),
            None => write!(f, "key {}", self.key_id),
        }
    }
}

/// Why a `.prov` does not vouch for an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    #[error("provenance file larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("malformed provenance file: {0}")]
    Malformed(String),
    #[error("signed by key {0}, which is not in helm.keyring")]
    UnknownKey(String),
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("the provenance file has no digest for {0}")]
    NoDigest(String),
    #[error("{file}: SHA-256 {actual} does not match the signed {expected}")]
    DigestMismatch {
        file: String,
        expected: String,
        actual: String,
    },
}

/// What a check reports about one chart archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified {
        signer: Signed,
    },
    /// The repository publishes no `.prov` for it.
    Unsigned,
    /// A `.prov` exists and does not vouch for the archive.
    Bad(ProvenanceError),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Verified { signer } => write!(f, "signed by {signer}"),
            Verdict::Unsigned => f.write_str("unsigned"),
            Verdict::Bad(reason) => write!(f, "provenance check failed: {reason}"),
        }
    }
}

/// The verdict on an archive and its `.prov`, if the repository has one.
pub fn verdict(
    archive: &[u8],
    archive_name: &str,
    prov: Option<&[u8]>,
    keyring: &Keyring,
) -> Verdict {
    match prov {
        None => Verdict::Unsigned,
        Some(prov) => match verify(archive, archive_name, prov, keyring) {
            Ok(signer) => Verdict::Verified { signer },
            Err(e) => Verdict::Bad(e),
        },
    }
}

/// Verifies `prov` for `archive`, named `archive_name` (`app-1.2.0.tgz`,
/// the key of the statement's `files:`): signature first, then digest.
pub fn verify(
    archive: &[u8],
    archive_name: &str,
    prov: &[u8],
    keyring: &Keyring,
) -> Result<Signed, ProvenanceError> {
    if prov.len() > MAX_PROVENANCE_BYTES {
        return Err(ProvenanceError::TooLarge {
            limit: MAX_PROVENANCE_BYTES,
        });
    }
    let malformed = |m: String| ProvenanceError::Malformed(m);
    let text = std::str::from_utf8(prov).map_err(|_| malformed("not UTF-8 text".into()))?;
    let (message, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| malformed(format!("not an OpenPGP clearsigned message: {e}")))?;
    let mut signer = signer(&message, keyring)?;
    // Only the signed text counts: anything around it is unauthenticated.
    let statement = statement::parse(&message.signed_text()).map_err(malformed)?;
    let file = archive_name.rsplit('/').next().unwrap_or(archive_name);
    let expected = statement
        .files
        .get(file)
        .ok_or_else(|| ProvenanceError::NoDigest(file.to_owned()))?;
    let actual = hex::encode(Sha256::digest(archive));
    if &actual != expected {
        return Err(ProvenanceError::DigestMismatch {
            file: file.to_owned(),
            expected: format!("sha256:{expected}"),
            actual: format!("sha256:{actual}"),
        });
    }
    signer.chart = statement.chart;
    signer.version = statement.version;
    Ok(signer)
}

/// The keyring key that made one of the message's signatures.
fn signer(message: &CleartextSignedMessage, keyring: &Keyring) -> Result<Signed, ProvenanceError> {
    let data = message.signed_text();
    let mut last_failure = None;
    let mut issuers = Vec::new();
    for signature in message.signatures() {
        if let Err(reason) = acceptable(signature) {
            last_failure = Some(reason);
            continue;
        }
        issuers.extend(
            signature
                .issuer_fingerprint()
                .iter()
                .map(|f| format!("{f:X}")),
        );
        issuers.extend(
            signature
                .issuer_key_id()
                .iter()
                .map(|k| k.to_string().to_uppercase()),
        );
        for key in &keyring.keys {
            for (fingerprint, key_id, verified) in candidates(key, signature, data.as_bytes()) {
                match verified {
                    Ok(()) => {
                        return Ok(Signed {
                            fingerprint,
                            key_id,
                            user_id: user_id(key),
                            chart: None,
                            version: None,
                        })
                    }
                    Err(reason) => last_failure = Some(reason),
                }
            }
        }
    }
    if let Some(reason) = last_failure {
        return Err(ProvenanceError::BadSignature(reason));
    }
    match issuers.into_iter().next() {
        Some(issuer) => Err(ProvenanceError::UnknownKey(issuer)),
        None if message.signatures().is_empty() => {
            Err(ProvenanceError::Malformed("no signature".into()))
        }
        None => Err(ProvenanceError::UnknownKey("(issuer not named)".into())),
    }
}

/// Helm signs text with SHA-256 or stronger; MD5 and SHA-1 signatures can
/// be forged and are refused whatever key made them.
fn acceptable(signature: &Signature) -> Result<(), String> {
    if !matches!(
        signature.typ(),
        Some(SignatureType::Text | SignatureType::Binary)
    ) {
        return Err(format!(
            "signature type {:?} does not sign a document",
            signature.typ()
        ));
    }
    match signature.hash_alg() {
        Some(HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160) | None => {
            Err(format!("weak or unknown hash {:?}", signature.hash_alg()))
        }
        Some(_) => Ok(()),
    }
}

/// The key's components the signature names as issuer (all of them when
/// it names none), each with the result of verifying the signature.
/// Revoked components are named but fail.
fn candidates(
    key: &SignedPublicKey,
    signature: &Signature,
    data: &[u8],
) -> Vec<(String, String, Result<(), String>)> {
    let named = |details: &dyn KeyDetailsDyn| {
        let (fingerprint, key_id) = (details.fp(), details.id());
        let fps = signature.issuer_fingerprint();
        let ids = signature.issuer_key_id();
        let matches = (fps.is_empty() && ids.is_empty())
            || fps.iter().any(|f| format!("{f:X}") == fingerprint)
            || ids.iter().any(|k| k.to_string().to_uppercase() == key_id);
        matches.then_some((fingerprint, key_id))
    };
    let revoked = !key.details.revocation_signatures.is_empty();
    let mut out = Vec::new();
    if let Some((fp, id)) = named(&key.primary_key) {
        let result = if revoked {
            Err(format!("key {id} is revoked"))
        } else {
            signature.verify(key, data).map_err(|e| e.to_string())
        };
        out.push((fp, id, result));
    }
    for sub in &key.public_subkeys {
        if let Some((fp, id)) = named(&sub.key) {
            let sub_revoked = sub
                .signatures
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
            let may_sign = sub.signatures.iter().any(|s| s.key_flags().sign());
            let result = if revoked || sub_revoked {
                Err(format!("key {id} is revoked"))
            } else if !may_sign {
                Err(format!("subkey {id} is not a signing key"))
            } else {
                signature.verify(sub, data).map_err(|e| e.to_string())
            };
            out.push((fp, id, result));
        }
    }
    out
}

/// Fingerprint and long key id of a primary key or subkey, upper hex.
trait KeyDetailsDyn {
    fn fp(&self) -> String;
    fn id(&self) -> String;
}

impl<K: KeyDetails> KeyDetailsDyn for K {
    fn fp(&self) -> String {
        format!("{:X}", self.fingerprint())
    }
    fn id(&self) -> String {
        self.legacy_key_id().to_string().to_uppercase()
    }
}

/// The primary user id, else the first; lossy, as ids are rarely not UTF-8.
fn user_id(key: &SignedPublicKey) -> Option<String> {
    let users = &key.details.users;
    users
        .iter()
        .find(|u| u.is_primary())
        .or_else(|| users.first())
        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
}
