//! Where every Helm chart version is pinned in a GitOps repository, and how
//! to change exactly that version and nothing else.
//!
//! Discovery is by content, not by fixed paths: Terraform `helm_release`
//! blocks ([`terraform`]), Argo CD `Application` / `ApplicationSet`
//! manifests ([`argocd`]) and Helm `Chart.yaml` / `requirements.yaml`
//! dependencies ([`chart_yaml`]). Each scanner is a pure function from file
//! contents to pins and warnings; [`discover`] walks the tree and feeds them.

pub mod argocd;
pub mod chart_yaml;
pub mod edit;
pub mod env;
pub mod range;
pub mod terraform;
mod walk;
pub(crate) mod yaml;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use walk::{collect, discover, scan_files, DiscoverOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinKind {
    Terraform,
    Argocd,
    ChartDependency,
}

/// One place a chart version is written (or should be, when `version` is
/// None and `reason` says why it could not be resolved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Pin {
    /// Path relative to the scanned root, `/`-separated.
    pub file: String,
    /// 1-based line of the version (or range) token; of the chart path for
    /// a local Terraform chart without a version; of the pin's block when
    /// the version is unresolved.
    pub line: usize,
    pub kind: PinKind,
    /// `helm_release` name, Application name, or dependency name.
    pub name: String,
    pub env: Option<String>,
    pub repository: Option<String>,
    pub chart: Option<String>,
    /// As written, e.g. `v1.13.2`; None when unresolved.
    pub version: Option<String>,
    /// Byte range of the version text inside `file`, quotes excluded.
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    /// Why `version` is None.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The range as written when the pin is a constraint rather than a
    /// version (`8.x`, `^1.4.0`, `~> 5.51`); `version` is then None and
    /// `span` still covers the text, so the range can be turned into a pin.
    pub constraint: Option<String>,
    /// A chart read from a path (`./charts/x`, `${path.module}/chart`,
    /// `file://../common`): nothing to look up or upgrade.
    pub local_chart: bool,
    /// Terraform's address of the release (`module.addons.helm_release.
    /// this["argocd"]`), which says the module a pin belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[cfg(test)]
impl Pin {
    /// A pin of `chart` at `version` in `env` (None: every environment),
    /// from `https://charts.example.com`, at line 1 of
    /// `apps/<env>/<chart>.yaml`: the stock pin of unit tests.
    pub(crate) fn sample(kind: PinKind, env: Option<&str>, chart: &str, version: &str) -> Pin {
        let env_name = env.unwrap_or("all");
        Pin {
            file: format!("apps/{env_name}/{chart}.yaml"),
            line: 1,
            kind,
            name: format!("{chart}-{env_name}"),
            env: env.map(str::to_owned),
            repository: Some("https://charts.example.com".into()),
            chart: Some(chart.into()),
            version: Some(version.into()),
            span: None,
            reason: None,
            constraint: None,
            local_chart: false,
            address: None,
        }
    }
}

impl Pin {
    /// The chart's own name: `argo/argo-cd`, `oci://ghcr.io/x/argo-cd` and
    /// `https://…/argo-cd` are all `argo-cd` to a person.
    pub fn chart_name(&self) -> Option<&str> {
        let chart = self.chart.as_deref()?.trim_end_matches('/');
        chart.rsplit('/').next().filter(|c| !c.is_empty())
    }
}

/// File names whose change can move a pin: a push or a pull request
/// touching none of them needs no scan.
pub fn may_hold_pins(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".tf")
        || name.ends_with(".tfvars")
        || name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".tf.json")
        || name.ends_with(".tfvars.json")
}

/// Something a scan could not read; reported, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What a scanner returns for its files.
#[derive(Debug, Default, Clone)]
pub struct Scan {
    pub pins: Vec<Pin>,
    pub warnings: Vec<Warning>,
}

impl Scan {
    pub fn extend(&mut self, other: Scan) {
        self.pins.extend(other.pins);
        self.warnings.extend(other.warnings);
    }
}

/// A file handed to a scanner: its path relative to the root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line starts of a file, for 1-based lines of byte offsets counted the
/// way [`line_of`] counts them (`\n` ends a line, so CRLF files agree
/// too), without counting from the top of the file for every pin.
#[derive(Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Self { starts }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }

    /// Byte offset where 1-based `line` starts, if the text has it.
    pub fn start_of(&self, line: usize) -> Option<usize> {
        line.checked_sub(1)
            .and_then(|i| self.starts.get(i))
            .copied()
    }
}

/// `dir/file` relative to `root`, with `/` separators on every platform.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel: PathBuf = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
