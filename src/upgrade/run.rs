//! One upgrade pass against a git host: snapshot the base branch, scan its
//! pins, look up versions, plan, then open, update or close pull requests.
//! Every step is idempotent: the branch name says what a PR does, so a
//! repeated or concurrent pass finds the work already done.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::body::{commit_message, pr_body};
use super::changes::{edits, notes_between};
use super::notes::majors_crossed;
use super::plan::{self, branch_version, Group, Target, BRANCH_PREFIX};
pub use super::report::{Action, Report, SkipOut};
use crate::charts::lookup::ChartKey;
use crate::charts::Release;
use crate::clock::Clock;
use crate::domain::CommitSha;
use crate::git::{read_files, GitError, GitHost, NewPull, PullRequest, ReadError};
use crate::pins::{self, DiscoverOptions, Pin, SourceFile};
use crate::settings::{PolicySettings, UpdateType, UpgradeSettings};

use super::source::choose;

/// Published releases per chart, or why they could not be looked up.
/// Charts that need no lookup (git sources) are absent.
pub type Releases = BTreeMap<ChartKey, Result<Vec<Release>, String>>;

/// Where published versions come from (Helm indexes, OCI registries).
#[async_trait]
pub trait ReleaseSource: Send + Sync {
    /// The releases of every pin's chart. When the policy sets a minimum
    /// release age, release times are filled in for the candidates newer
    /// than the pin.
    async fn releases(
        &self,
        pins: &[Pin],
        policy: &PolicySettings,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Releases;
}

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("base branch `{0}` does not exist in the repository")]
    NoBase(String),
    #[error("cannot read the snapshot: {0}")]
    Snapshot(String),
    #[error("{0}")]
    Edit(String),
    /// The chart's repository did not answer; worth another try.
    #[error("{0}")]
    Lookup(String),
}

impl From<ReadError> for UpgradeError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Git(e) => UpgradeError::Git(e),
            ReadError::Local(e) => UpgradeError::Snapshot(e),
        }
    }
}

impl UpgradeError {
    pub fn is_transient(&self) -> bool {
        match self {
            UpgradeError::Git(e) => e.is_transient(),
            UpgradeError::Lookup(_) => true,
            _ => false,
        }
    }
}

/// A version to carry into one more environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRequest<'a> {
    /// The chart as upgrade branches spell it.
    pub chart: &'a str,
    /// None: the newest version the policy allows.
    pub version: Option<&'a str>,
    /// The environment it goes to.
    pub env: &'a str,
    /// The paragraph at the top of the PR body: where it comes from and
    /// what was checked there.
    pub why: String,
}

/// What one pass knows before it acts on its groups.
#[derive(Clone, Copy)]
struct Pass<'a> {
    head: &'a CommitSha,
    files: &'a [SourceFile],
    open: &'a [PullRequest],
    /// Recently closed or merged upgrade PRs: declined versions, even when
    /// their branch was deleted.
    closed: &'a [PullRequest],
    /// Upgrade branches that exist, with or without a PR.
    existing: &'a HashSet<String>,
    dry_run: bool,
}

/// A base branch read: its head, its files and their scan.
pub type Base = (CommitSha, Vec<SourceFile>, pins::Scan);

pub struct Upgrader {
    /// The repository's key (`GitSettings::key`), for its metrics.
    pub repository: String,
    pub host: Arc<dyn GitHost>,
    pub source: Arc<dyn ReleaseSource>,
    /// What a target does to the repository's overrides, for PR bodies and
    /// `upgrade.values_label`; `None` writes no impact section.
    pub impact: Option<Arc<dyn super::impact::ImpactSource>>,
    pub policy: PolicySettings,
    pub upgrade: UpgradeSettings,
    pub discover: DiscoverOptions,
    pub clock: Arc<dyn Clock>,
    /// One pass at a time per process: two passes would race for the same
    /// branches (harmless, but noisy); other replicas are kept apart by
    /// branch creation failing when the branch exists.
    pub lock: Mutex<()>,
    /// Where each pass leaves its version matrix as pin gauges; set once
    /// the service has its metrics (a CLI pass has none).
    pub metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
    /// Where each pass leaves its matrix for the status page; same rule.
    pub status: std::sync::OnceLock<Arc<crate::status::Board>>,
    /// The last base read: a commit's files never change, so a pass over
    /// an unchanged branch reads neither the tarball nor the pins again.
    pub last_base: std::sync::Mutex<Option<Arc<Base>>>,
}

