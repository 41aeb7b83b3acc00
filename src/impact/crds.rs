//! CRDs a chart installs from `crds/`, compared by name and content, and
//! the chart's `kubeVersion` against the cluster's (`policy.kube_version`).
//!
//! Helm installs `crds/` only on first install and never upgrades them,
//! so a changed CRD is something a person has to apply by hand.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::charts::constraint::Constraint;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CrdDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl CrdDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The target's `kubeVersion` does not take the cluster's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeExclusion {
    pub constraint: String,
    pub kube_version: String,
}

/// Each CRD by `kind/name` (`CustomResourceDefinition/x.example.com`),
/// with a hash of its content as parsed (formatting and comments do not
/// count). A document that is not a CRD or not YAML counts by its file.
fn index(files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (path, text) in files {
        let hash = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
        let Ok(docs) = crate::yaml::load_bounded(text, path) else {
            out.insert(path.clone(), hash(text.as_bytes()));
            continue;
        };
        for doc in docs {
            let json = super::values::yaml_to_json(&doc);
            if json.is_null() {
                continue;
            }
            let kind = json.get("kind").and_then(|k| k.as_str());
            let name = json.pointer("/metadata/name").and_then(|n| n.as_str());
            let key = match (kind, name) {
                (Some(kind), Some(name)) => format!("{kind}/{name}"),
                _ => path.clone(),
            };
            out.insert(key, hash(json.to_string().as_bytes()));
        }
    }
    out
}

pub fn diff(current: &[(String, String)], target: &[(String, String)]) -> CrdDiff {
    let old = index(current);
    let new = index(target);
    CrdDiff {
        added: new
            .keys()
            .filter(|k| !old.contains_key(*k))
            .cloned()
            .collect(),
        removed: old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect(),
        changed: new
            .iter()
            .filter(|(k, h)| old.get(*k).is_some_and(|o| o != *h))
            .map(|(k, _)| k.clone())
            .collect(),
    }
}

/// Whether `constraint` (the target's `kubeVersion`) excludes `kube`
/// (`policy.kube_version`; empty: not checked), matched as Helm matches
/// it: a cluster version with a pre-release (`1.29.4-gke.1`) satisfies
/// only ranges that name one (`>=1.25.0-0`).
pub fn kube_exclusion(
    constraint: Option<&str>,
    kube: &str,
    notes: &mut Vec<String>,
) -> Option<KubeExclusion> {
    let kube = kube.trim();
    let constraint = constraint?.trim();
    if kube.is_empty() || constraint.is_empty() {
        return None;
    }
    let version = match semver::Version::parse(kube.trim_start_matches(['v', 'V'])) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!(
                "policy.kube_version `{kube}` is not a version: {e}"
            ));
            return None;
        }
    };
    match Constraint::parse(constraint) {
        Ok(c) if c.matches(&version) => None,
        Ok(_) => Some(KubeExclusion {
            constraint: constraint.to_owned(),
            kube_version: kube.to_owned(),
        }),
        Err(e) => {
            notes.push(format!(
                "the target's kubeVersion `{constraint}` is not a range ({e}); not checked"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str, version: &str) -> String {
        format!(
            "# comment\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\nspec:\n  versions: [{{name: {version}}}]\n"
        )
    }

    #[test]
    fn crds_by_name_and_content() {
        let current = vec![
            ("crds/a.yaml".to_owned(), crd("a.example.com", "v1")),
            (
                "crds/bc.yaml".to_owned(),
                format!(
                    "{}---\n{}",
                    crd("b.example.com", "v1"),
                    crd("c.example.com", "v1")
                ),
            ),
        ];
        let target = vec![
            // Reformatted only: no change.
            (
                "crds/a.yaml".to_owned(),
                crd("a.example.com", "v1").replace("# comment\n", ""),
            ),
            ("crds/b.yaml".to_owned(), crd("b.example.com", "v2")),
            ("crds/d.yaml".to_owned(), crd("d.example.com", "v1")),
        ];
        assert_eq!(
            diff(&current, &target),
            CrdDiff {
                added: vec!["CustomResourceDefinition/d.example.com".into()],
                removed: vec!["CustomResourceDefinition/c.example.com".into()],
                changed: vec!["CustomResourceDefinition/b.example.com".into()],
            }
        );
    }

    #[test]
    fn kube_version_as_helm_matches_it() {
        let cases = [
            (Some(">=1.25.0"), "1.24.3", true),
            (Some(">=1.25.0"), "v1.29.0", false),
            (Some(">=1.25.0"), "1.29.4-gke.1043", true),
            (Some(">=1.25.0-0"), "1.29.4-gke.1043", false),
            (Some(">=1.25.0-0 <1.28.0-0"), "1.30.0", true),
            (None, "1.20.0", false),
            (Some(">=1.25.0"), "", false),
        ];
        for (constraint, kube, excluded) in cases {
            let mut notes = Vec::new();
            let got = kube_exclusion(constraint, kube, &mut notes);
            assert_eq!(got.is_some(), excluded, "{constraint:?} {kube}");
            assert!(notes.is_empty(), "{notes:?}");
        }
        let mut notes = Vec::new();
        assert_eq!(kube_exclusion(Some("nonsense"), "1.29.0", &mut notes), None);
        assert!(notes[0].contains("not a range"), "{notes:?}");
    }
}
