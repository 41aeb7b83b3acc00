//! The rules of the `chartpilot` check: pure functions from one changed
//! pin (and what the runner read about it) to a message, or nothing.
//! Levels come from `[checks]` in [`Rule::level`]; the runner turns a
//! message into a [`Finding`] at the pin's `file:line`.

use std::cmp::Ordering;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::charts::lookup::{source, Source};
use crate::charts::version::Version;
use crate::charts::Release;
use crate::git::check::AnnotationLevel;
use crate::pins::Pin;
use crate::settings::{CheckSettings, RangePolicy, RuleLevel};

/// The rules, by the id annotations carry as their title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    Ranges,
    AllowedRepositories,
    PromotionOrder,
    MajorUpdate,
    Deprecated,
    Provenance,
    Values,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Rule::Ranges => "ranges",
            Rule::AllowedRepositories => "allowed-repositories",
            Rule::PromotionOrder => "promotion-order",
            Rule::MajorUpdate => "major-update",
            Rule::Deprecated => "deprecated",
            Rule::Provenance => "provenance",
            Rule::Values => "values",
        }
    }

    pub fn level(self, settings: &CheckSettings) -> RuleLevel {
        match self {
            Rule::Ranges => settings.ranges,
            Rule::AllowedRepositories => settings.allowed_repositories,
            Rule::PromotionOrder => settings.promotion_order,
            Rule::MajorUpdate => settings.major_update,
            Rule::Deprecated => settings.deprecated,
            Rule::Provenance => settings.provenance,
            Rule::Values => settings.values,
        }
    }
}

/// One thing the check says, at a pin's `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub level: AnnotationLevel,
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What a rule found: a problem (weighed by the rule's level) or a note
/// (always a notice: it never changes the conclusion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Problem(String),
    Note(String),
}

impl Finding {
    /// `said` about `pin` under `rule`, unless the rule is off.
    pub fn new(rule: Rule, settings: &CheckSettings, pin: &Pin, said: Said) -> Option<Finding> {
        let (level, message) = match (rule.level(settings), said) {
            (RuleLevel::Off, _) => return None,
            (_, Said::Note(m)) => (AnnotationLevel::Notice, m),
            (RuleLevel::Error, Said::Problem(m)) => (AnnotationLevel::Failure, m),
            (RuleLevel::Warning, Said::Problem(m)) => (AnnotationLevel::Warning, m),
        };
        Some(Finding {
            rule,
            level,
            file: pin.file.clone(),
            line: pin.line.max(1),
            message,
        })
    }
}

/// A pin the pull request added (`base` None) or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub head: Pin,
    pub base: Option<Pin>,
}

impl Change {
    /// The exact version the pull request moves the pin to, when it names
    /// one and it differs from the base's.
    pub fn new_version(&self) -> Option<&str> {
        let to = self.head.version.as_deref()?;
        let from = self.base.as_ref().and_then(|b| b.version.as_deref());
        match from {
            Some(from) if same_version(from, to) => None,
            _ => Some(to),
        }
    }
}

/// `v1.2.0` and `1.2.0` are one version.
pub fn same_version(a: &str, b: &str) -> bool {
    Version::parse(a).cmp_precedence(&Version::parse(b)) == Ordering::Equal
}

/// A pin changed to a range, `latest` or no version. Local charts have no
/// version to pin.
pub fn ranges(change: &Change, policy: RangePolicy) -> Option<Said> {
    let head = &change.head;
    if head.local_chart {
        return None;
    }
    let what = match (&head.constraint, &head.version) {
        (_, Some(v)) if v.trim().eq_ignore_ascii_case("latest") => "`latest`".to_owned(),
        (Some(c), _) if c.trim().eq_ignore_ascii_case("latest") => "`latest`".to_owned(),
        (Some(c), _) => format!("the range `{c}`"),
        (None, Some(_)) => return None,
        (None, None) => match &head.reason {
            Some(reason) => format!("no version ({reason})"),
            None => "no version".to_owned(),
        },
    };
    // Unchanged since the base: not this pull request's doing.
    if let Some(base) = &change.base {
        if base.constraint == head.constraint && base.version == head.version {
            return None;
        }
    }
    let then = match policy {
        RangePolicy::Leave => {
            "chartpilot leaves ranges alone (policy.ranges = \"leave\"), so the deploy tool \
             picks versions no pull request shows; pin an exact version"
        }
        RangePolicy::Pin => {
            "the next upgrade pass proposes replacing it with an exact version \
             (policy.ranges = \"pin\"); pin one now"
        }
    };
    Some(Said::Problem(format!(
        "{} pins {what}: {then}",
        head.chart_name().unwrap_or(&head.name)
    )))
}

