//! What one upgrade PR writes: the edited files, and the release notes
//! between the pinned version and the target.

use super::plan::{version_order, Group};
use super::run::UpgradeError;
use crate::charts::Release;
use crate::git::FileChange;
use crate::pins::{edit, DiscoverOptions, Pin, SourceFile};

/// The edited files of one group, from the base snapshot.
pub(super) fn edits(
    files: &[SourceFile],
    group: &Group,
    opts: &DiscoverOptions,
) -> Result<Vec<FileChange>, UpgradeError> {
    // A range is replaced like a version: its text is what the span covers.
    let pins: Vec<Pin> = group
        .changes
        .iter()
        .map(|c| {
            let mut pin = c.pin.clone();
            if pin.version.is_none() {
                pin.version = c.range().map(str::to_owned);
            }
            pin
        })
        .collect();
    let (edited, _) = edit::plan(files, &pins, group.version(), opts)
        .map_err(|e| UpgradeError::Edit(e.to_string()))?;
    Ok(edited
        .into_iter()
        .zip(files)
        .filter(|(new, old)| new.text != old.text)
        .map(|(new, _)| FileChange {
            path: new.path,
            content: new.text.into_bytes(),
        })
        .collect())
}

/// Change notes of the releases after `from` up to `to`, newest first.
pub(super) fn notes_between(list: &[Release], from: &str, to: &str) -> Vec<(String, String)> {
    use std::cmp::Ordering::Greater;
    let mut notes: Vec<&Release> = list
        .iter()
        .filter(|r| r.changes.is_some())
        .filter(|r| {
            version_order(&r.version, from) == Greater && version_order(&r.version, to) != Greater
        })
        .collect();
    notes.sort_by(|a, b| version_order(&b.version, &a.version));
    notes
        .into_iter()
        .filter_map(|r| Some((r.version.clone(), r.changes.clone()?)))
        .collect()
}
