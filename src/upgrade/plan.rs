//! Which upgrade pull requests a repository needs: a pure function from the
//! scanned pins and the version chosen for each pin to one group per chart
//! and environment. No I/O here; `run` carries the groups out.

use std::collections::BTreeMap;

use crate::charts::version::Version;
use crate::charts::Release;
use crate::pins::Pin;
use crate::settings::UpdateType;

/// Branch prefix of every upgrade pull request; the rest is
/// `<env>/<chart>-<version>` (DESIGN.md).
pub const BRANCH_PREFIX: &str = "chartpilot/upgrade/";

/// The environment segment for pins that have none (most Terraform).
pub const ANY_ENV: &str = "any";

/// What the policy chose for one pin, with what the PR body shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The release to move to; `release.version` is spelled as the
    /// repository publishes it.
    pub release: Release,
    pub update: UpdateType,
    /// The appVersion of the pinned release, when the index still lists it.
    pub from_app_version: Option<String>,
    /// `(version, changes)` for releases after the pin up to the target,
    /// newest first, where the chart published change notes.
    pub notes: Vec<(String, String)>,
    /// `(version, changes)` for the first release of each major after the
    /// pin up to the target, oldest first, change notes or not: where
    /// charts announce what breaks.
    pub majors: Vec<(String, Option<String>)>,
}

/// One pin a pull request moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub pin: Pin,
    /// The version as written, or the range a pin replaces.
    pub from: String,
    pub update: UpdateType,
}

impl PinChange {
    /// A range (`8.x`) that this change turns into an exact pin.
    pub fn range(&self) -> Option<&str> {
        self.pin
            .constraint
            .as_deref()
            .filter(|_| self.pin.version.is_none())
    }

    /// `patch`, `minor`, `major`, or `pin` for a range becoming a pin.
    pub fn kind(&self) -> &'static str {
        match self.range() {
            Some(_) => "pin",
            None => self.update.as_str(),
        }
    }
}

/// One pull request: a chart in one environment moved to one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The pins' environment, or [`ANY_ENV`].
    pub env: String,
    pub chart: String,
    pub repository: Option<String>,
    pub target: Target,
    pub changes: Vec<PinChange>,
    /// Why this PR exists when a promotion opened it: a paragraph on the
    /// environment it comes from, shown at the top of the body.
    pub promoted: Option<String>,
    /// What the target version does to the repository's overrides, when
    /// it was analysed (see [`super::impact`]).
    pub impact: Option<super::impact::Section>,
}

impl Group {
    pub fn version(&self) -> &str {
        &self.target.release.version
    }

    /// `chartpilot/upgrade/<env>/<chart>-<version>`.
    pub fn branch(&self) -> String {
        format!(
            "{}{}",
            chart_branch_prefix(&self.env, &self.chart),
            self.version()
        )
    }

    /// `chore(deps): upgrade <chart> to <version> in <env>`; pins without
    /// an environment name none (`any` is only a branch segment).
    pub fn title(&self) -> String {
        let mut t = format!("chore(deps): upgrade {} to {}", self.chart, self.version());
        if self.env != ANY_ENV {
            t.push_str(" in ");
            t.push_str(&self.env);
        }
        t
    }

    /// The largest update among the pins: a PR that is major for any pin is
    /// labelled major.
    pub fn update(&self) -> UpdateType {
        self.changes
            .iter()
            .map(|c| c.update)
            .max()
            .unwrap_or(self.target.update)
    }
}

/// Why a pin gets no pull request in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<Group>,
    pub skipped: Vec<Skip>,
}

/// Git refs allow more than people type; anything else in a chart name
/// becomes `-` so the branch name stays predictable.
pub(crate) fn ref_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `chartpilot/upgrade/<env>/<chart>-`: every version of one chart in one
/// environment shares it.
pub fn chart_branch_prefix(env: &str, chart: &str) -> String {
    format!("{BRANCH_PREFIX}{}/{}-", ref_safe(env), ref_safe(chart))
}

/// The version in an upgrade branch of `chart` in `env`, if `branch` is one.
/// A version starts with a digit or `v` and a digit, so the branches of
/// chart `argo` are not mistaken for those of `argo-cd`.
pub fn branch_version<'a>(branch: &'a str, env: &str, chart: &str) -> Option<&'a str> {
    let rest = branch.strip_prefix(&chart_branch_prefix(env, chart))?;
    let digits = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
    // The leading number of a version ends the name or is followed by `.`
    // or `+`: `foo-2-1.0.0` is chart `foo-2` at 1.0.0, not `foo` at `2-1.0.0`.
    let number_end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let starts_with_number = number_end > 0;
    let then = digits[number_end..].chars().next();
    (starts_with_number && matches!(then, None | Some('.') | Some('+'))).then_some(rest)
}

/// An upgrade branch read back: `(env, chart, version)`, the chart as the
/// branch spells it. The chart ends at the first `-` that a version
/// follows, as [`branch_version`] reads it.
pub fn parse_branch(branch: &str) -> Option<(&str, &str, &str)> {
    let (env, rest) = branch.strip_prefix(BRANCH_PREFIX)?.split_once('/')?;
    rest.match_indices('-').find_map(|(i, _)| {
        let chart = &rest[..i];
        let version = branch_version(branch, env, chart)?;
        (!chart.is_empty() && ref_safe(chart) == chart).then_some((env, chart, version))
    })
}

