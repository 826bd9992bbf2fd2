//! Log output: text for people, or one JSON object per line for a log pipeline. Logs go to
//! stderr (stdout carries the CLI's JSON answers), coloured only when stderr is a terminal.

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::request::ACCESS_LOG_TARGET;
use crate::server::BoxError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const DEFAULT_FILTER: &str = "info,sea_orm_migration=warn,sqlx=warn";

/// Installs the process's subscriber: `ORGD_LOG` (a tracing filter) or the default, with
/// the access log turned off unless `access_log`; and, given an OTLP endpoint, the trace
/// exporter, returned so that its last spans can be flushed at exit.
pub fn init(
    format: LogFormat,
    access_log: bool,
    otlp_endpoint: Option<&str>,
) -> Result<Option<SdkTracerProvider>, BoxError> {
    let mut filter =
        EnvFilter::try_from_env("ORGD_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    if !access_log {
        filter = filter.add_directive(
            format!("{ACCESS_LOG_TARGET}=off")
                .parse()
                .expect("a valid directive"),
        );
    }
    // One global filter, not a filter per layer: tracing-subscriber's per-layer filters
    // lose the next event on a thread after a `log` record that was checked and then not
    // logged (sqlx's PostgreSQL notices), and the ready line went missing so.
    type Filtered = tracing_subscriber::layer::Layered<EnvFilter, Registry>;
    let output = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let output: Box<dyn Layer<Filtered> + Send + Sync> = match format {
        LogFormat::Text => output.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => output
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .boxed(),
    };
    let provider = otlp_endpoint
        .filter(|e| !e.trim().is_empty())
        .map(super::traces::provider)
        .transpose()?;
    // Whatever passes ORGD_LOG is exported: the request spans always (they are at error
    // level), the events inside them as span events.
    let export = super::traces::tracer()
        .filter(|_| provider.is_some())
        .map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(export)
        .init();
    Ok(provider)
}

/// One JSON object per event: `timestamp`, `level`, `target`, the fields of every span
/// the event is in (the request's `request_id`, `transport`, ...) and the event's own
/// fields (`message`, and for the access log `route`, `status`, `latency_ms`, ...), all at
/// the top level, so a pipeline needs no knowledge of spans to filter by request.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                // JsonFields keeps a span's fields as the text of a JSON object.
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str(fields.as_str())
                {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
