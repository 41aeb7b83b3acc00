//! Credentials: a personal (or fine-grained) token, or a GitHub App whose
//! installation on the repository is found on first use.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use octocrab::models::{AppId, InstallationId};
use octocrab::Octocrab;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::transport::{send, Api, Verb};
use crate::git::GitError;
use crate::settings::GithubSettings;

/// An installation token is renewed once it has less than this left.
/// octocrab alone renews 30 s before expiry, which a 60 s in-process
/// rate-limit wait, a slow tarball or a skewed clock can outlast; five
/// minutes of a one-hour token cost nothing.
pub const INSTALLATION_TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);

pub enum Credentials {
    Token(Octocrab),
    App(Box<App>),
}

pub struct App {
    /// Authenticates as the App itself (a JWT per request).
    jwt: Octocrab,
    /// Which App, on which GitHub: the key of the shared clients.
    api_url: String,
    app_id: u64,
    /// `/repos/{owner}/{name}`, whose installation this is.
    repo_path: String,
    /// Kept as the one instance: cloning an installation client copies its
    /// token cache, and the copy would fetch tokens of its own.
    installation: OnceCell<Arc<Octocrab>>,
}

/// `(api_url, app id, installation id)`.
type InstallationKey = (String, u64, u64);

/// The installation clients of this process: one per installation, so
/// every repository of an installation shares one token (two hundred
/// repositories are one token request an hour, not two hundred).
static CLIENTS: LazyLock<Mutex<HashMap<InstallationKey, Arc<Octocrab>>>> =
    LazyLock::new(Mutex::default);

/// Installations known by repository (`(api_url, /repos/{owner}/{name})`,
/// lower case) from a discovery listing: a repository found there needs
/// no lookup of its own.
static KNOWN: LazyLock<Mutex<HashMap<(String, String), u64>>> = LazyLock::new(Mutex::default);

/// Records that `repo_path` (`/repos/{owner}/{name}`) is in installation
/// `id` of the App at `api_url`.
pub fn remember_installation(api_url: &str, repo_path: &str, id: u64) {
    KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert((api_url.to_owned(), repo_path.to_ascii_lowercase()), id);
}

/// The shared client of installation `id`, made on first use.
fn shared_client(
    jwt: &Octocrab,
    api_url: &str,
    app_id: u64,
    id: u64,
) -> Result<Arc<Octocrab>, GitError> {
    let mut clients = CLIENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (api_url.to_owned(), app_id, id);
    if let Some(c) = clients.get(&key) {
        return Ok(Arc::clone(c));
    }
    let crab = Arc::new(
        jwt.installation(InstallationId(id))
            .map_err(|e| GitError::Refused(format!("building the installation client: {e}")))?,
    );
    clients.insert(key, Arc::clone(&crab));
    Ok(crab)
}

impl Credentials {
    /// Whether chartpilot acts as a GitHub App (which may use the Checks
    /// API; a token may not).
    pub fn is_app(&self) -> bool {
        matches!(self, Credentials::App(_))
    }

    pub fn from_settings(settings: &GithubSettings, repo_path: &str) -> Result<Self, GitError> {
        let builder = || {
            Octocrab::builder()
                .base_uri(settings.api_url.as_str())
                .map_err(|_| GitError::Refused("github.api_url is not a valid URL".to_owned()))
        };
        match (settings.app_id, &settings.private_key_file) {
            (Some(app_id), Some(key_file)) => {
                let pem = std::fs::read(key_file).map_err(|e| {
                    GitError::Refused(format!(
                        "github.private_key_file {}: {}",
                        key_file.display(),
                        e.kind()
                    ))
                })?;
                // The key's bytes stay out of the message: jsonwebtoken's
                // error says only what kind of key it expected.
                let key = octocrab::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
                    GitError::Refused(format!(
                        "github.private_key_file is not an RSA PEM key: {e}"
                    ))
                })?;
                let jwt = builder()?
                    .app(AppId(app_id), key)
                    .build()
                    .map_err(|e| GitError::Refused(format!("building the GitHub client: {e}")))?;
                Ok(Credentials::App(Box::new(App {
                    jwt,
                    api_url: settings.api_url.clone(),
                    app_id,
                    repo_path: repo_path.to_owned(),
                    installation: OnceCell::new(),
                })))
            }
            (Some(_), None) | (None, Some(_)) => Err(GitError::Refused(
                "github.app_id and github.private_key_file go together".to_owned(),
            )),
            (None, None) => {
                let token = settings.token.expose();
                if token.is_empty() {
                    return Err(GitError::Refused(
                        "no GitHub credentials: set github.token or github.app_id".to_owned(),
                    ));
                }
                // octocrab unwraps the header it builds from the token;
                // check first so a stray newline is an error, not a panic.
                if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
                    return Err(GitError::Refused(
                        "github.token holds characters not allowed in a header".to_owned(),
                    ));
                }
                let crab = builder()?
                    .personal_token(token.to_owned())
                    .build()
                    .map_err(|e| GitError::Refused(format!("building the GitHub client: {e}")))?;
                Ok(Credentials::Token(crab))
            }
        }
    }

    /// The client to send with, its token valid for at least
    /// [`INSTALLATION_TOKEN_MARGIN`].
    pub async fn client(&self, api: &Api) -> Result<&Octocrab, GitError> {
        match self {
            Credentials::Token(crab) => Ok(crab),
            Credentials::App(app) => {
                let crab = app
                    .installation
                    .get_or_try_init(|| app.discover(api))
                    .await?;
                let margin = chrono::Duration::from_std(INSTALLATION_TOKEN_MARGIN)
                    .unwrap_or(chrono::Duration::zero());
                // octocrab measures what is left of the token against the
                // system clock. Ours may run ahead (a test moving past an
                // expiry): the buffer grows by that much, so the token is
                // renewed once `margin` is left by our clock, and never
                // later than that by the system's.
                let ahead = (api.clock.now() - chrono::Utc::now()).max(chrono::Duration::zero());
                // Served from octocrab's cache unless the token is near its
                // end; the request that follows then finds it valid.
                crab.installation_token_with_buffer(margin + ahead)
                    .await
                    .map_err(|e| GitError::from(super::transport::classify_octocrab(e)))?;
                Ok(crab)
            }
        }
    }
}

