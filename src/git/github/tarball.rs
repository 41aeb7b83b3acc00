//! Unpacks GitHub's tarball of a commit: gzip'd tar with one top-level
//! folder (`owner-repo-sha/`), which is stripped. `git archive` of a commit
//! (what GitHub serves) opens with a pax global header whose `comment` is
//! the commit id: a tarball asked for by branch name says which commit it
//! holds.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

use super::wire::encode_path;
use super::GithubHost;
use crate::domain::CommitSha;
use crate::git::GitError;
use crate::git::GitHost;

impl GithubHost {
    /// Fetches the tarball at `path` (GitHub redirects to codeload;
    /// octocrab's redirect layer follows and drops the credentials if the
    /// host changes) and unpacks it under `dest`; None when GitHub has no
    /// such commit or branch.
    pub(super) async fn tarball(
        &self,
        path: &str,
        dest: &Path,
        what: &str,
    ) -> Result<Option<Unpacked>, GitError> {
        let reply = self.get(path).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(reply.error(what));
        }
        let dest = dest.to_path_buf();
        let unpacked = tokio::task::spawn_blocking(move || extract(&reply.body, &dest))
            .await
            .map_err(|e| GitError::Refused(format!("unpacking the tarball: {e}")))??;
        tracing::debug!(repo = %self.repo(), what, executables = unpacked.executables.len(), "snapshot written");
        Ok(Some(unpacked))
    }

    /// The tarball of the branch by name: its pax header names the commit,
    /// so the branch's ref is not read. An archive without one (not what
    /// GitHub's `git archive` writes) is read again by the ref's commit.
    pub(super) async fn branch_tarball(
        &self,
        branch: &str,
        dest: &Path,
    ) -> Result<Option<CommitSha>, GitError> {
        let path = format!("{}/tarball/{}", self.repo_path, encode_path(branch));
        let Some(unpacked) = self
            .tarball(&path, dest, &format!("tarball of branch {branch}"))
            .await?
        else {
            return Ok(None);
        };
        match unpacked.commit {
            Some(sha) => {
                self.remember_executables(&sha, unpacked.executables);
                Ok(Some(sha))
            }
            None => {
                tracing::warn!(repo = %self.repo(), branch, "the branch's tarball names no commit; reading its ref");
                clear_dir(dest)?;
                let Some(sha) = self.branch_head(branch).await? else {
                    return Ok(None);
                };
                self.snapshot(&sha, dest).await?;
                Ok(Some(sha))
            }
        }
    }

    /// The executable files of the snapshot of `rev`, for the modes of a
    /// commit built on it.
    pub(super) fn remember_executables(&self, rev: &CommitSha, executables: HashSet<String>) {
        if let Ok(mut cache) = self.executables.lock() {
            *cache = Some((rev.clone(), executables));
        }
    }
}

/// Empties `dest` for a second unpacking.
pub(super) fn clear_dir(dest: &Path) -> Result<(), GitError> {
    let broken = |e: std::io::Error| GitError::Refused(format!("clearing {}: {e}", dest.display()));
    for entry in std::fs::read_dir(dest).map_err(broken)? {
        let path = entry.map_err(broken)?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(broken)?;
        } else {
            std::fs::remove_file(&path).map_err(broken)?;
        }
    }
    Ok(())
}

/// What an unpacked tarball held besides its files.
#[derive(Debug, Default)]
pub struct Unpacked {
    /// The paths (with `/` separators) of the files marked executable.
    pub executables: HashSet<String>,
    /// The commit id of the pax global header, when there is a valid one.
    pub commit: Option<CommitSha>,
}

/// Writes the regular files of `archive` under `dest` and returns the paths
/// (with `/` separators) of those marked executable, and the commit the
/// archive names. Symlinks, hard links,
/// submodule placeholders and any path that would leave `dest` are skipped:
/// the tarball comes from the network, and only files are ever written, so
/// no directory under `dest` can be a link pointing elsewhere.
pub fn extract(archive: &[u8], dest: &Path) -> Result<Unpacked, GitError> {
    let broken = |e: std::io::Error| GitError::Unavailable(format!("reading the tarball: {e}"));
    let mut out = Unpacked::default();
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() && out.commit.is_none() {
            out.commit = commit_of(&mut entry);
            continue;
        }
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
            out.executables.insert(slash_path(&relative));
        }
    }
    Ok(out)
}

/// The `comment` of a pax global header, when it is a full commit id.
fn commit_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> Option<CommitSha> {
    let extensions = entry.pax_extensions().ok()??;
    extensions
        .filter_map(Result::ok)
        .find(|e| e.key() == Ok("comment"))
        .and_then(|e| e.value().ok().map(str::trim).map(str::to_owned))
        .and_then(|v| CommitSha::parse(&v).ok())
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

    /// A gzip'd tar as GitHub serves it: a pax global header with
    /// `comment` (when given), then one file.
    fn archive(comment: Option<&str>) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        if let Some(comment) = comment {
            let record = format!("comment={comment}\n");
            let record = format!("{} {record}", record.len() + 3);
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(EntryType::XGlobalHeader);
            header.set_path("pax_global_header").unwrap();
            header.set_size(record.len() as u64);
            header.set_cksum();
            builder.append(&header, record.as_bytes()).unwrap();
        }
        let mut header = tar::Header::new_ustar();
        header.set_path("acme-gitops-0123456/a.yaml").unwrap();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, &b"x: 1\n"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn the_pax_header_names_the_commit_when_it_holds_one() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let cases = [
            (Some(sha), Some(sha)),
            (None, None),
            (Some("not a commit"), None),
            (Some("0123456"), None),
        ];
        for (comment, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let unpacked = extract(&archive(comment), dir.path()).unwrap();
            assert_eq!(
                unpacked.commit.as_ref().map(|c| c.as_ref()),
                want,
                "{comment:?}"
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
                "x: 1\n",
                "the header is not a file"
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

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
