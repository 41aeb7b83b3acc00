//! Running a chat command: read the repository (the names people may use),
//! parse, authorize (with the GitHub lookups a rule needs), write the audit
//! line, act through the same paths as the automatic jobs, and say what
//! happened. Every command ends in a reply, errors included. What the
//! verbs do lives beside it: `act` (status, sync, upgrade and promote),
//! `freeze` (the freeze file's commits).

mod act;
mod freeze;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::authz::{authorize, lookups, Authz, Principal};
use super::command::{parse, Command, Vocabulary, USAGE};
use super::confirm::Confirmer;
use super::slack_api::SlackApi;
use crate::clock::Clock;
use crate::cluster::ArgoCd;
use crate::git::{GitError, GitHost};
use crate::pins::{Pin, PinKind, SourceFile};
use crate::promote::freeze::Freeze;
use crate::rollback::run::{Outcome, Rollbacker};
use crate::settings::ChatSettings;
use crate::upgrade::run::{UpgradeError, Upgrader};

/// What chartpilot answers a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Shown to the channel (actions); false: only to the person (errors,
    /// refusals, help).
    pub public: bool,
}

fn private(text: impl Into<String>) -> Reply {
    Reply {
        text: text.into(),
        public: false,
    }
}

fn public(text: impl Into<String>) -> Reply {
    Reply {
        text: text.into(),
        public: true,
    }
}

pub struct ChatOps {
    pub host: Arc<dyn GitHost>,
    pub argocd: Arc<dyn ArgoCd>,
    pub upgrader: Arc<Upgrader>,
    pub rollbacker: Arc<Rollbacker>,
    pub settings: ChatSettings,
    pub environments: Vec<String>,
    pub sync_options: Vec<String>,
    pub clock: Arc<dyn Clock>,
    pub confirmer: Confirmer,
    /// For rules naming Slack user groups; None without a bot token.
    pub slack: Option<SlackApi>,
    /// `policy.dry_run`: say what would happen, do nothing.
    pub dry_run: bool,
}

/// The repository as a command sees it.
struct Repo {
    /// The base branch's head the files were read at.
    head: crate::domain::CommitSha,
    files: Vec<SourceFile>,
    pins: Vec<Pin>,
}

impl ChatOps {
    /// Runs `commands` as GitHub user `author` on issue or PR `issue`,
    /// answered in one comment there; `dropped` more were not run (`per`
    /// names what the bound counts). A reply that cannot be written is
    /// logged: the commands ran, and a retry would run them again.
    pub async fn answer_on_issue(
        &self,
        author: &str,
        issue: u64,
        commands: &[String],
        dropped: usize,
        per: &str,
    ) {
        let who = Principal::new(crate::jobs::ChatSource::Github, author.to_owned());
        let place = format!("#{issue}");
        let mut results = Vec::new();
        for command in commands {
            let reply = self.run(&who, command, &place).await;
            results.push((command.clone(), reply));
        }
        let body = super::reply::comment_reply(&results, dropped, per);
        if let Err(e) = self.host.comment(issue, &body).await {
            tracing::warn!(issue, error = %e, "chat reply comment not written");
        }
    }

    /// Runs `text` for `who`; `place` names where it was said (channel,
    /// issue), for the audit line. Never fails: a failure is the reply.
    pub async fn run(&self, who: &Principal, text: &str, place: &str) -> Reply {
        match self.try_run(who, text, place).await {
            Ok(reply) => reply,
            Err(e) => {
                audit(who, text, place, "error", &e.to_string());
                tracing::error!(user = %who.user, command = %text, error = %e, "chat command failed");
                private(format!("`{}` failed: {e}", text.trim()))
            }
        }
    }

