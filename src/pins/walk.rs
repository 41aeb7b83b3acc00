//! Walks a repository and hands each file to its scanner.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::{BTreeMap, BTreeSet};

use super::{argocd, chart_yaml, env, range, relative, terraform, Pin, Scan, SourceFile, Warning};

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
    /// Other spellings of those names (`prd` → `prod`), `pins.env_aliases`.
    pub env_aliases: BTreeMap<String, String>,
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
            env_aliases: BTreeMap::new(),
        }
    }
}

fn is_terraform(name: &str) -> bool {
    name.ends_with(".tf") || name.ends_with(".tofu") || name.ends_with(".tfvars")
}

/// JSON is listed by the walk but read only when a Terraform file reads it
/// (`jsondecode(file(…))`, see [`terraform::wanted_json`]): most JSON in a
/// repository is unrelated, and must not slow a scan down.
fn is_json(name: &str) -> bool {
    name.ends_with(".json")
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
    // Most YAML (values files, manifests) has no `dependencies:` at all; a
    // substring search says so without going through the lines.
    let top = |key: &str| file.text.contains(key) && file.text.lines().any(|l| l.starts_with(key));
    let chart_shaped = || {
        top("dependencies:") && (top("apiVersion: v2") || top("apiVersion: v1")) && !top("kind:")
    };
    if name == "Chart.yaml" || name == "requirements.yaml" || chart_shaped() {
        Some(YamlKind::ChartDependencies)
    } else if file.text.contains("argoproj.io") {
        Some(YamlKind::Argocd)
    } else {
        None
    }
}

/// A file the walk found for a scanner, not read yet.
struct Entry {
    /// Position in the walk, to report read failures in walk order.
    order: usize,
    path: String,
    full: PathBuf,
}

/// A warning raised while walking or reading, with its walk position.
type Unread = (usize, Warning);

fn unread(order: usize, file: String, message: String) -> Unread {
    let line = None;
    (
        order,
        Warning {
            file,
            line,
            message,
        },
    )
}

/// Lists every file a scanner may want, skipping vendored folders and the
/// `charts/` folder of a Helm chart (its unpacked subcharts).
fn walk(root: &Path) -> Result<(Vec<Entry>, Vec<Unread>), std::io::Error> {
    std::fs::metadata(root)?;
    let mut entries = Vec::new();
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
    for (order, entry) in walker.enumerate() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let file = e.path().map(|p| relative(root, p)).unwrap_or_default();
                warnings.push(unread(order, file, format!("cannot read: {e}")));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if !is_terraform(&name) && !is_yaml(&name) && !is_json(&name) {
            continue;
        }
        let path = relative(root, entry.path());
        // An unrelated JSON file is not worth a warning, nor a stat; the
        // Terraform scan bounds the size of those it reads.
        let too_big = !is_json(&name) && entry.metadata().is_ok_and(|m| m.len() > MAX_FILE_BYTES);
        if too_big {
            let message = format!("skipped: larger than {MAX_FILE_BYTES} bytes");
            warnings.push(unread(order, path, message));
            continue;
        }
        let full = entry.into_path();
        entries.push(Entry { order, path, full });
    }
    Ok((entries, warnings))
}

fn read(entry: &Entry) -> Result<SourceFile, Unread> {
    let failed = |message: String| Err(unread(entry.order, entry.path.clone(), message));
    match std::fs::read(&entry.full) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile {
                path: entry.path.clone(),
                text,
            }),
            Err(_) => failed("skipped: not UTF-8 text".into()),
        },
        Err(e) => failed(format!("cannot read: {e}")),
    }
}

/// Walk-time and read-time warnings in walk order.
fn in_walk_order(mut unread: Vec<Unread>) -> Vec<Warning> {
    unread.sort_by_key(|(order, _)| *order);
    unread.into_iter().map(|(_, w)| w).collect()
}

/// Reads every file a scanner may want (see [`walk`]), and the JSON files
/// the Terraform files read.
pub fn collect(root: &Path) -> Result<(Vec<SourceFile>, Vec<Warning>), std::io::Error> {
    let (entries, mut unread) = walk(root)?;
    let (json, entries): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| is_json(&e.path));
    let mut files = Vec::with_capacity(entries.len());
    for entry in entries {
        match read(entry) {
            Ok(file) => files.push(file),
            Err(w) => unread.push(w),
        }
    }
    let wanted = read_wanted_json(&files, &json, &mut unread);
    files.extend(wanted);
    Ok((files, in_walk_order(unread)))
}

