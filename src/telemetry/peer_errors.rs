//! actix-http logs every request it cannot parse (a malformed request line,
//! a bad header) at ERROR, one line each: anyone who can open a connection
//! could fill the error log and page someone. Those lines are taken out of
//! the log here and written again at WARN, at most
//! [`rate::LINES_PER_WINDOW`] per window, then as a count.

use std::fmt::Write as _;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::rate::{self, Admit, LineBudget};

/// The only target whose errors are a peer's doing: the HTTP/1 dispatcher
/// reports parse errors and broken connections there.
const DISPATCHER_TARGET: &str = "actix_http::h1::dispatcher";

/// Longest peer error text kept: it may quote what the peer sent.
const MAX_MESSAGE_CHARS: usize = 200;

/// True for the dispatcher's ERROR events about one connection.
pub(super) fn is_peer_error(event: &Event<'_>) -> bool {
    let meta = event.metadata();
    *meta.level() == Level::ERROR && meta.target() == DISPATCHER_TARGET
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// Counts peer errors and hands those within budget to the writer thread.
/// The thread writes them, because an event emitted while another is being
/// recorded may be dropped by `tracing`.
pub(super) struct PeerErrors {
    budget: Arc<LineBudget>,
    to_writer: SyncSender<String>,
}

impl PeerErrors {
    /// The layer and the thread that writes its lines; `None` if the
    /// thread cannot start (then the lines are only dropped).
    pub(super) fn start() -> Option<Self> {
        let budget = Arc::new(LineBudget::new(rate::LINES_PER_WINDOW, rate::WINDOW));
        // Room for one window's lines: more are dropped by the budget anyway.
        let (tx, rx) = mpsc::sync_channel(rate::LINES_PER_WINDOW as usize);
        let writer_budget = Arc::clone(&budget);
        std::thread::Builder::new()
            .name("peer-error-log".into())
            .spawn(move || write_lines(&rx, &writer_budget))
            .ok()?;
        Some(Self {
            budget,
            to_writer: tx,
        })
    }
}

fn write_lines(rx: &Receiver<String>, budget: &LineBudget) {
    loop {
        match rx.recv_timeout(rate::WINDOW) {
            Ok(line) => tracing::warn!(
                target: "chartpilot::http",
                peer_error = %line,
                "refused a malformed request or a broken connection"
            ),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let dropped = budget.take_finished(Instant::now());
        if dropped > 0 {
            tracing::warn!(
                target: "chartpilot::http",
                dropped,
                "more malformed requests or broken connections were not logged"
            );
        }
    }
}

impl<S: Subscriber> Layer<S> for PeerErrors {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !is_peer_error(event) {
            return;
        }
        if let Admit::Log { .. } = self.budget.admit(Instant::now()) {
            let mut m = Message::default();
            event.record(&mut m);
            let line: String = m.0.chars().take(MAX_MESSAGE_CHARS).collect();
            // Full only if the writer is behind; the budget bounds that.
            let _ = self.to_writer.try_send(line);
        }
    }
}
