//! Credentials: a personal (or fine-grained) token, or a GitHub App whose
//! installation on the repository is found on first use.

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
    /// `/repos/{owner}/{name}/installation`.
    installation_path: String,
    /// Kept as the one instance: cloning an installation client copies its
    /// token cache, and the copy would fetch tokens of its own.
    installation: OnceCell<Octocrab>,
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
                    installation_path: format!("{repo_path}/installation"),
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
}

impl AppDirectory {
    pub fn from_settings(settings: &GithubSettings) -> Result<Self, GitError> {
        match Credentials::from_settings(settings, "")? {
            Credentials::App(app) => Ok(Self { jwt: app.jwt }),
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
        let crab = self
            .jwt
            .installation(InstallationId(id))
            .map_err(|e| GitError::Refused(format!("building the installation client: {e}")))?;
        Ok(Credentials::App(Box::new(App {
            jwt: self.jwt.clone(),
            installation_path: String::new(),
            installation: OnceCell::new_with(Some(crab)),
        })))
    }
}

impl App {
    /// Finds the App's installation on the repository: once per process.
    /// A single attempt: a failure goes back to the queue, which retries.
    async fn discover(&self, api: &Api) -> Result<Octocrab, GitError> {
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
        }
        let reply = send(
            &self.jwt,
            Verb::Get,
            &self.installation_path,
            None,
            None,
            None,
        )
        .await?;
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
        self.jwt
            .installation(InstallationId(installation.id))
            .map_err(|e| GitError::Refused(format!("building the installation client: {e}")))
    }
}
