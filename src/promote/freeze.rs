//! `.chartpilot/freeze.yaml`: environments people froze (through ChatOps,
//! so the freeze is reviewed in git). A frozen environment takes no
//! automatic upgrade, promotion or rollback.
//!
//! ```yaml
//! environments:
//!   prod:
//!     by: alice
//!     reason: release week
//!     at: 2026-11-25T10:00:00Z
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use yaml_rust2::Yaml;

/// Where the file lives in the GitOps repository.
pub const FREEZE_FILE: &str = ".chartpilot/freeze.yaml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    pub by: String,
    pub reason: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

impl Freeze {
    /// `prod is frozen by alice: release week`, the reason every
    /// automatic action gives for leaving `env` alone.
    pub fn describe(&self, env: &str) -> String {
        format!(
            "{env} is frozen by {}{}",
            self.by,
            self.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freezes(BTreeMap<String, Freeze>);

impl Freezes {
    pub fn get(&self, env: &str) -> Option<&Freeze> {
        self.0.get(env)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Freezes `env` (replacing an earlier freeze of it).
    pub fn set(&mut self, env: &str, freeze: Freeze) {
        self.0.insert(env.to_owned(), freeze);
    }

    /// Unfreezes `env`; the freeze it had, if any.
    pub fn remove(&mut self, env: &str) -> Option<Freeze> {
        self.0.remove(env)
    }

    /// The file's text. Values are written as JSON strings, which YAML
    /// reads as double-quoted scalars: any reason a person types stays one
    /// string, whatever quotes, colons or newlines it holds.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let mut out = String::from(
            "# Written by chartpilot (/chartpilot freeze, unfreeze). A frozen\n# environment takes no automatic upgrade, promotion or rollback.\n",
        );
        if self.0.is_empty() {
            out.push_str("environments: {}\n");
            return out;
        }
        out.push_str("environments:\n");
        for (env, f) in &self.0 {
            out.push_str(&format!("  {}:\n    by: {}\n", q(env), q(&f.by)));
            if let Some(r) = &f.reason {
                out.push_str(&format!("    reason: {}\n", q(r)));
            }
            if let Some(at) = f.at {
                out.push_str(&format!(
                    "    at: {}\n",
                    q(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                ));
            }
        }
        out
    }

    /// The freezes in a snapshot's files (no file: nothing frozen).
    pub fn from_files(files: &[crate::pins::SourceFile]) -> Result<Freezes, String> {
        match files.iter().find(|f| f.path == FREEZE_FILE) {
            None => Ok(Freezes::default()),
            Some(f) => Freezes::parse(&f.text),
        }
    }

    /// Parses the file. A file that does not parse is an error naming the
    /// line: treating it as "nothing frozen" would unfreeze prod by typo.
    pub fn parse(text: &str) -> Result<Freezes, String> {
        // Anyone who can push writes this file: loaded with bounded work.
        let docs = crate::yaml::load_bounded(text, FREEZE_FILE)
            .map_err(|e| format!("{FREEZE_FILE} line {}: {}", e.line, e.reason))?;
        let mut out = BTreeMap::new();
        let Some(doc) = docs.first() else {
            return Ok(Freezes(out));
        };
        let envs = match &doc["environments"] {
            Yaml::Hash(h) => h,
            Yaml::BadValue | Yaml::Null => return Ok(Freezes(out)),
            _ => return Err(format!("{FREEZE_FILE}: `environments` must be a map")),
        };
        for (env, entry) in envs {
            let Some(env) = env.as_str() else {
                return Err(format!("{FREEZE_FILE}: environment names must be strings"));
            };
            let by = entry["by"].as_str().unwrap_or("someone").to_owned();
            let reason = entry["reason"].as_str().map(str::to_owned);
            let at = entry["at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            out.insert(env.to_owned(), Freeze { by, reason, at });
        }
        Ok(Freezes(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_environments_with_who_and_why() {
        let f = Freezes::parse(
            "environments:\n  prod:\n    by: alice\n    reason: release week\n    at: 2026-11-25T10:00:00Z\n  staging: {by: bob}\n",
        )
        .unwrap();
        let prod = f.get("prod").unwrap();
        assert_eq!(prod.by, "alice");
        assert_eq!(prod.reason.as_deref(), Some("release week"));
        assert_eq!(prod.at.unwrap().to_rfc3339(), "2026-11-25T10:00:00+00:00");
        assert_eq!(f.get("staging").unwrap().by, "bob");
        assert!(f.get("dev").is_none());
    }

    #[test]
    fn written_files_read_back_whatever_the_reason_holds() {
        let mut f = Freezes::default();
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        f.set(
            "prod",
            Freeze {
                by: "U2147483697".into(),
                reason: Some("quarter-end: \"no\" changes\n# not a comment (Ünïcode ✓)".into()),
                at: Some(at),
            },
        );
        f.set(
            "staging",
            Freeze {
                by: "bob".into(),
                reason: None,
                at: None,
            },
        );
        let text = f.to_yaml();
        assert_eq!(Freezes::parse(&text).unwrap(), f, "{text}");
        assert_eq!(f.remove("staging").map(|x| x.by), Some("bob".into()));
        f.remove("prod");
        assert!(Freezes::parse(&f.to_yaml()).unwrap().is_empty());
    }

    #[test]
    fn empty_files_freeze_nothing_and_broken_ones_are_errors() {
        assert!(Freezes::parse("").unwrap().is_empty());
        assert!(Freezes::parse("environments: {}\n").unwrap().is_empty());
        let e = Freezes::parse("environments:\n  prod: [\n").unwrap_err();
        assert!(e.contains(".chartpilot/freeze.yaml line"), "{e}");
        let e = Freezes::parse("environments: [prod]\n").unwrap_err();
        assert!(e.contains("must be a map"), "{e}");
    }
}
