//! The merge base's files rebuilt from the head's and the comparison's
//! hunks: the pull request's own diff undone, so the base side costs no
//! second snapshot. Any path that cannot be rebuilt exactly (no hunks, a
//! rename, hunks that do not apply) gives up, and the runner reads the
//! merge base's snapshot instead.

use std::collections::BTreeMap;

use crate::git::{ChangeKind, PullChanges};
use crate::pins::SourceFile;

/// The files of the merge base, as `head` holds them but with each changed
/// path put back; None when one of them cannot be.
pub fn rebuild(head: &[SourceFile], changes: &PullChanges) -> Option<Vec<SourceFile>> {
    let mut files: BTreeMap<&str, String> = head
        .iter()
        .map(|f| (f.path.as_str(), f.text.clone()))
        .collect();
    for changed in &changes.paths {
        let path = changed.path.as_str();
        match changed.kind {
            ChangeKind::Added => {
                // Not there before; a path the snapshot did not read is
                // absent either way.
                files.remove(path);
            }
            ChangeKind::Modified => {
                // A file the scan does not read (docs) needs no rebuild.
                let Some(text) = files.get(path) else {
                    continue;
                };
                let before = undo(text, changes.patches.get(path)?)?;
                files.insert(path, before);
            }
            ChangeKind::Removed if crate::pins::may_hold_pins(path) => {
                let before = undo("", changes.patches.get(path)?)?;
                files.insert(path, before);
            }
            // Whether the base's scan read a JSON file depends on what
            // refers to it: only its snapshot can say.
            ChangeKind::Removed if path.ends_with(".json") => return None,
            ChangeKind::Removed => {}
        }
    }
    Some(
        files
            .into_iter()
            .map(|(path, text)| SourceFile {
                path: path.to_owned(),
                text,
            })
            .collect(),
    )
}

/// `after` with `hunks` reversed; None unless they apply exactly.
fn undo(after: &str, hunks: &str) -> Option<String> {
    // GitHub leaves out the newline after the last hunk line; a file
    // without a final newline says so in a `\ No newline` line instead.
    let hunks = if hunks.ends_with('\n') {
        hunks.to_owned()
    } else {
        format!("{hunks}\n")
    };
    let patch = diffy::Patch::from_str(&hunks).ok()?;
    diffy::apply(after, &patch.reverse()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CommitSha;
    use crate::git::ChangedPath;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// GitHub's hunks for `before` → `after`: diffy's patch without its
    /// `---`/`+++` header.
    fn hunks(before: &str, after: &str) -> String {
        let patch = diffy::create_patch(before, after).to_string();
        let text: String = patch
            .lines()
            .skip_while(|l| !l.starts_with("@@"))
            .map(|l| format!("{l}\n"))
            .collect();
        // As GitHub sends them: no newline after the last line.
        text.trim_end_matches('\n').to_owned()
    }

    fn changes(paths: &[(&str, ChangeKind, Option<String>)]) -> PullChanges {
        PullChanges {
            merge_base: CommitSha::parse(&"a".repeat(40)).unwrap(),
            paths: paths
                .iter()
                .map(|(p, k, _)| ChangedPath {
                    path: (*p).into(),
                    kind: *k,
                })
                .collect(),
            patches: paths
                .iter()
                .filter_map(|(p, _, h)| Some(((*p).to_owned(), h.clone()?)))
                .collect(),
        }
    }

    fn texts(files: &[SourceFile]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|f| (f.path.clone(), f.text.clone()))
            .collect()
    }

    /// Changes, and the rebuilt files or None.
    type Case = (PullChanges, Option<Vec<(&'static str, &'static str)>>);

    #[test]
    fn the_pull_requests_changes_are_undone_or_the_rebuild_gives_up() {
        let old = "a: 1\nversion: 1.0.0\nz: 2\n";
        let new = "a: 1\nversion: 1.2.0\nz: 2\n";
        let head = vec![
            file("env/prod.yaml", new),
            file("env/new.yaml", "x: 1\n"),
            file("env/dev.yaml", "d: 1\n"),
        ];
        let cases: Vec<Case> = vec![
            // A modification, an addition, a removal, and docs.
            (
                changes(&[
                    ("env/prod.yaml", ChangeKind::Modified, Some(hunks(old, new))),
                    ("env/new.yaml", ChangeKind::Added, Some(hunks("", "x: 1\n"))),
                    (
                        "env/gone.yaml",
                        ChangeKind::Removed,
                        Some(hunks("g: 1\n", "")),
                    ),
                    ("README.md", ChangeKind::Modified, None),
                ]),
                Some(vec![
                    ("env/dev.yaml", "d: 1\n"),
                    ("env/gone.yaml", "g: 1\n"),
                    ("env/prod.yaml", old),
                ]),
            ),
            // No hunks for a changed pin file: give up.
            (
                changes(&[("env/prod.yaml", ChangeKind::Modified, None)]),
                None,
            ),
            // Hunks that do not fit the head: give up.
            (
                changes(&[(
                    "env/prod.yaml",
                    ChangeKind::Modified,
                    Some(hunks("q\n", "r\n")),
                )]),
                None,
            ),
            // A removed pin file without hunks (a rename's old side): give up.
            (
                changes(&[("env/old.yaml", ChangeKind::Removed, None)]),
                None,
            ),
        ];
        for (c, want) in cases {
            let got = rebuild(&head, &c).map(|f| texts(&f));
            let want = want.map(|w| {
                w.into_iter()
                    .map(|(p, t)| (p.to_owned(), t.to_owned()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{:?}", c.paths);
        }
    }

    #[test]
    fn a_file_without_a_final_newline_comes_back_exactly() {
        let old = "version: 1.0.0";
        let new = "version: 1.1.0\nextra: 1";
        let head = vec![file("a.yaml", new)];
        let c = changes(&[("a.yaml", ChangeKind::Modified, Some(hunks(old, new)))]);
        assert_eq!(
            texts(&rebuild(&head, &c).unwrap()),
            [("a.yaml".to_owned(), old.to_owned())]
        );
    }
}
