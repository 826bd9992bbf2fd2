//! What happens around every request: its id, its tracing span, its access-log line and
//! its metrics. One layer ([`observe`]) sits outside all others, so a request refused by
//! the limits is counted and logged too; a small one ([`GrpcStatus`]) sits on each gRPC
//! service, the one place that sees the status of an RPC before grpc-web encodes it
//! into the body.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, header};
use http_body::{Body as _, Frame};
use metrics::Gauge;
use prost::Message;
use tracing::{Instrument, Span};

use super::metrics::Metrics;
use super::request_id::{self, REQUEST_ID};
use super::traces;

/// The tracing target of the access log: `ORGD_LOG=orgd::access=off` (or
/// `--access-log false`) silences it alone.
pub const ACCESS_LOG_TARGET: &str = "orgd::access";

/// Paths of the operator's own tools (probes, metrics): answered and logged at debug
/// level, never counted as API traffic.
pub const OPERATIONAL_PATHS: &[&str] = &["/metrics", "/healthz", "/readyz"];

/// The route label of a request no route or RPC took: one value for every unknown path.
const UNMATCHED: &str = "unmatched";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    GrpcWeb,
    Connect,
    Rest,
}

impl Transport {
    /// Connect is told from REST by its path: a gRPC method's, with one of Connect's media
    /// types or as a GET.
    fn of(method: &Method, path: &str, headers: &HeaderMap) -> Transport {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/grpc-web") {
            Transport::GrpcWeb
        } else if content_type.starts_with("application/grpc") {
            Transport::Grpc
        } else if GRPC_METHODS.contains(path)
            && (content_type.starts_with("application/connect+")
                || content_type.starts_with("application/proto")
                || content_type.starts_with("application/json")
                || *method == Method::GET)
        {
            Transport::Connect
        } else {
            Transport::Rest
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::GrpcWeb => "grpc-web",
            Transport::Connect => "connect",
            Transport::Rest => "rest",
        }
    }
}

/// The template of the REST binding that served a response, set by the transcoder.
pub use orgd_transcode::RouteTemplate;

/// Every gRPC method served, as `/package.Service/Method`: a gRPC path is a route label
/// only if it names one of them.
static GRPC_METHODS: LazyLock<HashSet<Arc<str>>> = LazyLock::new(|| {
    let sets: [&[u8]; 4] = [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashSet::new();
    for set in sets {
        let set = prost_types::FileDescriptorSet::decode(set).expect("compiled-in descriptors");
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(Arc::from(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    )));
                }
            }
        }
    }
    methods
});

/// The status of the RPC that answered a request, once it is known; shared between
/// [`observe`] (which puts it in the request's extensions) and [`GrpcStatus`].
#[derive(Debug)]
pub struct GrpcOutcome(AtomicI32);

const NO_STATUS: i32 = -1;

impl Default for GrpcOutcome {
    fn default() -> Self {
        GrpcOutcome(AtomicI32::new(NO_STATUS))
    }
}

