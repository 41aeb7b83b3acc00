//! `[[rollback.rules]]` compiled: which alerts mean a failed rollout, and
//! which app and environment an alert names.

use std::collections::BTreeMap;

use regex::Regex;

use crate::alerts::{MatchOp, Matcher};
use crate::settings::{RollbackAction, RollbackRule};

/// One matcher with its regex compiled, anchored as Alertmanager anchors it.
#[derive(Debug, Clone)]
struct Compiled {
    matcher: Matcher,
    regex: Option<Regex>,
}

impl Compiled {
    fn new(matcher: Matcher) -> Result<Self, String> {
        let regex = match matcher.op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{})$", matcher.value))
                    .map_err(|e| format!("`{matcher}`: {e}"))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self { matcher, regex })
    }

    /// A missing label counts as empty, as in Alertmanager.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels
            .get(&self.matcher.name)
            .map(String::as_str)
            .unwrap_or("");
        match (&self.matcher.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.matcher.value,
            (MatchOp::NotEqual, _) => value != self.matcher.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // Regex ops always carry a compiled regex.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    matchers: Vec<Compiled>,
    rule: RollbackRule,
}

/// The rules in configuration order; the first that matches an alert
/// decides for it.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

/// What one alert points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub app: String,
    /// None when no label names one; the app's pins may still tell.
    pub env: Option<String>,
    pub action: RollbackAction,
}

/// Why an alert points at nothing chartpilot may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No rule matches: not a failed rollout as configured.
    NoRule,
    /// A rule matched, but no label value is a known app.
    NoApp { tried: Vec<String> },
}

impl Rules {
    /// Compiles the rules; an error names the rule and matcher.
    pub fn new(rules: &[RollbackRule]) -> Result<Self, String> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let matchers = r
                    .matchers
                    .iter()
                    .map(|m| {
                        Matcher::parse(m)
                            .map_err(|e| e.to_string())
                            .and_then(Compiled::new)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("rollback.rules[{i}].matchers: {e}"))?;
                Ok(Rule {
                    matchers,
                    rule: r.clone(),
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Rules)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The app and environment `labels` name under the first matching
    /// rule. `is_app` says whether a name is an app chartpilot knows
    /// (an Application or `helm_release` name in the repository).
    pub fn target(
        &self,
        labels: &BTreeMap<String, String>,
        is_app: impl Fn(&str) -> bool,
    ) -> Result<Target, Miss> {
        let rule = self
            .0
            .iter()
            .find(|r| r.matchers.iter().all(|m| m.matches(labels)))
            .ok_or(Miss::NoRule)?;
        let r = &rule.rule;
        let from_labels = r.app_labels.iter().filter_map(|l| labels.get(l));
        let from_namespace = labels
            .get("namespace")
            .and_then(|ns| r.namespace_apps.get(ns));
        let candidates: Vec<&String> = from_labels.chain(from_namespace).collect();
        let app = candidates
            .iter()
            .find(|a| is_app(a))
            .ok_or_else(|| Miss::NoApp {
                tried: candidates.iter().map(|a| (*a).clone()).collect(),
            })?;
        let env = r
            .env_labels
            .iter()
            .find_map(|l| labels.get(l))
            .map(|v| r.env_values.get(v).unwrap_or(v).clone());
        Ok(Target {
            app: (*app).clone(),
            env,
            action: r.action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(matchers: &[&str]) -> RollbackRule {
        RollbackRule {
            matchers: matchers.iter().map(|m| (*m).to_owned()).collect(),
            app_labels: vec!["argocd_app".into(), "name".into(), "release".into()],
            env_labels: vec!["env".into(), "environment".into()],
            namespace_apps: [("ai-tools".to_owned(), "jupyterhub".to_owned())].into(),
            env_values: [("production".to_owned(), "prod".to_owned())].into(),
            action: RollbackAction::RevertPr,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn known(app: &str) -> bool {
        ["jupyterhub", "mlflow", "cert-manager"].contains(&app)
    }

    #[test]
    fn the_first_matching_rule_names_app_and_environment() {
        let rules = Rules::new(&[
            rule(&["severity=\"critical\"", "alertname=~\"Kube.*|ArgoCd.*\""]),
            RollbackRule {
                action: RollbackAction::RevertPush,
                ..rule(&["team=\"platform\""])
            },
        ])
        .unwrap();
        let cases: Vec<(BTreeMap<String, String>, Result<Target, Miss>)> = vec![
            (
                labels(&[
                    ("alertname", "KubePodCrashLooping"),
                    ("severity", "critical"),
                    ("argocd_app", "mlflow"),
                    ("env", "production"),
                ]),
                Ok(Target {
                    app: "mlflow".into(),
                    env: Some("prod".into()),
                    action: RollbackAction::RevertPr,
                }),
            ),
            // The regex is anchored: `XKubeFoo` is no `Kube.*`.
            (
                labels(&[
                    ("alertname", "XKubeFoo"),
                    ("severity", "critical"),
                    ("argocd_app", "mlflow"),
                ]),
                Err(Miss::NoRule),
            ),
            // An unknown first label falls through to the next one.
            (
                labels(&[
                    ("alertname", "ArgoCdAppUnhealthy"),
                    ("severity", "critical"),
                    ("argocd_app", "not-ours"),
                    ("name", "jupyterhub"),
                ]),
                Ok(Target {
                    app: "jupyterhub".into(),
                    env: None,
                    action: RollbackAction::RevertPr,
                }),
            ),
            // Only the namespace says which app.
            (
                labels(&[
                    ("alertname", "KubeDeploymentReplicasMismatch"),
                    ("severity", "critical"),
                    ("namespace", "ai-tools"),
                    ("env", "dev"),
                ]),
                Ok(Target {
                    app: "jupyterhub".into(),
                    env: Some("dev".into()),
                    action: RollbackAction::RevertPr,
                }),
            ),
            (
                labels(&[("team", "platform"), ("release", "cert-manager")]),
                Ok(Target {
                    app: "cert-manager".into(),
                    env: None,
                    action: RollbackAction::RevertPush,
                }),
            ),
            (
                labels(&[
                    ("alertname", "KubePodCrashLooping"),
                    ("severity", "critical"),
                    ("argocd_app", "grafana"),
                ]),
                Err(Miss::NoApp {
                    tried: vec!["grafana".into()],
                }),
            ),
            (labels(&[("severity", "warning")]), Err(Miss::NoRule)),
        ];
        for (l, want) in cases {
            assert_eq!(rules.target(&l, known), want, "{l:?}");
        }
    }

    #[test]
    fn bad_matchers_are_refused_with_the_rule_named() {
        let e = Rules::new(&[
            rule(&["severity=\"critical\""]),
            rule(&["alertname=~\"(\""]),
        ])
        .unwrap_err();
        assert!(e.starts_with("rollback.rules[1].matchers:"), "{e}");
        let e = Rules::new(&[rule(&["no operator"])]).unwrap_err();
        assert!(e.starts_with("rollback.rules[0].matchers:"), "{e}");
    }

    #[test]
    fn a_missing_label_is_empty_as_in_alertmanager() {
        let rules = Rules::new(&[rule(&["team!=\"platform\"", "cluster=~\".*\""])]).unwrap();
        let t = rules.target(&labels(&[("argocd_app", "mlflow")]), known);
        assert_eq!(t.unwrap().app, "mlflow");
    }
}
