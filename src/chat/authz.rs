//! Who may run what: a pure function from the person (with the groups and
//! permission the caller looked up), the verb and the environment to
//! allowed or refused, with the reason. `help` and `status` are for
//! everyone; anything else needs a `[[chat.allow]]` rule naming the person.

use crate::jobs::ChatSource;
use crate::settings::{ChatAllow, RepoPermission};

/// The person behind a command, as far as rules can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub source: ChatSource,
    /// Slack user id, GitHub login, or the generic webhook's `user`.
    pub user: String,
    /// Slack user groups the person is in, among those rules name.
    pub slack_groups: Vec<String>,
    /// GitHub teams (`org/slug`) the person is in, among those rules name.
    pub github_teams: Vec<String>,
    /// The person's permission on the repository, when a rule asks.
    pub github_permission: Option<RepoPermission>,
}

impl Principal {
    /// A person as the chat source names them, nothing looked up yet.
    pub fn new(source: ChatSource, user: impl Into<String>) -> Self {
        Self {
            source,
            user: user.into(),
            slack_groups: Vec::new(),
            github_teams: Vec::new(),
            github_permission: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authz {
    /// `rule`: the index of the `[[chat.allow]]` entry, None for the verbs
    /// everyone may use.
    Allowed {
        rule: Option<usize>,
    },
    Refused {
        reason: String,
    },
}

/// Verbs anyone may use: they read, or (confirm) repeat a command that was
/// itself authorized.
pub const OPEN_VERBS: [&str; 3] = ["help", "status", "confirm"];

/// What the caller must look up before [`authorize`] can see every rule
/// that could apply: only GitHub people, and only when a rule for this
/// verb and environment asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    pub slack_groups: Vec<String>,
    pub github_teams: Vec<String>,
    pub github_permission: bool,
}

fn applies(rule: &ChatAllow, verb: &str, env: Option<&str>) -> bool {
    let verb_ok = rule.verbs.iter().any(|v| v == "*" || v == verb);
    let env_ok = rule
        .environments
        .iter()
        .any(|e| e == "*" || Some(e.as_str()) == env);
    verb_ok && env_ok
}

/// The lookups the rules for `verb` in `env` need for a person from `source`.
pub fn lookups(rules: &[ChatAllow], source: ChatSource, verb: &str, env: Option<&str>) -> Lookups {
    let mut out = Lookups::default();
    if OPEN_VERBS.contains(&verb) {
        return out;
    }
    for rule in rules.iter().filter(|r| applies(r, verb, env)) {
        if source == ChatSource::Slack {
            for group in &rule.slack_groups {
                if !out.slack_groups.contains(group) {
                    out.slack_groups.push(group.clone());
                }
            }
            continue;
        }
        if source != ChatSource::Github {
            continue;
        }
        for team in &rule.github_teams {
            if !out.github_teams.contains(team) {
                out.github_teams.push(team.clone());
            }
        }
        out.github_permission |= rule.github_permission.is_some();
    }
    out
}

fn names(rule: &ChatAllow, who: &Principal) -> bool {
    match who.source {
        ChatSource::Slack => {
            rule.slack_users.contains(&who.user)
                || rule
                    .slack_groups
                    .iter()
                    .any(|g| who.slack_groups.contains(g))
        }
        ChatSource::Generic => rule.users.contains(&who.user),
        ChatSource::Github => {
            rule.github_users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(&who.user))
                || rule
                    .github_teams
                    .iter()
                    .any(|t| who.github_teams.iter().any(|m| m.eq_ignore_ascii_case(t)))
                || matches!(
                    (rule.github_permission, who.github_permission),
                    (Some(min), Some(has)) if has >= min
                )
        }
    }
}

/// The decision for `who` running `verb` in `env`.
pub fn authorize(rules: &[ChatAllow], who: &Principal, verb: &str, env: Option<&str>) -> Authz {
    if OPEN_VERBS.contains(&verb) {
        return Authz::Allowed { rule: None };
    }
    match rules
        .iter()
        .position(|r| applies(r, verb, env) && names(r, who))
    {
        Some(i) => Authz::Allowed { rule: Some(i) },
        None => Authz::Refused {
            reason: format!(
                "{} may not `{verb}`{}: no [[chat.allow]] rule names them for it",
                who.user,
                env.map(|e| format!(" in {e}")).unwrap_or_default()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<ChatAllow> {
        vec![
            // Platform on-call: anything anywhere, from Slack.
            ChatAllow {
                verbs: vec!["*".into()],
                environments: vec!["*".into()],
                slack_users: vec!["U0ONCALL".into()],
                ..ChatAllow::default()
            },
            // Developers: sync and upgrade outside prod, on GitHub by team.
            ChatAllow {
                verbs: vec!["sync".into(), "upgrade".into()],
                environments: vec!["dev".into(), "staging".into()],
                github_teams: vec!["acme/developers".into()],
                users: vec!["dev-bot".into()],
                ..ChatAllow::default()
            },
            // Maintainers of the repository may roll back anywhere.
            ChatAllow {
                verbs: vec!["rollback".into()],
                environments: vec!["*".into()],
                github_permission: Some(RepoPermission::Maintain),
                github_users: vec!["Alice".into()],
                ..ChatAllow::default()
            },
            // The SRE Slack group may sync anywhere.
            ChatAllow {
                verbs: vec!["sync".into()],
                environments: vec!["*".into()],
                slack_groups: vec!["S0SRE".into()],
                ..ChatAllow::default()
            },
        ]
    }

    fn who(source: ChatSource, user: &str) -> Principal {
        Principal::new(source, user)
    }

    #[test]
    fn the_matrix_of_people_verbs_and_environments() {
        let dev_team = Principal {
            github_teams: vec!["acme/developers".into()],
            ..who(ChatSource::Github, "bob")
        };
        let maintainer = Principal {
            github_permission: Some(RepoPermission::Admin),
            ..who(ChatSource::Github, "carol")
        };
        let writer = Principal {
            github_permission: Some(RepoPermission::Write),
            ..who(ChatSource::Github, "dave")
        };
        let oncall = who(ChatSource::Slack, "U0ONCALL");
        let sre = Principal {
            slack_groups: vec!["S0SRE".into()],
            ..who(ChatSource::Slack, "U0SRE")
        };
        let alice = who(ChatSource::Github, "alice");
        let bot = who(ChatSource::Generic, "dev-bot");
        let stranger = who(ChatSource::Slack, "U0STRANGER");
        // The same id on another source is another person.
        let oncall_elsewhere = who(ChatSource::Generic, "U0ONCALL");
        let cases: Vec<(&Principal, &str, Option<&str>, Authz)> = vec![
            (&stranger, "help", None, Authz::Allowed { rule: None }),
            (&stranger, "status", Some("prod"), Authz::Allowed { rule: None }),
            (&oncall, "rollback", Some("prod"), Authz::Allowed { rule: Some(0) }),
            (&oncall, "freeze", Some("prod"), Authz::Allowed { rule: Some(0) }),
            (&sre, "sync", Some("prod"), Authz::Allowed { rule: Some(3) }),
            (
                &sre,
                "freeze",
                Some("prod"),
                Authz::Refused {
                    reason: "U0SRE may not `freeze` in prod: no [[chat.allow]] rule names them for it".into(),
                },
            ),
            (&dev_team, "sync", Some("dev"), Authz::Allowed { rule: Some(1) }),
            (&dev_team, "upgrade", Some("staging"), Authz::Allowed { rule: Some(1) }),
            (&maintainer, "rollback", Some("prod"), Authz::Allowed { rule: Some(2) }),
            (&alice, "rollback", Some("dev"), Authz::Allowed { rule: Some(2) }),
            (&bot, "sync", Some("dev"), Authz::Allowed { rule: Some(1) }),
            (
                &dev_team,
                "sync",
                Some("prod"),
                Authz::Refused { reason: "bob may not `sync` in prod: no [[chat.allow]] rule names them for it".into() },
            ),
            (
                &writer,
                "rollback",
                Some("prod"),
                Authz::Refused { reason: "dave may not `rollback` in prod: no [[chat.allow]] rule names them for it".into() },
            ),
            (
                &stranger,
                "sync",
                Some("dev"),
                Authz::Refused { reason: "U0STRANGER may not `sync` in dev: no [[chat.allow]] rule names them for it".into() },
            ),
            (
                &oncall_elsewhere,
                "rollback",
                Some("prod"),
                Authz::Refused { reason: "U0ONCALL may not `rollback` in prod: no [[chat.allow]] rule names them for it".into() },
            ),
            (
                &dev_team,
                "freeze",
                Some("dev"),
                Authz::Refused { reason: "bob may not `freeze` in dev: no [[chat.allow]] rule names them for it".into() },
            ),
        ];
        for (p, verb, env, want) in cases {
            assert_eq!(
                authorize(&rules(), p, verb, env),
                want,
                "{} {verb} {env:?}",
                p.user
            );
        }
        // With no rules at all, only the open verbs.
        assert!(matches!(
            authorize(&[], &oncall, "sync", Some("dev")),
            Authz::Refused { .. }
        ));
        assert!(matches!(
            authorize(&[], &oncall, "help", None),
            Authz::Allowed { rule: None }
        ));
    }

    #[test]
    fn only_the_lookups_a_matching_rule_needs() {
        let r = rules();
        assert_eq!(
            lookups(&r, ChatSource::Github, "sync", Some("dev")),
            Lookups {
                github_teams: vec!["acme/developers".into()],
                ..Lookups::default()
            }
        );
        assert_eq!(
            lookups(&r, ChatSource::Github, "rollback", Some("prod")),
            Lookups {
                github_permission: true,
                ..Lookups::default()
            }
        );
        assert_eq!(
            lookups(&r, ChatSource::Slack, "rollback", Some("prod")),
            Lookups::default()
        );
        assert_eq!(
            lookups(&r, ChatSource::Github, "status", Some("prod")),
            Lookups::default()
        );
        assert_eq!(
            lookups(&r, ChatSource::Slack, "sync", Some("dev")),
            Lookups {
                slack_groups: vec!["S0SRE".into()],
                ..Lookups::default()
            }
        );
    }
}
