//! One place where requests leave for GitHub: picks the credentials, waits
//! out short rate limits, retries 5xx and transport errors with backoff, and
//! hands every other answer back to the caller, which knows what a 404 or a
//! 422 means for its endpoint.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use octocrab::Octocrab;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use serde::Deserialize;

use super::auth::Credentials;
use crate::clock::Clock;
use crate::git::GitError;

/// The longest a call sleeps in-process for a rate limit, summed over its
/// attempts. Longer waits go back to the queue as `RateLimited`, so a worker
/// is not pinned for an hour by an exhausted quota.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);

/// GitHub documents "wait at least one minute" for a secondary rate limit
/// that comes without `retry-after`.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// `x-ratelimit-reset` has whole-second resolution and clocks drift; waking
/// a little after it avoids spending a request on a limit not yet lifted.
const RESET_SLACK: Duration = Duration::from_secs(1);

/// 5xx and transport errors are usually a blip at GitHub or on the path
/// there: a few quick retries, then the job's own retry takes over.
const RETRY_BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(200))
    .with_max_delay(Duration::from_secs(5))
    .with_max_times(3);

/// GitHub's error messages are short; a proxy's HTML error page is not and
/// has no place in a log line or a PR comment.
const MAX_MESSAGE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
}

/// A finished answer whose status is not a rate limit or a 5xx.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, GitError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            GitError::Unavailable(format!("{what}: unexpected answer from GitHub: {e}"))
        })
    }

    /// The path of the next page its `Link` header names, if any.
    pub fn next_page(&self) -> Option<String> {
        self.link().and_then(super::wire::next_page)
    }

    /// The number of the last page its `Link` header names, if any.
    pub fn last_page(&self) -> Option<u32> {
        self.link().and_then(super::wire::last_page)
    }

    fn link(&self) -> Option<&str> {
        self.headers.get("link").and_then(|v| v.to_str().ok())
    }

    /// GitHub's `message`, bounded, or the status alone.
    pub fn message(&self) -> String {
        #[derive(Deserialize)]
        struct Body {
            message: Option<String>,
        }
        let message = serde_json::from_slice::<Body>(&self.body)
            .ok()
            .and_then(|b| b.message)
            .unwrap_or_default();
        message.chars().take(MAX_MESSAGE_CHARS).collect()
    }

    /// The default meaning of an unsuccessful status for `what`.
    pub fn error(&self, what: &str) -> GitError {
        let message = self.message();
        match self.status {
            404 => GitError::NotFound(what.to_owned()),
            401 => GitError::Refused(format!("{what}: bad credentials (401) {message}")),
            403 => GitError::Refused(format!("{what}: forbidden (403) {message}")),
            status => GitError::Refused(format!("{what}: GitHub answered {status} {message}")),
        }
    }
}

pub struct Api {
    pub credentials: Credentials,
    pub clock: Arc<dyn Clock>,
    /// Answers of earlier GETs with their `ETag`s (see [`super::etag`]).
    pub etags: std::sync::Mutex<super::etag::EtagCache>,
    /// Whose budget the calls spend, for the metrics (see
    /// [`installation_label`]).
    pub installation: String,
    /// Where each answer is counted; set once the service has metrics.
    pub metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
}

/// The metrics' name of whose budget calls spend: `app-<id>-<account>` for
/// an App installation (one budget per installation, the account's),
/// `token-<8 hex digits of the token's SHA-256>` for a token, so two
/// tokens are told apart without the secret showing.
pub fn installation_label(github: &crate::settings::GithubSettings, owner: &str) -> String {
    use sha2::{Digest, Sha256};
    match github.app_id {
        Some(id) => format!("app-{id}-{}", owner.to_ascii_lowercase()),
        None => {
            let digest = Sha256::digest(github.token.expose().as_bytes());
            format!("token-{}", &hex::encode(digest)[..8])
        }
    }
}

impl Api {
    /// Sends one request, waiting out short rate limits and retrying server
    /// errors. `path` is relative to `api_url` (path-only URIs are what
    /// octocrab attaches credentials to).
    pub async fn call(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&'static str>,
    ) -> Result<Reply, GitError> {
        self.call_with(verb, path, body, accept, RETRY_BACKOFF)
            .await
    }

