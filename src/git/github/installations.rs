//! The repositories a GitHub App's installations can see, for
//! `repositories.discover`: `GET /app/installations` as the App, then
//! `GET /installation/repositories` as each installation. Both are paged
//! and conditional, so a round over an unchanged organisation costs 304s,
//! which GitHub does not count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::auth::AppDirectory;
use super::transport::{self, send, Api, Verb};
use super::{MAX_PAGES, PER_PAGE};
use crate::clock::Clock;
use crate::git::GitError;
use crate::settings::GithubSettings;

/// A repository an installation of the App can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRepository {
    /// `owner/name` as GitHub spells it.
    pub full_name: String,
    pub default_branch: String,
    /// Archived or disabled: read-only, nothing to open PRs on.
    pub read_only: bool,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    account: Option<Account>,
    #[serde(default)]
    suspended_at: Option<String>,
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct RepositoryPage {
    repositories: Vec<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    default_branch: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    disabled: bool,
}

pub struct Installations {
    directory: AppDirectory,
    github: GithubSettings,
    clock: Arc<dyn Clock>,
    /// One client per installation, kept so its token and ETags are reused.
    apis: Mutex<HashMap<u64, Arc<Api>>>,
    metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
}

impl Installations {
    pub fn from_settings(github: &GithubSettings, clock: Arc<dyn Clock>) -> Result<Self, GitError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(GitError::Refused(
                "the GitHub client must be built inside the tokio runtime".to_owned(),
            ));
        }
        Ok(Self {
            directory: AppDirectory::from_settings(github)?,
            github: github.clone(),
            clock,
            apis: Mutex::new(HashMap::new()),
            metrics: std::sync::OnceLock::new(),
        })
    }

    pub fn attach_metrics(&self, metrics: &Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(Arc::clone(metrics));
    }

    /// Every repository of every installation that is not suspended, in
    /// the order GitHub lists them.
    pub async fn repositories(&self) -> Result<Vec<InstalledRepository>, GitError> {
        let mut out = Vec::new();
        for (id, account) in self.installations().await? {
            let api = self.api(id, &account)?;
            let mut next = Some(format!("/installation/repositories?per_page={PER_PAGE}"));
            let mut pages = 0;
            while let Some(path) = next.take() {
                pages += 1;
                if pages > MAX_PAGES {
                    return Err(GitError::Refused(format!(
                        "installation {id} lists more than {} repositories",
                        MAX_PAGES * PER_PAGE as usize
                    )));
                }
                let reply = api.call(Verb::Get, &path, None, None).await?;
                if !reply.is_success() {
                    return Err(reply.error(&format!("repositories of installation {id}")));
                }
                let page: RepositoryPage = reply.json("installation repositories")?;
                for r in &page.repositories {
                    self.directory.remember(&r.full_name, id);
                }
                out.extend(page.repositories.into_iter().map(|r| InstalledRepository {
                    default_branch: r.default_branch.unwrap_or_else(|| "main".to_owned()),
                    read_only: r.archived || r.disabled,
                    full_name: r.full_name,
                }));
                next = reply.next_page();
            }
        }
        Ok(out)
    }

    /// `(id, account)` of each installation that is not suspended.
    async fn installations(&self) -> Result<Vec<(u64, String)>, GitError> {
        let mut out = Vec::new();
        let mut next = Some(format!("/app/installations?per_page={PER_PAGE}"));
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GitError::Refused(
                    "the App lists too many installations".to_owned(),
                ));
            }
            let reply = match send(self.directory.jwt(), Verb::Get, &path, None, None, None).await {
                Ok(r) => r,
                Err(transport::Failure::Fatal(e)) => return Err(e),
                Err(transport::Failure::Transport(e)) => {
                    return Err(GitError::Unavailable(format!(
                        "listing the App's installations: {e}"
                    )))
                }
            };
            if reply.status >= 500 || reply.status == 429 {
                return Err(GitError::Unavailable(format!(
                    "listing the App's installations: GitHub answered {}",
                    reply.status
                )));
            }
            if !reply.is_success() {
                return Err(reply.error("the App's installations"));
            }
            let page: Vec<Installation> = reply.json("App installations")?;
            out.extend(
                page.into_iter()
                    .filter(|i| i.suspended_at.is_none())
                    .map(|i| (i.id, i.account.map(|a| a.login).unwrap_or_default())),
            );
            next = reply.next_page();
        }
        Ok(out)
    }

    fn api(&self, id: u64, account: &str) -> Result<Arc<Api>, GitError> {
        let mut apis = self
            .apis
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(api) = apis.get(&id) {
            return Ok(Arc::clone(api));
        }
        let api = Arc::new(Api {
            credentials: self.directory.installation(id)?,
            clock: Arc::clone(&self.clock),
            etags: std::sync::Mutex::default(),
            installation: transport::installation_label(&self.github, account),
            metrics: std::sync::OnceLock::new(),
        });
        if let Some(m) = self.metrics.get() {
            let _ = api.metrics.set(Arc::clone(m));
        }
        apis.insert(id, Arc::clone(&api));
        Ok(api)
    }
}
