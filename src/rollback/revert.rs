//! A revert without a clone: for each file the commit changed, a three-way
//! merge with the file at the commit as base, the branch head as ours and
//! the commit's parent as theirs. What the commit changed is undone; what
//! came after it stays; overlapping edits are a conflict, never a guess.

use crate::git::{ChangeKind, FileChange};

/// One file the reverted commit changed, in its three versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersions {
    pub path: String,
    pub kind: ChangeKind,
    /// At the commit.
    pub base: String,
    /// At the branch head; None when the file is gone there.
    pub ours: Option<String>,
    /// At the commit's parent.
    pub theirs: String,
}

/// The edits that revert the commit, or why it cannot be reverted here.
/// Files already back at their old text are left out.
pub fn revert_files(files: &[FileVersions]) -> Result<Vec<FileChange>, String> {
    let mut changes = Vec::new();
    for f in files {
        match f.kind {
            ChangeKind::Modified => {}
            ChangeKind::Added => {
                return Err(format!(
                    "the commit adds {}; chartpilot reverts only edits to files that stay",
                    f.path
                ))
            }
            ChangeKind::Removed => {
                return Err(format!(
                    "the commit removes {}; chartpilot reverts only edits to files that stay",
                    f.path
                ))
            }
        }
        let Some(ours) = f.ours.as_deref() else {
            return Err(format!("{} no longer exists on the branch", f.path));
        };
        let merged = diffy::merge(&f.base, ours, &f.theirs).map_err(|_| {
            format!(
                "{} changed on the branch since, in lines the revert would touch (a conflict)",
                f.path
            )
        })?;
        if merged != ours {
            changes.push(FileChange {
                path: f.path.clone(),
                content: merged.into_bytes(),
            });
        }
    }
    if changes.is_empty() {
        return Err("the branch already has the commit's changes undone".into());
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "a: 1\nchart: podinfo\ntargetRevision: 6.5.0\nz: 1\n";
    const COMMIT: &str = "a: 1\nchart: podinfo\ntargetRevision: 6.6.0\nz: 1\n";

    fn file(ours: Option<&str>) -> FileVersions {
        FileVersions {
            path: "apps/prod/podinfo.yaml".into(),
            kind: ChangeKind::Modified,
            base: COMMIT.into(),
            ours: ours.map(str::to_owned),
            theirs: PARENT.into(),
        }
    }

    fn text(c: &[FileChange]) -> String {
        String::from_utf8(c[0].content.clone()).unwrap()
    }

    #[test]
    fn the_pin_goes_back_and_later_edits_stay() {
        // Untouched since: exactly the parent's text.
        assert_eq!(text(&revert_files(&[file(Some(COMMIT))]).unwrap()), PARENT);
        // A later edit elsewhere in the file survives the revert.
        let later = "a: 2\nchart: podinfo\ntargetRevision: 6.6.0\nz: 1\n";
        assert_eq!(
            text(&revert_files(&[file(Some(later))]).unwrap()),
            "a: 2\nchart: podinfo\ntargetRevision: 6.5.0\nz: 1\n"
        );
    }

    #[test]
    fn overlapping_edits_missing_files_and_new_files_are_refused() {
        let moved_on = "a: 1\nchart: podinfo\ntargetRevision: 6.7.0\nz: 1\n";
        let e = revert_files(&[file(Some(moved_on))]).unwrap_err();
        assert!(e.contains("conflict"), "{e}");
        let e = revert_files(&[file(None)]).unwrap_err();
        assert!(e.contains("no longer exists"), "{e}");
        let added = FileVersions {
            kind: ChangeKind::Added,
            ..file(Some(COMMIT))
        };
        assert!(revert_files(&[added]).unwrap_err().contains("adds"));
        let e = revert_files(&[file(Some(PARENT))]).unwrap_err();
        assert!(e.contains("already"), "{e}");
    }
}
