//! The `chartpilot` check on pull requests that touch pins (people's and
//! chartpilot's own): on `opened`, `synchronize` and `reopened`, the head
//! and the merge base are scanned as snapshots (never checked out: a fork's
//! head is read by id through the git host), the pins the pull request
//! added or changed are judged by [`rules`], and the result goes to the
//! host ([`crate::git::GitHost::report_check`]). A pull request that
//! changes no pin gets no check at all.
//!
//! GitHub calls for a pull request that changes one pin, when the stage
//! before it already has the version: the comparison, the head's tarball,
//! the lookup of an earlier run and its creation (4). The merge base's
//! files are rebuilt from the head's with the comparison's hunks undone
//! ([`base`]); only when that cannot be done exactly is the merge base's
//! tarball read (one more call). The promotion rule reads
//! history only when neither the head nor the merge base shows the version
//! in the earlier stage: one listing of the last [`MAX_HISTORY_COMMITS`]
//! commits of that stage's file, and one read per commit until found.

pub mod base;
pub mod diff;
pub mod provenance;
pub mod report;
pub mod rules;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use self::rules::{Allowed, Change, Earlier, Finding, ProvenanceVerdict, PullFacts, Rule, Said};
use crate::charts::lookup::{Lookup, Outcome};
use crate::charts::Release;
use crate::domain::CommitSha;
use crate::git::{read_files, CheckReport, GitError, GitHost, ReadError};
use crate::jobs::PullRequest;
use crate::pins::{self, DiscoverOptions, Pin, SourceFile};
use crate::settings::{CheckSettings, PolicySettings, Settings};

/// Commits of the earlier stage's file read back for the promotion rule:
/// a stage that had the version within its last ten changes counts as
/// having had it; an older pass is not worth ten more calls per check.
pub const MAX_HISTORY_COMMITS: usize = 10;

/// Files of one earlier stage whose history is read (a stage usually pins
/// a chart in one file).
const MAX_HISTORY_FILES: usize = 2;

/// The `pull_request` actions that put new code in front of reviewers.
const ACTIONS: [&str; 3] = ["opened", "synchronize", "reopened"];

/// Verifies the target version's provenance; the lead plugs the charts
/// verifier in here. Without one, the check says nothing about provenance.
#[async_trait]
pub trait ProvenanceCheck: Send + Sync {
    /// None when there is nothing to verify (no published archive).
    async fn verdict(&self, pin: &Pin, version: &str) -> Option<ProvenanceVerdict>;
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot read the snapshot: {0}")]
    Snapshot(String),
}

impl From<ReadError> for CheckError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Git(e) => CheckError::Git(e),
            ReadError::Local(e) => CheckError::Snapshot(e),
        }
    }
}

impl CheckError {
    pub fn is_transient(&self) -> bool {
        matches!(self, CheckError::Git(e) if e.is_transient())
    }
}

/// What a check did with one pull request event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Not an event the check runs on, or the check is off.
    Skipped(String),
    /// The pull request changes no pin: nothing posted.
    NoPins,
    Reported(CheckReport),
}

impl std::fmt::Display for Checked {
    /// For the worker's log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checked::Skipped(why) => write!(f, "skipped: {why}"),
            Checked::NoPins => f.write_str("no pin changed, nothing posted"),
            Checked::Reported(r) => f.write_str(r.conclusion.as_str()),
        }
    }
}

pub struct Checker {
    pub host: Arc<dyn GitHost>,
    pub lookup: Arc<Lookup>,
    pub policy: PolicySettings,
    pub settings: CheckSettings,
    pub allowed: Allowed,
    /// `upgrade.major_label`: the label a major update carries.
    pub major_label: String,
    pub discover: DiscoverOptions,
    /// `git.repository`; events of other repositories are skipped. Empty
    /// (the local host) checks every event.
    pub repository: String,
    pub provenance: Option<Arc<dyn ProvenanceCheck>>,
}

impl Checker {
    pub fn from_settings(settings: &Settings, host: Arc<dyn GitHost>) -> Result<Self, String> {
        let lookup = Arc::new(Lookup::new(&settings.helm).map_err(|e| e.to_string())?);
        let provenance = provenance::KeyringCheck::from_settings(settings, Arc::clone(&lookup))?
            .map(|k| Arc::new(k) as Arc<dyn ProvenanceCheck>);
        Ok(Checker {
            host,
            lookup,
            policy: settings.policy.clone(),
            settings: settings.checks.clone(),
            allowed: Allowed::new(&settings.policy.allowed_repositories)?,
            major_label: settings.upgrade.major_label.clone(),
            discover: DiscoverOptions {
                environments: settings.policy.environments.clone(),
                env_patterns: settings.pins.env_patterns.clone(),
                env_aliases: settings.pins.env_aliases.clone(),
            },
            repository: settings.git.repository.clone(),
            provenance,
        })
    }

