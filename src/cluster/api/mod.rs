//! `argocd.mode = "api"`: the Argo CD server's REST API (the JSON gateway in
//! front of its gRPC service) with a bearer token. TLS is verified against
//! the system roots, plus `argocd.ca_file` for servers behind a private CA.

mod dto;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode, Url};

use self::dto::{ErrorBody, SyncBody, SyncOptions};
use super::application::Application;
use super::{AppStatus, ArgoCd, ArgoError, SyncRequest};
use crate::settings::{ArgocdSettings, Secret};

/// Per request, connection included: Argo CD answers an app read from its
/// cache in milliseconds, so 30 s means it is stuck, and a worker holding a
/// job must not wait on it forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An unreachable server should fail fast and go to the retry queue rather
/// than take the whole request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An Application with thousands of resources is a few MB; anything far
/// larger is not an Argo CD answer and is not buffered.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// How much of a server error message goes into an `ArgoError`: enough to
/// act on, short enough for a chat reply.
const MAX_MESSAGE_CHARS: usize = 300;

/// Kubernetes object names (DNS-1123 subdomains) are at most this long.
const MAX_NAME_LEN: usize = 253;

/// What Argo CD says when a sync is asked for while one runs (a gRPC
/// FailedPrecondition, which the gateway may turn into a 400).
const OPERATION_IN_PROGRESS: &str = "another operation is already in progress";

/// The gRPC status code `NotFound`, which the gateway puts in `code`.
const GRPC_NOT_FOUND: i64 = 5;

/// The gRPC status code `PermissionDenied`. Argo CD answers it (HTTP 403,
/// "permission denied") both for an app the token may not see and for an
/// app that does not exist, so that a token cannot probe for names.
const GRPC_PERMISSION_DENIED: i64 = 7;

/// Where the Argo CD server's application API lives under `api_url`.
const APPLICATIONS_PATH: [&str; 3] = ["api", "v1", "applications"];