/// The pull request that promotes `chart` (as a branch spells it) to
/// `target` in `env`: every pin of the chart there that is below the
/// target. None when they all are there already (a person promoted by
/// hand, or a newer version went first).
pub fn promotion(
    pins: &[Pin],
    env: &str,
    chart: &str,
    target: Target,
    why: String,
) -> Option<Group> {
    let to = Version::parse(&target.release.version);
    let mut changes: Vec<PinChange> = pins
        .iter()
        .filter(|p| p.env.as_deref() == Some(env))
        .filter(|p| p.chart_name().map(ref_safe).as_deref() == Some(chart))
        .filter(|p| !p.local_chart)
        .filter_map(|p| {
            let from = p.version.as_deref()?;
            let update = crate::charts::version::update_type(&Version::parse(from), &to)?;
            Some(PinChange {
                pin: p.clone(),
                from: from.to_owned(),
                update,
            })
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(|a, b| (&a.pin.file, a.pin.line).cmp(&(&b.pin.file, b.pin.line)));
    let first = &changes[0].pin;
    Some(Group {
        env: env.to_owned(),
        chart: first.chart_name().unwrap_or(chart).to_owned(),
        repository: first.repository.clone(),
        target,
        changes,
        promoted: Some(why),
        impact: None,
    })
}

/// Which environment a pin's pull request belongs to, or why it has none
/// now. Only the first environment of the promotion order gets automatic
/// PRs; later ones are reached through promotion. Pins without an
/// environment, or in one outside the promotion order, stand alone.
pub(crate) fn env_of(pin: &Pin, environments: &[String]) -> Result<String, String> {
    match pin.env.as_deref() {
        None => Ok(ANY_ENV.to_owned()),
        Some(env) => match environments.iter().position(|e| e == env) {
            Some(0) | None => Ok(env.to_owned()),
            Some(_) => Err(format!(
                "{env} is reached by promotion from {}",
                environments.first().map(String::as_str).unwrap_or("")
            )),
        },
    }
}

/// Open upgrade PRs that no pass needs any more: every pin of their chart in
/// their environment already reads their version or a newer one (merged by
/// hand, bumped past it). Returns `(number, branch, reason)`; PRs of charts
/// that still have a group are left to superseding.
pub fn obsolete(
    open: &[crate::git::PullRequest],
    pins: &[Pin],
    environments: &[String],
    groups: &[Group],
) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    for pr in open {
        let mut found: Option<(String, String, &str)> = None;
        let mut current: Vec<Version> = Vec::new();
        for pin in pins {
            let (Ok(env), Some(chart), Some(version)) = (
                env_of(pin, environments),
                pin.chart_name(),
                pin.version.as_deref(),
            ) else {
                continue;
            };
            let Some(v) = branch_version(&pr.head, &env, chart) else {
                continue;
            };
            found = Some((env, chart.to_owned(), v));
            current.push(Version::parse(version));
        }
        let Some((env, chart, v)) = found else {
            continue;
        };
        if groups.iter().any(|g| g.env == env && g.chart == chart) {
            continue;
        }
        let wanted = Version::parse(v);
        if let Some(lowest) = current.iter().min().filter(|low| **low >= wanted) {
            out.push((
                pr.number,
                pr.head.clone(),
                format!("{chart} in {env} is already at {lowest}"),
            ));
        }
    }
    out
}

/// A pin in a group: the pin, its current version, the policy's target.
type Member = (Pin, String, Target);

/// Groups the pins that `target` moves into one pull request per chart
/// and environment. When pins of one chart in one environment were given
/// different targets (different current versions under a narrow policy),
/// the newest target wins and the others wait for the next pass, so one
/// chart never has two PRs in one environment.
pub fn plan(
    pins: &[Pin],
    environments: &[String],
    mut target: impl FnMut(&Pin) -> Option<Target>,
) -> Plan {
    let mut plan = Plan::default();
    let mut groups: BTreeMap<(String, String), Vec<Member>> = BTreeMap::new();
    let skip = |pin: &Pin, reason: String| Skip {
        file: pin.file.clone(),
        line: pin.line,
        name: pin.name.clone(),
        reason,
    };
    for pin in pins {
        // A range is moved only by turning it into a pin; the target
        // function decides whether to.
        let from = pin.version.as_deref().or(pin.constraint.as_deref());
        let (Some(from), Some(chart)) = (from, pin.chart_name()) else {
            continue;
        };
        if pin.local_chart {
            continue;
        }
        let Some(t) = target(pin) else { continue };
        match env_of(pin, environments) {
            Ok(env) => groups.entry((env, chart.to_owned())).or_default().push((
                pin.clone(),
                from.to_owned(),
                t,
            )),
            Err(reason) => plan.skipped.push(skip(pin, reason)),
        }
    }
    for ((env, chart), members) in groups {
        let Some(newest) = members
            .iter()
            .map(|(_, _, t)| t)
            .max_by(|a, b| version_order(&a.release.version, &b.release.version))
            .cloned()
        else {
            continue;
        };
        let mut changes = Vec::new();
        for (pin, from, t) in members {
            if t.release.version == newest.release.version {
                changes.push(PinChange {
                    pin,
                    from,
                    update: t.update,
                });
            } else {
                let reason = format!(
                    "waits for the {chart} {} PR in {env} (this pin's policy allows {})",
                    newest.release.version, t.release.version
                );
                plan.skipped.push(skip(&pin, reason));
            }
        }
        changes.sort_by(|a, b| (&a.pin.file, a.pin.line).cmp(&(&b.pin.file, b.pin.line)));
        let repository = changes.first().and_then(|c| c.pin.repository.clone());
        plan.groups.push(Group {
            env,
            chart,
            repository,
            target: newest,
            changes,
            promoted: None,
            impact: None,
        });
    }
    plan
}

/// Version precedence, lenient for versions that are not SemVer.
pub(crate) fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    Version::parse(a).cmp(&Version::parse(b))
}

#[cfg(test)]
mod tests;
