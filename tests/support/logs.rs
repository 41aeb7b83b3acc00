//! Log lines captured as production writes them (JSON, one object per
//! line), for tests that assert what operators read and query. The
//! subscriber is the thread's default: a `#[tokio::test]` on its
//! current-thread runtime sees every line of what it drives, and tests
//! running in parallel do not see each other's.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;

pub struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this thread's log lines at `filter` (`info`, `warn`) and
/// above until the result is dropped.
pub fn capture(filter: &str) -> Captured {
    let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = Sink(Arc::clone(&buf));
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(move || sink.clone())
        .finish();
    Captured {
        buf,
        _guard: tracing::subscriber::set_default(subscriber),
    }
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
