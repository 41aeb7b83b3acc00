//! OpenTelemetry export of chartpilot's spans over OTLP/HTTP (protobuf),
//! off unless `telemetry.otlp_endpoint` is set.
//!
//! One trace per event: the receiver's `webhook` span starts it, its id
//! travels in the job envelope (`trace_id`, `parent_span`), the worker's
//! `job` span continues it, and follow-up jobs carry the job span on. So
//! the trace id in every log line is the one Tempo or Jaeger shows.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Per export request; a collector that does not answer in this time costs
/// one batch of spans, never a job.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers from a collector are read up to this size (they are tiny).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The OTLP/HTTP traces URL for `endpoint`: the collector's base URL as
/// `OTEL_EXPORTER_OTLP_ENDPOINT` takes it (`http://tempo:4318`), or the
/// full traces URL (`…/v1/traces`) as written.
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    let endpoint = endpoint.trim();
    // Never repeat a value that may hold a password.
    let shown = if endpoint.contains('@') {
        "the value".to_owned()
    } else {
        format!("`{endpoint}`")
    };
    let parsed = reqwest::Url::parse(endpoint).map_err(|e| format!("{shown} is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold credentials; set OTEL_EXPORTER_OTLP_HEADERS".to_owned());
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{shown} must start with http:// or https://"));
    }
    if parsed.path().trim_end_matches('/').ends_with("/v1/traces") {
        return Ok(endpoint.to_owned());
    }
    Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
}

/// Flushes and stops the exporter when dropped, so the spans of the last
/// jobs reach the collector on shutdown.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("chartpilot: OTLP exporter did not shut down cleanly: {e}");
        }
    }
}

/// The tracer provider for `endpoint`, batching spans on its own thread.
pub fn exporter(endpoint: &str) -> Result<Exporter, String> {
    let url = traces_url(endpoint).map_err(|e| format!("telemetry.otlp_endpoint: {e}"))?;
    let client = ReqwestOnOwnRuntime::new()?;
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot start the OTLP exporter: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(
            Resource::builder()
                .with_service_name("chartpilot")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    Ok(Exporter { provider })
}

impl Exporter {
    pub fn tracer(&self) -> opentelemetry_sdk::trace::Tracer {
        self.provider.tracer("chartpilot")
    }
}

/// The batch processor exports from a thread of its own, outside the
/// service's runtime; requests go through the one reqwest the service
/// already uses, on a small runtime owned by the client.
#[derive(Debug)]
struct ReqwestOnOwnRuntime {
    client: reqwest::Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl ReqwestOnOwnRuntime {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("otlp-export")
            .build()
            .map_err(|e| format!("cannot start the OTLP export runtime: {e}"))?;
        let client = reqwest::Client::builder()
            .user_agent(crate::charts::fetch::USER_AGENT)
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
        Ok(Self {
            client,
            runtime: Arc::new(runtime),
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestOnOwnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let client = self.client.clone();
        let runtime = Arc::clone(&self.runtime);
        // Blocking here is what the batch thread expects of an exporter.
        let (status, headers, body) = runtime.block_on(async move {
            let mut answer = client.execute(request).await?;
            let status = answer.status();
            let headers = answer.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((status, headers, body))
        })?;
        let mut response = Response::builder().status(status.as_u16());
        if let Some(h) = response.headers_mut() {
            for (name, value) in &headers {
                h.append(name, value.clone());
            }
        }
        Ok(response.body(Bytes::from(body))?)
    }
}

/// The ids of the current span as (trace id, span id) in lowercase hex,
/// when spans are exported; `None` otherwise.
pub fn current_ids() -> Option<(String, String)> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// Makes `span` continue the trace `trace_id` (32 hex digits) under the
/// span `parent_span` (16 hex digits) of another process. Without a parent
/// (a receiver that does not export), a span id derived from the trace id
/// stands in, so the job still lands in the trace its logs name. Does
/// nothing when spans are not exported or the ids are not OpenTelemetry's.
pub fn continue_trace(span: &tracing::Span, trace_id: &str, parent_span: Option<&str>) {
    let Ok(trace) = TraceId::from_hex(trace_id) else {
        return;
    };
    if trace == TraceId::INVALID {
        return;
    }
    let parent = parent_span
        .and_then(|p| SpanId::from_hex(p).ok())
        .filter(|p| *p != SpanId::INVALID)
        .unwrap_or_else(|| stand_in_parent(trace));
    let remote = SpanContext::new(trace, parent, TraceFlags::SAMPLED, true, TraceState::NONE);
    // An error only says spans are not exported here.
    let _ = span.set_parent(Context::new().with_remote_span_context(remote));
}

fn stand_in_parent(trace: TraceId) -> SpanId {
    let bytes = trace.to_bytes();
    let mut half = [0u8; 8];
    half.copy_from_slice(&bytes[8..]);
    let id = SpanId::from_bytes(half);
    if id == SpanId::INVALID {
        SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1])
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_url_follows_the_otlp_endpoint_rules() {
        let cases = [
            ("http://tempo:4318", Ok("http://tempo:4318/v1/traces")),
            ("http://tempo:4318/", Ok("http://tempo:4318/v1/traces")),
            (
                "https://otlp.example/otlp",
                Ok("https://otlp.example/otlp/v1/traces"),
            ),
            ("http://c:4318/v1/traces", Ok("http://c:4318/v1/traces")),
            ("tempo:4318", Err("must start with http")),
            ("ftp://c/x", Err("`ftp://c/x` must start with http")),
            ("not a url", Err("is not a URL")),
            ("http://user:pw@c:4318", Err("must not hold credentials")),
        ];
        for (input, want) in cases {
            match (traces_url(input), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{input}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{input}: {got}"),
                (got, w) => panic!("{input}: got {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn a_stand_in_parent_is_valid_and_stable() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(stand_in_parent(t), stand_in_parent(t));
        assert_eq!(stand_in_parent(t).to_string(), "a3ce929d0e0e4736");
        let zero_tail = TraceId::from_hex("4bf92f3577b34da60000000000000000").unwrap();
        assert_ne!(stand_in_parent(zero_tail), SpanId::INVALID);
    }
}
