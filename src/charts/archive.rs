//! The files of a packaged Helm chart (`.tgz`) that impact analysis reads:
//! `Chart.yaml`, `values.yaml`, `values.schema.json` and `crds/`.
//!
//! An archive comes from a chart repository, so it is hostile input until
//! read: the compressed and decompressed sizes, the number of entries and
//! each file kept are capped, only regular files under the chart's one top
//! folder are read, paths that leave it are refused, and links and devices
//! are skipped. Subcharts (`charts/`) are named, not read.

use std::io::{self, Read};
use std::path::{Component, Path};

use yaml_rust2::Yaml;

/// A packaged chart larger than this is no chart anybody publishes
/// (kube-prometheus-stack, one of the largest, is under 1 MiB).
pub const MAX_COMPRESSED_BYTES: usize = 20 * 1024 * 1024;

/// All bytes the gzip stream may expand to: a gzip bomb stops here instead
/// of filling memory or keeping a core busy. Helm itself refuses charts
/// over 100 MiB unpacked; real ones are a few MiB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// One file kept in memory (a values file, a CRD); the largest CRDs
/// published are around 1 MiB.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Entries (files, folders, links) read before giving up; charts have
/// tens to a few hundred.
pub const MAX_ENTRIES: usize = 10_000;

/// `Chart.yaml`: the fields impact analysis reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChartMeta {
    pub name: String,
    pub version: String,
    /// `kubeVersion`: the Kubernetes versions the chart supports, as a
    /// semver range.
    pub kube_version: Option<String>,
    pub api_version: Option<String>,
}

/// What [`read`] keeps of a chart archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartFiles {
    pub chart_yaml: ChartMeta,
    pub values_yaml: Option<String>,
    pub values_schema: Option<String>,
    /// `crds/**.yaml|yml|json`: path below the chart folder and text, in
    /// archive order.
    pub crds: Vec<(String, String)>,
    /// Subcharts found under `charts/` (folder or archive name), not read.
    pub subcharts: Vec<String>,
    /// Entries skipped because they are links, devices or FIFOs.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("chart archive is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("chart archive expands to more than {max} bytes; refused (a gzip bomb?)")]
    Bomb { max: u64 },
    #[error("chart archive has more than {max} entries")]
    TooManyEntries { max: usize },
    #[error("chart archive: `{path}` is {size} bytes, more than the {max} allowed for one file")]
    EntryTooLarge { path: String, size: u64, max: u64 },
    #[error("chart archive: entry `{path}` {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("chart archive: `{path}` is outside the chart folder `{top}`")]
    SecondTop { path: String, top: String },
    #[error("not a chart archive (gzip-compressed tar): {0}")]
    Corrupt(String),
    #[error("chart archive has no Chart.yaml in its top folder")]
    NoChartYaml,
    #[error("chart archive: {path} is not UTF-8 text")]
    NotText { path: String },
    #[error("chart archive: Chart.yaml: {0}")]
    BadChartYaml(String),
}

/// Reads `bytes` as a Helm chart archive; see the module docs for the
/// bounds.
pub fn read(bytes: &[u8]) -> Result<ChartFiles, ArchiveError> {
    if bytes.len() > MAX_COMPRESSED_BYTES {
        return Err(ArchiveError::TooLarge {
            size: bytes.len(),
            max: MAX_COMPRESSED_BYTES,
        });
    }
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut capped = Capped {
        inner: gz,
        left: MAX_DECOMPRESSED_BYTES,
        hit: false,
    };
    let result = read_tar(&mut capped);
    if capped.hit {
        return Err(ArchiveError::Bomb {
            max: MAX_DECOMPRESSED_BYTES,
        });
    }
    result
}

