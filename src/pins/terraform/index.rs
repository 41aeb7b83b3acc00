//! Parsed Terraform files, and what version resolution looks up in them per
//! module directory: variable declarations, locals, tfvars values and the
//! module calls that feed a directory's variables.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span;

use super::super::{LineIndex, SourceFile, Warning};

/// How far below a root module a folder of var-files may sit and still be
/// taken as that module's (`infra/` + `infra/envs/prod/prod.tfvars`). Deeper
/// folders are more likely to belong to something else.
const MAX_VAR_FILE_DEPTH: usize = 2;

/// `*.tfvars` and `*.auto.tfvars`: assignments only, no configuration.
const VAR_FILE_SUFFIX: &str = ".tfvars";

/// JSON files read by `jsondecode(file(…))`: data, not configuration.
pub(super) const JSON_SUFFIX: &str = ".json";

/// The folder of `path`, `""` at the root.
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// One file that parsed.
pub(super) struct Parsed<'a> {
    pub path: &'a str,
    /// Folder of the file, `""` at the root; Terraform's module unit.
    pub dir: &'a str,
    pub text: &'a str,
    pub body: Body,
    /// A `*.tfvars` file: plain `name = value` assignments.
    pub is_var_file: bool,
    /// A JSON file a configuration reads with `jsondecode(file(…))`; its
    /// body is empty, lookups go through [`super::json`].
    pub is_json: bool,
    /// Built on the first line asked for: most files never are.
    lines: OnceCell<LineIndex>,
}

impl Parsed<'_> {
    /// 1-based line of byte `offset`, as [`super::super::line_of`] counts.
    pub fn line_of(&self, offset: usize) -> usize {
        self.lines
            .get_or_init(|| LineIndex::new(self.text))
            .line_of(offset)
    }
}

/// Parses every file; a file that does not parse becomes a warning.
/// hcl-edit's parser backtracks on invalid input with nested brackets: each
/// level roughly doubles its time, so a few hundred hostile bytes can stall
/// a scan for minutes (found by fuzzing). Real configurations stay far
/// below this depth.
pub(super) const MAX_NESTING: usize = 16;

/// The line where bracket nesting first exceeds [`MAX_NESTING`], if it does.
/// Brackets in comments and quoted strings do not count.
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let (mut i, mut depth, mut line) = (0usize, 0usize, 1usize);
    while i < bytes.len() {
        match (at(i), at(i + 1)) {
            (b'\n', _) => line += 1,
            (b'#', _) | (b'/', b'/') => {
                while i < bytes.len() && at(i) != b'\n' {
                    i += 1;
                }
                continue;
            }
            (b'/', b'*') => {
                i += 2;
                while i < bytes.len() && !(at(i) == b'*' && at(i + 1) == b'/') {
                    line += usize::from(at(i) == b'\n');
                    i += 1;
                }
                i += 1;
            }
            (b'"', _) => {
                i += 1;
                while i < bytes.len() && at(i) != b'"' && at(i) != b'\n' {
                    i += if at(i) == b'\\' { 2 } else { 1 };
                }
                // An unterminated string ends at the newline, which the
                // next round counts.
                if at(i) == b'\n' {
                    continue;
                }
            }
            (b'{' | b'[' | b'(', _) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            (b'}' | b']' | b')', _) => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

pub(super) fn parse<'a>(files: &[&'a SourceFile], warnings: &mut Vec<Warning>) -> Vec<Parsed<'a>> {
    let mut parsed = Vec::with_capacity(files.len());
    for &file in files {
        if file.path.ends_with(JSON_SUFFIX) {
            // Read only when a reference asks, and then only its strings.
            parsed.push(Parsed {
                path: &file.path,
                dir: dir_of(&file.path),
                text: &file.text,
                body: Body::default(),
                is_var_file: false,
                is_json: true,
                lines: OnceCell::new(),
            });
            continue;
        }
        let is_var_file = file.path.ends_with(VAR_FILE_SUFFIX);
        if let Some(line) = too_deep(&file.text) {
            warnings.push(Warning {
                file: file.path.clone(),
                line: Some(line),
                message: format!(
                    "skipped: brackets nest deeper than {MAX_NESTING} levels, which no \
                     Terraform configuration needs and which makes the HCL parser slow"
                ),
            });
            continue;
        }
        match hcl_edit::parser::parse_body(&file.text) {
            Ok(mut body) => {
                if !is_var_file {
                    prune(&mut body);
                }
                parsed.push(Parsed {
                    path: &file.path,
                    dir: dir_of(&file.path),
                    text: &file.text,
                    body,
                    is_var_file,
                    is_json: false,
                    lines: OnceCell::new(),
                });
            }
            Err(e) => warnings.push(Warning {
                file: file.path.clone(),
                line: Some(e.location().line()),
                message: format!("cannot parse HCL: {}", e.message()),
            }),
        }
    }
    parsed
}

