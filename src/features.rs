//! What each feature is doing: on, off on purpose (with the key that turns
//! it on), or configured but broken. `serve` prints it at start, `/readyz`
//! answers 503 with it while a feature is broken, and `check-config
//! --probe` prints it and exits 1 for a broken one.
//!
//! "Off" is for what is not configured (the built-in defaults), never an
//! error; "broken" is for what is configured and cannot work: a token the
//! git host refuses, a host that does not answer, a missing `git`.

use std::time::Duration;

use serde::Serialize;

use crate::git::GitHost;
use crate::settings::{ArgocdMode, GitProvider, Settings};
use crate::worker::service::ServiceHandler;

/// Per probe of one connection (git host, Argo CD, Alertmanager): a host
/// that has not answered in this long is as good as down for a webhook
/// sender, and start-up should not hang on it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a feature is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    On {
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Not configured: `why`, and the key that turns it on.
    Off { why: String, key: String },
    /// Configured, and cannot work: why.
    Broken { why: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feature {
    pub name: &'static str,
    #[serde(flatten)]
    pub state: State,
}

/// Every feature, in the order they are printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Features(pub Vec<Feature>);

impl Features {
    /// The features that are configured and broken.
    pub fn broken(&self) -> Vec<&Feature> {
        self.0
            .iter()
            .filter(|f| matches!(f.state, State::Broken { .. }))
            .collect()
    }

    /// `{"upgrades": {"state": "on"}, …}` for `/readyz`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|f| {
                    let mut v = serde_json::to_value(&f.state).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("name");
                    }
                    (f.name.to_owned(), v)
                })
                .collect(),
        )
    }

    /// The short block `serve` and `check-config --probe` print.
    pub fn render(&self) -> String {
        let width = self.0.iter().map(|f| f.name.len()).max().unwrap_or(0);
        let mut out = String::from("features:\n");
        for f in &self.0 {
            let line = match &f.state {
                State::On { note: None } => "on".to_owned(),
                State::On { note: Some(n) } => format!("on ({n})"),
                State::Off { why, key } => format!("off: {why}; set {key} to turn it on"),
                State::Broken { why } => format!("BROKEN: {why}"),
            };
            out.push_str(&format!("  {:<width$}  {line}\n", f.name));
        }
        out
    }
}

/// The features as last assessed, read by `/readyz` and replaced by the
/// re-probe task while something is broken.
#[derive(Debug, Default)]
pub struct Board(std::sync::RwLock<Features>);

impl Board {
    pub fn new(features: Features) -> Self {
        Self(std::sync::RwLock::new(features))
    }

    pub fn get(&self) -> Features {
        // A writer that panicked left a whole value behind: still good.
        match self.0.read() {
            Ok(f) => f.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, features: Features) {
        match self.0.write() {
            Ok(mut f) => *f = features,
            Err(poisoned) => *poisoned.into_inner() = features,
        }
    }
}

/// Between re-assessments while a feature is broken: a host that was down
/// at start makes the replica ready again within about this long of
/// coming back, without hammering a host that refuses us.
pub const REPROBE_INTERVAL: Duration = Duration::from_secs(60);

/// Re-assesses every [`REPROBE_INTERVAL`] while a feature is broken, until
/// `stop` turns true. What could not be built at start stays broken; a
/// connection that failed its probe heals.
pub async fn reprobe(
    board: std::sync::Arc<Board>,
    settings: Settings,
    handler: std::sync::Arc<crate::worker::repos::Repositories>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(REPROBE_INTERVAL) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if board.get().broken().is_empty() {
            continue;
        }
        // A probe may take PROBE_TIMEOUT per connection: not at shutdown.
        let features = tokio::select! {
            f = assess_repositories(&settings, &handler) => f,
            _ = stop.changed() => return,
        };
        if features.broken().is_empty() {
            tracing::info!("every configured feature works again");
        }
        board.set(features);
    }
}

fn on() -> State {
    State::On { note: None }
}

