use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct IdError {
    pub what: &'static str,
    pub reason: String,
}

/// GitHub's `X-GitHub-Delivery` is a UUID today; accept any short printable
/// token so GitHub Enterprise and test senders work, but nothing that could
/// smuggle control characters into logs or AMQP headers.
const MAX_DELIVERY_ID_LEN: usize = 128;

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let err = |reason: &str| IdError {
            what: "delivery id",
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(err("is empty"));
        }
        if s.len() > MAX_DELIVERY_ID_LEN {
            return Err(err("is longer than 128 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(err("may hold only letters, digits, '-', '_', '.', ':'"));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(DeliveryId);

/// A full git object id: 40 hex digits (SHA-1) or 64 (SHA-256 repositories).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    /// The first 12 digits, as people quote a commit.
    pub fn short(&self) -> &str {
        // Always 40 or 64 ASCII hex digits (see `parse`).
        &self.0[..12]
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(IdError {
                what: "commit sha",
                reason: format!("`{s}` is not 40 or 64 hex digits"),
            })
        }
    }

    /// GitHub sends all zeros as `before` of a new branch and `after` of a
    /// deleted one.
    pub fn is_zero(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }
}
string_newtype!(CommitSha);

/// Alertmanager's per-alert fingerprint: 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AlertFingerprint(String);

impl AlertFingerprint {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError {
                what: "alert fingerprint",
                reason: format!("`{s}` is not a hex fingerprint"),
            })
        }
    }
}
string_newtype!(AlertFingerprint);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids() {
        let cases = [
            ("72d3162e-cc78-11e3-81ab-4c9367dc0958", true),
            ("abc", true),
            ("", false),
            ("a b", false),
            ("x\ny", false),
        ];
        for (input, ok) in cases {
            assert_eq!(DeliveryId::parse(input).is_ok(), ok, "{input:?}");
        }
        assert!(DeliveryId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn commit_shas() {
        let sha = CommitSha::parse("6113728F27AE82C7B1A177C8D03F9E96E0ADF246").unwrap();
        assert_eq!(sha.to_string(), "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
        assert!(!sha.is_zero());
        assert!(CommitSha::parse(&"0".repeat(40)).unwrap().is_zero());
        assert!(CommitSha::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "abc", &"g".repeat(40), &"a".repeat(41)] {
            assert!(CommitSha::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints() {
        assert!(AlertFingerprint::parse("d00d0fdcf380e141").is_ok());
        assert!(AlertFingerprint::parse("").is_err());
        assert!(AlertFingerprint::parse("xyz").is_err());
    }
}