impl Upgrader {
    pub async fn run(&self, dry_run: bool) -> Result<Report, UpgradeError> {
        let _one_at_a_time = self.lock.lock().await;
        let mut report = Report::default();
        let (head, files, scan) = self.read_base(&mut report).await?;
        let now = self.clock.now();
        // A local chart is not published anywhere: nothing to ask about.
        let published: Vec<Pin> = scan
            .pins
            .iter()
            .filter(|p| !p.local_chart)
            .cloned()
            .collect();
        let releases = self.source.releases(&published, &self.policy, now).await;
        report.lookup_errors = super::source::lookup_failures(&releases);
        report.lookup_errors.sort();
        // A frozen environment takes no automatic upgrade; a freeze file
        // that does not parse may freeze any of them, so none do.
        let frozen = crate::promote::freeze::Freezes::from_files(&files)
            .map_err(|e| format!("not upgraded while {e}"));
        // The same matrix `report` shows: as numbers, on the status page
        // and in the dashboard issue.
        let matrix = {
            let (latest, _) = super::source::latest_of(&self.policy, &scan.pins, &releases, now);
            let none = crate::promote::freeze::Freezes::default();
            crate::matrix::build(
                &scan.pins,
                Some(&latest),
                &self.policy.environments,
                frozen.as_ref().unwrap_or(&none),
            )
        };
        if let Some(metrics) = self.metrics.get() {
            metrics.set_pins(&self.repository, &matrix);
            metrics.lookups(&releases);
            metrics.set_adoption(&self.repository, &published, &releases, &self.policy, now);
        }
        // The policy runs once per pin: its target feeds the plan, and
        // what it held back is reported for pins that get PRs here.
        let mut held_back = Vec::new();
        let mut notes = Vec::new();
        let plan = plan::plan(&published, &self.policy.environments, |pin| {
            let (target, held, note) = self.target(pin, &releases, now);
            let out = |reason| SkipOut {
                file: pin.file.clone(),
                line: pin.line,
                name: pin.name.clone(),
                reason,
            };
            if let Some(reason) =
                held.filter(|_| plan::env_of(pin, &self.policy.environments).is_ok())
            {
                held_back.push(out(reason));
            }
            notes.extend(note.map(out));
            target
        });
        report.skipped = plan.skipped.into_iter().map(SkipOut::from).collect();
        report.held_back = held_back;
        report.notes = notes;
        let mut groups = Vec::new();
        for group in plan.groups {
            let why = match &frozen {
                _ if group.env == plan::ANY_ENV => None,
                Ok(f) => f.get(&group.env).map(|f| f.describe(&group.env)),
                Err(e) => Some(e.clone()),
            };
            match why {
                Some(reason) => report.skipped.extend(group.changes.iter().map(|c| SkipOut {
                    file: c.pin.file.clone(),
                    line: c.pin.line,
                    name: c.pin.name.clone(),
                    reason: reason.clone(),
                })),
                None => groups.push(group),
            }
        }
        let plan = plan::Plan {
            groups,
            skipped: Vec::new(),
        };
        let (open, closed, existing) = self.upgrade_pulls().await?;
        let pass = Pass {
            head: &head,
            files: &files,
            open: &open,
            closed: &closed,
            existing: &existing,
            dry_run,
        };
        let obsolete = plan::obsolete(&open, &scan.pins, &self.policy.environments, &plan.groups);
        self.close_obsolete(obsolete, dry_run, &mut report).await?;
        for group in &plan.groups {
            // One chart's trouble (an edit that would move another chart's
            // pin, a body GitHub refuses) must not hold back the others;
            // a passing failure ends the pass so the queue retries it.
            match self.carry_out(&pass, group, &mut report).await {
                Ok(()) => {}
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::error!(event = "upgrade_pr_failed", branch = %group.branch(), error = %e, "upgrade PR failed");
                    report.errors.push(format!("{}: {e}", group.branch()));
                }
            }
        }
        if let Some(metrics) = self.metrics.get() {
            metrics.pr_actions(&report);
        }
        self.after_pass(matrix, open, dry_run, &mut report).await;
        Ok(report)
    }

    /// Opens (or finds, or updates) the pull request that promotes a
    /// version to the next environment: the same branch, body and checks
    /// as an upgrade PR, for the pins of one chart in one environment,
    /// whatever the update policy says (a person merged it one environment
    /// earlier). An empty report when every pin there is at the version
    /// or past it, or when the environment has no pin of the chart.
    pub async fn promote(
        &self,
        req: &PromotionRequest<'_>,
        dry_run: bool,
    ) -> Result<Report, UpgradeError> {
        let _one_at_a_time = self.lock.lock().await;
        let mut report = Report::default();
        let (head, files, scan) = self.read_base(&mut report).await?;
        let pins: Vec<Pin> = scan
            .pins
            .iter()
            .filter(|p| p.env.as_deref() == Some(req.env))
            // Promotion moves exact pins up; ranges follow on their own and
            // local charts are not published.
            .filter(|p| p.version.is_some() && !p.local_chart)
            .filter(|p| p.chart_name().map(plan::ref_safe).as_deref() == Some(req.chart))
            .cloned()
            .collect();
        let Some(first) = pins.first() else {
            return Ok(report);
        };
        let releases = self
            .source
            .releases(&pins, &self.policy, self.clock.now())
            .await;
        let list = match releases.get(&ChartKey::of(first)) {
            Some(Ok(list)) => list,
            Some(Err(e)) => {
                return Err(UpgradeError::Lookup(format!(
                    "{} from {}: {e}",
                    req.chart,
                    crate::charts::fetch::route::strip_userinfo(
                        first.repository.as_deref().unwrap_or("?")
                    )
                )))
            }
            None => {
                return Err(UpgradeError::Edit(format!(
                    "{} in {} has no chart repository to look versions up in",
                    req.chart, req.env
                )))
            }
        };
        let repo =
            crate::charts::fetch::route::strip_userinfo(first.repository.as_deref().unwrap_or("?"));
        let release = match req.version {
            Some(version) => list
                .iter()
                .find(|r| r.version == version)
                .cloned()
                .ok_or_else(|| {
                    UpgradeError::Edit(format!(
                        "{} {version} is not published in {repo}",
                        req.chart
                    ))
                })?,
            // The newest the policy allows for these pins.
            None => match choose(&self.policy, first, list, self.clock.now()).target {
                Some((release, _)) => release,
                None => return Ok(report),
            },
        };
        let from = first.version.clone().unwrap_or_default();
        let target = Target {
            from_app_version: list
                .iter()
                .find(|r| r.version == from)
                .and_then(|r| r.app_version.clone()),
            notes: notes_between(list, &from, &release.version),
            majors: majors_crossed(list, &from, &release.version),
            update: crate::charts::version::update_type(
                &crate::charts::version::Version::parse(&from),
                &crate::charts::version::Version::parse(&release.version),
            )
            .unwrap_or(UpdateType::Patch),
            release,
        };
        let Some(group) = plan::promotion(&pins, req.env, req.chart, target, req.why.clone())
        else {
            return Ok(report);
        };
        let (open, closed, existing) = self.upgrade_pulls().await?;
        let pass = Pass {
            head: &head,
            files: &files,
            open: &open,
            closed: &closed,
            existing: &existing,
            dry_run,
        };
        self.carry_out(&pass, &group, &mut report).await?;
        if let Some(metrics) = self.metrics.get() {
            metrics.pr_actions(&report);
        }
        Ok(report)
    }

    /// The base branch's head, its files and their scan; the head and the
    /// scan's warnings go into `report`.
    async fn read_base(
        &self,
        report: &mut Report,
    ) -> Result<(CommitSha, Vec<SourceFile>, pins::Scan), UpgradeError> {
        let (head, files, scan) = self.base().await?;
        report.base = Some(head.to_string());
        report.warnings = scan.warnings.iter().map(ToString::to_string).collect();
        Ok((head, files, scan))
    }

    /// The base branch's head, its files and their scan: what promotion
    /// checks and chat commands read the repository through.
    pub(crate) async fn base(
        &self,
    ) -> Result<(CommitSha, Vec<SourceFile>, pins::Scan), UpgradeError> {
        let base = self.host.base_branch().to_owned();
        let head = self
            .host
            .branch_head(&base)
            .await?
            .ok_or_else(|| UpgradeError::NoBase(base.clone()))?;
        let kept = self
            .last_base
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .filter(|b| b.0 == head);
        if let Some(base) = kept {
            return Ok((head, base.1.clone(), base.2.clone()));
        }
        let (files, scan) = self.scan(&head).await?;
        *self
            .last_base
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Arc::new((head.clone(), files.clone(), scan.clone())));
        Ok((head, files, scan))
    }

    /// chartpilot's open upgrade and promotion PRs (by branch name).
    pub(super) async fn open_upgrade_pulls(&self) -> Result<Vec<PullRequest>, GitError> {
        Ok(self
            .host
            .open_pulls()
            .await?
            .into_iter()
            .filter(|p| p.head.starts_with(BRANCH_PREFIX))
            .collect())
    }

    /// Open and recently closed upgrade PRs, and upgrade branches.
    async fn upgrade_pulls(
        &self,
    ) -> Result<(Vec<PullRequest>, Vec<PullRequest>, HashSet<String>), UpgradeError> {
        let open = self.open_upgrade_pulls().await?;
        let closed: Vec<PullRequest> = self
            .host
            .recently_closed_pulls()
            .await?
            .into_iter()
            .filter(|p| p.head.starts_with(BRANCH_PREFIX))
            .collect();
        let existing: HashSet<String> = self
            .host
            .branches(BRANCH_PREFIX)
            .await?
            .into_iter()
            .collect();
        Ok((open, closed, existing))
    }

    pub(crate) async fn scan(
        &self,
        head: &CommitSha,
    ) -> Result<(Vec<SourceFile>, pins::Scan), UpgradeError> {
        let (files, mut warnings) = read_files(self.host.as_ref(), head).await?;
        let opts = self.discover.clone();
        tokio::task::spawn_blocking(move || {
            let mut scan = pins::scan_files(&files, &opts);
            warnings.append(&mut scan.warnings);
            scan.warnings = warnings;
            (files, scan)
        })
        .await
        .map_err(|e| UpgradeError::Snapshot(e.to_string()))
    }

    /// The version to propose for `pin` (always above it; for a range,
    /// the pin it becomes under `policy.ranges = "pin"`), why a newer one
    /// was held back, and what to say about the pinned version itself.
    fn target(
        &self,
        pin: &Pin,
        releases: &Releases,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Option<Target>, Option<String>, Option<String>) {
        let from = pin.version.as_deref().or(pin.constraint.as_deref());
        let (Some(Ok(list)), Some(from)) = (releases.get(&ChartKey::of(pin)), from) else {
            return (None, None, None);
        };
        let choice = choose(&self.policy, pin, list, now);
        let target = choice.target.map(|(release, update)| Target {
            from_app_version: list
                .iter()
                .find(|r| r.version == from)
                .and_then(|r| r.app_version.clone()),
            // A range has no release to start the notes from.
            notes: match pin.version {
                Some(_) => notes_between(list, from, &release.version),
                None => Vec::new(),
            },
            majors: match pin.version {
                Some(_) => majors_crossed(list, from, &release.version),
                None => Vec::new(),
            },
            release,
            update,
        });
        (target, choice.held_back, choice.note)
    }

    async fn carry_out(
        &self,
        pass: &Pass<'_>,
        group: &Group,
        report: &mut Report,
    ) -> Result<(), UpgradeError> {
        let Pass {
            head,
            files,
            open,
            closed,
            existing,
            dry_run,
        } = *pass;
        let analysed;
        let group = match (&self.impact, dry_run) {
            (Some(source), false) => {
                let mut g = group.clone();
                g.impact = source.section(group, files).await;
                analysed = g;
                &analysed
            }
            _ => group,
        };
        let branch = group.branch();
        let title = group.title();
        let body = pr_body(group, &self.policy.environments);
        let older: Vec<&PullRequest> = open
            .iter()
            .filter(|p| p.head != branch)
            .filter(|p| branch_version(&p.head, &group.env, &group.chart).is_some())
            .collect();
        if let Some(pr) = open.iter().find(|p| p.head == branch) {
            let missing: Vec<String> = self
                .labels(group)
                .into_iter()
                .filter(|l| !pr.labels.contains(l))
                .collect();
            if !missing.is_empty() && !dry_run {
                // Labels are worth retrying next pass, not worth failing the
                // PR's update for.
                if let Err(e) = self.host.add_labels(pr.number, &missing).await {
                    tracing::warn!(pr = pr.number, error = %e, "labels not added; the next pass retries");
                }
            }
            if pr.title == title && pr.body == body {
                report.actions.push(Action::Unchanged {
                    number: pr.number,
                    branch,
                });
            } else if dry_run {
                report.actions.push(Action::Updated {
                    number: pr.number,
                    branch,
                    title: title.clone(),
                });
            } else {
                if pin_rows(&pr.body) != pin_rows(&body) {
                    // The pins moved since the branch was made (a new pin of
                    // this chart, lines shifted): bring the branch to the
                    // base with the current edits, without force.
                    self.refresh_branch(group, &branch, head, files).await?;
                }
                self.host.update_pull(pr.number, &title, &body).await?;
                report.actions.push(Action::Updated {
                    number: pr.number,
                    branch,
                    title: title.clone(),
                });
            }
            return self
                .supersede(&older, pr.number, &title, dry_run, report)
                .await;
        }
        // Closed without merging: a person said no. Merged and pinned lower
        // again: a rollback reverted it. Either way, not this version again.
        if let Some(pr) = closed
            .iter()
            .filter(|p| p.head == branch)
            .max_by_key(|p| p.number)
        {
            report.actions.push(Action::Declined {
                number: pr.number,
                branch,
            });
            return Ok(());
        }
        if existing.contains(&branch) {
            // The branch is there without an open PR: a person closed the
            // PR (respect it; this also keeps a version that was rolled
            // back from coming again), or an earlier pass stopped between
            // the branch and the PR (finish it, without a new commit).
            if let Some(pr) = self.host.find_pull(&branch).await? {
                report.actions.push(Action::Declined {
                    number: pr.number,
                    branch,
                });
                return Ok(());
            }
            if !dry_run {
                return self.open_pull(group, branch, body, &older, report).await;
            }
        }
        if dry_run {
            report.actions.push(Action::WouldOpen {
                branch: branch.clone(),
                title,
            });
            for pr in older {
                report.actions.push(Action::WouldClose {
                    number: pr.number,
                    branch: pr.head.clone(),
                    why: "superseded".into(),
                });
            }
            return Ok(());
        }
        let changes = edits(files, group, &self.discover)?;
        let sha = self
            .host
            .commit(head, &commit_message(group), &changes)
            .await?;
        match self.host.create_branch(&branch, &sha).await {
            Ok(()) => {}
            Err(GitError::BranchExists(_)) => {
                // Another replica got there first since the pass listed
                // branches: its PR (or a person's decision) stands.
                if let Some(pr) = self.host.find_pull(&branch).await? {
                    report.actions.push(Action::Declined {
                        number: pr.number,
                        branch,
                    });
                    return Ok(());
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.open_pull(group, branch, body, &older, report).await
    }

    async fn open_pull(
        &self,
        group: &Group,
        branch: String,
        body: String,
        older: &[&PullRequest],
        report: &mut Report,
    ) -> Result<(), UpgradeError> {
        let title = group.title();
        let labels = self.labels(group);
        let pr = self
            .host
            .create_pull(&NewPull {
                head: branch.clone(),
                base: self.host.base_branch().to_owned(),
                title: title.clone(),
                body,
                labels,
            })
            .await?;
        tracing::info!(pr = pr.number, branch = %branch, "upgrade PR opened");
        report.actions.push(Action::Opened {
            number: pr.number,
            branch,
            title: title.clone(),
            url: pr.url.clone(),
        });
        self.supersede(older, pr.number, &title, false, report)
            .await
    }

    /// Every upgrade PR's labels, and the major label for majors.
    fn labels(&self, group: &Group) -> Vec<String> {
        let mut labels = self.upgrade.labels.clone();
        if group.update() == UpdateType::Major {
            labels.push(self.upgrade.major_label.clone());
        }
        if group.impact.as_ref().is_some_and(|i| i.breaks) && !self.upgrade.values_label.is_empty()
        {
            labels.push(self.upgrade.values_label.clone());
        }
        labels
    }
}

/// The table rows of a PR body: one per pin, `file:line`, from and to.
fn pin_rows(body: &str) -> Vec<&str> {
    body.lines()
        .filter(|l| l.starts_with("| ") && l.contains(" → "))
        .collect()
}