fn off(why: impl Into<String>, key: impl Into<String>) -> State {
    State::Off {
        why: why.into(),
        key: key.into(),
    }
}

fn broken(why: impl Into<String>) -> State {
    State::Broken { why: why.into() }
}

/// Whether a repository is configured: GitHub, a `git.path` someone set,
/// or the default `.` being a repository.
fn git_configured(settings: &Settings) -> bool {
    settings.git.provider == GitProvider::Github
        || settings.git.path != std::path::Path::new(".")
        || crate::git::local::LocalGit::open(&settings.git).is_ok()
}

/// Assesses each feature for each repository served, and says per
/// feature what holds for all of them: broken only when broken for every
/// repository (one repository's broken Argo CD does not take the service
/// out of rotation for the others), with the repositories it is off or
/// broken for named in its note.
pub async fn assess_repositories(
    settings: &Settings,
    repos: &crate::worker::repos::Repositories,
) -> Features {
    let mut each = Vec::new();
    for s in repos.served().iter() {
        each.push((s.key.clone(), assess(&s.context, &s.handler).await));
    }
    // `settings` is what each repository was built from; with discovery,
    // none may be found yet, and there is nothing to assess.
    let _ = settings;
    let mut features = combine(each);
    if repos.discovers() {
        let served = repos.served();
        let keys: Vec<&str> = served.iter().map(|s| s.key.as_str()).collect();
        features.0.insert(
            0,
            Feature {
                name: "repositories",
                state: discovery_state(&keys, repos.last_round_error().as_deref()),
            },
        );
    }
    features
}

/// What `repositories.discover` found: the repositories served (`keys`),
/// and the last round's error if it failed. Broken only while nothing is
/// served because the installations could not be listed.
pub fn discovery_state(keys: &[&str], error: Option<&str>) -> State {
    const SHOWN: usize = 5;
    let named = || crate::text::first_of(keys.iter().map(|k| (*k).to_owned()), SHOWN).join(", ");
    match (keys.is_empty(), error) {
        (true, Some(e)) => broken(format!(
            "no repository served: the GitHub App's installations could not be listed ({e})"
        )),
        (true, None) => State::On {
            note: Some(
                "discovery found no repository with pins in the App's installations yet".into(),
            ),
        },
        (false, Some(e)) => State::On {
            note: Some(format!(
                "{} discovered ({}); the last round failed, they are kept: {e}",
                keys.len(),
                named()
            )),
        },
        (false, None) => State::On {
            note: Some(format!("{} discovered: {}", keys.len(), named())),
        },
    }
}

/// One feature list from the lists of several repositories.
pub fn combine(mut each: Vec<(String, Features)>) -> Features {
    if each.len() <= 1 {
        return each.pop().map(|(_, f)| f).unwrap_or_default();
    }
    let names: Vec<&'static str> = each[0].1 .0.iter().map(|f| f.name).collect();
    let features = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let states: Vec<(&str, &State)> = each
                .iter()
                .filter_map(|(k, fs)| fs.0.get(i).map(|f| (k.as_str(), &f.state)))
                .collect();
            Feature {
                name,
                state: combine_states(&states),
            }
        })
        .collect();
    Features(features)
}