    async fn try_run(&self, who: &Principal, text: &str, place: &str) -> Result<Reply, GitError> {
        let repo = self.read().await?;
        let vocab = Vocabulary {
            environments: self.environments.clone(),
            apps: repo
                .pins
                .iter()
                .filter(|p| matches!(p.kind, PinKind::Argocd | PinKind::Terraform))
                .map(|p| p.name.clone())
                .collect(),
            charts: repo
                .pins
                .iter()
                .filter_map(|p| p.chart_name().map(str::to_owned))
                .collect(),
        };
        let parsed = parse(text, &vocab)
            .map_err(|e| e.to_string())
            .and_then(|c| self.with_env(c, &repo));
        let command = match parsed {
            Ok(c) => c,
            Err(reason) => {
                audit(who, text, place, "invalid", &reason);
                return Ok(private(reason));
            }
        };
        if let Some(refusal) = self.refused(who, &command, text, place).await? {
            return Ok(refusal);
        }
        let now = self.clock.now();
        let mut confirmed_target: Option<String> = None;
        // A confirmation runs the command it seals, as if typed now by the
        // same person (authorized again), without asking once more.
        let (command, confirmed) = match command {
            Command::Confirm { code } => match self.confirmer.check(who, &code, now) {
                Ok(sealed) => {
                    // `<command> @<commit or version>`: what was shown.
                    let (sealed, target) = match sealed.rsplit_once(" @") {
                        Some((c, t)) => (c.to_owned(), Some(t.to_owned())),
                        None => (sealed, None),
                    };
                    confirmed_target = target;
                    let inner = match parse(&sealed, &vocab)
                        .map_err(|e| e.to_string())
                        .and_then(|c| self.with_env(c, &repo))
                    {
                        Ok(c) => c,
                        Err(reason) => return Ok(private(reason)),
                    };
                    if let Some(refusal) = self.refused(who, &inner, &sealed, place).await? {
                        return Ok(refusal);
                    }
                    (inner, true)
                }
                Err(reason) => {
                    audit(who, text, place, "invalid", &reason);
                    return Ok(private(reason));
                }
            },
            other => (other, false),
        };
        let protected = matches!(command, Command::Rollback { .. } | Command::Promote { .. })
            && command
                .env()
                .is_some_and(|e| self.settings.protected.iter().any(|p| p == e));
        if protected && !confirmed {
            let env = command.env().unwrap_or_default().to_owned();
            // Seal what would happen now, and show it: a confirmation
            // confirms that, not whatever the branch holds later.
            let (target, what) = match self.target_of(&command, &repo).await? {
                Ok(t) => t,
                Err(reason) => return Ok(private(reason)),
            };
            let sealed = format!("{command} @{target}");
            let Some(code) = self.confirmer.code(who, &sealed, now) else {
                return Ok(private(format!(
                    "{env} is protected, and confirmation codes need a chat secret (slack.signing_secret, chat.secret or github.webhook_secret): nothing done."
                )));
            };
            audit(
                who,
                text,
                place,
                "awaiting confirmation",
                &format!("{env} is protected"),
            );
            return Ok(private(format!(
                "{env} is protected. To {command} ({what}), run `/chartpilot confirm {code}` within {}. Only you can confirm it.",
                humantime::format_duration(self.confirmer.within())
            )));
        }
        let who = who.clone();
        let by = who.user.clone();
        Ok(match command {
            Command::Help => private(help_text()),
            Command::Status { app, env } => {
                private(self.status(&repo, &app, env.as_deref()).await?)
            }
            Command::Sync { app, env } => self.sync(&repo, &app, env.as_deref()).await?,
            Command::Rollback { app, env } => {
                let expect = confirmed_target
                    .as_deref()
                    .and_then(|t| crate::domain::CommitSha::parse(t).ok());
                let outcome = self
                    .rollbacker
                    .by_person(&app, env.as_deref(), &by, expect.as_ref())
                    .await
                    .map_err(|e| GitError::Refused(e.to_string()))?;
                rollback_reply(&outcome)
            }
            Command::Upgrade {
                chart,
                version,
                env,
            } => {
                let env = env.unwrap_or_default();
                self.open_upgrade(
                    &chart,
                    version.as_deref(),
                    &env,
                    format!("Requested by {by} through chat."),
                )
                .await?
            }
            Command::Promote { chart, from, to } => {
                match versions_of(&repo, &chart, &from)[..] {
                    [version] if confirmed_target.as_deref().is_some_and(|t| t != version) => {
                        private(format!(
                            "{from} now pins {chart} at {version}, not the {} that was confirmed; ask again",
                            confirmed_target.as_deref().unwrap_or_default()
                        ))
                    }
                    [version] => {
                        self.open_upgrade(
                            &chart,
                            Some(version),
                            &to,
                            format!("Promotes `{version}` from **{from}**, requested by {by} through chat."),
                        )
                        .await?
                    }
                    [] => private(format!("{from} pins no {chart}")),
                    ref many => private(format!(
                        "{from} pins {chart} at several versions ({}); upgrade {to} to one of them with `/chartpilot upgrade {chart} to <version> {to}`",
                        many.join(", ")
                    )),
                }
            }
            Command::Freeze { env, reason } => {
                let freeze = Freeze {
                    by: by.clone(),
                    reason,
                    at: Some(self.clock.now()),
                };
                self.write_freeze(&env, Some(freeze)).await?
            }
            Command::Unfreeze { env } => self.write_freeze(&env, None).await?,
            // Unwrapped above; a code never seals another confirm.
            Command::Confirm { .. } => private("A code cannot confirm a confirmation."),
        })
    }