/// The JSON files among `json` that the Terraform files among `files` read.
fn read_wanted_json(
    files: &[SourceFile],
    json: &[&Entry],
    unread: &mut Vec<Unread>,
) -> Vec<SourceFile> {
    let tf = files.iter().filter(|f| is_terraform(&f.path));
    let wanted = terraform::wanted_json(tf.map(|f| (f.path.as_str(), f.text.as_str())));
    let mut out = Vec::new();
    for entry in json.iter().filter(|e| wanted.contains(&e.path)) {
        match read(entry) {
            Ok(file) => out.push(file),
            Err(w) => unread.push(w),
        }
    }
    out
}

/// The pins and warnings of one YAML file.
fn scan_yaml(file: &SourceFile) -> Scan {
    match yaml_kind(file) {
        Some(YamlKind::ChartDependencies) => chart_yaml::scan(file),
        Some(YamlKind::Argocd) => argocd::scan(file),
        None => Scan::default(),
    }
}

/// Ranges, local charts and environments, then pins and warnings in file
/// order.
fn finish(mut scan: Scan, opts: &DiscoverOptions) -> Scan {
    let environments = env::Environments::new(opts.environments.clone(), opts.env_aliases.clone());
    // One warning per file and value, however many pins read it.
    let mut unknown: BTreeSet<(String, String)> = BTreeSet::new();
    for pin in &mut scan.pins {
        classify(pin);
        let written = pin.env.take();
        pin.env = written.as_deref().and_then(|e| environments.resolve(e));
        if let (Some(value), None) = (written, &pin.env) {
            unknown.insert((pin.file.clone(), value));
        }
        if pin.env.is_none() {
            let found = env::from_path(
                &pin.file,
                pin.chart.as_deref(),
                &opts.env_patterns,
                &environments,
            );
            pin.env = found.env;
            if let Some(value) = found.unknown {
                unknown.insert((pin.file.clone(), value));
            }
        }
    }
    let known = opts.environments.join(", ");
    for (file, value) in unknown {
        scan.warnings.push(Warning {
            file,
            line: None,
            message: format!(
                "`{value}` is not one of policy.environments ({known}) nor an alias in \
                 pins.env_aliases, so these pins have no environment; to make it one, add \
                 `{value} = \"<environment>\"` under [pins.env_aliases]"
            ),
        });
    }
    scan.pins
        .sort_by(|a, b| (&a.file, a.line, &a.name).cmp(&(&b.file, b.line, &b.name)));
    scan.warnings
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    scan
}

/// A version that is a range moves to `constraint`; a chart read from a
/// path is marked local.
pub(crate) fn classify(pin: &mut Pin) {
    if let Some(version) = pin.version.take_if(|v| range::is_range(v)) {
        pin.constraint = Some(version);
    }
    pin.local_chart = range::is_local_chart(pin.chart.as_deref(), pin.repository.as_deref());
}

/// Scans files already in memory; `edit` uses it to check a change before
/// writing it.
pub fn scan_files(files: &[SourceFile], opts: &DiscoverOptions) -> Scan {
    let mut scan = terraform::scan(
        files
            .iter()
            .filter(|f| is_terraform(&f.path) || is_json(&f.path)),
    );
    for file in files.iter().filter(|f| is_yaml(&f.path)) {
        scan.extend(scan_yaml(file));
    }
    finish(scan, opts)
}