/// Drops what neither the scan nor the index reads from a configuration
/// file: top-level attributes, blocks other than `helm_release` resources,
/// `variable`, `locals` and `module` blocks, and inside those every nested
/// block and every attribute they do not look up (values heredocs, `set`
/// blocks, descriptions). Every file of the repository stays parsed until
/// all references are followed, and the whole trees would be several times
/// the size of the files.
fn prune(body: &mut Body) {
    retain(body, |structure| match structure {
        Structure::Attribute(_) => false,
        Structure::Block(block) => prune_block(block),
    });
}

/// Whether `block` is read, after dropping the parts of it that are not.
fn prune_block(block: &mut Block) -> bool {
    let read: fn(&str) -> bool = match (block.ident.as_str(), block.labels.as_slice()) {
        ("resource", [kind, _]) if kind.as_str() == "helm_release" => |key| {
            matches!(
                key,
                "version" | "repository" | "chart" | "name" | "for_each"
            )
        },
        ("variable", [_]) => |key| key == "default",
        // Locals are all candidates; a module call's inputs are looked up
        // by the called module's variable names.
        ("locals", []) | ("module", [_]) => |_| true,
        _ => return false,
    };
    retain(
        &mut block.body,
        |structure| matches!(structure, Structure::Attribute(attr) if read(attr.key.as_str())),
    );
    true
}

/// `Vec::retain` for a body, which has no such method. The kept
/// structures go into a new body of their own size: the parser's vectors
/// have room for everything that was dropped.
fn retain(body: &mut Body, mut keep: impl FnMut(&mut Structure) -> bool) {
    let kept: Vec<Structure> = std::mem::take(body)
        .into_iter()
        .filter_map(|mut structure| keep(&mut structure).then_some(structure))
        .collect();
    // The parser refuses repeated attributes, so `Body`'s skipping of a
    // repeated key on insert drops nothing here.
    *body = kept.into_iter().collect();
}

/// An expression and the file it is written in (for spans and for the
/// directory its references resolve in).
#[derive(Clone, Copy)]
pub(super) struct At<'p> {
    pub file: usize,
    pub expr: &'p Expression,
}

/// `module "label" { source = "./…" … }` whose source is a folder of the
/// same repository.
pub(super) struct ModuleCall<'p> {
    pub file: usize,
    pub label: &'p str,
    pub line: usize,
    /// The called module's folder, relative to the scanned root.
    pub target: String,
    pub body: &'p Body,
}

type Key = (String, String);

