//! Reading trees and blobs and writing commits, all through plumbing and a
//! private temporary index: the repository's own index and work tree (a
//! person may have it checked out) are never read or written.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::cmd::Git;
use crate::domain::CommitSha;
use crate::git::{FileChange, GitError};

/// The mode git gives a regular file; a new file gets it.
const MODE_FILE: &str = "100644";
/// An executable file, whose bit a commit keeps.
const MODE_EXECUTABLE: &str = "100755";

/// Who commits when the repository's own config names nobody.
pub(super) const DEFAULT_NAME: &str = "chartpilot";
pub(super) const DEFAULT_EMAIL: &str = "chartpilot@localhost";

/// Checks a repository path from a caller or a tree: relative, `/`-separated,
/// no empty, `.` or `..` component, no `.git` (which git itself refuses),
/// no control characters (which would break git's line-based stdin formats).
pub(super) fn validate_path(path: &str) -> Result<(), GitError> {
    let bad = |why: &str| Err(GitError::Refused(format!("path `{path}` {why}")));
    if path.is_empty() {
        return bad("is empty");
    }
    if path.chars().any(char::is_control) {
        return bad("holds a control character");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("is absolute or has an empty component"),
            "." | ".." => return bad("has a `.` or `..` component"),
            p if p.eq_ignore_ascii_case(".git") => return bad("has a `.git` component"),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `rev` names a commit in the repository.
pub(super) async fn commit_exists(git: &Git, rev: &str) -> Result<bool, GitError> {
    let out = git
        .cmd("rev-parse")
        .args(["--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .await?;
    Ok(out.status.success())
}

async fn require_commit(git: &Git, rev: &CommitSha) -> Result<(), GitError> {
    if commit_exists(git, rev.as_ref()).await? {
        Ok(())
    } else {
        Err(GitError::NotFound(format!("commit {rev}")))
    }
}

/// One answer of `cat-file --batch`.
enum Batch {
    Missing,
    Object { kind: String, data: Vec<u8> },
}

/// Asks `cat-file --batch` for each name in turn; one process for all.
async fn cat_batch(git: &Git, names: &[String]) -> Result<Vec<Batch>, GitError> {
    let mut input = Vec::new();
    for name in names {
        input.extend_from_slice(name.as_bytes());
        input.push(b'\n');
    }
    let out = git
        .cmd("cat-file")
        .arg("--batch")
        .stdin(input)
        .run()
        .await?;
    parse_batch(&out, names.len())
}

fn parse_batch(mut out: &[u8], expected: usize) -> Result<Vec<Batch>, GitError> {
    let garbled = || GitError::Refused("git cat-file --batch printed garbled output".into());
    let mut answers = Vec::with_capacity(expected);
    while answers.len() < expected {
        let end = out.iter().position(|&b| b == b'\n').ok_or_else(garbled)?;
        let header = String::from_utf8_lossy(&out[..end]).into_owned();
        out = &out[end + 1..];
        // A found object's header ends with its size, so it never ends in
        // these words, whatever the name asked for held.
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            answers.push(Batch::Missing);
            continue;
        }
        let mut fields = header.split(' ');
        let (Some(_sha), Some(kind), Some(size), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(garbled());
        };
        let size: usize = size.parse().map_err(|_| garbled())?;
        if out.len() < size + 1 {
            return Err(garbled());
        }
        answers.push(Batch::Object {
            kind: kind.to_owned(),
            data: out[..size].to_vec(),
        });
        out = &out[size + 1..];
    }
    Ok(answers)
}

pub(super) async fn read_file(
    git: &Git,
    rev: &CommitSha,
    path: &str,
) -> Result<Option<Vec<u8>>, GitError> {
    validate_path(path)?;
    // The commit first, so an unknown commit is NotFound rather than a
    // missing file.
    let names = [format!("{rev}^{{commit}}"), format!("{rev}:{path}")];
    let mut answers = cat_batch(git, &names).await?.into_iter();
    if !matches!(answers.next(), Some(Batch::Object { .. })) {
        return Err(GitError::NotFound(format!("commit {rev}")));
    }
    match answers.next() {
        Some(Batch::Object { kind, data }) if kind == "blob" => Ok(Some(data)),
        // A directory or submodule is no file either.
        _ => Ok(None),
    }
}

/// One entry of `ls-tree -r -z`.
struct TreeEntry {
    mode: String,
    sha: String,
    path: String,
}

async fn ls_tree(git: &Git, rev: &CommitSha) -> Result<Vec<TreeEntry>, GitError> {
    let out = git
        .cmd("ls-tree")
        .args(["-r", "-z", "--full-tree"])
        .arg(rev.as_ref())
        .run()
        .await?;
    let mut entries = Vec::new();
    for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let parsed = record.split_once('\t').and_then(|(meta, path)| {
            let mut meta = meta.split(' ');
            match (meta.next(), meta.next(), meta.next()) {
                (Some(mode), Some(_kind), Some(sha)) => Some(TreeEntry {
                    mode: mode.to_owned(),
                    sha: sha.to_owned(),
                    path: path.to_owned(),
                }),
                _ => None,
            }
        });
        entries.push(parsed.ok_or_else(|| {
            GitError::Refused(format!("git ls-tree printed a garbled entry: {record}"))
        })?);
    }
    Ok(entries)
}

/// Regular files only: symlinks (120000) and submodules (160000) are left
/// out, as the trait promises.
fn is_regular(mode: &str) -> bool {
    mode.starts_with("100")
}

pub(super) async fn snapshot(git: &Git, rev: &CommitSha, dest: &Path) -> Result<(), GitError> {
    require_commit(git, rev).await?;
    let files: Vec<TreeEntry> = ls_tree(git, rev)
        .await?
        .into_iter()
        .filter(|e| is_regular(&e.mode))
        .collect();
    // Checked before anything is written, so a crafted tree leaves dest
    // untouched instead of half written.
    for entry in &files {
        validate_path(&entry.path)?;
    }
    let shas: Vec<String> = files.iter().map(|e| e.sha.clone()).collect();
    let blobs = cat_batch(git, &shas).await?;
    let mut writes = Vec::with_capacity(files.len());
    for (entry, blob) in files.into_iter().zip(blobs) {
        let Batch::Object { data, .. } = blob else {
            return Err(GitError::NotFound(format!(
                "blob {} ({})",
                entry.sha, entry.path
            )));
        };
        writes.push((entry.path, entry.mode == MODE_EXECUTABLE, data));
    }
    let dest = dest.to_path_buf();
    let count = writes.len();
    tokio::task::spawn_blocking(move || write_files(&dest, writes))
        .await
        .map_err(|e| GitError::Unavailable(format!("snapshot task failed: {e}")))??;
    tracing::debug!(rev = %rev, files = count, "snapshot written");
    Ok(())
}

/// `dest` joined with a validated repository path, refusing anything that
/// is not a plain relative component.
fn inside(dest: &Path, path: &str) -> Result<PathBuf, GitError> {
    let rel = Path::new(path);
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(dest.join(rel))
    } else {
        Err(GitError::Refused(format!(
            "path `{path}` would leave the snapshot directory"
        )))
    }
}

fn write_files(dest: &Path, writes: Vec<(String, bool, Vec<u8>)>) -> Result<(), GitError> {
    let io = |what: &Path, e: std::io::Error| {
        GitError::Refused(format!("snapshot: writing {}: {e}", what.display()))
    };
    for (path, executable, data) in writes {
        let target = inside(dest, &path)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&target, data).map_err(|e| io(&target, e))?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| io(&target, e))?;
        }
        #[cfg(not(unix))]
        let _ = executable;
    }
    Ok(())
}