/// `policy.allowed_repositories`, compiled.
#[derive(Debug, Clone)]
pub struct Allowed {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Allowed {
    /// Case-insensitive globs over the repository URL; `*` stays inside
    /// one path segment, `**` crosses them.
    pub fn new(patterns: &[String]) -> Result<Allowed, String> {
        let mut builder = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            let glob = GlobBuilder::new(p.trim().trim_end_matches('/'))
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("policy.allowed_repositories[{i}]: {e}"))?;
            builder.add(glob);
        }
        Ok(Allowed {
            patterns: patterns.to_vec(),
            set: builder
                .build()
                .map_err(|e| format!("policy.allowed_repositories: {e}"))?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// The repository a pin names, as patterns match it: an index URL without
/// a trailing `/`, or `oci://registry/path` (Argo CD's scheme-less form and
/// Terraform's `oci://…/chart` included). Mirrors play no part: they change
/// where chartpilot reads, not what the pin deploys.
pub fn repository_url(pin: &Pin) -> Option<String> {
    match source(pin.repository.as_deref(), pin.chart.as_deref()) {
        Ok(Source::Index { repository, .. }) => Some(repository),
        Ok(Source::Oci(chart)) => chart
            .reference()
            .rsplit_once('/')
            .map(|(repo, _)| repo.to_owned()),
        Err(_) => pin
            .repository
            .as_deref()
            .map(|r| r.trim().trim_end_matches('/').to_owned())
            .filter(|r| !r.is_empty()),
    }
}

/// A repository outside `policy.allowed_repositories`.
pub fn allowed_repository(change: &Change, allowed: &Allowed) -> Option<Said> {
    if allowed.is_empty() || change.head.local_chart {
        return None;
    }
    let url = repository_url(&change.head)?;
    // `…/**` allows the repository's root too.
    if allowed.set.is_match(&url) || allowed.set.is_match(format!("{url}/")) {
        return None;
    }
    Some(Said::Problem(format!(
        "{url} is not in policy.allowed_repositories ({})",
        allowed.patterns.join(", ")
    )))
}

/// What the runner found about the stage before a changed pin's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// The environment (or `policy.tier1_order` entry) before the pin's.
    pub stage: String,
    /// Versions it pins in the head, pinned at the merge base, or pinned
    /// in the history read.
    pub seen: Vec<String>,
    /// What it pins in the head, for the message.
    pub current: Vec<String>,
    /// How far back the history was read, for the message.
    pub history: String,
}

/// A version moved into a stage that the stage before it never had.
pub fn promotion_order(change: &Change, own_stage: &str, earlier: &Earlier) -> Option<Said> {
    let to = change.new_version()?;
    if earlier.seen.iter().any(|v| same_version(v, to)) {
        return None;
    }
    let now = if earlier.current.is_empty() {
        "nothing".to_owned()
    } else {
        earlier.current.join(", ")
    };
    Some(Said::Problem(format!(
        "{own_stage} moves to {to}, which {} neither pins (it pins {now}) nor pinned in {}: \
         promote it through {} first",
        earlier.stage, earlier.history, earlier.stage
    )))
}

/// What the pull request says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullFacts {
    pub labels: Vec<String>,
    pub body: String,
}

/// Words in a pull request body that point at release notes.
const NOTES_WORDS: [&str; 4] = ["release notes", "changelog", "/releases", "breaking change"];

/// A major update without the major label, or without release notes in
/// the body or in the target release (`artifacthub.io/changes`).
pub fn major_update(
    change: &Change,
    pull: &PullFacts,
    major_label: &str,
    target: Option<&Release>,
) -> Option<Said> {
    let to = change.new_version()?;
    let from = change.base.as_ref()?.version.as_deref()?;
    let (Some(a), Some(b)) = (
        Version::parse(from).semver().cloned(),
        Version::parse(to).semver().cloned(),
    ) else {
        return None;
    };
    if b.major <= a.major {
        return None;
    }
    let mut missing = Vec::new();
    if !pull
        .labels
        .iter()
        .any(|l| l.eq_ignore_ascii_case(major_label))
    {
        missing.push(format!("the `{major_label}` label"));
    }
    let body = pull.body.to_lowercase();
    let notes = NOTES_WORDS.iter().any(|w| body.contains(w))
        || target.is_some_and(|r| r.changes.as_deref().is_some_and(|c| !c.trim().is_empty()));
    if !notes {
        missing.push(
            "release notes (in the description or the chart's artifacthub.io/changes)".to_owned(),
        );
    }
    if missing.is_empty() {
        return None;
    }
    Some(Said::Problem(format!(
        "major update {from} → {to} without {}",
        missing.join(" and ")
    )))
}

/// A target version its repository deprecates or does not list; a lookup
/// that failed is a note (the check cannot tell).
pub fn deprecated(
    change: &Change,
    releases: Option<&Result<Vec<Release>, String>>,
) -> Option<Said> {
    let to = change.new_version()?;
    match releases? {
        Err(e) => Some(Said::Note(format!("could not look up {to}: {e}"))),
        Ok(list) => match list.iter().find(|r| same_version(&r.version, to)) {
            Some(r) if r.deprecated => Some(Said::Problem(format!(
                "{to} is marked deprecated by its repository"
            ))),
            Some(_) => None,
            None => Some(Said::Problem(format!(
                "{to} is not published in its repository"
            ))),
        },
    }
}

/// What a provenance verifier said about the target version's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvenanceVerdict {
    Verified {
        signer: String,
    },
    /// No `.prov` published.
    Unsigned,
    /// The signature or the archive's digest does not verify.
    Bad(String),
}

