//! From changed file paths to the Applications to sync. Pure: the caller
//! reads the repository at the pushed commit and hands over the texts.

use std::collections::BTreeSet;

use yaml_rust2::Yaml;

/// An Application as far as syncing it is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    pub name: String,
    /// The manifest's path in the repository.
    pub file: String,
    /// Repository paths of its `$values/…` value files.
    pub value_files: Vec<String>,
    /// What a sync asks Argo CD to deploy (see [`SyncAt`]).
    pub sync_at: SyncAt,
}

/// The revision a sync names, as Argo CD reads `operation.sync.revision`:
/// a commit for a git source, a chart version for a Helm repository source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAt {
    /// One git source: the pushed commit.
    Commit,
    /// One Helm chart source: the version the manifest now pins, which the
    /// in-cluster spec may not have yet.
    Chart(String),
    /// Several sources: each at its own spec revision (a single revision
    /// would apply to the wrong source).
    Spec,
}

/// The Applications in one manifest file (any number of YAML documents).
/// ApplicationSets are left out: their apps are generated, and Argo CD
/// re-renders them itself. A file that does not parse holds none.
pub fn apps_in(path: &str, text: &str) -> Vec<AppRef> {
    // Pushed files are anyone's YAML: loaded with bounded work; a file
    // refused as too large to expand holds no app here either.
    let Ok(docs) = crate::yaml::load_bounded(text, path) else {
        return Vec::new();
    };
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some("Application"))
        .filter_map(|d| {
            let name = d["metadata"]["name"].as_str()?.to_owned();
            let spec = &d["spec"];
            let sources = std::iter::once(&spec["source"])
                .chain(spec["sources"].as_vec().into_iter().flatten());
            let multi = spec["sources"].as_vec().is_some_and(|v| !v.is_empty());
            let sync_at = if multi {
                SyncAt::Spec
            } else {
                match (
                    spec["source"]["chart"].as_str(),
                    spec["source"]["targetRevision"].as_str(),
                ) {
                    (Some(_), Some(version)) => SyncAt::Chart(version.to_owned()),
                    (Some(_), None) => SyncAt::Spec,
                    _ => SyncAt::Commit,
                }
            };
            let value_files = sources
                .flat_map(|s| s["helm"]["valueFiles"].as_vec().into_iter().flatten())
                .filter_map(Yaml::as_str)
                .filter_map(|v| v.strip_prefix("$values/"))
                .map(|v| v.trim_start_matches('/').to_owned())
                .collect();
            Some(AppRef {
                name,
                file: path.to_owned(),
                value_files,
                sync_at,
            })
        })
        .collect()
}

/// The names of the apps whose manifest or a value file is among
/// `changed`, each once, sorted.
pub fn affected(changed: &[String], apps: &[AppRef]) -> Vec<String> {
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    apps.iter()
        .filter(|a| {
            changed.contains(a.file.as_str())
                || a.value_files.iter().any(|v| changed.contains(v.as_str()))
        })
        .map(|a| a.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_APPS: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo-dev
spec:
  sources:
    - repoURL: https://stefanprodan.github.io/podinfo
      chart: podinfo
      targetRevision: 6.5.0
      helm:
        valueFiles:
          - $values/values/podinfo/dev.yaml
          - values-inline.yaml
    - repoURL: https://github.com/acme/gitops.git
      ref: values
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: redis-dev
spec:
  source:
    repoURL: https://charts.bitnami.com/bitnami
    chart: redis
    targetRevision: 18.1.0
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: generated
";

    #[test]
    fn apps_and_their_repository_value_files_are_found() {
        let apps = apps_in("environments/dev/apps.yaml", TWO_APPS);
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].name, "podinfo-dev");
        assert_eq!(apps[0].value_files, ["values/podinfo/dev.yaml"]);
        assert!(apps[1].value_files.is_empty());
        assert!(apps_in("x.yaml", "kind: [").is_empty());
    }

    #[test]
    fn a_push_syncs_apps_whose_manifest_or_values_changed_each_once() {
        let mut apps = apps_in("environments/dev/apps.yaml", TWO_APPS);
        apps.extend(apps_in(
            "environments/prod/apps.yaml",
            &TWO_APPS
                .replace("-dev", "-prod")
                .replace("/dev.yaml", "/prod.yaml"),
        ));
        let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (
                vec!["environments/dev/apps.yaml"],
                vec!["podinfo-dev", "redis-dev"],
            ),
            (vec!["values/podinfo/prod.yaml"], vec!["podinfo-prod"]),
            (
                vec!["values/podinfo/dev.yaml", "environments/dev/apps.yaml"],
                vec!["podinfo-dev", "redis-dev"],
            ),
            (vec!["README.md", "values-inline.yaml"], vec![]),
        ];
        for (changed, want) in cases {
            let changed: Vec<String> = changed.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(affected(&changed, &apps), want, "{changed:?}");
        }
    }

    #[test]
    fn a_sync_names_a_commit_a_chart_version_or_nothing_by_source_kind() {
        let doc = |spec: &str| {
            format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: x\nspec:\n{spec}")
        };
        let cases = [
            (
                "  source:\n    repoURL: https://charts.example.org\n    chart: podinfo\n    targetRevision: 6.6.0\n",
                SyncAt::Chart("6.6.0".into()),
            ),
            (
                "  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: apps/web\n    targetRevision: main\n",
                SyncAt::Commit,
            ),
            (
                "  sources:\n    - repoURL: https://charts.example.org\n      chart: podinfo\n      targetRevision: 6.6.0\n    - repoURL: https://github.com/acme/gitops.git\n      ref: values\n",
                SyncAt::Spec,
            ),
        ];
        for (spec, want) in cases {
            let apps = apps_in("a.yaml", &doc(spec));
            assert_eq!(apps.len(), 1, "{spec}");
            assert_eq!(apps[0].sync_at, want, "{spec}");
        }
    }
}
