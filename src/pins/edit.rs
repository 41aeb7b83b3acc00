//! Sets pins to a new version, changing exactly the bytes of each version
//! token. Before anything is written, the edited files are scanned again:
//! the changed pins must read the new version and every other pin must read
//! as before, or nothing is written.

use std::collections::BTreeMap;
use std::path::Path;

use super::{scan_files, DiscoverOptions, Pin, SourceFile};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub file: String,
    pub line: usize,
    pub old: String,
    pub new: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{file}:{line}: the version of `{name}` is not written as a literal here ({reason}); edit it by hand")]
    Unresolved {
        file: String,
        line: usize,
        name: String,
        reason: String,
    },
    #[error("{file}:{line}: expected `{expected}` at the pin, found something else; the file changed since it was scanned")]
    Stale {
        file: String,
        line: usize,
        expected: String,
    },
    #[error("`{0}` is not a version: use letters, digits, '.', '-', '+' and '_' only")]
    BadVersion(String),
    #[error("refusing the edit: {0}")]
    Verify(String),
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
}

/// A version is written into YAML and HCL strings as it is, so it must not
/// hold quotes, spaces, `#` or template syntax.
fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
}

/// Pins are the same pin when they sit at the same place under the same
/// name.
fn same_pin(a: &Pin, b: &Pin) -> bool {
    a.file == b.file && a.line == b.line && a.kind == b.kind && a.name == b.name
}

/// Plans the edit of `targets` to `to` over the in-memory `files`; returns
/// the edited files and the changes. Pure: nothing is written.
pub fn plan(
    files: &[SourceFile],
    targets: &[Pin],
    to: &str,
    opts: &DiscoverOptions,
) -> Result<(Vec<SourceFile>, Vec<Change>), EditError> {
    if !valid_version(to) {
        return Err(EditError::BadVersion(to.to_owned()));
    }
    let before = scan_files(files, opts);
    let mut by_file: BTreeMap<&str, Vec<&Pin>> = BTreeMap::new();
    for pin in targets {
        by_file.entry(pin.file.as_str()).or_default().push(pin);
    }
    let mut edited: Vec<SourceFile> = files.to_vec();
    let mut changes = Vec::new();
    for (path, mut pins) in by_file {
        let Some(file) = edited.iter_mut().find(|f| f.path == path) else {
            return Err(EditError::Verify(format!("{path} is not part of the scan")));
        };
        // Replace from the end so earlier spans stay valid. Pins that share
        // one literal (two releases reading one variable, a list element
        // feeding two sources) change it once: a second replacement would
        // find the new text there and take the file for changed.
        pins.sort_by_key(|p| std::cmp::Reverse(p.span.as_ref().map(|s| (s.start, s.end))));
        pins.dedup_by(|a, b| a.span.is_some() && a.span == b.span);
        for pin in pins {
            let (Some(span), Some(old)) = (pin.span.clone(), pin.version.clone()) else {
                return Err(EditError::Unresolved {
                    file: pin.file.clone(),
                    line: pin.line,
                    name: pin.name.clone(),
                    reason: pin.reason.clone().unwrap_or_else(|| "no literal".into()),
                });
            };
            if file.text.get(span.clone()) != Some(old.as_str()) {
                return Err(EditError::Stale {
                    file: pin.file.clone(),
                    line: pin.line,
                    expected: old,
                });
            }
            file.text.replace_range(span, to);
            changes.push(Change {
                file: pin.file.clone(),
                line: pin.line,
                old,
                new: to.to_owned(),
            });
        }
    }
    verify(&before.pins, &scan_files(&edited, opts).pins, targets, to)?;
    changes.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok((edited, changes))
}

fn verify(before: &[Pin], after: &[Pin], targets: &[Pin], to: &str) -> Result<(), EditError> {
    if before.len() != after.len() {
        return Err(EditError::Verify(format!(
            "the edit changed the number of pins from {} to {}",
            before.len(),
            after.len()
        )));
    }
    for (b, a) in before.iter().zip(after) {
        let targeted = targets.iter().any(|t| same_pin(t, b));
        let want_version = if targeted {
            Some(to.to_owned())
        } else {
            b.version.clone()
        };
        let same_place = same_pin(a, b) && a.chart == b.chart && a.repository == b.repository;
        if !same_place || a.version != want_version {
            return Err(EditError::Verify(format!(
                "{}:{}: after the edit `{}` reads {:?}, expected {:?}",
                a.file, a.line, a.name, a.version, want_version
            )));
        }
    }
    Ok(())
}

/// Writes the files of a plan that differ from the originals, each through a
/// temporary file and a rename so a crash never leaves half a file.
pub fn write(root: &Path, original: &[SourceFile], edited: &[SourceFile]) -> Result<(), EditError> {
    for (o, e) in original.iter().zip(edited) {
        if o.text == e.text {
            continue;
        }
        let path = root.join(&e.path);
        let io = |source| EditError::Io {
            file: e.path.clone(),
            source,
        };
        let tmp = path.with_extension("chartpilot-tmp");
        std::fs::write(&tmp, e.text.as_bytes()).map_err(io)?;
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(text: &str) -> Vec<SourceFile> {
        vec![SourceFile {
            path: "main.tf".into(),
            text: text.into(),
        }]
    }

    /// Two releases reading one variable: both pins point at its default.
    const SHARED: &str = "variable \"v\" {\n  default = \"1.0.0\"\n}\nresource \"helm_release\" \"a\" {\n  chart   = \"c\"\n  version = var.v\n}\nresource \"helm_release\" \"b\" {\n  chart   = \"c\"\n  version = var.v\n}\n";

    #[test]
    fn pins_sharing_a_literal_change_it_once() {
        let files = tf(SHARED);
        let opts = DiscoverOptions::default();
        let pins = scan_files(&files, &opts).pins;
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0].span, pins[1].span);
        let (edited, changes) = plan(&files, &pins, "2.0.0", &opts).unwrap();
        assert_eq!(edited[0].text, SHARED.replace("1.0.0", "2.0.0"));
        assert_eq!(
            changes,
            [Change {
                file: "main.tf".into(),
                line: 2,
                old: "1.0.0".into(),
                new: "2.0.0".into()
            }]
        );
    }

    #[test]
    fn a_shared_literal_is_not_changed_for_one_of_its_pins() {
        let files = tf(SHARED);
        let opts = DiscoverOptions::default();
        let pins = scan_files(&files, &opts).pins;
        let refused = plan(&files, &pins[..1], "2.0.0", &opts);
        assert!(matches!(refused, Err(EditError::Verify(_))), "{refused:?}");
    }

    #[test]
    fn versions_that_can_be_written() {
        for ok in ["1.2.3", "v1.13.2", "0.0.1-rc.awaiting-ci", "1.0.0+build_5"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "1.2 3", "\"1\"", "{{x}}", "1#2", "1'2", "a\nb"] {
            assert!(!valid_version(bad), "{bad:?}");
        }
    }
}