    /// The refusal reply when `who` may not run `command`, after the
    /// GitHub lookups its rules need; writes the audit line either way.
    async fn refused(
        &self,
        who: &Principal,
        command: &Command,
        text: &str,
        place: &str,
    ) -> Result<Option<Reply>, GitError> {
        let env = command.env().map(str::to_owned);
        let mut who = who.clone();
        let needed = lookups(
            &self.settings.allow,
            who.source,
            command.verb(),
            env.as_deref(),
        );
        for group in &needed.slack_groups {
            match &self.slack {
                Some(api) => match api.group_members(group).await {
                    Ok(members) if members.contains(&who.user) => {
                        who.slack_groups.push(group.clone())
                    }
                    Ok(_) => {}
                    // Unknown membership is no membership: refuse, and say
                    // why in the log.
                    Err(e) => {
                        tracing::warn!(group = %group, error = %e, "Slack group members unknown")
                    }
                },
                None => {
                    tracing::warn!(group = %group, "a rule names a Slack group, but slack.bot_token is empty")
                }
            }
        }
        for team in &needed.github_teams {
            if self.host.team_member(team, &who.user).await? {
                who.github_teams.push(team.clone());
            }
        }
        if needed.github_permission {
            who.github_permission = Some(self.host.permission(&who.user).await?);
        }
        match authorize(&self.settings.allow, &who, command.verb(), env.as_deref()) {
            Authz::Refused { reason } => {
                audit(&who, text, place, "refused", &reason);
                Ok(Some(private(format!("Not allowed: {reason}."))))
            }
            Authz::Allowed { rule } => {
                let why = rule
                    .map(|i| format!("chat.allow[{i}]"))
                    .unwrap_or_else(|| "open to everyone".into());
                audit(&who, text, place, "allowed", &why);
                Ok(None)
            }
        }
    }

    /// What a protected command would act on now: the commit a rollback
    /// reverts, the version a promotion carries; with words for a person.
    async fn target_of(
        &self,
        command: &Command,
        repo: &Repo,
    ) -> Result<Result<(String, String), String>, GitError> {
        Ok(match command {
            Command::Rollback { app, env } => {
                match self
                    .rollbacker
                    .newest_change(app, env.as_deref())
                    .await
                    .map_err(|e| GitError::Refused(e.to_string()))?
                {
                    Ok(c) => Ok((
                        c.sha.to_string(),
                        format!(
                            "revert `{}` \"{}\": {} back to {}",
                            c.sha.short(),
                            c.subject,
                            c.to,
                            c.from
                        ),
                    )),
                    Err(reason) => Err(format!("No rollback: {reason}.")),
                }
            }
            Command::Promote { chart, from, .. } => match versions_of(repo, chart, from)[..] {
                [v] => Ok((v.to_owned(), format!("{chart} `{v}` from {from}"))),
                _ => Err(format!("{from} does not pin {chart} at one version")),
            },
            other => Ok((String::new(), other.to_string())),
        })
    }