/// Author and committer of chartpilot's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    pub name: String,
    pub email: String,
}

/// The repository's own `user.name` and `user.email` when both are set
/// there, else chartpilot's. Global and system config are ignored on
/// purpose: they name the person at the machine, and a bot's commit must
/// not look like theirs.
pub(super) async fn identity(git: &Git) -> Result<Identity, GitError> {
    let out = git
        .cmd("config")
        .args(["--local", "-z", "--get-regexp", r"^user\.(name|email)$"])
        .output()
        .await?;
    let (mut name, mut email) = (None, None);
    // Exit status 1 means no such key: not an error.
    for record in out.stdout.split(|&b| b == 0) {
        let record = String::from_utf8_lossy(record);
        match record.split_once('\n') {
            Some(("user.name", v)) if !v.trim().is_empty() => name = Some(v.to_owned()),
            Some(("user.email", v)) if !v.trim().is_empty() => email = Some(v.to_owned()),
            _ => {}
        }
    }
    Ok(match (name, email) {
        (Some(name), Some(email)) => Identity { name, email },
        _ => Identity {
            name: DEFAULT_NAME.to_owned(),
            email: DEFAULT_EMAIL.to_owned(),
        },
    })
}

pub(super) async fn commit(
    git: &Git,
    parent: &CommitSha,
    message: &str,
    changes: &[FileChange],
) -> Result<CommitSha, GitError> {
    commit_with(git, parent, &[], message, changes).await
}

