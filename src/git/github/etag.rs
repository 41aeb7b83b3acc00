//! Conditional GETs: the last successful answer of each GET is kept with
//! its `ETag`, and the next GET of the same resource sends
//! `If-None-Match`. GitHub answers 304 when nothing changed and does not
//! count a 304 against the rate limit, so a pass over an unchanged
//! repository reads it almost for free.
//!
//! Bounded: at most [`MAX_ENTRIES`] answers and [`MAX_BYTES`] in all, none
//! above [`MAX_BODY`]; the least recently used go first.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ETAG};

use super::transport::Reply;

pub const MAX_ENTRIES: usize = 512;
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
pub const MAX_BODY: usize = 2 * 1024 * 1024;

struct Kept {
    etag: HeaderValue,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
pub struct EtagCache {
    kept: HashMap<String, Kept>,
    /// Keys, least recently used first.
    order: VecDeque<String>,
    bytes: usize,
}

impl EtagCache {
    /// The `If-None-Match` value for `key`, if an answer is kept.
    pub fn etag(&self, key: &str) -> Option<HeaderValue> {
        self.kept.get(key).map(|k| k.etag.clone())
    }

    /// The kept answer for `key`, as a fresh 200 (after a 304).
    pub fn answer(&mut self, key: &str) -> Option<Reply> {
        let kept = self.kept.get(key)?;
        let reply = Reply {
            status: 200,
            headers: kept.headers.clone(),
            body: kept.body.clone(),
        };
        self.touch(key);
        Some(reply)
    }

    /// Keeps a successful answer that carries an `ETag`; forgets `key`
    /// otherwise, so a stale answer is never served for it.
    pub fn keep(&mut self, key: &str, reply: &Reply) {
        self.forget(key);
        let Some(etag) = reply.headers.get(ETAG) else {
            return;
        };
        if reply.status != 200 || reply.body.len() > MAX_BODY {
            return;
        }
        self.bytes += reply.body.len();
        self.kept.insert(
            key.to_owned(),
            Kept {
                etag: etag.clone(),
                headers: reply.headers.clone(),
                body: reply.body.clone(),
            },
        );
        self.order.push_back(key.to_owned());
        while self.kept.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(k) = self.kept.remove(&oldest) {
                self.bytes -= k.body.len();
            }
        }
    }

    pub fn forget(&mut self, key: &str) {
        if let Some(k) = self.kept.remove(key) {
            self.bytes -= k.body.len();
            self.order.retain(|o| o != key);
        }
    }

    fn touch(&mut self, key: &str) {
        if let Some(at) = self.order.iter().position(|o| o == key) {
            if let Some(k) = self.order.remove(at) {
                self.order.push_back(k);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, etag: Option<&str>, body: &[u8]) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(e) = etag {
            headers.insert(ETAG, HeaderValue::from_str(e).unwrap());
        }
        Reply {
            status,
            headers,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn only_successful_answers_with_an_etag_are_kept_and_a_new_answer_replaces_the_old() {
        let mut c = EtagCache::default();
        c.keep("a", &reply(200, Some("W/\"1\""), b"one"));
        c.keep("b", &reply(200, None, b"no etag"));
        c.keep("c", &reply(404, Some("W/\"3\""), b"gone"));
        assert_eq!(c.etag("a").unwrap(), "W/\"1\"");
        assert!(c.etag("b").is_none() && c.etag("c").is_none());
        assert_eq!(c.answer("a").unwrap().body, "one");
        // A later answer without an ETag must not leave the old one behind.
        c.keep("a", &reply(200, None, b"two"));
        assert!(c.etag("a").is_none());
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_cache_stays_within_its_bounds_dropping_the_least_recently_used() {
        let mut c = EtagCache::default();
        let big = vec![b'x'; MAX_BODY];
        c.keep(
            "huge",
            &reply(200, Some("\"h\""), &vec![b'x'; MAX_BODY + 1]),
        );
        assert!(
            c.etag("huge").is_none(),
            "an answer above MAX_BODY is not kept"
        );
        for i in 0..(MAX_BYTES / MAX_BODY) {
            c.keep(&format!("k{i}"), &reply(200, Some("\"e\""), &big));
        }
        // k0 was used last: k1 is the least recently used now.
        assert!(c.answer("k0").is_some());
        c.keep("one-more", &reply(200, Some("\"e\""), &big));
        assert!(c.bytes <= MAX_BYTES);
        assert!(c.etag("k0").is_some() && c.etag("k1").is_none());
        for i in 0..MAX_ENTRIES + 10 {
            c.keep(&format!("small{i}"), &reply(200, Some("\"s\""), b"s"));
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
