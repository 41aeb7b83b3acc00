//! Request authentication: HMAC signatures and bearer tokens, all compared
//! in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Slack rejects requests older than five minutes to stop replays; so do we.
pub const SLACK_MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this route is disabled: no secret is configured")]
    NoSecret,
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("signature does not match")]
    Mismatch,
    #[error("request timestamp is outside the 5 minute window")]
    Stale,
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length; an error here is impossible.
    HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!())
}

/// Checks a `sha256=<hex>` header (GitHub's `X-Hub-Signature-256`, and
/// chartpilot's own `X-Chartpilot-Signature`) against the body.
pub fn verify_sha256_header(
    secret: &str,
    header_name: &'static str,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing(header_name))?;
    let hex_part = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(header_name))?;
    let expected =
        hex::decode(hex_part.trim()).map_err(|_| SignatureError::Malformed(header_name))?;
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks Slack's v0 signature: `v0=hex(HMAC(secret, "v0:" + ts + ":" + body))`
/// with the timestamp no more than five minutes from `now`.
pub fn verify_slack(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    const TS: &str = "X-Slack-Request-Timestamp";
    const SIG: &str = "X-Slack-Signature";
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let ts_text = timestamp.ok_or(SignatureError::Missing(TS))?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed(TS))?;
    let signature = signature.ok_or(SignatureError::Missing(SIG))?;
    let hex_part = signature
        .strip_prefix("v0=")
        .ok_or(SignatureError::Malformed(SIG))?;
    let expected = hex::decode(hex_part.trim()).map_err(|_| SignatureError::Malformed(SIG))?;
    if (now.timestamp() - ts).abs() > SLACK_MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let mut m = mac(secret);
    m.update(b"v0:");
    m.update(ts_text.trim().as_bytes());
    m.update(b":");
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks `Authorization: Bearer <token>`.
pub fn verify_bearer(token: &str, header: Option<&str>) -> Result<(), SignatureError> {
    const AUTH: &str = "Authorization";
    if token.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing(AUTH))?;
    let (scheme, given) = header
        .trim()
        .split_once(' ')
        .ok_or(SignatureError::Malformed(AUTH))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(SignatureError::Malformed(AUTH));
    }
    if bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` of the body, for senders and tests.
pub fn sign_sha256(secret: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// Slack's `v0=<hex>` for a timestamp and body, for tests and tools.
pub fn sign_slack(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(format!("v0:{timestamp}:").as_bytes());
    m.update(body);
    format!("v0={}", hex::encode(m.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const GH_SECRET: &str = "It's a Secret to Everybody";

    #[test]
    fn github_documented_vector() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign_sha256(GH_SECRET, b"Hello, World!"), sig);
        assert_eq!(
            verify_sha256_header(
                GH_SECRET,
                "X-Hub-Signature-256",
                Some(sig),
                b"Hello, World!"
            ),
            Ok(())
        );
    }

    #[test]
    fn sha256_header_failures() {
        let good = sign_sha256(GH_SECRET, b"body");
        let h = "X-Hub-Signature-256";
        let cases: [(&str, Option<&str>, &[u8], SignatureError); 6] = [
            (GH_SECRET, Some(&good), b"bodY", SignatureError::Mismatch),
            ("wrong", Some(&good), b"body", SignatureError::Mismatch),
            (GH_SECRET, None, b"body", SignatureError::Missing(h)),
            (
                GH_SECRET,
                Some(&good[7..]),
                b"body",
                SignatureError::Malformed(h),
            ),
            (
                GH_SECRET,
                Some("sha256=zz"),
                b"body",
                SignatureError::Malformed(h),
            ),
            ("", Some(&good), b"body", SignatureError::NoSecret),
        ];
        for (secret, header, body, want) in cases {
            assert_eq!(verify_sha256_header(secret, h, header, body), Err(want));
        }
    }

    #[test]
    fn slack_window() {
        let secret = "s3cret";
        let ts = 1_700_000_000;
        let body = b"text=help";
        let sig = sign_slack(secret, ts, body);
        let at = |t: i64| Utc.timestamp_opt(t, 0).single().unwrap();
        let tss = ts.to_string();
        assert_eq!(
            verify_slack(secret, Some(&tss), Some(&sig), body, at(ts + 300)),
            Ok(())
        );
        assert_eq!(
            verify_slack(secret, Some(&tss), Some(&sig), body, at(ts - 300)),
            Ok(())
        );
        assert_eq!(
            verify_slack(secret, Some(&tss), Some(&sig), body, at(ts + 301)),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack(
                secret,
                Some("17000000001"),
                Some(&sig),
                body,
                at(17_000_000_001)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(secret, Some("soon"), Some(&sig), body, at(ts)),
            Err(SignatureError::Malformed("X-Slack-Request-Timestamp"))
        );
    }

    #[test]
    fn bearer() {
        assert_eq!(verify_bearer("tok", Some("Bearer tok")), Ok(()));
        assert_eq!(verify_bearer("tok", Some("bearer tok")), Ok(()));
        assert_eq!(
            verify_bearer("tok", Some("Bearer tok2")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_bearer("tok", Some("Basic tok")),
            Err(SignatureError::Malformed("Authorization"))
        );
        assert_eq!(
            verify_bearer("tok", None),
            Err(SignatureError::Missing("Authorization"))
        );
        assert_eq!(
            verify_bearer("", Some("Bearer ")),
            Err(SignatureError::NoSecret)
        );
    }
}