    /// Like [`Api::call`] for a request that must not happen twice (a pull
    /// request, a comment): a 5xx or a lost answer may come after GitHub
    /// acted, so it is reported, not replayed; the job's own retry looks
    /// before it acts again. Rate limits are still waited out: GitHub
    /// refused those before doing anything.
    pub async fn call_once(
        &self,
        verb: Verb,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Reply, GitError> {
        let no_retry = RETRY_BACKOFF.with_max_times(0);
        self.call_with(verb, path, Some(body), None, no_retry).await
    }

    async fn call_with(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&'static str>,
        retries: ExponentialBuilder,
    ) -> Result<Reply, GitError> {
        let mut backoff = retries.build();
        let mut waited = Duration::ZERO;
        let key = format!("{} {path}", accept.unwrap_or(""));
        let mut conditional = verb == Verb::Get;
        loop {
            let crab = self.credentials.client(self).await?;
            let etag = if conditional {
                self.etags().etag(&key)
            } else {
                None
            };
            let sent = send(crab, verb, path, body, accept, etag.clone()).await;
            if let (Ok(reply), Some(metrics)) = (&sent, self.metrics.get()) {
                metrics.github_answer(&self.installation, reply.status, &reply.headers);
            }
            let trouble = match sent {
                Ok(reply) if reply.status == 304 && etag.is_some() => {
                    match self.etags().answer(&key) {
                        Some(kept) => return Ok(kept),
                        // Dropped from the cache meanwhile: ask again, plainly.
                        None => {
                            conditional = false;
                            continue;
                        }
                    }
                }
                Ok(reply)
                    if verb == Verb::Get
                        && reply.status < 500
                        && reply.status != 403
                        && reply.status != 429 =>
                {
                    self.etags().keep(&key, &reply);
                    return Ok(reply);
                }
                Ok(reply) => match self.rate_limit(&reply) {
                    Some(delay) => {
                        if waited + delay > MAX_INLINE_WAIT {
                            tracing::warn!(
                                path,
                                delay_s = delay.as_secs(),
                                "rate limited; leaving it to the queue"
                            );
                            return Err(GitError::RateLimited(delay));
                        }
                        tracing::info!(path, delay_s = delay.as_secs(), "rate limited; waiting");
                        waited += delay;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    None if reply.status >= 500 => format!("GitHub answered {}", reply.status),
                    None => return Ok(reply),
                },
                Err(Failure::Transport(e)) => e,
                Err(Failure::Fatal(e)) => return Err(e),
            };
            match backoff.next() {
                Some(delay) => {
                    tracing::info!(
                        path,
                        retry_in_ms = delay.as_millis() as u64,
                        trouble,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                None => return Err(GitError::Unavailable(format!("{verb:?} {path}: {trouble}"))),
            }
        }
    }

    fn etags(&self) -> std::sync::MutexGuard<'_, super::etag::EtagCache> {
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long GitHub asks to wait, when the answer is a rate limit.
    pub fn rate_limit(&self, reply: &Reply) -> Option<Duration> {
        if reply.status != 403 && reply.status != 429 {
            return None;
        }
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(seconds) = header("retry-after") {
            return Some(Duration::from_secs(seconds));
        }
        if header("x-ratelimit-remaining") == Some(0) {
            let reset = header("x-ratelimit-reset").unwrap_or(0);
            let now = u64::try_from(self.clock.now().timestamp()).unwrap_or(0);
            return Some(Duration::from_secs(reset.saturating_sub(now)) + RESET_SLACK);
        }
        let secondary = reply
            .message()
            .to_ascii_lowercase()
            .contains("secondary rate limit");
        if reply.status == 429 || secondary {
            return Some(SECONDARY_RATE_LIMIT_WAIT);
        }
        None
    }
}

pub enum Failure {
    /// Worth another attempt.
    Transport(String),
    Fatal(GitError),
}

/// One HTTP exchange through octocrab, body read to the end.
pub async fn send(
    crab: &Octocrab,
    verb: Verb,
    path: &str,
    body: Option<&serde_json::Value>,
    accept: Option<&'static str>,
    if_none_match: Option<HeaderValue>,
) -> Result<Reply, Failure> {
    let response = match verb {
        Verb::Get => {
            let mut headers = HeaderMap::new();
            if let Some(accept) = accept {
                headers.insert(ACCEPT, HeaderValue::from_static(accept));
            }
            if let Some(etag) = if_none_match {
                headers.insert(reqwest::header::IF_NONE_MATCH, etag);
            }
            crab._get_with_headers(path, Some(headers)).await
        }
        Verb::Post => crab._post(path, body).await,
        Verb::Patch => crab._patch(path, body).await,
    }
    .map_err(classify_octocrab)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    // octocrab hands back an `http` body; reqwest (already a dependency)
    // can read it to the end without adding http-body-util.
    let body = reqwest::Response::from(response.map(reqwest::Body::wrap))
        .bytes()
        .await
        .map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// octocrab errors on the raw path are transport trouble, except for the
/// few that no retry can fix and the GitHub answers of a token refresh.
pub fn classify_octocrab(e: octocrab::Error) -> Failure {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let message: String = source.message.chars().take(MAX_MESSAGE_CHARS).collect();
            // Only a token refresh fails this way; its rate limits go back
            // to the queue rather than being waited out mid-request.
            let header = |name: &str| {
                let headers = source.headers.as_ref()?;
                headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok()
            };
            let limited = header("retry-after").map(Duration::from_secs).or_else(|| {
                (header("x-ratelimit-remaining") == Some(0)).then(|| {
                    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
                    let reset = source.rate_limit_reset.unwrap_or(now);
                    Duration::from_secs(reset.saturating_sub(now)) + RESET_SLACK
                })
            });
            match (status, limited) {
                (500.., _) => Failure::Transport(format!("GitHub answered {status}")),
                (403 | 429, Some(delay)) => Failure::Fatal(GitError::RateLimited(delay)),
                (429, None) => Failure::Fatal(GitError::RateLimited(SECONDARY_RATE_LIMIT_WAIT)),
                _ => Failure::Fatal(GitError::Refused(format!(
                    "obtaining an installation token: GitHub answered {status} {message}"
                ))),
            }
        }
        octocrab::Error::JWT { .. } => Failure::Fatal(GitError::Refused(
            "cannot sign the GitHub App JWT".to_owned(),
        )),
        octocrab::Error::UriParse { .. } | octocrab::Error::Uri { .. } => {
            Failure::Fatal(GitError::Refused("invalid GitHub API URL".to_owned()))
        }
        other => Failure::Transport(format!("transport: {other}")),
    }
}

impl From<Failure> for GitError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Transport(e) => GitError::Unavailable(e),
            Failure::Fatal(e) => e,
        }
    }
}
