//! Which written versions are ranges and which charts are local paths: the
//! two ways a pin can look like one without pinning an upstream version.
//!
//! Argo CD's `targetRevision`, Chart.yaml dependencies and Terraform's
//! `helm_release.version` all go to Helm, which reads them as Masterminds
//! semver constraints: `8.x`, `2.7.*`, `^1.4.0`, `~> 5.51`, `1.2` (= `1.2.x`)
//! all let the deploy tool pick a version. Only a full `MAJOR.MINOR.PATCH`
//! (with optional `v`, pre-release and build) names one version.

use crate::charts::constraint::{is_exact_version, Constraint};

/// Whether `text` names exactly one version.
pub fn is_exact(text: &str) -> bool {
    is_exact_version(text.trim())
}

/// Whether `text` is a version range rather than a version: a constraint
/// Helm would resolve to the newest matching release, or `latest`. The
/// same parser decides which releases the range allows, so a pin is a
/// range exactly when chartpilot can say what it resolves to.
pub fn is_range(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && !is_exact(text) && Constraint::parse(text).is_ok()
}

/// Whether a chart comes from a path rather than a repository: `./x`,
/// `../x`, `/x`, a path built from Terraform's `path.module`, `path.root`
/// or `path.cwd`, or a Chart.yaml dependency on `file://`.
pub fn is_local_chart(chart: Option<&str>, repository: Option<&str>) -> bool {
    let path_like = |c: &str| {
        c.starts_with("./")
            || c.starts_with("../")
            || c.starts_with('/')
            || c == "."
            || c == ".."
            || ["${path.module}", "${path.root}", "${path.cwd}"]
                .iter()
                .any(|p| c.starts_with(p))
    };
    chart.is_some_and(path_like)
        || repository.is_some_and(|r| r.trim_start().to_ascii_lowercase().starts_with("file://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_versions() {
        let ranges = [
            "*",
            "8.x",
            "2.7.*",
            "^1.4.0",
            "~1.4",
            "~> 5.51",
            ">= 3.0",
            ">=1.0.0 <2.0.0",
            ">=1.0.0, <2.0.0",
            "1.2 - 1.5",
            "latest",
            "1.2",
            "1",
            "v1.x",
            "^1.2.3 || ~2.0",
            "!=1.2.3",
            "=1.2.3",
            "1.x.x",
        ];
        for r in ranges {
            assert!(is_range(r), "{r} is a range");
            assert!(!is_exact(r), "{r} is not exact");
        }
        let exact = [
            "1.2.3",
            "v1.13.2",
            "0.0.1-rc.awaiting-ci",
            "1.0.0+build.5",
            " 2.7.2 ",
        ];
        for v in exact {
            assert!(is_exact(v), "{v} is exact");
            assert!(!is_range(v), "{v} is not a range");
        }
        // Neither: left as written, for lookups to find or not.
        let neither = [
            "",
            "main",
            "HEAD",
            "1.0.0.1",
            "{{ .Values.v }}",
            ">=",
            "1.2 -",
            "- 1.2",
            "1.2 - ^1.5",
            "1..2",
        ];
        for n in neither {
            assert!(!is_range(n), "{n:?} is not a range");
            assert!(!is_exact(n), "{n:?} is not exact");
        }
        assert!(!is_range(&"1.".repeat(200)));
    }

    #[test]
    fn local_charts() {
        let local = [
            (Some("./charts/x"), None),
            (Some("../helm/foo"), None),
            (Some("/opt/charts/x"), None),
            (Some("${path.module}/chart"), None),
            (Some("${path.root}/charts/x"), None),
            (Some("common"), Some("file://../common")),
            (Some("common"), Some("FILE://../common")),
        ];
        for (chart, repo) in local {
            assert!(is_local_chart(chart, repo), "{chart:?} {repo:?}");
        }
        let remote = [
            (
                Some("argo-cd"),
                Some("https://argoproj.github.io/argo-helm"),
            ),
            (Some("oci://ghcr.io/x/chart"), None),
            (Some("https://host/x.tgz"), None),
            (Some("bitnami/redis"), None),
            (None, None),
            (Some("x"), Some("oci://registry/x")),
        ];
        for (chart, repo) in remote {
            assert!(!is_local_chart(chart, repo), "{chart:?} {repo:?}");
        }
    }
}