/// Every pin under `root`. Unreadable files become warnings; only an
/// unreadable root is an error.
///
/// The same result as [`scan_files`] over [`collect`], without holding
/// every file in memory: the Terraform files are read and resolved
/// together as one task, each YAML file is read, scanned and dropped as a
/// task of its own, and [`WORKERS`] threads take tasks in turn.
pub fn discover(root: &Path, opts: &DiscoverOptions) -> Result<Scan, std::io::Error> {
    let (entries, mut unread) = walk(root)?;
    let (json, entries): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| is_json(&e.path));
    let (tf, yaml): (Vec<&Entry>, Vec<&Entry>) =
        entries.into_iter().partition(|e| is_terraform(&e.path));
    let done = in_parallel(1 + yaml.len(), |task| {
        let Some(task) = task.checked_sub(1) else {
            let mut files = Vec::with_capacity(tf.len());
            let mut unread = Vec::new();
            for entry in &tf {
                match read(entry) {
                    Ok(file) => files.push(file),
                    Err(w) => unread.push(w),
                }
            }
            let wanted = read_wanted_json(&files, &json, &mut unread);
            files.extend(wanted);
            return (terraform::scan(&files), unread);
        };
        match yaml.get(task).map(|entry| read(entry)) {
            Some(Ok(file)) => (scan_yaml(&file), Vec::new()),
            Some(Err(w)) => (Scan::default(), vec![w]),
            None => (Scan::default(), Vec::new()),
        }
    });
    let mut scan = Scan::default();
    for (found, warnings) in done {
        scan.extend(found);
        unread.extend(warnings);
    }
    let mut scan = finish(scan, opts);
    scan.warnings.extend(in_walk_order(unread));
    Ok(scan)
}

/// Threads scanning at once: two keep a 2-core machine busy (Terraform
/// resolution on one while YAML files go through the other); more would
/// mostly add memory, since the Terraform task cannot be split.
const WORKERS: usize = 2;

/// `work(0) .. work(tasks - 1)`, taken in order by up to [`WORKERS`]
/// threads (this one included); results in task order.
fn in_parallel<T: Send>(tasks: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);
            if task >= tasks {
                return done;
            }
            done.push((task, work(task)));
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(WORKERS));
    let mut done = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(worker)).collect();
        let mut done = worker();
        for helper in helpers {
            match helper.join() {
                Ok(theirs) => done.extend(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_by_key(|(task, _)| *task);
    done.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// `discover` reads and scans in parallel; it must give exactly what
    /// scanning everything `collect` read gives, warnings in the same order.
    #[test]
    fn discover_is_scan_files_over_collect() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let release = |v: &str| {
            format!("resource \"helm_release\" \"r\" {{\n  chart = \"c\"\n  version = {v}\n}}\n")
        };
        write(
            root,
            "a/main.tf",
            (release("var.v") + "variable \"v\" {}\n").as_bytes(),
        );
        write(root, "a/envs/dev.tfvars", b"v = \"1.0.0\"\n");
        write(root, "a/envs/prod.tfvars", b"v = = 1\n");
        write(root, "b/bad.tfvars", b"v = \xff\n");
        write(root, "b/main.tf", release("\"2.0.0\"").as_bytes());
        write(root, "b/broken.tf", b"resource \"helm_release\" \"x\" {\n");
        for (env, v) in [("dev", "1.2.3"), ("prod", "1.2.2")] {
            let app = format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: a}}\nspec:\n  source: {{repoURL: r, chart: c, targetRevision: {v}}}\n---\nkind: [\n");
            write(root, &format!("apps/{env}/app.yaml"), app.as_bytes());
        }
        write(root, "apps/dev/bin.yaml", b"\xff\xfe");
        write(root, "apps/huge.yaml", &vec![b'#'; 4 * 1024 * 1024 + 1]);
        let chart =
            b"apiVersion: v2\nname: u\ndependencies:\n  - name: a\n    version: 1.0.0\n  - x\n";
        write(root, "charts/u/Chart.yaml", chart);
        write(root, "charts/u/charts/sub/Chart.yaml", chart);
        write(root, "values/c/dev.yaml", b"replicas: 1\n");

        let opts = DiscoverOptions::default();
        let found = discover(root, &opts).unwrap();
        let (files, unread) = collect(root).unwrap();
        let mut want = scan_files(&files, &opts);
        want.warnings.extend(unread);
        assert_eq!(found.pins, want.pins);
        assert_eq!(found.warnings, want.warnings);
        assert_eq!(found.pins.len(), 5, "{:?}", found.pins);
        let unreadable = ["apps/dev/bin.yaml", "apps/huge.yaml", "b/bad.tfvars"];
        let last: Vec<&str> = found
            .warnings
            .iter()
            .rev()
            .take(3)
            .map(|w| w.file.as_str())
            .collect();
        assert_eq!(last, unreadable.iter().rev().copied().collect::<Vec<_>>());
    }
}
