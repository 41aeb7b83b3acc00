//! The default values of two versions of a chart, compared leaf by leaf:
//! removed, renamed, changed and added keys.
//!
//! **Renames.** A key is renamed when a removed leaf's value reappears
//! under a new path. Common values (`true`, `""`, `{}`, `1`, `80`…) appear
//! everywhere, so a value names a rename only when it is *distinctive*
//! (see [`distinctive`]) and is the value of exactly one removed and
//! exactly one added leaf. Each such rename says that its parent folder
//! moved (`a.b.c` → `x.b.c` moved `a` to `x`, the part before the common
//! tail); the other removed leaves under a moved folder whose path exists
//! under the new folder are renamed too, whatever their value, which
//! catches `enabled: true` moving along with its distinctive siblings.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::keypath::KeyPath;
use super::values::flatten;

/// Strings shorter than this (`""`, `"v1"`, `"TCP"`) say nothing about
/// where a value came from.
const MIN_DISTINCTIVE_CHARS: usize = 4;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValuesDiff {
    pub removed: Vec<Leaf>,
    pub renamed: Vec<Rename>,
    pub changed: Vec<Change>,
    pub added: Vec<Leaf>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaf {
    pub path: KeyPath,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    pub from: KeyPath,
    pub to: KeyPath,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: KeyPath,
    pub from: Value,
    pub to: Value,
}

impl ValuesDiff {
    /// Where a path of the current chart went, when its key (or a folder
    /// above it) was renamed: the new path with the same tail.
    pub fn renamed_to(&self, path: &KeyPath) -> Option<KeyPath> {
        self.renamed
            .iter()
            .filter(|r| path.starts_with(&r.from))
            .max_by_key(|r| r.from.len())
            .map(|r| {
                let mut to = r.to.0.clone();
                to.extend_from_slice(&path.0[r.from.len()..]);
                KeyPath(to)
            })
    }
}

/// Whether `v` points at one place: a string of [`MIN_DISTINCTIVE_CHARS`]
/// or more, a number other than -1, 0, 1 and 2, or a non-empty list.
pub fn distinctive(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().count() >= MIN_DISTINCTIVE_CHARS,
        Value::Number(n) => n.as_f64().is_some_and(|f| !(-1.0..=2.0).contains(&f)),
        Value::Array(items) => !items.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(_) | Value::Null => false,
    }
}

pub fn diff(current: &Value, target: &Value) -> ValuesDiff {
    let old = flatten(current);
    let new = flatten(target);
    let mut removed: BTreeMap<&KeyPath, &Value> = BTreeMap::new();
    let mut changed = Vec::new();
    for (path, value) in &old {
        match new.get(path) {
            Some(now) if now != value => changed.push(Change {
                path: path.clone(),
                from: value.clone(),
                to: now.clone(),
            }),
            Some(_) => {}
            // A leaf whose path is a folder now (`{}` filled in) is no
            // removal: the key is still there.
            None if has_below(&new, path) || under_open_map(&new, path) => {}
            None => {
                removed.insert(path, value);
            }
        }
    }
    let added: BTreeMap<&KeyPath, &Value> = new
        .iter()
        .filter(|(k, _)| !old.contains_key(*k))
        .filter(|(k, _)| !has_below(&old, k) && !under_open_map(&old, k))
        .collect();
    let renamed = renames(&removed, &added);
    let gone: std::collections::HashSet<KeyPath> = renamed.iter().map(|r| r.from.clone()).collect();
    let arrived: std::collections::HashSet<KeyPath> =
        renamed.iter().map(|r| r.to.clone()).collect();
    ValuesDiff {
        removed: removed
            .iter()
            .filter(|(k, _)| !gone.contains(**k))
            .map(|(k, v)| Leaf {
                path: (*k).clone(),
                value: (*v).clone(),
            })
            .collect(),
        renamed,
        changed,
        added: added
            .iter()
            .filter(|(k, _)| !arrived.contains(**k))
            .map(|(k, v)| Leaf {
                path: (*k).clone(),
                value: (*v).clone(),
            })
            .collect(),
    }
}

/// Whether `leaves` has a path below `path`: those sort right after it.
fn has_below(leaves: &BTreeMap<KeyPath, Value>, path: &KeyPath) -> bool {
    leaves
        .range(path.clone()..)
        .find(|(k, _)| *k != path)
        .is_some_and(|(k, _)| k.starts_with(path))
}

/// Whether a folder above `path` is an empty map in `leaves`: a map
/// that takes any key, so keys below it come and go as examples.
fn under_open_map(leaves: &BTreeMap<KeyPath, Value>, path: &KeyPath) -> bool {
    (1..path.len()).any(|n| {
        matches!(leaves.get(&KeyPath(path.0[..n].to_vec())), Some(Value::Object(m)) if m.is_empty())
    })
}