impl GrpcOutcome {
    fn set(&self, headers: &HeaderMap) -> bool {
        match headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok()?.parse::<i32>().ok())
        {
            Some(code) => {
                self.0.store(code, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn get(&self) -> Option<tonic::Code> {
        match self.0.load(Ordering::Relaxed) {
            NO_STATUS => None,
            code => Some(tonic::Code::from_i32(code)),
        }
    }
}

/// A gRPC code as a label, in the names gRPC's own metrics use (`OK`, `NotFound`).
fn code_label(code: tonic::Code) -> String {
    match code {
        tonic::Code::Ok => "OK".to_string(),
        other => format!("{other:?}"),
    }
}

/// State of [`observe`].
#[derive(Clone, Debug)]
pub struct Observer {
    pub metrics: Arc<Metrics>,
}

/// Names the request (id, span), times it, and counts and logs it when its response body
/// has been sent or dropped.
pub async fn observe(State(observer): State<Observer>, mut req: Request, next: Next) -> Response {
    let id = request_id::of(req.headers());
    // Passed on as the client sent it (or as made here), so the RPC a REST call turns
    // into sees the same id in its metadata.
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let transport = Transport::of(req.method(), req.uri().path(), req.headers());
    let path = req.uri().path();
    let operational = OPERATIONAL_PATHS.contains(&path);
    let grpc_route = match transport {
        Transport::Rest => None,
        _ => GRPC_METHODS.get(path).cloned(),
    };
    let matched: Option<Arc<str>> = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Arc::from(m.as_str()));
    let method = req.method().clone();
    let outcome = Arc::new(GrpcOutcome::default());
    req.extensions_mut().insert(outcome.clone());
    let request_id = id.to_str().unwrap_or_default();
    // At error level, so that the span is there whatever ORGD_LOG lets through: a warning
    // logged by a request under `ORGD_LOG=warn` still names it. (The level of a span only
    // decides whether it exists; the access line has its own, info.)
    let span = if traces::exporting() {
        // Named for its route once the response says which; a server span of the
        // client's trace when it sent a traceparent.
        let span = tracing::error_span!(
            "request",
            request_id,
            transport = transport.label(),
            otel.kind = "server",
        );
        traces::adopt_remote_parent(&span, req.headers());
        span
    } else {
        tracing::error_span!("request", request_id, transport = transport.label())
    };
    let in_flight =
        (!operational).then(|| InFlight::new(observer.metrics.in_flight(transport.label())));
    let started = Instant::now();

    let mut response = request_id::scope(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    response.headers_mut().insert(REQUEST_ID, id);
    let route = match transport {
        Transport::Rest => response
            .extensions()
            .get::<RouteTemplate>()
            .map(|t| t.0.clone())
            .or(matched),
        _ => grpc_route,
    }
    .unwrap_or_else(|| Arc::from(UNMATCHED));
    let finish = Finish {
        metrics: (!operational).then_some(observer.metrics),
        transport,
        method,
        route,
        http_status: response.status().as_u16(),
        outcome,
        started,
        _in_flight: in_flight,
    };
    response.map(|inner| {
        Body::new(Observed {
            inner,
            span,
            ended: false,
            finish: Some(finish),
        })
    })
}

/// Raises a transport's in-flight gauge for as long as it lives.
struct InFlight(Gauge);

impl InFlight {
    fn new(gauge: Gauge) -> InFlight {
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// What is recorded of a request once its response is over.
struct Finish {
    /// None for the operational paths, which are not counted.
    metrics: Option<Arc<Metrics>>,
    transport: Transport,
    method: Method,
    route: Arc<str>,
    http_status: u16,
    outcome: Arc<GrpcOutcome>,
    started: Instant,
    _in_flight: Option<InFlight>,
}

impl Finish {
    fn record(self, span: &Span, ended: bool) {
        let elapsed = self.started.elapsed();
        let status = match self.transport {
            Transport::Rest => self.http_status.to_string(),
            _ => match self.outcome.get() {
                Some(code) => code_label(code),
                // Refused by the Connect protocol before any RPC ran.
                None if self.transport == Transport::Connect => self.http_status.to_string(),
                // The body ended without trailers: a broken RPC. Dropped before its end:
                // the client went away.
                None if ended => code_label(tonic::Code::Unknown),
                None => code_label(tonic::Code::Cancelled),
            },
        };
        if let Some(metrics) = &self.metrics {
            metrics.request_finished(self.transport.label(), &self.route, &status, elapsed);
        }
        if traces::exporting() {
            traces::finish_request(span, &self.route, self.transport, self.http_status, &status);
        }
        let _entered = span.enter();
        let latency_ms = elapsed.as_secs_f64() * 1e3;
        macro_rules! access {
            ($level:expr) => {
                tracing::event!(
                    target: ACCESS_LOG_TARGET,
                    $level,
                    method = self.method.as_str(),
                    route = &*self.route,
                    status = status.as_str(),
                    http_status = self.http_status,
                    latency_ms,
                    "request"
                )
            };
        }
        if self.metrics.is_some() {
            access!(tracing::Level::INFO);
        } else {
            access!(tracing::Level::DEBUG);
        }
    }
}

/// A response body that runs in its request's span and records the request when it is
/// over: sent to its end, or dropped by a client that went away.
struct Observed {
    inner: Body,
    span: Span,
    ended: bool,
    finish: Option<Finish>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.record(&self.span, self.ended || self.inner.is_end_stream());
        }
    }
}

/// Wraps a tonic service to note the status of each RPC in the request's [`GrpcOutcome`]:
/// from the response head (an error answered at once), else from the trailers.
#[derive(Clone, Debug)]
pub struct GrpcStatus<S>(pub S);

impl<S> tonic::server::NamedService for GrpcStatus<S>
where
    S: tonic::server::NamedService,
{
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for GrpcStatus<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let outcome = req.extensions().get::<Arc<GrpcOutcome>>().cloned();
        let future = self.0.call(req);
        Box::pin(async move {
            let response = future.await?;
            let Some(outcome) = outcome else {
                return Ok(response);
            };
            if outcome.set(response.headers()) {
                return Ok(response);
            }
            Ok(response.map(|inner| tonic::body::Body::new(StatusFromTrailers { inner, outcome })))
        })
    }
}

struct StatusFromTrailers {
    inner: tonic::body::Body,
    outcome: Arc<GrpcOutcome>,
}

impl http_body::Body for StatusFromTrailers {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
        {
            this.outcome.set(trailers);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
