//! Optional trace export over OTLP/HTTP (protobuf): a span per request (the request span
//! of `request::observe`, named for its route) and one per database statement, under the
//! caller's trace when the request carries a W3C `traceparent`. Off unless an endpoint is
//! configured; when off, a statement costs one atomic load here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::request::Transport;

/// Set once the exporter is installed: statements make spans only then.
static EXPORTING: AtomicBool = AtomicBool::new(false);
static TRACER: std::sync::OnceLock<SdkTracer> = std::sync::OnceLock::new();

const SCOPE: &str = "orgd";

/// Spans go to `{endpoint}/v1/traces`, as OTLP's `OTEL_EXPORTER_OTLP_ENDPOINT` means it.
pub fn provider(endpoint: &str) -> Result<SdkTracerProvider, crate::server::BoxError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("orgd")
                .build(),
        )
        .build();
    let _ = TRACER.set(provider.tracer(SCOPE));
    EXPORTING.store(true, Ordering::Release);
    Ok(provider)
}

/// The tracer the request spans are exported through.
pub fn tracer() -> Option<SdkTracer> {
    TRACER.get().cloned()
}

pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Acquire)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the trace the client named in `traceparent` (and `tracestate`);
/// a missing or malformed header leaves it the root of a new trace.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !exporting() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// A span for one statement that has just run, under the current request's span: its
/// start is back-dated by `elapsed`, as the statement is timed where it runs.
pub fn statement(system: &'static str, sql: &str, elapsed: Duration, failed: bool) {
    if !exporting() {
        return;
    }
    let Some(tracer) = TRACER.get() else { return };
    let parent: Context = tracing::Span::current().context();
    let end = SystemTime::now();
    let name = sql
        .split_whitespace()
        .next()
        .unwrap_or("statement")
        .to_uppercase();
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(end - elapsed)
        .with_attributes([
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.query.text", sql.to_string()),
        ])
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// Names the request's span for its route and notes its outcome: an error status for a
/// 5xx, or for a failed RPC.
pub fn finish_request(
    span: &tracing::Span,
    route: &str,
    transport: Transport,
    http_status: u16,
    status: &str,
) {
    // By now the span has started (its statements' spans hang under it), and
    // tracing-opentelemetry no longer applies `otel.name`: rename it directly.
    span.context().span().update_name(route.to_string());
    span.set_attribute("http.response.status_code", i64::from(http_status));
    let failed = match transport {
        Transport::Rest => http_status >= 500,
        _ => {
            span.set_attribute("rpc.grpc.status_code", status.to_string());
            status != "OK"
        }
    };
    if failed {
        span.set_status(Status::error(status.to_string()));
    }
}
