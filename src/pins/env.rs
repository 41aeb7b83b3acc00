//! The environment of a pin, from its path.

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

/// The environment `path` names: the first pattern that matches, else a
/// folder named after one of the configured `environments`.
pub fn from_path(
    path: &str,
    chart: Option<&str>,
    patterns: &[String],
    environments: &[String],
) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    for pattern in patterns {
        if let Some(env) = match_pattern(&segments, chart, pattern) {
            return Some(env);
        }
    }
    let dirs = &segments[..segments.len().saturating_sub(1)];
    dirs.iter()
        .rev()
        .find(|d| environments.iter().any(|e| e == *d))
        .map(|d| (*d).to_owned())
}

fn match_pattern(segments: &[&str], chart: Option<&str>, pattern: &str) -> Option<String> {
    let is_dir = pattern.ends_with('/');
    let parts: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    // A directory pattern matches folders only; a file pattern ends at the
    // file name.
    let (last, dirs) = segments.split_last()?;
    let candidates: Vec<&str> = if is_dir {
        dirs.to_vec()
    } else {
        dirs.iter().copied().chain(std::iter::once(*last)).collect()
    };
    if candidates.len() < parts.len() {
        return None;
    }
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
        if env.is_some() {
            return env;
        }
    }
    None
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

    fn env(path: &str, chart: Option<&str>) -> Option<String> {
        let patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|s| (*s).to_owned()).collect();
        let envs: Vec<String> = ["dev", "staging", "prod"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        from_path(path, chart, &patterns, &envs)
    }

    #[test]
    fn environments_from_paths() {
        let cases = [
            ("environments/dev/app.yaml", None, Some("dev")),
            ("gitops/environments/prod/addons/x.yaml", None, Some("prod")),
            (
                "registry/environments/development/metaphor/Chart.yaml",
                None,
                Some("development"),
            ),
            ("envs/qa/main.tf", None, Some("qa")),
            ("k8s/apps/staging/frontend.yaml", None, Some("staging")),
            ("overlays/prod/kustomization.yaml", None, Some("prod")),
            ("terraform/prod.tfvars", None, Some("prod")),
            ("values/frontend/prod.yaml", Some("frontend"), Some("prod")),
            ("values/frontend/prod.yaml", Some("other"), None),
            ("kubernetes/argocd-apps/dev/app.yaml", None, Some("dev")),
            (
                "terraform/server/environments/dev/terraform.tfvars",
                None,
                Some("dev"),
            ),
            ("terraform/main.tf", None, None),
            ("environments/app.yaml", None, None),
            ("apps.yaml", None, None),
        ];
        for (path, chart, want) in cases {
            assert_eq!(env(path, chart).as_deref(), want, "{path}");
        }
    }
}
