//! What every fuzz target checks on a scan, so that a logic error crashes
//! as loudly as a panic does.

pub mod http;

use chartpilot::pins::{edit, line_of, DiscoverOptions, Pin, SourceFile};

/// Every pin names a scanned file; a pin with a version (or a range) has a
/// span that holds exactly that text, on the line it reports; a pin without
/// either says why; nothing is both a version and a range.
pub fn check_pins(files: &[SourceFile], pins: &[Pin]) {
    for pin in pins {
        let file = files
            .iter()
            .find(|f| f.path == pin.file)
            .unwrap_or_else(|| panic!("pin in a file that was not scanned: {pin:?}"));
        assert!(
            pin.version.is_none() || pin.constraint.is_none(),
            "a version and a range: {pin:?}"
        );
        let written = pin.version.as_ref().or(pin.constraint.as_ref());
        match (written, &pin.span) {
            (Some(text), Some(span)) => {
                assert_eq!(
                    file.text.get(span.clone()),
                    Some(text.as_str()),
                    "span does not hold the version: {pin:?}"
                );
                assert_eq!(pin.line, line_of(&file.text, span.start), "{pin:?}");
                assert!(pin.reason.is_none(), "{pin:?}");
            }
            (None, None) => assert!(pin.reason.is_some(), "no version, no reason: {pin:?}"),
            // A version without a span is read but cannot be edited, which
            // a scanner may report (e.g. an escaped string); a span without
            // a version never makes sense.
            (Some(_), None) => {}
            (None, Some(_)) => panic!("span without a version: {pin:?}"),
        }
        assert!(pin.line >= 1, "{pin:?}");
    }
}

/// Edits the first editable pin: when `edit::plan` accepts, the files must
/// equal the originals with just that span replaced.
pub fn check_edit(files: &[SourceFile], pins: &[Pin]) {
    const TO: &str = "9.9.9-fuzz";
    let Some(pin) = pins.iter().find(|p| p.span.is_some()) else {
        return;
    };
    let Ok((edited, _)) = edit::plan(
        files,
        std::slice::from_ref(pin),
        TO,
        &DiscoverOptions::default(),
    ) else {
        return;
    };
    for (before, after) in files.iter().zip(&edited) {
        let mut want = before.text.clone();
        if before.path == pin.file {
            if let Some(span) = pin.span.clone() {
                want.replace_range(span, TO);
            }
        }
        assert_eq!(after.text, want, "the edit changed more than {pin:?}");
    }
}
