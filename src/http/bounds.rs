//! What a request may cost before its sender is known. A body signed with
//! an HMAC must be read whole before the signature can be checked, so
//! until then it is a stranger's: its read has a deadline, its route a
//! size limit fitted to the sender, and every byte buffered counts against
//! one budget shared by all connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpRequest;
use futures_util::StreamExt;

use super::ApiError;

/// Alertmanager groups alerts of about 1 KiB each; a thousand alerts in
/// one notification is far past any group worth acting on.
pub const ALERTMANAGER_MAX_BODY_BYTES: usize = 1024 * 1024;

/// A Slack slash command is a short form: ids, a URL and at most 4,000
/// characters of text.
pub const SLACK_MAX_BODY_BYTES: usize = 64 * 1024;

/// A generic chat command is one line of text, a user and a URL.
pub const CHAT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Bodies up to this size are "small": chat commands, pings, most pushes.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// One part in this many of the budget is kept for small bodies, so slow
/// large uploads filling the budget cannot starve the next chat command.
const SMALL_ONLY_SHARE: usize = 4;

/// Largest buffer allocated up front from a declared Content-Length: a
/// declaration is a promise, and strangers do not keep theirs.
const MAX_PREALLOCATED_BYTES: usize = 16 * 1024;

/// Bytes held by unauthenticated bodies across all connections.
#[derive(Debug)]
pub struct PreauthBudget {
    capacity: usize,
    used: AtomicUsize,
}

impl PreauthBudget {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held right now, for tests and metrics.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn try_take(&self, bytes: usize, small: bool) -> bool {
        let ceiling = if small {
            self.capacity
        } else {
            self.capacity - self.capacity / SMALL_ONLY_SHARE
        };
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= ceiling)
            })
            .is_ok()
    }
}

/// Budget held by one request; given back when dropped, that is when the
/// request is authenticated or done, whichever comes first.
#[derive(Debug)]
struct Reservation {
    budget: Arc<PreauthBudget>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// How one route reads its body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyRule {
    pub route: &'static str,
    pub limit: usize,
    /// The sender is not yet known: bytes count against the budget.
    pub unauthenticated: bool,
}

/// The server-wide bounds, from `[server]`.
#[derive(Debug, Clone)]
pub struct Bounds {
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub budget: Arc<PreauthBudget>,
}

/// A body read within its bounds, still holding its share of the budget.
#[derive(Debug)]
pub(crate) struct Body {
    bytes: Bytes,
    _held: Option<Reservation>,
}

impl Body {
    /// The bytes, once the sender is known: the budget is given back.
    pub fn authenticated(self) -> Bytes {
        self.bytes
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads the body by `rule` within `bounds.body_timeout`: 413 when it is
/// larger than the route's limit (before it is buffered when declared),
/// 503 when the budget of unauthenticated bytes is spent, 408 when it is
/// too slow.
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    rule: BodyRule,
    bounds: &Bounds,
) -> Result<Body, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let too_large = ApiError::TooLarge {
        route: rule.route,
        limit: rule.limit,
    };
    if declared.is_some_and(|n| n > rule.limit) {
        return Err(too_large);
    }
    let small = declared.is_some_and(|n| n <= SMALL_BODY_BYTES);
    let held = rule.unauthenticated.then(|| Reservation {
        budget: Arc::clone(&bounds.budget),
        bytes: 0,
    });
    let read = read_chunks(payload, rule, declared, small, held);
    match tokio::time::timeout(bounds.body_timeout, read).await {
        Ok(body) => body,
        Err(_) => Err(ApiError::BodyTimeout {
            after: bounds.body_timeout,
        }),
    }
}

async fn read_chunks(
    mut payload: web::Payload,
    rule: BodyRule,
    declared: Option<usize>,
    small: bool,
    mut held: Option<Reservation>,
) -> Result<Body, ApiError> {
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(MAX_PREALLOCATED_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read body: {e}")))?;
        let total = body.len() + chunk.len();
        if total > rule.limit {
            return Err(ApiError::TooLarge {
                route: rule.route,
                limit: rule.limit,
            });
        }
        if let Some(r) = held.as_mut() {
            // An undeclared body is small only while it stays small.
            let small = small || (declared.is_none() && total <= SMALL_BODY_BYTES);
            if !r.budget.try_take(chunk.len(), small) {
                return Err(ApiError::Busy);
            }
            r.bytes += chunk.len();
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes: body.freeze(),
        _held: held,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_leave_a_share_for_small_ones() {
        let b = PreauthBudget::new(1000);
        assert!(b.try_take(700, false));
        assert!(!b.try_take(51, false), "large bodies stop at 750");
        assert!(b.try_take(50, false));
        assert!(b.try_take(250, true), "small ones may use the rest");
        assert!(!b.try_take(1, true));
        assert_eq!(b.in_use(), 1000);
    }

    #[test]
    fn a_reservation_gives_its_bytes_back() {
        let b = PreauthBudget::new(100);
        assert!(b.try_take(60, true));
        drop(Reservation {
            budget: Arc::clone(&b),
            bytes: 60,
        });
        assert_eq!(b.in_use(), 0);
    }
}