fn combine_states(states: &[(&str, &State)]) -> State {
    let mut broken = Vec::new();
    let mut off = Vec::new();
    let mut notes = Vec::new();
    for (repo, state) in states {
        match state {
            State::Broken { why } => broken.push(format!("{repo}: {why}")),
            State::Off { why, key } => off.push((format!("{repo}: {why}"), key.clone())),
            State::On { note: Some(n) } => notes.push(format!("{repo}: {n}")),
            State::On { note: None } => {}
        }
    }
    if broken.len() == states.len() {
        return State::Broken {
            why: broken.join("; "),
        };
    }
    if off.len() == states.len() {
        let key = off.first().map(|(_, k)| k.clone()).unwrap_or_default();
        return State::Off {
            why: off
                .into_iter()
                .map(|(w, _)| w)
                .collect::<Vec<_>>()
                .join("; "),
            key,
        };
    }
    let mut parts = Vec::new();
    if !broken.is_empty() {
        parts.push(format!("BROKEN for {}", broken.join("; ")));
    }
    if !off.is_empty() {
        parts.push(format!(
            "off for {}",
            off.into_iter()
                .map(|(w, _)| w)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    parts.extend(notes);
    State::On {
        note: (!parts.is_empty()).then(|| parts.join("; ")),
    }
}

/// Assesses each feature of `handler`, trying each configured connection
/// once (bounded by [`PROBE_TIMEOUT`]).
pub async fn assess(settings: &Settings, handler: &ServiceHandler) -> Features {
    let no_repo = || {
        off(
            "no repository (git.path . is not one)",
            "git.path, or git.provider = \"github\" with git.repository",
        )
    };
    let git = if !git_configured(settings) {
        Err(no_repo())
    } else {
        match &handler.upgrader {
            Err(e) => Err(broken(format!("the git host or chart lookups: {e}"))),
            Ok(up) => probe_git(up.host.as_ref(), &settings.git.branch)
                .await
                .map_err(broken),
        }
    };
    let pushes_refused =
        settings.github.webhook_secret.is_empty() && settings.git.provider == GitProvider::Github;
    let upgrades = match &git {
        Err(s) => s.clone(),
        Ok(()) => on(),
    };
    let syncs = match (&git, &handler.syncer) {
        (Err(s), _) => s.clone(),
        (Ok(()), Err(e)) => broken(e.clone()),
        // Sync jobs run and say what they would sync: on, and why nothing
        // reaches a cluster.
        (Ok(()), Ok(_)) if settings.argocd.mode == ArgocdMode::None => State::On {
            note: Some(
                "argocd.mode is \"none\": syncs are logged, not sent; set argocd.mode to send them"
                    .into(),
            ),
        },
        (Ok(()), Ok(s)) => match probe_argocd(s.argocd.as_ref()).await {
            Err(e) => broken(e),
            Ok(()) if pushes_refused => off(
                "github.webhook_secret is empty: pushes are refused",
                "github.webhook_secret",
            ),
            Ok(()) => on(),
        },
    };
    let promotions = match (&git, &handler.promoter) {
        (Err(s), _) => s.clone(),
        (Ok(()), Err(e)) => broken(e.clone()),
        (Ok(()), Ok(p)) => match &p.alerts {
            Some(a) => match probe_alertmanager(a).await {
                Err(e) => broken(e),
                Ok(()) => on(),
            },
            None => State::On {
                note: Some("alertmanager.api_url is empty: alerts are not checked".into()),
            },
        },
    };
    let rollbacks =
        if settings.alertmanager.token.is_empty() && !settings.alertmanager.allow_unauthenticated {
            off(
                "alertmanager.token is empty: the Alertmanager route refuses every notification",
                "alertmanager.token",
            )
        } else if settings.rollback.rules.is_empty() {
            off("no rollback rules", "[[rollback.rules]]")
        } else {
            match (&git, &handler.rollbacker) {
                (Err(s), _) => s.clone(),
                (Ok(()), Err(e)) => broken(e.clone()),
                (Ok(()), Ok(_)) => on(),
            }
        };
    let chat_secret = [
        &settings.chat.secret,
        &settings.slack.signing_secret,
        &settings.github.webhook_secret,
    ]
    .iter()
    .any(|s| !s.is_empty());
    let chat = if !chat_secret {
        off(
            "no chat route has a secret",
            "chat.secret, slack.signing_secret or github.webhook_secret",
        )
    } else {
        match (&git, &handler.chatops) {
            (Err(s), _) => s.clone(),
            (Ok(()), Err(e)) => broken(e.clone()),
            (Ok(()), Ok(_)) => on(),
        }
    };
    let checks = if !settings.checks.enabled {
        off("checks.enabled is false", "checks.enabled")
    } else if settings.github.webhook_secret.is_empty() {
        off(
            "github.webhook_secret is empty: pull request events are refused",
            "github.webhook_secret",
        )
    } else {
        match (&git, &handler.checker) {
            (Err(s), _) => s.clone(),
            (Ok(()), Err(e)) => broken(e.clone()),
            (Ok(()), Ok(_))
                if settings.git.provider == GitProvider::Github
                    && settings.github.app_id.is_none() =>
            {
                State::On {
                    note: Some(
                        "a token, not an App: a commit status and one comment instead of a Check Run"
                            .into(),
                    ),
                }
            }
            (Ok(()), Ok(_)) => on(),
        }
    };
    let features = Features(vec![
        Feature {
            name: "upgrades",
            state: upgrades,
        },
        Feature {
            name: "syncs",
            state: syncs,
        },
        Feature {
            name: "promotions",
            state: promotions,
        },
        Feature {
            name: "rollbacks",
            state: rollbacks,
        },
        Feature {
            name: "chat",
            state: chat,
        },
        Feature {
            name: "checks",
            state: checks,
        },
    ]);
    for f in features.broken() {
        if let State::Broken { why } = &f.state {
            tracing::error!(event = "feature_unavailable", feature = f.name, error = %why, "feature is configured but cannot work");
        }
    }
    features
}

/// The git host answers for the base branch with these credentials.
async fn probe_git(host: &dyn GitHost, branch: &str) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, host.branch_head(branch)).await {
        Err(_) => Err(format!(
            "the git host did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("the git host: {e}")),
        Ok(Ok(None)) => Err(format!("git.branch {branch} does not exist")),
        Ok(Ok(Some(_))) => Ok(()),
    }
}

/// Argo CD answers a status question (about an app that need not exist).
async fn probe_argocd(argocd: &dyn crate::cluster::ArgoCd) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, argocd.status("chartpilot-probe")).await {
        Err(_) => Err(format!(
            "Argo CD did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("Argo CD: {e}")),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Alertmanager's API answers.
async fn probe_alertmanager(client: &crate::alerts::AlertmanagerClient) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, client.firing(&[])).await {
        Err(_) => Err(format!(
            "Alertmanager did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("alertmanager.api_url: {e}")),
        Ok(Ok(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_is_broken_only_while_nothing_is_served_for_a_failed_listing() {
        let seven = ["a/1", "a/2", "a/3", "a/4", "a/5", "a/6", "a/7"];
        let cases: [(&[&str], Option<&str>, State); 5] = [
            (&[], Some("401"), broken("no repository served: the GitHub App's installations could not be listed (401)")),
            (&[], None, State::On { note: Some("discovery found no repository with pins in the App's installations yet".into()) }),
            (&["a/1"], Some("503"), State::On { note: Some("1 discovered (a/1); the last round failed, they are kept: 503".into()) }),
            (&["a/1", "a/2"], None, State::On { note: Some("2 discovered: a/1, a/2".into()) }),
            (&seven, None, State::On { note: Some("7 discovered: a/1, a/2, a/3, a/4, a/5, and 2 more".into()) }),
        ];
        for (keys, error, want) in cases {
            assert_eq!(discovery_state(keys, error), want, "{keys:?} {error:?}");
        }
    }

    #[test]
    fn readyz_json_names_each_feature_and_why() {
        let f = Features(vec![
            Feature {
                name: "upgrades",
                state: broken("the git host: 401"),
            },
            Feature {
                name: "chat",
                state: off("no chat route has a secret", "chat.secret"),
            },
            Feature {
                name: "syncs",
                state: on(),
            },
        ]);
        assert_eq!(
            f.to_json(),
            serde_json::json!({
                "upgrades": {"state": "broken", "why": "the git host: 401"},
                "chat": {"state": "off", "why": "no chat route has a secret", "key": "chat.secret"},
                "syncs": {"state": "on"},
            })
        );
        assert_eq!(f.broken().len(), 1);
        let text = f.render();
        assert!(
            text.contains("upgrades  BROKEN: the git host: 401"),
            "{text}"
        );
        assert!(text.contains("set chat.secret to turn it on"), "{text}");
    }
}
