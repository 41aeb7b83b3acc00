//! Upgrade passes end to end: a GitOps repository whose pins are behind a
//! local Helm index gets one PR per chart in the first environment (and
//! one for the Terraform pin without an environment), each branch changes
//! exactly the version tokens, a second pass changes nothing, and a newer
//! release supersedes the open PR. Once on a local repository, once
//! through the fake GitHub.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod budget;
mod cli;
mod dashboard;
mod discovery;
mod fixture;
mod github;
mod impact;
mod local;
mod logs;
mod majors;
mod org;
mod promotion;
mod rate_limits;
mod repositories;
#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;

use chartpilot::settings::Settings;
use chartpilot::upgrade::run::{Action, Report};

/// Settings for a pass: the given git section, and a mirror that routes the
/// pins' chart repository to the index folder on disk.
pub fn settings(dir: &Path, git: &str, index_dir: &Path) -> Settings {
    let path = dir.join("chartpilot.toml");
    let text = format!(
        "{git}\n[helm]\ntimeout = \"5s\"\n[[helm.mirrors]]\nfrom = \"{}\"\nto = \"file://{}\"\n",
        fixture::CHARTS_URL,
        index_dir.display()
    );
    std::fs::write(&path, text).expect("write config");
    Settings::load(Some(&path), &HashMap::new()).expect("settings load")
}

/// `(what, branch)` per action, for assertions that read like the CLI.
pub fn summary(report: &Report) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report
        .actions
        .iter()
        .map(|a| match a {
            Action::Opened { branch, .. } => ("opened".into(), branch.clone()),
            Action::Updated { branch, .. } => ("updated".into(), branch.clone()),
            Action::Unchanged { branch, .. } => ("unchanged".into(), branch.clone()),
            Action::Closed { branch, .. } => ("closed".into(), branch.clone()),
            Action::WouldOpen { branch, .. } => ("would-open".into(), branch.clone()),
            Action::WouldClose { branch, .. } => ("would-close".into(), branch.clone()),
            Action::Declined { branch, .. } => ("declined".into(), branch.clone()),
            Action::Obsolete { branch, .. } => ("obsolete".into(), branch.clone()),
        })
        .collect();
    v.sort();
    v
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    v.sort();
    v
}

/// A scratch folder with the fixture repository (`repo/`, on `main`) and
/// an index listing podinfo up to `podinfo_latest` (`charts/`).
pub struct Scratch {
    pub tmp: tempfile::TempDir,
    pub repo: std::path::PathBuf,
    pub index_dir: std::path::PathBuf,
}

pub fn scratch(podinfo_latest: &str) -> Scratch {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    fixture::repository(&repo);
    let index_dir = tmp.path().join("charts");
    fixture::index(&index_dir, podinfo_latest);
    Scratch {
        tmp,
        repo,
        index_dir,
    }
}

impl Scratch {
    /// Settings for the local host on `repo`.
    pub fn local_settings(&self) -> Settings {
        let git = format!(
            "[git]\nprovider = \"local\"\npath = \"{}\"\nbranch = \"main\"\n",
            self.repo.display()
        );
        settings(self.tmp.path(), &git, &self.index_dir)
    }

    /// Settings for `fake`, seeded with the fixture's files.
    pub fn github_settings(&self, fake: &support::fake_github::FakeGithub) -> Settings {
        let files = fixture::files();
        let seeded: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        fake.seed(&seeded);
        let git = format!(
            "[git]\nprovider = \"github\"\nrepository = \"{}\"\nbranch = \"main\"\n\
             [github]\ntoken = \"{}\"\napi_url = \"{}\"\n",
            fake.repository(),
            fake.token,
            fake.url
        );
        settings(self.tmp.path(), &git, &self.index_dir)
    }
}

pub const PODINFO_BRANCH: &str = "chartpilot/upgrade/dev/podinfo-6.6.0";
pub const CERT_MANAGER_BRANCH: &str = "chartpilot/upgrade/any/cert-manager-v1.14.0";
pub const PODINFO_NEWER_BRANCH: &str = "chartpilot/upgrade/dev/podinfo-6.6.1";

/// Each changed file differs from its original only in the version token
/// on the lines the pins name: `(file, old, new)` per expected change.
pub fn assert_only_version_tokens(
    original: &HashMap<String, String>,
    changed: &HashMap<String, String>,
    expected: &[(&str, &str, &str)],
) {
    let mut files: Vec<&String> = changed.keys().collect();
    files.sort();
    let mut want: Vec<&str> = expected.iter().map(|(f, _, _)| *f).collect();
    want.sort();
    want.dedup();
    assert_eq!(files, want, "the branch changes exactly these files");
    for (file, old, new) in expected {
        let before = &original[*file];
        let after = &changed[*file];
        let b: Vec<&str> = before.split_inclusive('\n').collect();
        let a: Vec<&str> = after.split_inclusive('\n').collect();
        assert_eq!(a.len(), b.len(), "{file}: same number of lines");
        let differing: Vec<usize> = (0..a.len()).filter(|i| a[*i] != b[*i]).collect();
        assert_eq!(differing.len(), 1, "{file}: exactly one line changes");
        let i = differing[0];
        assert_eq!(
            b[i].replacen(old, new, 1),
            a[i],
            "{file}:{}: only the version token changes",
            i + 1
        );
    }
}

/// The first pass's two branches change exactly their version tokens:
/// podinfo in dev, and cert-manager's Terraform variable default.
/// `branch_files` reads a branch's changed files from the host under test.
pub fn assert_first_pass_branches(branch_files: impl Fn(&str) -> HashMap<String, String>) {
    let original: HashMap<String, String> = fixture::files().into_iter().collect();
    assert_only_version_tokens(
        &original,
        &branch_files(PODINFO_BRANCH),
        &[("environments/dev/podinfo.yaml", "6.5.0", "6.6.0")],
    );
    assert_only_version_tokens(
        &original,
        &branch_files(CERT_MANAGER_BRANCH),
        &[("platform/main.tf", "v1.13.2", "v1.14.0")],
    );
}
