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
/// with the timestamp no more than five minutes from `now`. Returns the
/// signature as lowercase hex: the same request always gives the same text,
/// however the sender spelled it, so it can name the request.
pub fn verify_slack(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, SignatureError> {
    const TS: &str = "X-Slack-Request-Timestamp";
    const SIG: &str = "X-Slack-Signature";
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let ts = fresh_timestamp(TS, timestamp, now)?;
    let expected = prefixed_hex(SIG, "v0=", signature)?;
    let mut m = mac(secret);
    m.update(format!("v0:{ts}:").as_bytes());
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(hex::encode(expected))
}

/// Timestamp header of the generic chat route.
pub const CHAT_TIMESTAMP: &str = "X-Chartpilot-Timestamp";
/// Signature header of the generic chat route.
pub const CHAT_SIGNATURE: &str = "X-Chartpilot-Signature";
/// Optional id the sender gives a command; a retry carries the same one.
pub const CHAT_REQUEST_ID: &str = "X-Chartpilot-Request-Id";

/// Longest `X-Chartpilot-Request-Id`: a UUID or a ULID fits many times over.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Checks the generic chat route's signature:
/// `sha256=hex(HMAC(secret, "v1:" + ts + ":" + request_id + ":" + body))`,
/// `request_id` empty when the header is absent, the timestamp within the
/// same five minutes as Slack's. The request id is signed so that a replay
/// cannot pass for a new command by changing it. Returns the signature as
/// lowercase hex.
pub fn verify_chat(
    secret: &str,
    timestamp: Option<&str>,
    request_id: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let ts = fresh_timestamp(CHAT_TIMESTAMP, timestamp, now)?;
    if let Some(id) = request_id {
        // No ':' so that the signed text splits one way only.
        let valid = !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            return Err(SignatureError::Malformed(CHAT_REQUEST_ID));
        }
    }
    let expected = prefixed_hex(CHAT_SIGNATURE, "sha256=", signature)?;
    let mut m = mac(secret);
    m.update(format!("v1:{ts}:{}:", request_id.unwrap_or("")).as_bytes());
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(hex::encode(expected))
}

/// A unix-seconds header within [`SLACK_MAX_SKEW_SECS`] of `now`. Digits
/// only, so the text signed is the number read.
fn fresh_timestamp(
    name: &'static str,
    header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, SignatureError> {
    let text = header.ok_or(SignatureError::Missing(name))?.trim();
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed(name));
    }
    let ts: i64 = text.parse().map_err(|_| SignatureError::Malformed(name))?;
    if (now.timestamp() - ts).abs() > SLACK_MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(ts)
}

fn prefixed_hex(
    name: &'static str,
    prefix: &str,
    header: Option<&str>,
) -> Result<Vec<u8>, SignatureError> {
    let header = header.ok_or(SignatureError::Missing(name))?;
    let hex_part = header
        .trim()
        .strip_prefix(prefix)
        .ok_or(SignatureError::Malformed(name))?;
    hex::decode(hex_part).map_err(|_| SignatureError::Malformed(name))
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

/// The generic chat route's `sha256=<hex>`, for senders, tests and tools.
pub fn sign_chat(secret: &str, timestamp: i64, request_id: Option<&str>, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(format!("v1:{timestamp}:{}:", request_id.unwrap_or("")).as_bytes());
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
            Ok(sig[3..].to_owned())
        );
        let upper = format!("v0={}", sig[3..].to_uppercase());
        assert_eq!(
            verify_slack(secret, Some(&tss), Some(&upper), body, at(ts - 300)),
            Ok(sig[3..].to_owned()),
            "one request, one name, however the hex is spelled"
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
    fn chat_signs_timestamp_request_id_and_body() {
        let secret = "s3cret";
        let ts = 1_700_000_000;
        let body = br#"{"user":"ann","text":"freeze dev"}"#;
        let at = |t: i64| Utc.timestamp_opt(t, 0).single().unwrap();
        let tss = ts.to_string();
        let sig = sign_chat(secret, ts, None, body);
        let check = |ts: &str, id: Option<&str>, sig: &str, now: i64| {
            verify_chat(secret, Some(ts), id, Some(sig), body, at(now))
        };
        assert_eq!(check(&tss, None, &sig, ts + 300), Ok(sig[7..].to_owned()));
        assert_eq!(
            check(&tss, None, &sig, ts + 301),
            Err(SignatureError::Stale)
        );
        let later = (ts + 1).to_string();
        assert_eq!(check(&later, None, &sig, ts), Err(SignatureError::Mismatch));
        assert_eq!(
            check(&tss, Some("r1"), &sig, ts),
            Err(SignatureError::Mismatch),
            "an added request id is not signed"
        );
        let with_id = sign_chat(secret, ts, Some("r1"), body);
        assert!(check(&tss, Some("r1"), &with_id, ts).is_ok());
        assert_eq!(
            check(&tss, Some("r2"), &with_id, ts),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&tss, Some("a:b"), &with_id, ts),
            Err(SignatureError::Malformed(CHAT_REQUEST_ID))
        );
        assert_eq!(
            check("+1700000000", None, &sig, ts),
            Err(SignatureError::Malformed(CHAT_TIMESTAMP))
        );
        assert_eq!(
            verify_chat(secret, None, None, Some(&sig), body, at(ts)),
            Err(SignatureError::Missing(CHAT_TIMESTAMP))
        );
        // Documented in docs/chatops.md: the same bytes through openssl.
        assert_eq!(
            sign_chat("s3cret", 1_700_000_000, None, b"{}"),
            sign_sha256("s3cret", b"v1:1700000000::{}")
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