/// A commit of `parent`'s tree with `changes`, whose parents are
/// `first_parents` (when given) and then `parent`.
pub(super) async fn commit_with(
    git: &Git,
    parent: &CommitSha,
    first_parents: &[&CommitSha],
    message: &str,
    changes: &[FileChange],
) -> Result<CommitSha, GitError> {
    for p in first_parents {
        require_commit(git, p).await?;
    }
    for change in changes {
        validate_path(&change.path)?;
    }
    require_commit(git, parent).await?;
    let modes: HashMap<String, String> = ls_tree(git, parent)
        .await?
        .into_iter()
        .map(|e| (e.path, e.mode))
        .collect();
    let tmp = tempfile::tempdir()
        .map_err(|e| GitError::Unavailable(format!("temporary index directory: {e}")))?;
    let index = tmp.path().join("index");
    git.cmd("read-tree")
        .env("GIT_INDEX_FILE", &index)
        .arg(parent.as_ref())
        .run()
        .await?;
    let mut update = git
        .cmd("update-index")
        .env("GIT_INDEX_FILE", &index)
        .arg("--add");
    for change in changes {
        let sha = git
            .cmd("hash-object")
            .args(["-w", "--no-filters", "--stdin"])
            .stdin(change.content.clone())
            .run_line()
            .await?;
        let mode = match modes.get(&change.path).map(String::as_str) {
            Some(MODE_EXECUTABLE) => MODE_EXECUTABLE,
            _ => MODE_FILE,
        };
        update = update
            .arg("--cacheinfo")
            .arg(format!("{mode},{sha},{}", change.path));
    }
    update.run().await?;
    let tree = git
        .cmd("write-tree")
        .env("GIT_INDEX_FILE", &index)
        .run_line()
        .await?;
    let who = identity(git).await?;
    let mut text = message.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut cmd = git
        .cmd("commit-tree")
        .env("GIT_AUTHOR_NAME", &who.name)
        .env("GIT_AUTHOR_EMAIL", &who.email)
        .env("GIT_COMMITTER_NAME", &who.name)
        .env("GIT_COMMITTER_EMAIL", &who.email)
        // A person's commit.gpgSign would otherwise ask for a passphrase.
        .arg("--no-gpg-sign");
    for p in first_parents {
        cmd = cmd.args(["-p", p.as_ref()]);
    }
    let sha = cmd
        .args(["-p", parent.as_ref(), &tree])
        .stdin(text.into_bytes())
        .run_line()
        .await?;
    let sha = CommitSha::parse(&sha)
        .map_err(|e| GitError::Refused(format!("git commit-tree printed {e}")))?;
    tracing::debug!(parent = %parent, commit = %sha, files = changes.len(), "commit written");
    Ok(sha)
}
