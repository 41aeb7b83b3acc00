//! Logs and spans through `tracing`: JSON for production, text for people.

pub mod otlp;
mod peer_errors;
pub mod rate;

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// The AMQP client and its protocol crates. At TRACE they print whole
/// frames, and the connection's `StartOk` frame holds the broker user and
/// password; so they log at DEBUG at most unless the filter names them.
pub const CAPPED_AT_DEBUG: [&str; 8] = [
    "lapin",
    "amq_protocol",
    "amq_protocol_tcp",
    "amq_protocol_types",
    "amq_protocol_uri",
    "pinky_swear",
    "async_rs",
    "tcp_stream",
];

/// Targets of `CAPPED_AT_DEBUG` that `filter` does not name in a
/// directive (`lapin=trace` names `lapin`; a bare `trace` names none).
fn capped_targets(filter: &str) -> Vec<&'static str> {
    let named: Vec<&str> = filter
        .split(',')
        .filter_map(|d| d.split_once('=').map(|(target, _)| target))
        .map(|t| t.split('[').next().unwrap_or(t).trim())
        .collect();
    CAPPED_AT_DEBUG
        .into_iter()
        .filter(|c| !named.contains(c))
        .collect()
}

fn in_crate(target: &str, krate: &str) -> bool {
    target == krate
        || target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set,
/// so an operator can raise one module's level without a config change.
/// Returns an error if a subscriber is already installed.
pub fn init<W>(format: LogFormat, level: &str, writer: W) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_with_export(format, level, writer, "").map(|_| ())
}

/// [`init`], and chartpilot's spans exported over OTLP to `otlp_endpoint`
/// when it is not empty. Keep the returned exporter until the process
/// ends: dropping it sends the last spans.
pub fn init_with_export<W>(
    format: LogFormat,
    level: &str,
    writer: W,
    otlp_endpoint: &str,
) -> Result<Option<otlp::Exporter>, String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let exporter = if otlp_endpoint.trim().is_empty() {
        None
    } else {
        Some(otlp::exporter(otlp_endpoint)?)
    };
    // Only chartpilot's own spans and events: the HTTP and AMQP clients'
    // spans would bury a job's trace.
    let export = exporter.as_ref().map(|e| {
        tracing_opentelemetry::layer()
            .with_tracer(e.tracer())
            .with_location(false)
            .with_filter(filter_fn(|meta| in_crate(meta.target(), "chartpilot")))
    });
    let text = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    let filter = EnvFilter::try_new(&text)
        .map_err(|e| format!("log.level `{text}` is not a valid filter: {e}"))?;
    let capped = capped_targets(&text);
    let shown = filter_fn(move |meta| {
        *meta.level() <= Level::DEBUG || !capped.iter().any(|c| in_crate(meta.target(), c))
    });
    // Peer errors are written again, within a budget, by `PeerErrors`.
    let peer_errors = peer_errors::PeerErrors::start();
    let fmt = tracing_subscriber::fmt::layer();
    let result = match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(export)
            .with(peer_errors)
            .with(
                fmt.json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer)
                    .with_filter(shown)
                    .with_filter(NotPeerError),
            )
            .try_init(),
        LogFormat::Text => tracing_subscriber::registry()
            .with(filter)
            .with(export)
            .with(peer_errors)
            .with(
                fmt.with_ansi(std::io::stdout().is_terminal())
                    .with_writer(writer)
                    .with_filter(shown)
                    .with_filter(NotPeerError),
            )
            .try_init(),
    };
    result.map_err(|e| e.to_string())?;
    Ok(exporter)
}

/// Keeps actix-http's per-connection errors out of the formatted log.
struct NotPeerError;

impl<S> tracing_subscriber::layer::Filter<S> for NotPeerError {
    fn enabled(
        &self,
        _meta: &tracing::Metadata<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        true
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        !peer_errors::is_peer_error(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqp_crates_are_capped_unless_named() {
        assert_eq!(capped_targets("trace"), CAPPED_AT_DEBUG.to_vec());
        let named = capped_targets("info,lapin=trace,amq_protocol[x]=trace");
        assert!(!named.contains(&"lapin"));
        assert!(!named.contains(&"amq_protocol"));
        assert!(named.contains(&"amq_protocol_types"));
        assert!(in_crate("lapin::io_loop", "lapin"));
        assert!(in_crate("lapin", "lapin"));
        assert!(!in_crate("lapinou", "lapin"));
    }
}
