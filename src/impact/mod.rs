//! What moving a release to another chart version does to this
//! repository: the chart's default values that changed, the repository's
//! overrides that the target no longer has (with the rename when the key
//! moved), overrides the target's `values.schema.json` refuses, CRDs that
//! change, and a `kubeVersion` that excludes the cluster's.
//!
//! [`analyse`] is a pure function of the two charts' files and the
//! overrides ([`overrides::collect`]); fetching the archives goes through
//! [`source::ArchiveSource`]; [`render`] writes it for PR bodies and the
//! command line.

pub mod crds;
pub mod diff;
pub mod keypath;
pub mod overrides;
pub mod render;
pub mod schema;
pub mod source;
pub mod values;

#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::charts::archive::ChartFiles;
use crate::settings::PolicySettings;
use diff::ValuesDiff;
use keypath::KeyPath;
use overrides::{Origin, Override};
use values::Found;

pub use overrides::collect;
pub use source::ArchiveSource;

/// Everything an upgrade from one chart version to another does to the
/// repository's overrides of one release.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    pub chart: String,
    pub from: String,
    pub to: String,
    /// How many overrides the repository sets for the release.
    pub overrides: usize,
    /// Override paths the target chart no longer has.
    pub removed: Vec<Removed>,
    /// Override paths neither chart's defaults know: often keys a
    /// template reads without a default; not counted as breaking.
    pub unknown: Vec<Located>,
    /// The overrides over the target's defaults against its
    /// `values.schema.json`.
    pub violations: Vec<schema::Violation>,
    /// Overrides (or whole sources of values) that could not be read.
    pub unresolved: Vec<Override>,
    pub defaults: ValuesDiff,
    pub crds: crds::CrdDiff,
    /// Set when the target's `kubeVersion` excludes `policy.kube_version`.
    pub kube_version: Option<crds::KubeExclusion>,
    /// What could not be analysed, and why (a schema that does not
    /// compile, a values.yaml that does not parse).
    pub notes: Vec<String>,
}

/// An override whose path the target chart no longer has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removed {
    pub path: KeyPath,
    pub file: String,
    pub line: usize,
    pub origin: Origin,
    /// Where the key went, when the chart renamed it.
    pub renamed_to: Option<KeyPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    pub path: KeyPath,
    pub file: String,
    pub line: usize,
}

impl Impact {
    /// Whether the repository's overrides need a change for the target:
    /// a removed or renamed path, or a schema violation located in an
    /// override.
    pub fn breaks_overrides(&self) -> bool {
        !self.removed.is_empty() || self.violations.iter().any(|v| v.file.is_some())
    }

    /// Nothing to tell beyond the defaults diff.
    pub fn is_quiet(&self) -> bool {
        !self.breaks_overrides()
            && self.crds.is_empty()
            && self.kube_version.is_none()
            && self.unresolved.is_empty()
            && self.violations.is_empty()
    }
}

/// The impact of moving `pin` from `from` to `to`: both archives through
/// `archives`, the overrides of its release among `files` (and under
/// `root`, for a checkout). The error names the chart, the version and
/// what failed, never a credential.
pub async fn of_pin(
    archives: &dyn ArchiveSource,
    pin: &crate::pins::Pin,
    from: &str,
    to: &str,
    files: &[crate::pins::SourceFile],
    root: Option<&std::path::Path>,
    policy: &PolicySettings,
) -> Result<Impact, String> {
    let chart = pin
        .chart_name()
        .ok_or_else(|| format!("{}:{}: no chart name", pin.file, pin.line))?;
    let mut charts = Vec::with_capacity(2);
    for version in [from, to] {
        // The source's errors name the chart, the version and the URL.
        let bytes = archives
            .archive(pin.repository.as_deref(), chart, version)
            .await?;
        charts.push(
            crate::charts::archive::read(&bytes)
                .map_err(|e| format!("chart {chart} {version}: {e}"))?,
        );
    }
    let overrides = collect(root, pin, files);
    Ok(analyse(&charts[0], &charts[1], &overrides, policy))
}

/// The analysis of moving from `current` to `target` with `overrides`
/// (in the order Helm applies them).
pub fn analyse(
    current: &ChartFiles,
    target: &ChartFiles,
    overrides: &[Override],
    policy: &PolicySettings,
) -> Impact {
    let mut notes = Vec::new();
    let mut load = |files: &ChartFiles| match files.values_yaml.as_deref() {
        None => Value::Object(Map::new()),
        Some(text) => {
            let source = format!(
                "values.yaml of {} {}",
                files.chart_yaml.name, files.chart_yaml.version
            );
            values::load_defaults(text, &source).unwrap_or_else(|e| {
                notes.push(format!("{e}; its keys are not compared"));
                Value::Null
            })
        }
    };
    let old = load(current);
    let new = load(target);
    let readable = !old.is_null() && !new.is_null();
    let empty = Value::Object(Map::new());
    let (old, new) = (
        if old.is_null() { &empty } else { &old },
        if new.is_null() { &empty } else { &new },
    );
    let defaults = if readable {
        diff::diff(old, new)
    } else {
        ValuesDiff::default()
    };
    let checker = schema::Checker::new(target.values_schema.as_deref(), &mut notes);
    let mut removed = Vec::new();
    let mut unknown = Vec::new();
    let known: Vec<&Override> = overrides
        .iter()
        .filter(|o| o.unresolved.is_none() && !o.path.is_empty())
        .collect();
    if readable {
        for o in &known {
            match classify(old, new, &o.path, checker.as_ref()) {
                Presence::Kept => {}
                Presence::Removed => removed.push(Removed {
                    path: o.path.clone(),
                    file: o.file.clone(),
                    line: o.line,
                    origin: o.origin,
                    renamed_to: defaults.renamed_to(&o.path),
                }),
                Presence::Unknown => unknown.push(Located {
                    path: o.path.clone(),
                    file: o.file.clone(),
                    line: o.line,
                }),
            }
        }
    }
    let violations = checker
        .map(|c| c.violations(new, &known))
        .unwrap_or_default();
    Impact {
        chart: target.chart_yaml.name.clone(),
        from: current.chart_yaml.version.clone(),
        to: target.chart_yaml.version.clone(),
        overrides: overrides.iter().filter(|o| !o.is_unreadable()).count(),
        removed,
        unknown,
        violations,
        unresolved: overrides
            .iter()
            .filter(|o| o.unresolved.is_some())
            .cloned()
            .collect(),
        defaults,
        crds: crds::diff(&current.crds, &target.crds),
        kube_version: crds::kube_exclusion(
            target.chart_yaml.kube_version.as_deref(),
            &policy.kube_version,
            &mut notes,
        ),
        notes,
    }
}

enum Presence {
    Kept,
    Removed,
    Unknown,
}

/// Whether the target still has `path`. Below a map whose default is
/// empty (`podAnnotations: {}`), or whose schema takes any key, every
/// path is the chart's; elsewhere a path the target lacks is removed when
/// the current chart had it, unknown when neither had.
fn classify(
    old: &Value,
    new: &Value,
    path: &KeyPath,
    checker: Option<&schema::Checker>,
) -> Presence {
    let open = |root: &Value| match values::find(root, path) {
        Found::At(_) => true,
        Found::Missing { depth, last } => {
            (depth > 0 && matches!(last, Value::Object(m) if m.is_empty()))
                || checker.is_some_and(|c| c.takes_any_key(&KeyPath(path.0[..depth].to_vec())))
        }
    };
    if open(new) {
        Presence::Kept
    } else if open(old) {
        Presence::Removed
    } else {
        Presence::Unknown
    }
}