/// The App itself and its installations, for listing what it may see
/// (`repositories.discover`).
pub struct AppDirectory {
    jwt: Octocrab,
    api_url: String,
    app_id: u64,
}

impl AppDirectory {
    pub fn from_settings(settings: &GithubSettings) -> Result<Self, GitError> {
        match Credentials::from_settings(settings, "")? {
            Credentials::App(app) => Ok(Self {
                jwt: app.jwt,
                api_url: app.api_url,
                app_id: app.app_id,
            }),
            Credentials::Token(_) => Err(GitError::Refused(
                "listing installations needs a GitHub App (github.app_id and github.private_key_file)"
                    .to_owned(),
            )),
        }
    }

    /// The App's own client, a JWT per request.
    pub fn jwt(&self) -> &Octocrab {
        &self.jwt
    }

    /// Credentials of one installation, its id known.
    pub fn installation(&self, id: u64) -> Result<Credentials, GitError> {
        let crab = shared_client(&self.jwt, &self.api_url, self.app_id, id)?;
        Ok(Credentials::App(Box::new(App {
            jwt: self.jwt.clone(),
            api_url: self.api_url.clone(),
            app_id: self.app_id,
            repo_path: String::new(),
            installation: OnceCell::new_with(Some(crab)),
        })))
    }

    /// Records that `full_name` (`owner/name`) is in installation `id`.
    pub fn remember(&self, full_name: &str, id: u64) {
        remember_installation(&self.api_url, &format!("/repos/{full_name}"), id);
    }
}

impl App {
    /// Finds the App's installation on the repository: once per process,
    /// and not at all when a discovery listing named it. Every repository
    /// of one installation gets the same client.
    /// A single attempt: a failure goes back to the queue, which retries.
    async fn discover(&self, api: &Api) -> Result<Arc<Octocrab>, GitError> {
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
        }
        let known = KNOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(self.api_url.clone(), self.repo_path.to_ascii_lowercase()))
            .copied();
        if let Some(id) = known {
            return shared_client(&self.jwt, &self.api_url, self.app_id, id);
        }
        let installation_path = format!("{}/installation", self.repo_path);
        let reply = send(&self.jwt, Verb::Get, &installation_path, None, None, None).await?;
        if let Some(delay) = api.rate_limit(&reply) {
            return Err(GitError::RateLimited(delay));
        }
        if reply.status >= 500 {
            return Err(GitError::Unavailable(format!(
                "looking up the App installation: GitHub answered {}",
                reply.status
            )));
        }
        if !reply.is_success() {
            return Err(match reply.status {
                404 => GitError::Refused(
                    "the GitHub App is not installed on the repository".to_owned(),
                ),
                _ => reply.error("looking up the App installation"),
            });
        }
        let installation: Installation = reply.json("App installation")?;
        tracing::info!(
            installation = installation.id,
            "found the GitHub App installation"
        );
        remember_installation(&self.api_url, &self.repo_path, installation.id);
        shared_client(&self.jwt, &self.api_url, self.app_id, installation.id)
    }
}
