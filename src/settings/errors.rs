//! The `config` crate's messages in the words of the configuration file:
//! an unknown enum value names the valid ones, and key paths keep the dot
//! after an index (`helm.mirrors[0].to`, not `helm.mirrors[0]to`).

use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;

use super::{
    ArgocdMode, GitProvider, LogFormat, MajorSteps, QueueKind, RangePolicy, RepoPermission,
    RollbackAction, RuleLevel, SettingsError, UpdateType,
};

/// The valid spellings of `T`, read from serde's own refusal of a value no
/// enum has, so the list cannot drift from the type.
fn spellings<T: DeserializeOwned>() -> Vec<String> {
    let Err(e) = serde_json::from_str::<T>("\"\\u0000\"") else {
        return Vec::new();
    };
    let text = e.to_string();
    let Some((_, expected)) = text.split_once("expected") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The valid values of a settings enum, by its Rust name as `config`
/// prints it.
fn valid_values(type_name: &str) -> Option<Vec<String>> {
    Some(match type_name {
        "GitProvider" => spellings::<GitProvider>(),
        "QueueKind" => spellings::<QueueKind>(),
        "ArgocdMode" => spellings::<ArgocdMode>(),
        "LogFormat" => spellings::<LogFormat>(),
        "RollbackAction" => spellings::<RollbackAction>(),
        "UpdateType" => spellings::<UpdateType>(),
        "RepoPermission" => spellings::<RepoPermission>(),
        "RangePolicy" => spellings::<RangePolicy>(),
        "MajorSteps" => spellings::<MajorSteps>(),
        "RuleLevel" => spellings::<RuleLevel>(),
        _ => return None,
    })
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    #[allow(clippy::expect_used)] // constant patterns, exercised by the tests
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

/// The names between backticks: "`from` or `to`" → from, to.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// `message` as a person reading `chartpilot.toml` wants it: the key
/// first, as written in the file, then what is wrong with it.
pub(super) fn explain(message: &str) -> SettingsError {
    static VARIANT: OnceLock<Regex> = OnceLock::new();
    static INDEX: OnceLock<Regex> = OnceLock::new();
    static UNKNOWN: OnceLock<Regex> = OnceLock::new();
    static MISSING: OnceLock<Regex> = OnceLock::new();
    static KEYED: OnceLock<Regex> = OnceLock::new();
    let keyed = regex(&INDEX, r"\]([A-Za-z_])").replace_all(message, "].$1");
    let variant = regex(
        &VARIANT,
        r"^enum (\w+) does not have variant constructor (.*) for key `([^`]+)`$",
    );
    if let Some(c) = variant.captures(&keyed) {
        if let Some(values) = valid_values(&c[1]).filter(|v| !v.is_empty()) {
            return SettingsError::invalid(
                &c[3],
                format!("\"{}\" is not one of {}", &c[2], values.join(", ")),
            );
        }
    }
    let unknown = regex(
        &UNKNOWN,
        r"^unknown field `([^`]+)`, expected (.*?)(?: for key `([^`]+)`)?$",
    );
    if let Some(c) = unknown.captures(&keyed) {
        let key = match c.get(3) {
            Some(parent) => format!("{}.{}", parent.as_str(), &c[1]),
            None => c[1].to_owned(),
        };
        return SettingsError::invalid(
            &key,
            format!("unknown key; expected one of {}", quoted(&c[2]).join(", ")),
        );
    }
    let missing = regex(&MISSING, r#"^missing configuration field "([^"]+)"$"#);
    if let Some(c) = missing.captures(&keyed) {
        return SettingsError::invalid(&c[1], "is required");
    }
    if let Some(c) = regex(&KEYED, r"^(?s)(.*) for key `([^`]+)`$").captures(&keyed) {
        return SettingsError::invalid(&c[2], &c[1]);
    }
    SettingsError::Parse(keyed.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_and_key_paths_in_the_files_words() {
        let cases = [
            (
                "enum GitProvider does not have variant constructor gitlab for key `git.provider`",
                "git.provider: \"gitlab\" is not one of local, github",
            ),
            (
                "enum QueueKind does not have variant constructor kafka for key `queue.kind`",
                "queue.kind: \"kafka\" is not one of embedded, amqp",
            ),
            (
                "enum RollbackAction does not have variant constructor revert for key `rollback.rules[0]action`",
                "rollback.rules[0].action: \"revert\" is not one of revert-pr, revert-push, argocd-rollback",
            ),
            (
                "invalid type: integer `3`, expected a string for key `helm.mirrors[0]to`",
                "helm.mirrors[0].to: invalid type: integer `3`, expected a string",
            ),
            (
                "unknown field `extra`, expected `from` or `to` for key `helm.mirrors[0]`",
                "helm.mirrors[0].extra: unknown key; expected one of from, to",
            ),
            (
                "unknown field `bogus`, expected one of `server`, `queue`",
                "bogus: unknown key; expected one of server, queue",
            ),
            (
                "missing configuration field \"rollback.rules[0]matchers\"",
                "rollback.rules[0].matchers: is required",
            ),
            ("something else", "configuration: something else"),
        ];
        for (raw, want) in cases {
            assert_eq!(explain(raw).to_string(), want, "{raw}");
        }
    }

    #[test]
    fn every_enum_lists_its_values() {
        for name in [
            "GitProvider",
            "QueueKind",
            "ArgocdMode",
            "LogFormat",
            "RollbackAction",
            "UpdateType",
            "RepoPermission",
            "RangePolicy",
            "MajorSteps",
            "RuleLevel",
        ] {
            let values = valid_values(name).unwrap_or_default();
            assert!(values.len() >= 2, "{name}: {values:?}");
        }
    }
}