pub(super) struct Index<'p> {
    pub files: &'p [Parsed<'p>],
    variables: BTreeMap<Key, Vec<(usize, &'p Block)>>,
    locals: BTreeMap<Key, Vec<At<'p>>>,
    var_values: BTreeMap<Key, Vec<At<'p>>>,
    /// Var-file values in folders without a module of their own, by
    /// variable name, folders in order: the candidates for a root module's
    /// nearby var-files, found without going through every value for
    /// every variable.
    orphan_values: HashMap<String, Vec<(String, Vec<At<'p>>)>>,
    calls: Vec<ModuleCall<'p>>,
    /// Indices into `calls` by target folder, in file order.
    calls_into: HashMap<String, Vec<usize>>,
    /// JSON files by path, as indices into `files`.
    json: HashMap<&'p str, usize>,
}

impl<'p> Index<'p> {
    /// `sources` are all the files, parsed or not: a folder whose only
    /// `.tf` file is broken is still a module, not a folder of var-files.
    pub fn build(files: &'p [Parsed<'p>], sources: &[&'p SourceFile]) -> Self {
        let module_dirs: BTreeSet<&str> = sources
            .iter()
            .filter(|f| !f.path.ends_with(VAR_FILE_SUFFIX) && !f.path.ends_with(JSON_SUFFIX))
            .map(|f| dir_of(&f.path))
            .collect();
        let mut index = Index {
            files,
            variables: BTreeMap::new(),
            locals: BTreeMap::new(),
            var_values: BTreeMap::new(),
            orphan_values: HashMap::new(),
            calls: Vec::new(),
            calls_into: HashMap::new(),
            json: HashMap::new(),
        };
        for (i, file) in files.iter().enumerate() {
            let key = |name: &str| (file.dir.to_owned(), name.to_owned());
            if file.is_json {
                index.json.insert(file.path, i);
                continue;
            }
            if file.is_var_file {
                for attr in file.body.attributes() {
                    let at = At {
                        file: i,
                        expr: &attr.value,
                    };
                    index.var_values.entry(key(&attr.key)).or_default().push(at);
                }
                continue;
            }
            for block in file.body.blocks() {
                match (block.ident.as_str(), block.labels.as_slice()) {
                    ("variable", [name]) => {
                        let decls = index.variables.entry(key(name.as_str())).or_default();
                        decls.push((i, block));
                    }
                    ("locals", []) => {
                        for attr in block.body.attributes() {
                            let at = At {
                                file: i,
                                expr: &attr.value,
                            };
                            index.locals.entry(key(&attr.key)).or_default().push(at);
                        }
                    }
                    ("module", [label]) => {
                        let target = block
                            .body
                            .get_attribute("source")
                            .and_then(|a| a.value.as_str())
                            .and_then(|source| local_source(file.dir, source));
                        if let Some(target) = target {
                            index.calls.push(ModuleCall {
                                file: i,
                                label: label.as_str(),
                                line: file.line_of(block.span().map_or(0, |s| s.start)),
                                target,
                                body: &block.body,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        for ((dir, name), values) in &index.var_values {
            if !module_dirs.contains(dir.as_str()) {
                let folders = index.orphan_values.entry(name.clone()).or_default();
                folders.push((dir.clone(), values.clone()));
            }
        }
        for (i, call) in index.calls.iter().enumerate() {
            let into = index.calls_into.entry(call.target.clone()).or_default();
            into.push(i);
        }
        index
    }

    /// `variable "name"` blocks declared in `dir`.
    pub fn variables(&self, dir: &str, name: &str) -> &[(usize, &'p Block)] {
        self.variables
            .get(&(dir.to_owned(), name.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Definitions of `local.name` in `dir` (more than one is a Terraform
    /// error, but each is still a place the version is written).
    pub fn locals(&self, dir: &str, name: &str) -> &[At<'p>] {
        self.locals
            .get(&(dir.to_owned(), name.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Module calls into `dir` from elsewhere in the repository.
    pub fn callers<'s>(&'s self, dir: &str) -> impl Iterator<Item = &'s ModuleCall<'p>> {
        self.caller_ids(dir)
            .iter()
            .filter_map(|&i| self.calls.get(i))
    }

    /// Like [`Self::callers`], as indices for [`Self::call`].
    pub fn caller_ids(&self, dir: &str) -> &[usize] {
        self.calls_into.get(dir).map_or(&[][..], Vec::as_slice)
    }

    pub fn call(&self, id: usize) -> Option<&ModuleCall<'p>> {
        self.calls.get(id)
    }

    /// The JSON file at `path`, when it is part of the scan.
    pub fn json(&self, path: &str) -> Option<usize> {
        self.json.get(path).copied()
    }

    /// Values given to variable `name` of the module in `dir` by var-files:
    /// those in `dir` itself, and, when `dir` is a root module (nothing
    /// calls it), those in nearby folders that hold var-files and no module
    /// of their own — `environments/prod/terraform.tfvars` next to
    /// `environments/dev/main.tf`, or `envs/prod.tfvars` under the root —
    /// because such files can only be meant for `-var-file` of a root
    /// module, and the variable name must match too.
    pub fn var_values(&self, dir: &str, name: &str) -> Vec<At<'p>> {
        let mut out: Vec<At<'p>> = self
            .var_values
            .get(&(dir.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default();
        if self.callers(dir).next().is_some() {
            return out;
        }
        let folders = self.orphan_values.get(name).map_or(&[][..], Vec::as_slice);
        for (other, values) in folders {
            if other != dir && near_root(dir, other) {
                out.extend(values.iter().copied());
            }
        }
        out
    }
}

/// Whether var-file folder `other` plausibly belongs to root module `root`:
/// a sibling, or a folder a little below it.
fn near_root(root: &str, other: &str) -> bool {
    if !root.is_empty() && dir_of(root) == dir_of(other) {
        return true;
    }
    let below = if root.is_empty() {
        Some(other)
    } else {
        other
            .strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
    };
    below.is_some_and(|rest| rest.split('/').count() <= MAX_VAR_FILE_DEPTH)
}

/// The folder a local module source (`./x`, `../../modules/x`) names,
/// relative to the scanned root; None for registry, git or URL sources and
/// for paths leaving the root.
fn local_source(dir: &str, source: &str) -> Option<String> {
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    join_inside(dir, source)
}

/// `rel` taken from folder `dir`, both relative to the scanned root, with
/// `.` and `..` resolved; None when it leaves the root.
pub(super) fn join_inside(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sources_resolve_against_the_caller() {
        let cases = [
            ("envs/dev", "../../modules/argocd", Some("modules/argocd")),
            ("envs/dev", "./argocd/", Some("envs/dev/argocd")),
            ("", "./modules/x", Some("modules/x")),
            ("a", "../../x", None),
            ("a", "git::https://example.com/x.git", None),
            ("a", "terraform-aws-modules/eks/aws", None),
        ];
        for (dir, source, want) in cases {
            assert_eq!(
                local_source(dir, source).as_deref(),
                want,
                "{dir} + {source}"
            );
        }
    }

    #[test]
    fn var_file_folders_near_a_root() {
        assert!(near_root("envs/dev", "envs/prod"));
        assert!(near_root("infra", "infra/envs/prod"));
        assert!(near_root("", "envs"));
        assert!(!near_root("infra", "infra/a/b/c"));
        assert!(!near_root("a/dev", "b/prod"));
        assert!(!near_root("infra", "infrastructure/prod"));
    }
}