    async fn read(&self) -> Result<Repo, GitError> {
        let (head, files, scan) = self.upgrader.base().await.map_err(|e| match e {
            UpgradeError::Git(e) => e,
            other => GitError::Refused(other.to_string()),
        })?;
        Ok(Repo {
            head,
            files,
            pins: scan.pins,
        })
    }

    /// Fills in the environment of an app command that named none, when
    /// the app lives in one; asks for it when it lives in several.
    fn with_env(&self, c: Command, repo: &Repo) -> Result<Command, String> {
        let envs_of = |app: &str| -> Vec<String> {
            repo.pins
                .iter()
                .filter(|p| p.name == app)
                .filter_map(|p| p.env.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let pick = |app: &str| -> Result<Option<String>, String> {
            let envs = envs_of(app);
            match envs.len() {
                0 => Ok(None),
                1 => Ok(envs.into_iter().next()),
                _ => Err(format!(
                    "{app} is in {}: name one, e.g. `{app} {}`",
                    envs.join(", "),
                    envs[0]
                )),
            }
        };
        Ok(match c {
            Command::Sync { app, env: None } => Command::Sync {
                env: pick(&app)?,
                app,
            },
            Command::Rollback { app, env: None } => Command::Rollback {
                env: pick(&app)?,
                app,
            },
            // An upgrade goes to the first environment unless told, and is
            // authorized for that environment.
            Command::Upgrade {
                chart,
                version,
                env: None,
            } => Command::Upgrade {
                chart,
                version,
                env: self.environments.first().cloned(),
            },
            other => other,
        })
    }
}

/// The answer when chat commands cannot run at all (the git host or Argo
/// CD could not be set up): `help` still works, anything else says why.
pub fn unavailable(who: &Principal, text: &str, place: &str, why: &str) -> Reply {
    if matches!(parse(text, &Vocabulary::default()), Ok(Command::Help)) {
        audit(who, text, place, "allowed", "open to everyone");
        return private(help_text());
    }
    audit(who, text, place, "error", why);
    private(format!(
        "chartpilot cannot run commands right now ({why}); nothing was done."
    ))
}

fn help_text() -> String {
    format!(
        "chartpilot commands:\n{}",
        USAGE
            .iter()
            .map(|u| format!("• `/chartpilot {u}`"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn rollback_reply(outcome: &Outcome) -> Reply {
    match outcome {
        Outcome::Reverted {
            commit,
            pull: Some(n),
            ..
        } => public(format!(
            "Reverting `{}`: revert PR #{n}. Merge it to roll back.",
            commit.short()
        )),
        Outcome::Reverted {
            commit,
            pushed: Some(p),
            ..
        } => public(format!(
            "Reverted `{}` with `{}` on the branch.",
            commit.short(),
            p.short()
        )),
        Outcome::WouldRevert { reason, .. } => {
            private(format!("Dry run, nothing done. Would revert: {reason}"))
        }
        Outcome::Skipped { reason, .. } | Outcome::Conflict { reason, .. } => {
            private(format!("No rollback: {reason}."))
        }
        other => public(format!("{other:?}")),
    }
}

/// One line per command, allowed or not, for the audit trail.
fn audit(who: &Principal, command: &str, place: &str, decision: &str, why: &str) {
    crate::metrics::ambient::chat(command, decision);
    tracing::info!(
        target: "chartpilot::audit",
        source = %who.source,
        user = %who.user,
        command = %command.trim(),
        place = %place,
        decision,
        why,
        "chat command"
    );
}

/// The versions `env` pins `chart` at, each once.
fn versions_of<'a>(repo: &'a Repo, chart: &str, env: &str) -> Vec<&'a str> {
    repo.pins
        .iter()
        .filter(|p| p.env.as_deref() == Some(env))
        .filter(|p| p.chart_name() == Some(chart))
        .filter_map(|p| p.version.as_deref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
