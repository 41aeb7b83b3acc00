//! `scan --offline --format json --include-local` over the real files of
//! each pin pattern (`shared/corpus/gitops/EXPECTED-patterns.json`, written
//! by a person reading the files) agrees with them field by field: every
//! pin listed is found as listed, and nothing else is reported in those
//! repositories.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gitops")
}

/// One pin in the shape both sides are compared in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    file: String,
    /// None where the human wrote none (no version token): not compared.
    line: Option<u64>,
    kind: String,
    /// Terraform: the release's address; others: the name.
    name: String,
    chart: Option<String>,
    repository: Option<String>,
    version: Option<String>,
    constraint: Option<String>,
    env: Option<String>,
    local_chart: bool,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `helm_release.this (module.helm_release)` is how the list spells
/// `module.helm_release.helm_release.this`.
fn address(name: &str) -> String {
    match name.split_once(" (") {
        Some((resource, module)) => format!("{}.{resource}", module.trim_end_matches(')')),
        None => name.to_owned(),
    }
}

fn expected() -> Vec<(String, Row)> {
    let path = corpus().join("EXPECTED-patterns.json");
    let list: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(list.len() >= 20, "{} entries", list.len());
    list.iter()
        .map(|e| {
            let file = text(e, "file").unwrap();
            let repo_dir = file.split('/').next().unwrap().to_owned();
            let kind = match e["kind"].as_str().unwrap() {
                "helm_release" => "terraform",
                "argocd-application" => "argocd",
                other => other,
            };
            let written = text(e, "version");
            let is_range = e["constraint"].as_bool().unwrap();
            let name = text(e, "name").unwrap();
            let row = Row {
                file,
                line: e["line"].as_u64(),
                kind: kind.to_owned(),
                name: if kind == "terraform" {
                    address(&name)
                } else {
                    name
                },
                chart: text(e, "chart"),
                repository: text(e, "repository"),
                version: if is_range { None } else { written.clone() },
                constraint: if is_range { written } else { None },
                env: text(e, "env"),
                local_chart: e["local_chart"].as_bool().unwrap(),
            };
            (repo_dir, row)
        })
        .collect()
}

/// What chartpilot reports for one repository folder, files named as the
/// list names them.
fn scanned(repo_dir: &str) -> Vec<Row> {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(["scan", "--offline", "--format", "json", "--include-local"])
        .arg(corpus().join(repo_dir))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{repo_dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pins: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    pins.iter()
        .map(|p| {
            let kind = text(p, "kind").unwrap();
            let name = if kind == "terraform" {
                text(p, "address").unwrap_or_else(|| format!("no address: {p}"))
            } else {
                text(p, "name").unwrap()
            };
            Row {
                file: format!("{repo_dir}/{}", text(p, "file").unwrap()),
                line: p["line"].as_u64(),
                kind,
                name,
                chart: text(p, "chart"),
                repository: text(p, "repository"),
                version: text(p, "version"),
                constraint: text(p, "constraint"),
                env: text(p, "env"),
                local_chart: p["local_chart"].as_bool().unwrap_or_else(|| panic!("{p}")),
            }
        })
        .collect()
}

#[test]
fn every_pattern_pin_agrees_field_by_field() {
    let expected = expected();
    let mut by_repo: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    for (repo, row) in &expected {
        by_repo.entry(repo).or_default().push(row.clone());
    }
    let (mut agreed, mut problems) = (0, Vec::new());
    for (repo, want) in by_repo {
        let mut got = scanned(repo);
        for row in &want {
            // The list leaves `line` out where there is no version token.
            let found = got.iter().position(|g| {
                Row {
                    line: row.line.and(g.line),
                    ..g.clone()
                } == *row
            });
            match found {
                Some(i) => {
                    got.remove(i);
                    agreed += 1;
                }
                None => {
                    let near: Vec<&Row> = got
                        .iter()
                        .filter(|g| g.file == row.file && g.chart == row.chart)
                        .collect();
                    problems.push(format!("missing {row:?}\n  chartpilot has {near:?}"));
                }
            }
        }
        let files: BTreeSet<&str> = want.iter().map(|r| r.file.as_str()).collect();
        for extra in got {
            let why = if files.contains(extra.file.as_str()) {
                "in a listed file"
            } else {
                "in another file of the repository"
            };
            problems.push(format!("not in the list ({why}): {extra:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{agreed} of {} agree; {} problems:\n{}",
        expected.len(),
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(agreed, expected.len());
}
