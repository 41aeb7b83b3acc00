//! The values a repository sets for the release of one pin, each with the
//! file and line that sets it: Argo CD `helm` blocks ([`argocd`]) and
//! Terraform `helm_release` values and `set` blocks ([`terraform`]).
//!
//! What cannot be read without running the tool (a `var.values`, a value
//! file in another repository, a template) is listed as unresolved with
//! the reason, never guessed.

mod argocd;
mod terraform;

#[cfg(test)]
mod tests;

use std::path::{Component, Path};

use serde::Serialize;
use serde_json::Value;

use super::keypath::KeyPath;
use super::values::{node_leaves, LineLeaf};
use crate::pins::{Pin, PinKind, SourceFile};

/// A values file larger than this is no hand-written override.
const MAX_VALUES_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Where an override is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Argo CD `helm.valueFiles`, Terraform `values = [file(…)]`.
    ValuesFile,
    /// Argo CD `helm.values` (YAML text), Terraform `values` heredocs and
    /// strings.
    Values,
    /// Argo CD `helm.valuesObject`, Terraform `yamlencode({…})`.
    ValuesObject,
    /// Argo CD `helm.parameters`, Terraform `set`.
    Parameter,
    /// Terraform `set_sensitive`: the value is never shown.
    Sensitive,
    /// Argo CD `helm.fileParameters`: the value is a file's content.
    FileParameter,
}

/// One value the repository sets (or a source of values it could not read,
/// then `path` is empty and `unresolved` says why).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    pub path: KeyPath,
    /// None when not known here or sensitive.
    pub value: Option<Value>,
    pub file: String,
    pub line: usize,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

impl Override {
    fn known(leaf: LineLeaf, file: &str, origin: Origin) -> Self {
        // A value still holding a template is only known when it runs.
        let templated = leaf
            .value
            .as_str()
            .is_some_and(|s| s.contains("{{") || s.contains("${"));
        let path_templated = leaf.path.to_string().contains("{{");
        Self {
            path: leaf.path,
            value: (!templated).then_some(leaf.value),
            file: file.to_owned(),
            line: leaf.line,
            origin,
            unresolved: path_templated.then(|| "the key is a template".to_owned()),
        }
    }

    fn unresolved(file: &str, line: usize, origin: Origin, why: String) -> Self {
        Self {
            path: KeyPath::default(),
            value: None,
            file: file.to_owned(),
            line,
            origin,
            unresolved: Some(why),
        }
    }

    /// A whole source of values that could not be read.
    pub fn is_unreadable(&self) -> bool {
        self.path.is_empty() && self.unresolved.is_some()
    }
}

/// The overrides of `pin`'s release in the repository at `root`, in the
/// order Helm applies them (later wins). `files` are the repository's
/// files as [`crate::pins::collect`] read them; a values file not among
/// them is read from `root` when there is one (a checkout), and is not in
/// the repository otherwise (a snapshot read through the git host).
pub fn collect(root: Option<&Path>, pin: &Pin, files: &[SourceFile]) -> Vec<Override> {
    let repo = Repo { root, files };
    match pin.kind {
        PinKind::Argocd => argocd::collect(&repo, pin),
        PinKind::Terraform => terraform::collect(&repo, pin),
        // A dependency's values are the parent chart's `values.yaml`
        // under the dependency's name: not an override of a release.
        PinKind::ChartDependency => Vec::new(),
    }
}

/// The repository being read.
struct Repo<'a> {
    root: Option<&'a Path>,
    files: &'a [SourceFile],
}

impl Repo<'_> {
    fn text(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.text.as_str())
    }

    /// A file of the repository by its `/`-separated path relative to the
    /// root; paths that leave the root are refused.
    fn read(&self, rel: &str) -> Result<String, String> {
        let mut clean = Vec::new();
        for c in Path::new(rel).components() {
            match c {
                Component::Normal(p) => clean.push(p.to_string_lossy().into_owned()),
                Component::CurDir => {}
                Component::ParentDir => {
                    if clean.pop().is_none() {
                        return Err(format!("`{rel}` is outside the repository"));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("`{rel}` is an absolute path"))
                }
            }
        }
        let rel = clean.join("/");
        if let Some(text) = self.text(&rel) {
            return Ok(text.to_owned());
        }
        let Some(root) = self.root else {
            return Err(format!("`{rel}` is not in this repository"));
        };
        let full = root.join(&rel);
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|_| format!("`{rel}` is not in this repository"))?;
        if !meta.is_file() {
            return Err(format!("`{rel}` is not a regular file"));
        }
        if meta.len() > MAX_VALUES_FILE_BYTES {
            return Err(format!(
                "`{rel}` is larger than {MAX_VALUES_FILE_BYTES} bytes"
            ));
        }
        std::fs::read_to_string(&full).map_err(|e| format!("`{rel}`: {e}"))
    }
}

/// `rel` joined to folder `dir` (both `/`-separated, `""` the root),
/// `..` resolved; None when it leaves the root.
fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The leaves of the YAML in `text`, read as the file `file`; `offset` is
/// added to its lines (YAML embedded in another file), or every leaf gets
/// line `fixed` when the text's lines do not map to the file's.
fn yaml_overrides(
    text: &str,
    file: &str,
    offset: usize,
    fixed: Option<usize>,
    origin: Origin,
) -> Vec<Override> {
    let source = SourceFile {
        path: file.to_owned(),
        text: text.to_owned(),
    };
    let parsed = crate::pins::yaml::parse(&source);
    let mut out: Vec<Override> = parsed
        .warnings
        .iter()
        .map(|w| {
            let line = fixed.unwrap_or(w.line.unwrap_or(1) + offset);
            Override::unresolved(file, line, origin, w.message.clone())
        })
        .collect();
    for doc in parsed.documents.iter().take(1) {
        if !doc.root.is_mapping() && doc.root.as_str().is_some() {
            out.push(Override::unresolved(
                file,
                fixed.unwrap_or(doc.line + offset),
                origin,
                "not a mapping of values".into(),
            ));
            continue;
        }
        for mut leaf in node_leaves(&doc.root, &KeyPath::default(), offset) {
            if let Some(line) = fixed {
                leaf.line = line;
            }
            out.push(Override::known(leaf, file, origin));
        }
    }
    out
}

/// A `--set` style value: `true`/`false`, integers and `null` are typed,
/// the rest is a string (Helm's `strvals`); `force_string` keeps it a
/// string.
fn set_value(text: &str, force_string: bool) -> Value {
    if force_string {
        return Value::String(text.to_owned());
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        t => t
            .parse::<i64>()
            .map_or_else(|_| Value::String(t.to_owned()), Value::from),
    }
}

/// An override from a `name`/`value` pair (`--set` style).
fn parameter(
    name: &str,
    value: Option<Value>,
    file: &str,
    line: usize,
    origin: Origin,
) -> Override {
    match KeyPath::parse_set(name) {
        Ok(path) => Override {
            path,
            value,
            file: file.to_owned(),
            line,
            origin,
            unresolved: None,
        },
        Err(e) => Override::unresolved(file, line, origin, format!("parameter name {e}")),
    }
}
#[cfg(test)]
mod corpus;