fn read_tar<R: Read>(reader: R) -> Result<ChartFiles, ArchiveError> {
    let corrupt = |e: io::Error| ArchiveError::Corrupt(e.to_string());
    let mut archive = tar::Archive::new(reader);
    let mut files = ChartFiles::default();
    let mut chart_yaml: Option<String> = None;
    let mut top: Option<String> = None;
    for (count, entry) in archive.entries().map_err(corrupt)?.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(ArchiveError::TooManyEntries { max: MAX_ENTRIES });
        }
        let mut entry = entry.map_err(corrupt)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let parts = components(&raw)?;
        let Some((first, rest)) = parts.split_first() else {
            continue;
        };
        match &top {
            None => top = Some(first.clone()),
            Some(t) if t != first => {
                return Err(ArchiveError::SecondTop {
                    path: raw,
                    top: t.clone(),
                })
            }
            Some(_) => {}
        }
        let kind = entry.header().entry_type();
        let inner = rest.join("/");
        if let [charts, name, ..] = rest {
            if charts == "charts" {
                let name = name.clone();
                if !files.subcharts.contains(&name) {
                    files.subcharts.push(name);
                }
                continue;
            }
        }
        if kind.is_dir() || rest.is_empty() {
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            if kind.is_symlink()
                || kind.is_hard_link()
                || kind.is_character_special()
                || kind.is_block_special()
                || kind.is_fifo()
            {
                files.skipped.push(inner);
            }
            continue;
        }
        let wanted = matches!(
            inner.as_str(),
            "Chart.yaml" | "values.yaml" | "values.schema.json"
        ) || is_crd_file(&inner);
        if !wanted {
            continue;
        }
        let size = entry.size();
        if size > MAX_FILE_BYTES {
            return Err(ArchiveError::EntryTooLarge {
                path: inner,
                size,
                max: MAX_FILE_BYTES,
            });
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(corrupt)?;
        let text = String::from_utf8(buf).map_err(|_| ArchiveError::NotText {
            path: inner.clone(),
        })?;
        match inner.as_str() {
            "Chart.yaml" => chart_yaml = Some(text),
            "values.yaml" => files.values_yaml = Some(text),
            "values.schema.json" => files.values_schema = Some(text),
            _ => files.crds.push((inner, text)),
        }
    }
    let chart_yaml = chart_yaml.ok_or(ArchiveError::NoChartYaml)?;
    files.chart_yaml = meta(&chart_yaml)?;
    Ok(files)
}

/// Helm reads every file below `crds/` as manifests; only YAML and JSON
/// are CRDs worth comparing.
fn is_crd_file(inner: &str) -> bool {
    inner.starts_with("crds/")
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| inner.ends_with(ext))
}

/// The path's folders and name; refuses absolute paths and `..`, which
/// would leave the chart when unpacked.
fn components(raw: &str) -> Result<Vec<String>, ArchiveError> {
    let unsafe_path = |reason| ArchiveError::UnsafePath {
        path: raw.to_owned(),
        reason,
    };
    if raw.contains('\0') {
        return Err(unsafe_path("holds a NUL byte"));
    }
    let mut parts = Vec::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_path("goes up with `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path("is an absolute path"))
            }
        }
    }
    Ok(parts)
}

fn meta(text: &str) -> Result<ChartMeta, ArchiveError> {
    let docs = crate::yaml::load_bounded(text, "Chart.yaml")
        .map_err(|e| ArchiveError::BadChartYaml(e.to_string()))?;
    let doc = docs
        .into_iter()
        .next()
        .filter(|d| matches!(d, Yaml::Hash(_)))
        .ok_or_else(|| ArchiveError::BadChartYaml("not a mapping".into()))?;
    let field = |key: &str| match &doc[key] {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    };
    let name = field("name").ok_or_else(|| ArchiveError::BadChartYaml("no `name`".into()))?;
    let version =
        field("version").ok_or_else(|| ArchiveError::BadChartYaml("no `version`".into()))?;
    Ok(ChartMeta {
        name,
        version,
        kube_version: field("kubeVersion").filter(|k| !k.trim().is_empty()),
        api_version: field("apiVersion"),
    })
}

/// A reader that stops with an error after `left` bytes and remembers
/// that it did, so the caller can tell a bomb from a corrupt archive.
struct Capped<R> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One more byte proves the stream goes on past the cap.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.hit = true;
            return Err(io::Error::other("decompressed size cap reached"));
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