    /// The checker `serve` runs on the service's git host; why there is
    /// none when that could not be set up.
    pub fn for_service(
        settings: &Settings,
        host: Result<&Arc<dyn GitHost>, &String>,
    ) -> Result<Arc<Self>, String> {
        let host = Arc::clone(host.map_err(Clone::clone)?);
        Self::from_settings(settings, host).map(Arc::new)
    }

    pub async fn on_pull(&self, pr: &PullRequest) -> Result<Checked, CheckError> {
        if !self.settings.enabled {
            return Ok(Checked::Skipped("checks.enabled is false".into()));
        }
        if !ACTIONS.contains(&pr.action.as_str()) {
            return Ok(Checked::Skipped(format!("action `{}`", pr.action)));
        }
        if !self.repository.is_empty() && !pr.repository.eq_ignore_ascii_case(&self.repository) {
            return Ok(Checked::Skipped(format!("repository {}", pr.repository)));
        }
        let changes = self.host.pull_changes(&pr.base_ref, &pr.head_sha).await?;
        // JSON files may feed ApplicationSet generators.
        let scanned = |path: &str| pins::may_hold_pins(path) || path.ends_with(".json");
        if !changes.paths.iter().any(|p| scanned(&p.path)) {
            return Ok(Checked::NoPins);
        }
        let (head_files, head) = self.scan(&pr.head_sha).await?;
        let base = match base::rebuild(&head_files, &changes) {
            Some(files) => self.scan_files(files).await?,
            None => self.scan(&changes.merge_base).await?.1,
        };
        let changed = diff::changed(&base, &head);
        if changed.is_empty() {
            return Ok(Checked::NoPins);
        }
        let facts = PullFacts {
            labels: pr.labels.clone(),
            body: pr.body.clone(),
        };
        let all: Vec<&Pin> = head.iter().chain(base.iter()).collect();
        let findings = self.judge(pr, &changed, &all, &facts, &head_files).await?;
        let report = report::build(pr.number, &pr.head_sha, changed.len(), findings);
        self.host.report_check(&report).await?;
        tracing::info!(
            event = "pull_checked",
            pr = pr.number,
            sha = %pr.head_sha,
            changed = changed.len(),
            findings = report.annotations.len(),
            conclusion = report.conclusion.as_str(),
            "pull request checked"
        );
        Ok(Checked::Reported(report))
    }

    /// The files of the tree at `rev`, read from a snapshot, and their pins.
    async fn scan(&self, rev: &CommitSha) -> Result<(Vec<SourceFile>, Vec<Pin>), CheckError> {
        let (files, _) = read_files(self.host.as_ref(), rev).await?;
        let opts = self.discover.clone();
        tokio::task::spawn_blocking(move || {
            let pins = pins::scan_files(&files, &opts).pins;
            (files, pins)
        })
        .await
        .map_err(|e| CheckError::Snapshot(e.to_string()))
    }

    async fn scan_files(&self, files: Vec<SourceFile>) -> Result<Vec<Pin>, CheckError> {
        let opts = self.discover.clone();
        tokio::task::spawn_blocking(move || pins::scan_files(&files, &opts).pins)
            .await
            .map_err(|e| CheckError::Snapshot(e.to_string()))
    }

    async fn judge(
        &self,
        pr: &PullRequest,
        changed: &[Change],
        all: &[&Pin],
        facts: &PullFacts,
        head_files: &[SourceFile],
    ) -> Result<Vec<Finding>, CheckError> {
        let wanted: Vec<&Pin> = changed
            .iter()
            .filter(|c| c.new_version().is_some() && !c.head.local_chart)
            .map(|c| &c.head)
            .collect();
        let lookups = if wanted.is_empty() {
            Default::default()
        } else {
            self.lookup.releases(wanted).await
        };
        let mut base_tip: Option<CommitSha> = None;
        let mut findings = Vec::new();
        for change in changed {
            let pin = &change.head;
            let mut say = |rule: Rule, said: Option<Said>| {
                if let Some(said) = said {
                    findings.extend(Finding::new(rule, &self.settings, pin, said));
                }
            };
            say(Rule::Ranges, rules::ranges(change, self.policy.ranges));
            say(
                Rule::AllowedRepositories,
                rules::allowed_repository(change, &self.allowed),
            );
            let releases = match lookups.get(pin) {
                Some(Outcome::Releases(r)) => Some(Ok(r.clone())),
                Some(Outcome::Failed(e)) => Some(Err(e.clone())),
                _ => None,
            };
            let target: Option<&Release> = match (&releases, change.new_version()) {
                (Some(Ok(list)), Some(to)) => {
                    list.iter().find(|r| rules::same_version(&r.version, to))
                }
                _ => None,
            };
            say(
                Rule::MajorUpdate,
                rules::major_update(change, facts, &self.major_label, target),
            );
            say(
                Rule::Deprecated,
                rules::deprecated(change, releases.as_ref()),
            );
            if let (Some(verifier), Some(to)) = (&self.provenance, change.new_version()) {
                let verdict = verifier.verdict(pin, to).await;
                say(
                    Rule::Provenance,
                    rules::provenance(change, verdict.as_ref()),
                );
            }
            // A repository whose index could not be read is already a note
            // of the deprecated rule; its archives are not tried.
            let reachable = matches!(releases, Some(Ok(_)));
            if reachable && Rule::Values.level(&self.settings) != crate::settings::RuleLevel::Off {
                let from = change.base.as_ref().and_then(|b| b.version.as_deref());
                if let (Some(from), Some(to)) = (from, change.new_version()) {
                    let impact = crate::impact::of_pin(
                        self.lookup.as_ref(),
                        pin,
                        from,
                        to,
                        head_files,
                        None,
                        &self.policy,
                    )
                    .await;
                    say(Rule::Values, rules::values(change, Some(&impact)));
                }
            }
            if Rule::PromotionOrder.level(&self.settings) != crate::settings::RuleLevel::Off {
                if let Some(said) = self.promotion(pr, change, all, &mut base_tip).await? {
                    findings.extend(Finding::new(
                        Rule::PromotionOrder,
                        &self.settings,
                        pin,
                        said,
                    ));
                }
            }
        }
        Ok(findings)
    }

