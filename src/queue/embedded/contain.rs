//! Runs the opening of the store so that a panic inside redb becomes an
//! error, with nothing printed.
//!
//! Why this exists: redb 3.1 reports most damage as errors, but asserts on
//! some (a file shorter than the layout its header describes, as after a
//! truncated copy or a full disk). An operator must get one clear message
//! and exit status 2 for every damaged file, not a panic and a backtrace.
//! Only the opening is wrapped: it reads the header, repairs after a
//! crash, and creates the tables, and is where damage shows first. The
//! unwind leaves nothing half-built behind: everything redb made inside
//! is dropped with it, the file included.

use std::cell::Cell;
use std::panic::{self, UnwindSafe};
use std::sync::Once;

thread_local! {
    /// True while this thread runs [`quietly`]: its panics are not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Installs, once per process, a panic hook that stays silent for threads
/// inside [`quietly`] and hands every other panic to the hook that was
/// there before, so nothing else changes.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it is returned as its message.
pub(super) fn quietly<T>(f: impl FnOnce() -> T + UnwindSafe) -> Result<T, String> {
    install_hook();
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(f);
    QUIET.with(|q| q.set(false));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the store library stopped on an internal check".to_owned())
    })
}