fn renames(
    removed: &BTreeMap<&KeyPath, &Value>,
    added: &BTreeMap<&KeyPath, &Value>,
) -> Vec<Rename> {
    let canonical = |v: &Value| v.to_string();
    let mut added_by_value: HashMap<String, Vec<&KeyPath>> = HashMap::new();
    for (path, value) in added.iter().filter(|(_, v)| distinctive(v)) {
        added_by_value
            .entry(canonical(value))
            .or_default()
            .push(path);
    }
    let mut removed_by_value: HashMap<String, usize> = HashMap::new();
    for value in removed.values().filter(|v| distinctive(v)) {
        *removed_by_value.entry(canonical(value)).or_default() += 1;
    }
    let mut found: BTreeMap<KeyPath, KeyPath> = BTreeMap::new();
    let mut moves: Vec<(KeyPath, KeyPath)> = Vec::new();
    for (from, value) in removed.iter().filter(|(_, v)| distinctive(v)) {
        let key = canonical(value);
        let (Some([to]), Some(1)) = (
            added_by_value.get(&key).map(Vec::as_slice),
            removed_by_value.get(&key),
        ) else {
            continue;
        };
        found.insert((*from).clone(), (*to).clone());
        let tail = from
            .0
            .iter()
            .rev()
            .zip(to.0.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let folder = |p: &KeyPath| KeyPath(p.0[..p.len() - tail].to_vec());
        if tail > 0 && tail < from.len() && tail < to.len() {
            moves.push((folder(from), folder(to)));
        }
    }
    // Siblings that moved with their folder.
    for (old_folder, new_folder) in &moves {
        for from in removed.keys().filter(|p| p.starts_with(old_folder)) {
            if found.contains_key(*from) {
                continue;
            }
            let mut to = new_folder.0.clone();
            to.extend_from_slice(&from.0[old_folder.len()..]);
            let to = KeyPath(to);
            if added.contains_key(&to) && !found.values().any(|t| t == &to) {
                found.insert((*from).clone(), to);
            }
        }
    }
    found
        .into_iter()
        .map(|(from, to)| Rename { from, to })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(renames: &[Rename]) -> Vec<String> {
        renames
            .iter()
            .map(|r| format!("{} -> {}", r.from, r.to))
            .collect()
    }

    #[test]
    fn renames_follow_distinctive_values_and_their_folders() {
        let cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
            (
                "a distinctive value moved",
                json!({"image": {"repository": "quay.io/app/server"}}),
                json!({"server": {"image": {"repository": "quay.io/app/server"}}}),
                vec!["image.repository -> server.image.repository"],
            ),
            (
                "siblings move with a renamed folder, even plain ones",
                json!({"metrics": {"port": 9090, "enabled": true, "path": ""}}),
                json!({"monitoring": {"port": 9090, "enabled": true, "path": ""}}),
                vec![
                    "metrics.enabled -> monitoring.enabled",
                    "metrics.path -> monitoring.path",
                    "metrics.port -> monitoring.port",
                ],
            ),
            (
                "common values never name a rename",
                json!({"a": {"enabled": true}, "b": "", "c": {}, "d": 1}),
                json!({"x": {"enabled": true}, "y": "", "z": {}, "w": 1}),
                vec![],
            ),
            (
                "a value seen twice among the added keys is ambiguous",
                json!({"old": "nginx:1.25"}),
                json!({"one": "nginx:1.25", "two": "nginx:1.25"}),
                vec![],
            ),
            (
                "a value removed twice is ambiguous",
                json!({"a": "nginx:1.25", "b": "nginx:1.25"}),
                json!({"c": "nginx:1.25"}),
                vec![],
            ),
        ];
        for (name, current, target, want) in cases {
            let d = diff(&current, &target);
            assert_eq!(names(&d.renamed), want, "{name}");
            let removed = d.removed.len() + d.renamed.len();
            assert_eq!(removed, flatten(&current).len(), "{name}: every key left");
        }
    }

    #[test]
    fn removed_changed_and_added_keys() {
        let current = json!({
            "replicas": 1,
            "old": {"flag": false},
            "annotations": {},
            "image": {"tag": "1.0"},
        });
        let target = json!({
            "replicas": 2,
            "annotations": {"a": "b"},
            "image": {"tag": "1.0", "digest": ""},
        });
        let d = diff(&current, &target);
        let removed: Vec<String> = d.removed.iter().map(|l| l.path.to_string()).collect();
        assert_eq!(removed, ["old.flag"]);
        assert_eq!(
            d.changed,
            vec![Change {
                path: KeyPath::keys(["replicas"]),
                from: json!(1),
                to: json!(2),
            }]
        );
        let added: Vec<String> = d.added.iter().map(|l| l.path.to_string()).collect();
        assert_eq!(added, ["image.digest"], "a filled `{{}}` is no new key");
        assert_eq!(
            d.renamed_to(&KeyPath::keys(["old", "flag"])),
            None,
            "nothing renamed"
        );
    }

    #[test]
    fn renamed_to_carries_the_tail_below_a_renamed_folder() {
        let d = ValuesDiff {
            renamed: vec![Rename {
                from: KeyPath::keys(["metrics"]),
                to: KeyPath::keys(["monitoring"]),
            }],
            ..ValuesDiff::default()
        };
        assert_eq!(
            d.renamed_to(&KeyPath::keys(["metrics", "serviceMonitor", "interval"])),
            Some(KeyPath::keys(["monitoring", "serviceMonitor", "interval"]))
        );
    }
}