pub struct ApiClient {
    base: Url,
    http: reqwest::Client,
    /// Kept only to scrub it from any text a server echoes back.
    token: Secret,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Configuration problems (bad URL, unreadable CA file, no token) are
    /// `Refused`: a person has to fix them, retrying will not.
    pub fn new(settings: &ArgocdSettings) -> Result<Self, ArgoError> {
        // The URL is not echoed: it might carry credentials.
        let mut base = Url::parse(settings.api_url.trim())
            .map_err(|e| ArgoError::Refused(format!("argocd.api_url is not a URL: {e}")))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ArgoError::Refused(
                "argocd.api_url must not hold credentials; use argocd.token".into(),
            ));
        }
        base.set_query(None);
        base.set_fragment(None);
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ArgoError::Refused(format!(
                "argocd.api_url `{base}` must be an http:// or https:// URL"
            )));
        }
        if settings.token.is_empty() {
            return Err(ArgoError::Refused(
                "argocd.token is empty; mode = \"api\" needs an Argo CD API token".into(),
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", settings.token.expose()))
            .map_err(|_| {
                ArgoError::Refused("argocd.token has characters not allowed in a header".into())
            })?;
        // Keeps the value out of reqwest's and hyper's debug output.
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);

        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // The API never redirects; following one could carry the token
            // to wherever a misconfigured proxy points.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base.scheme() == "https");
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ArgoError::Refused(format!("argocd.ca_file {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ArgoError::Refused(format!("argocd.ca_file {}: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(ArgoError::Refused(format!(
                    "argocd.ca_file {}: no PEM certificate in it",
                    path.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ArgoError::Refused(format!("argocd TLS client: {e}")))?;
        Ok(Self {
            base,
            http,
            token: settings.token.clone(),
        })
    }

    /// `{api_url}/api/v1/applications/{app}`, the name as one encoded path
    /// segment, so a base path (Argo CD under `--rootpath`) is kept.
    fn app_url(&self, app: &str) -> Result<Url, ArgoError> {
        check_name(app)?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ArgoError::Refused(format!("argocd.api_url `{}`", self.base)))?
            .pop_if_empty()
            .extend(APPLICATIONS_PATH)
            .push(app);
        Ok(url)
    }

    /// Sends one request; `Ok(None)` is no such app (a gRPC NotFound, or
    /// a PermissionDenied, which Argo CD also answers for apps that do not
    /// exist), every other non-2xx an error.
    async fn call(
        &self,
        method: Method,
        url: Url,
        app: &str,
        body: Option<&SyncBody<'_>>,
    ) -> Result<Option<Vec<u8>>, ArgoError> {
        let what = format!("{method} {}", url.path());
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(&what, e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        // Read in chunks so an endless body stops at the limit instead of
        // filling memory.
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_RESPONSE_BYTES => {
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => {
                    return Err(ArgoError::Unavailable(format!(
                        "{what}: answer larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                Ok(None) => break,
                Err(e) => return Err(transport_error(&format!("{what}: reading the answer"), e)),
            }
        }
        if status.is_success() {
            return Ok(Some(bytes));
        }
        if status == StatusCode::NOT_FOUND && is_grpc_not_found(&bytes) {
            return Ok(None);
        }
        // Ambiguous by design: no such app, or one this token may not see.
        // Either way there is no app here for chartpilot; the log keeps
        // the hint for whoever checks the token's RBAC.
        if status == StatusCode::FORBIDDEN && is_grpc_permission_denied(&bytes) {
            tracing::warn!(
                app,
                "argocd api: permission denied, taken as no such app (or check the token's RBAC)"
            );
            return Ok(None);
        }
        let message = self.server_message(&bytes);
        Err(classify(status, &message, &what, app))
    }

    /// The server's error message, shortened and with the token scrubbed
    /// in case a proxy echoes request headers back.
    fn server_message(&self, body: &[u8]) -> String {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let text = parsed
            .message
            .or(parsed.error)
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        let mut text: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
        let token = self.token.expose();
        if !token.is_empty() {
            text = text.replace(token, "[redacted]");
        }
        text
    }
}

/// Argo CD says "no such app" with a gRPC NotFound body; a bare 404 comes
/// from something else (a wrong base path, a proxy) and must not read as a
/// missing app.
fn is_grpc_not_found(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(body).is_ok_and(|b| b.code == Some(GRPC_NOT_FOUND))
}

/// A gRPC PermissionDenied body, as Argo CD answers for an app that does
/// not exist or that the token may not see.
fn is_grpc_permission_denied(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(body).is_ok_and(|b| b.code == Some(GRPC_PERMISSION_DENIED))
}

/// reqwest's own text is "error sending request"; the reason (refused,
/// timed out, bad certificate) is further down the source chain.
fn transport_error(what: &str, error: reqwest::Error) -> ArgoError {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    // A certificate the client does not trust stays untrusted on retry.
    if text.contains("certificate") {
        return ArgoError::Refused(format!("{what}: {text} (check argocd.ca_file)"));
    }
    ArgoError::Unavailable(format!("{what}: {text}"))
}

/// Maps a non-2xx, non-404 answer to what the caller should do about it.
fn classify(status: StatusCode, message: &str, what: &str, app: &str) -> ArgoError {
    let detail = if message.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {message}")
    };
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return ArgoError::Refused(format!(
            "{detail} (check argocd.token and its RBAC for `{app}`)"
        ));
    }
    if status == StatusCode::NOT_FOUND {
        return ArgoError::Refused(format!(
            "{detail} (not an Argo CD answer; check argocd.api_url)"
        ));
    }
    let busy = status == StatusCode::CONFLICT || message.contains(OPERATION_IN_PROGRESS);
    if busy || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return ArgoError::Unavailable(detail);
    }
    ArgoError::Refused(detail)
}

/// Application names are Kubernetes names; anything else is refused before
/// it reaches a URL.
fn check_name(app: &str) -> Result<(), ArgoError> {
    let bytes = app.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.';
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(allowed)
        && edge_ok(bytes.first())
        && edge_ok(bytes.last());
    if ok {
        Ok(())
    } else {
        let shown: String = app.chars().take(MAX_NAME_LEN).collect();
        Err(ArgoError::Refused(format!(
            "`{}` is not an Argo CD application name (lowercase letters, digits, `-`, `.`)",
            shown.escape_debug()
        )))
    }
}

#[async_trait]
impl ArgoCd for ApiClient {
    fn describe(&self) -> String {
        format!("api:{}", self.base)
    }

    async fn status(&self, app: &str) -> Result<Option<AppStatus>, ArgoError> {
        let url = self.app_url(app)?;
        let Some(body) = self.call(Method::GET, url, app, None).await? else {
            return Ok(None);
        };
        let parsed: Application = serde_json::from_slice(&body).map_err(|e| {
            // A 200 that is not an Application (a login page from an SSO
            // proxy) stays wrong on retry: a person has to look.
            ArgoError::Refused(format!("GET application `{app}`: not an Application: {e}"))
        })?;
        Ok(Some(parsed.into_status(app)))
    }

    async fn sync(&self, request: &SyncRequest) -> Result<(), ArgoError> {
        let app = request.app.as_str();
        let mut url = self.app_url(app)?;
        url.path_segments_mut()
            .map_err(|()| ArgoError::Refused(format!("argocd.api_url `{}`", self.base)))?
            .push("sync");
        let body = SyncBody {
            revision: request.revision.as_deref().filter(|r| !r.is_empty()),
            prune: false,
            sync_options: (!request.sync_options.is_empty()).then_some(SyncOptions {
                items: &request.sync_options,
            }),
        };
        tracing::info!(
            app,
            revision = request.revision.as_deref(),
            initiated_by = %request.initiated_by,
            "argocd api: sync"
        );
        match self.call(Method::POST, url, app, Some(&body)).await? {
            Some(_) => Ok(()),
            None => Err(ArgoError::NotFound(app.to_owned())),
        }
    }

    async fn refresh(&self, app: &str) -> Result<(), ArgoError> {
        let mut url = self.app_url(app)?;
        // `normal` re-reads git; `hard` would also drop the manifest cache,
        // which costs the repo server far more for no gain here.
        url.query_pairs_mut().append_pair("refresh", "normal");
        match self.call(Method::GET, url, app, None).await? {
            Some(_) => Ok(()),
            None => Err(ArgoError::NotFound(app.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests;