    /// The promotion rule for one change: the earlier stage's versions in
    /// the head and the merge base, and its history on the base branch
    /// only when those do not show the new version.
    async fn promotion(
        &self,
        pr: &PullRequest,
        change: &Change,
        all: &[&Pin],
        base_tip: &mut Option<CommitSha>,
    ) -> Result<Option<Said>, CheckError> {
        let Some(to) = change.new_version() else {
            return Ok(None);
        };
        let envs = &self.policy.environments;
        let order = &self.policy.tier1_order;
        let Some((_, own_name)) = diff::stage(&change.head, envs, order) else {
            return Ok(None);
        };
        let Some((stage, earlier)) = diff::earlier_stage(&change.head, all, envs, order) else {
            return Ok(None);
        };
        let current: BTreeSet<String> = earlier
            .iter()
            .filter_map(|p| p.version.clone().or_else(|| p.constraint.clone()))
            .collect();
        let mut seen: Vec<String> = current.iter().cloned().collect();
        let mut history = format!("{} (head and merge base)", pr.base_ref);
        if !seen.iter().any(|v| rules::same_version(v, to)) {
            if base_tip.is_none() {
                *base_tip = self.host.branch_head(&pr.base_ref).await?;
            }
            if let Some(tip) = base_tip.as_ref() {
                let (found, read) = self.history_versions(tip, &earlier, &stage, to).await?;
                seen.extend(found);
                history = format!(
                    "the last {MAX_HISTORY_COMMITS} commits of {read} on {}",
                    pr.base_ref
                );
            }
        }
        let earlier = Earlier {
            stage,
            seen,
            current: current.into_iter().collect(),
            history,
        };
        Ok(rules::promotion_order(change, &own_name, &earlier))
    }

    /// Versions the earlier stage pinned in the recent history of its
    /// files on the base branch, stopping once `to` is found; and which
    /// files were read, for the message.
    async fn history_versions(
        &self,
        tip: &CommitSha,
        earlier: &[&Pin],
        stage: &str,
        to: &str,
    ) -> Result<(Vec<String>, String), CheckError> {
        let files: BTreeSet<&str> = earlier.iter().map(|p| p.file.as_str()).collect();
        let chart = earlier
            .first()
            .and_then(|p| p.chart_name())
            .unwrap_or_default();
        let envs = &self.policy.environments;
        let order = &self.policy.tier1_order;
        let mut seen = Vec::new();
        for file in files.iter().take(MAX_HISTORY_FILES) {
            let commits = self
                .host
                .file_commits(tip, file, MAX_HISTORY_COMMITS)
                .await?;
            for commit in commits {
                let Some(bytes) = self.host.read_file(&commit, file).await? else {
                    continue;
                };
                let source = SourceFile {
                    path: (*file).to_owned(),
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                };
                let scan = pins::scan_files(&[source], &self.discover);
                let versions: Vec<String> = scan
                    .pins
                    .iter()
                    .filter(|p| p.chart_name() == Some(chart))
                    .filter(|p| diff::stage(p, envs, order).is_some_and(|(_, s)| s == stage))
                    .filter_map(|p| p.version.clone())
                    .collect();
                let found = versions.iter().any(|v| rules::same_version(v, to));
                seen.extend(versions);
                if found {
                    return Ok((seen, files.iter().copied().collect::<Vec<_>>().join(", ")));
                }
            }
        }
        Ok((seen, files.into_iter().collect::<Vec<_>>().join(", ")))
    }
}