pub fn provenance(change: &Change, verdict: Option<&ProvenanceVerdict>) -> Option<Said> {
    let to = change.new_version()?;
    match verdict? {
        ProvenanceVerdict::Verified { .. } => None,
        ProvenanceVerdict::Unsigned => Some(Said::Note(format!(
            "{to} is unsigned: its repository publishes no provenance file"
        ))),
        ProvenanceVerdict::Bad(why) => Some(Said::Problem(format!(
            "{to} fails provenance verification: {why}"
        ))),
    }
}

/// Most broken overrides one finding names; the rest are counted.
const MAX_NAMED_OVERRIDES: usize = 5;

/// The values rule: what the target version does to the overrides of the
/// pin's release ([`crate::impact`]). Overrides the target no longer has,
/// or that its `values.schema.json` refuses, are a problem; an analysis
/// that could not run is a note.
pub fn values(
    change: &Change,
    impact: Option<&Result<crate::impact::Impact, String>>,
) -> Option<Said> {
    let to = change.new_version()?;
    let impact = match impact? {
        Ok(i) => i,
        Err(e) => {
            return Some(Said::Note(format!(
                "what {to} does to this release's overrides was not analysed: {e}"
            )))
        }
    };
    if !impact.breaks_overrides() {
        return None;
    }
    let mut broken: Vec<String> = impact
        .removed
        .iter()
        .map(|r| match &r.renamed_to {
            Some(to) => format!("`{}` at {}:{} (now `{to}`)", r.path, r.file, r.line),
            None => format!("`{}` at {}:{} (gone)", r.path, r.file, r.line),
        })
        .collect();
    broken.extend(impact.violations.iter().filter_map(|v| {
        Some(format!(
            "`{}` at {}:{} ({})",
            v.path,
            v.file.as_ref()?,
            v.line?,
            v.message
        ))
    }));
    let total = broken.len();
    let named = crate::text::first_of(broken.into_iter(), MAX_NAMED_OVERRIDES);
    Some(Said::Problem(format!(
        "{to} breaks {total} of this release's overrides: {}",
        named.join("; ")
    )))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
