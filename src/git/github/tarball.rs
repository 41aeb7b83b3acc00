//! Unpacks GitHub's tarball of a commit: gzip'd tar with one top-level
//! folder (`owner-repo-sha/`), which is stripped.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::git::GitError;

/// Writes the regular files of `archive` under `dest` and returns the paths
/// (with `/` separators) of those marked executable. Symlinks, hard links,
/// submodule placeholders and any path that would leave `dest` are skipped:
/// the tarball comes from the network, and only files are ever written, so
/// no directory under `dest` can be a link pointing elsewhere.
pub fn extract(archive: &[u8], dest: &Path) -> Result<HashSet<String>, GitError> {
    let broken = |e: std::io::Error| GitError::Unavailable(format!("reading the tarball: {e}"));
    let mut executables = HashSet::new();
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let kind = entry.header().entry_type();
        if !matches!(kind, EntryType::Regular | EntryType::Continuous) {
            continue;
        }
        let raw = entry.path().map_err(broken)?.into_owned();
        let Some(relative) = inside(&raw) else {
            tracing::warn!(path = %raw.display(), "skipping a tarball entry outside the tree");
            continue;
        };
        let target = dest.join(&relative);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(broken)?;
        let write =
            |e: std::io::Error| GitError::Refused(format!("writing {}: {e}", target.display()));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        std::fs::write(&target, content).map_err(write)?;
        if entry.header().mode().is_ok_and(|m| m & 0o111 != 0) {
            executables.insert(slash_path(&relative));
        }
    }
    Ok(executables)
}

/// The path without its top-level folder, if every component is a plain
/// name.
fn inside(raw: &Path) -> Option<PathBuf> {
    let mut parts = raw.components();
    if !matches!(parts.next(), Some(Component::Normal(_))) {
        return None;
    }
    let rest: PathBuf = parts
        .map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect::<Option<PathBuf>>()?;
    (!rest.as_os_str().is_empty()).then_some(rest)
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_top_folder_and_refuses_escapes() {
        let cases = [
            ("repo-abc/a/b.yaml", Some("a/b.yaml")),
            ("repo-abc/x", Some("x")),
            ("repo-abc", None),
            ("repo-abc/../etc/passwd", None),
            ("/etc/passwd", None),
            ("repo-abc/a/../../b", None),
        ];
        for (raw, want) in cases {
            assert_eq!(inside(Path::new(raw)), want.map(PathBuf::from), "{raw}");
        }
    }
}
