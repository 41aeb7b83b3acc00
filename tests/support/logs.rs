//! Log lines captured as production writes them (JSON, one object per
//! line), for tests that assert what operators read and query.
//!
//! One subscriber serves the whole test binary, set once as the global
//! default, and writes each line to the buffer of the thread that logged
//! it: a `#[tokio::test]` on its current-thread runtime sees every line of
//! what it drives, and tests running in parallel do not see each other's.
//! (A thread-local subscriber per test is not enough: a callsite first hit
//! by another test while none was set can stay disabled for everyone.)

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static CURRENT: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

/// Writes to the logging thread's buffer, or nowhere.
struct Sink;

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        CURRENT.with(|c| {
            if let Some(buf) = c.borrow().as_ref() {
                buf.lock().unwrap().extend_from_slice(b);
            }
        });
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lines this thread logs at INFO and above, until dropped.
pub struct Captured {
    buf: Buffer,
}

impl Drop for Captured {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Starts capturing this thread's lines at INFO and above.
pub fn capture() -> Captured {
    static GLOBAL: OnceLock<()> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter("info")
            .with_writer(|| Sink)
            .finish();
        // Under TEST_LOG another subscriber may be set already; the
        // assertions then fail loudly rather than pass on nothing.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let buf = Buffer::default();
    CURRENT.with(|c| *c.borrow_mut() = Some(Arc::clone(&buf)));
    Captured { buf }
}

impl Captured {
    /// Every line so far, parsed; a line that is not JSON fails the test.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.buf.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The lines whose `event` field is `event`.
    pub fn events(&self, event: &str) -> Vec<serde_json::Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["fields"]["event"] == event)
            .collect()
    }

    /// The WARN and ERROR lines.
    pub fn warnings(&self) -> Vec<serde_json::Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
            .collect()
    }
}
