//! Walks a repository and hands each file to its scanner.

use std::path::Path;

use super::{argocd, chart_yaml, env, relative, terraform, Scan, SourceFile, Warning};

/// Files larger than this are not configuration anybody edits by hand
/// (rendered manifests, vendored bundles); skipping them keeps a scan fast.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Folders that never hold the repository's own pins.
const SKIPPED_DIRS: [&str; 5] = [
    ".git",
    ".terraform",
    "node_modules",
    "vendor",
    "third_party",
];

#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Path patterns naming environments (see [`env::DEFAULT_PATTERNS`]).
    pub env_patterns: Vec<String>,
    /// Known environment names, e.g. `policy.environments`.
    pub environments: Vec<String>,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            env_patterns: env::DEFAULT_PATTERNS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            environments: ["dev", "staging", "prod"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

fn is_terraform(name: &str) -> bool {
    name.ends_with(".tf") || name.ends_with(".tofu") || name.ends_with(".tfvars")
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Which scanner reads a YAML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YamlKind {
    ChartDependencies,
    Argocd,
}

/// Chart files by name, or by shape under another name (a top-level
/// `dependencies:` beside `apiVersion: v1|v2` and no `kind:`); Argo CD
/// manifests by their API group. Other YAML is not read.
pub(crate) fn yaml_kind(file: &SourceFile) -> Option<YamlKind> {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let top = |key: &str| file.text.lines().any(|l| l.starts_with(key));
    let chart_shaped =
        top("dependencies:") && (top("apiVersion: v2") || top("apiVersion: v1")) && !top("kind:");
    if name == "Chart.yaml" || name == "requirements.yaml" || chart_shaped {
        Some(YamlKind::ChartDependencies)
    } else if file.text.contains("argoproj.io") {
        Some(YamlKind::Argocd)
    } else {
        None
    }
}

/// Reads every file a scanner may want, skipping vendored folders and the
/// `charts/` folder of a Helm chart (its unpacked subcharts).
pub fn collect(root: &Path) -> Result<(Vec<SourceFile>, Vec<Warning>), std::io::Error> {
    std::fs::metadata(root)?;
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if !e.file_type().is_dir() || e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if SKIPPED_DIRS.contains(&name.as_ref()) {
                return false;
            }
            let vendored_subcharts = name == "charts"
                && e.path()
                    .parent()
                    .is_some_and(|p| p.join("Chart.yaml").is_file());
            !vendored_subcharts
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let file = e.path().map(|p| relative(root, p)).unwrap_or_default();
                warnings.push(Warning {
                    file,
                    line: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if !is_terraform(&name) && !is_yaml(&name) {
            continue;
        }
        let path = relative(root, entry.path());
        match entry.metadata() {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                warnings.push(Warning {
                    file: path,
                    line: None,
                    message: format!("skipped: larger than {MAX_FILE_BYTES} bytes"),
                });
                continue;
            }
            _ => {}
        }
        match std::fs::read(entry.path()) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => files.push(SourceFile { path, text }),
                Err(_) => warnings.push(Warning {
                    file: path,
                    line: None,
                    message: "skipped: not UTF-8 text".into(),
                }),
            },
            Err(e) => warnings.push(Warning {
                file: path,
                line: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    Ok((files, warnings))
}

/// Scans files already in memory; `edit` uses it to check a change before
/// writing it.
pub fn scan_files(files: &[SourceFile], opts: &DiscoverOptions) -> Scan {
    let mut scan = terraform::scan(files.iter().filter(|f| is_terraform(&f.path)));
    for file in files.iter().filter(|f| is_yaml(&f.path)) {
        match yaml_kind(file) {
            Some(YamlKind::ChartDependencies) => scan.extend(chart_yaml::scan(file)),
            Some(YamlKind::Argocd) => scan.extend(argocd::scan(file)),
            None => {}
        }
    }
    for pin in &mut scan.pins {
        if pin.env.is_none() {
            pin.env = env::from_path(
                &pin.file,
                pin.chart.as_deref(),
                &opts.env_patterns,
                &opts.environments,
            );
        }
    }
    scan.pins
        .sort_by(|a, b| (&a.file, a.line, &a.name).cmp(&(&b.file, b.line, &b.name)));
    scan.warnings
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    scan
}

/// Every pin under `root`. Unreadable files become warnings; only an
/// unreadable root is an error.
pub fn discover(root: &Path, opts: &DiscoverOptions) -> Result<Scan, std::io::Error> {
    let (files, warnings) = collect(root)?;
    let mut scan = scan_files(&files, opts);
    scan.warnings.extend(warnings);
    Ok(scan)
}
