//! The environment of a pin, from its path.

use std::collections::BTreeMap;

/// Path patterns that name an environment; `{env}` captures one path
/// segment, `{chart}` matches the pin's chart. A pattern without a trailing
/// `/` matches a file name.
pub const DEFAULT_PATTERNS: [&str; 6] = [
    "environments/{env}/",
    "envs/{env}/",
    "apps/{env}/",
    "overlays/{env}/",
    "{env}.tfvars",
    "values/{chart}/{env}.yaml",
];

/// The environments pins may have: the configured names, and aliases that
/// stand for them (`prd` → `prod`). Nothing else becomes an environment,
/// wherever it was read: an app folder or a generator's `environment:
/// base` is not one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environments {
    pub names: Vec<String>,
    pub aliases: BTreeMap<String, String>,
}

impl Environments {
    pub fn new(names: Vec<String>, aliases: BTreeMap<String, String>) -> Self {
        Self { names, aliases }
    }

    /// The environment `value` names, if it names one.
    pub fn resolve(&self, value: &str) -> Option<String> {
        if self.names.iter().any(|n| n == value) {
            return Some(value.to_owned());
        }
        self.aliases
            .get(value)
            .filter(|target| self.names.contains(target))
            .cloned()
    }
}

/// What a path says about its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathEnv {
    pub env: Option<String>,
    /// A value a pattern that names environments (`environments/{env}/`)
    /// captured but that is no environment, for a warning.
    pub unknown: Option<String>,
}

/// The environment `path` names: the first pattern capture that is an
/// environment, else the nearest folder that is one.
pub fn from_path(
    path: &str,
    chart: Option<&str>,
    patterns: &[String],
    environments: &Environments,
) -> PathEnv {
    let segments: Vec<&str> = path.split('/').collect();
    let mut unknown = None;
    for pattern in patterns {
        for captured in match_pattern(&segments, chart, pattern) {
            if let Some(env) = environments.resolve(&captured) {
                return PathEnv {
                    env: Some(env),
                    unknown: None,
                };
            }
            if unknown.is_none() && names_environments(pattern) {
                unknown = Some(captured);
            }
        }
    }
    let dirs = &segments[..segments.len().saturating_sub(1)];
    let env = dirs.iter().rev().find_map(|d| environments.resolve(d));
    PathEnv {
        unknown: if env.is_some() { None } else { unknown },
        env,
    }
}

/// A pattern whose fixed text says "env" (`environments/{env}/`,
/// `envs/{env}/`) claims its capture is an environment; `apps/{env}/`
/// may as well be holding an app.
fn names_environments(pattern: &str) -> bool {
    pattern
        .replace("{env}", "")
        .to_ascii_lowercase()
        .contains("env")
}

/// Every capture of `pattern` in the path, nearest the root first.
fn match_pattern(segments: &[&str], chart: Option<&str>, pattern: &str) -> Vec<String> {
    let is_dir = pattern.ends_with('/');
    let parts: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    // A directory pattern matches folders only; a file pattern ends at the
    // file name.
    let Some((last, dirs)) = segments.split_last() else {
        return Vec::new();
    };
    let candidates: Vec<&str> = if is_dir {
        dirs.to_vec()
    } else {
        dirs.iter().copied().chain(std::iter::once(*last)).collect()
    };
    if candidates.len() < parts.len() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let starts: Box<dyn Iterator<Item = usize>> = if is_dir {
        Box::new(0..=candidates.len() - parts.len())
    } else {
        Box::new(std::iter::once(candidates.len() - parts.len()))
    };
    'start: for start in starts {
        let mut env = None;
        for (part, seg) in parts.iter().zip(&candidates[start..]) {
            match capture(part, seg, chart) {
                Some(Some(e)) => env = Some(e),
                Some(None) => {}
                None => continue 'start,
            }
        }
        found.extend(env);
    }
    found
}

/// Matches one pattern segment: None for no match, Some(captured env).
fn capture(part: &str, seg: &str, chart: Option<&str>) -> Option<Option<String>> {
    let part = match chart {
        Some(c) => part.replace("{chart}", c),
        None if part.contains("{chart}") => return None,
        None => part.to_owned(),
    };
    match part.split_once("{env}") {
        None => (part == seg).then_some(None),
        Some((prefix, suffix)) => {
            let env = seg.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let valid = !env.is_empty()
                && env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            valid.then(|| Some(env.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Environments {
        let names = ["dev", "staging", "prod"].map(str::to_owned).to_vec();
        let aliases = [("prd", "prod"), ("development", "dev"), ("qa", "nowhere")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .into_iter()
            .collect();
        Environments::new(names, aliases)
    }

    fn from(path: &str, chart: Option<&str>) -> PathEnv {
        let patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|s| (*s).to_owned()).collect();
        from_path(path, chart, &patterns, &envs())
    }

    #[test]
    fn environments_from_paths() {
        let cases = [
            ("environments/dev/app.yaml", None, Some("dev")),
            ("gitops/environments/prod/addons/x.yaml", None, Some("prod")),
            (
                "registry/environments/development/metaphor/Chart.yaml",
                None,
                Some("dev"),
            ),
            ("envs/prd/main.tf", None, Some("prod")),
            ("k8s/apps/staging/frontend.yaml", None, Some("staging")),
            ("overlays/prod/kustomization.yaml", None, Some("prod")),
            ("terraform/prod.tfvars", None, Some("prod")),
            ("values/frontend/prod.yaml", Some("frontend"), Some("prod")),
            ("values/frontend/prod.yaml", Some("other"), None),
            ("kubernetes/argocd-apps/dev/app.yaml", None, Some("dev")),
            ("src/k8s/env/dev/terraform.tfvars", None, Some("dev")),
            (
                "terraform/server/environments/dev/terraform.tfvars",
                None,
                Some("dev"),
            ),
            // App folders are not environments, even under a pattern.
            ("cluster/apps/gitea/application.yml", None, None),
            ("charts/apps/Chart.yaml", None, None),
            // An app folder under an environment folder.
            ("apps/prod/gitea/app.yaml", None, Some("prod")),
            ("apps/gitea/prod/app.yaml", None, Some("prod")),
            ("terraform/main.tf", None, None),
            ("terraform/terraform.tfvars", None, None),
            ("environments/app.yaml", None, None),
            ("apps.yaml", None, None),
            // An alias to an environment that is not configured.
            ("envs/qa/main.tf", None, None),
        ];
        for (path, chart, want) in cases {
            assert_eq!(from(path, chart).env.as_deref(), want, "{path}");
        }
    }

    #[test]
    fn unknown_environments_are_reported_only_where_the_path_says_environment() {
        let cases = [
            ("environments/default/addons/x.yaml", Some("default")),
            ("envs/qa/main.tf", Some("qa")),
            ("environments/dev/app.yaml", None),
            ("cluster/apps/gitea/application.yml", None),
            ("terraform/terraform.tfvars", None),
            ("overlays/base/kustomization.yaml", None),
            // A folder further up that is an environment wins.
            ("prod/environments/default/x.yaml", None),
        ];
        for (path, want) in cases {
            assert_eq!(from(path, None).unknown.as_deref(), want, "{path}");
        }
    }

    #[test]
    fn resolve_takes_names_and_aliases_to_configured_names_only() {
        let e = envs();
        assert_eq!(e.resolve("dev").as_deref(), Some("dev"));
        assert_eq!(e.resolve("prd").as_deref(), Some("prod"));
        assert_eq!(e.resolve("qa"), None);
        assert_eq!(e.resolve("base"), None);
        assert_eq!(e.resolve("Dev"), None);
    }
}
