//! The Connect protocol (connectrpc.com/docs/protocol) on the port that serves gRPC,
//! gRPC-Web and REST. Like the REST transcoder, and like connectrpc's Vanguard, it turns each
//! Connect call into a gRPC call to the services in-process, so that whatever wraps them
//! (admission, limits, the codec's bounds, status metrics) applies to Connect unchanged, and
//! the layers around the whole application (request ids, metrics, load shedding, auth,
//! CORS) see a Connect request as they see any other.
//!
//! What a call looks like on the wire decides who takes it: `POST /pkg.Service/Method` with
//! `application/json` or `application/proto` is a unary Connect call ([`unary`]), the same
//! path with `GET` and the message in the query a unary call of a method marked
//! `NO_SIDE_EFFECTS` ([`get`]), `application/connect+json|proto` a streaming one
//! ([`stream`]). Everything else (`application/grpc*`, REST paths) goes on to the next
//! service untouched.
//!
//! Generic: it knows the descriptor pool, HTTP and the in-process gRPC router, nothing of
//! the services behind them.

pub mod compress;
pub mod error;
mod get;
mod stream;
mod unary;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor, Value};

use error::ConnectError;

/// The only version of the protocol there is; `connect-protocol-version` must name it.
const PROTOCOL_VERSION: &str = "1";
/// connect-timeout-ms is at most 10 digits.
const MAX_TIMEOUT_MS: u64 = 9_999_999_999;
/// `MethodOptions.IdempotencyLevel.NO_SIDE_EFFECTS`.
const NO_SIDE_EFFECTS: i32 = 1;

/// Request headers that describe the Connect call itself, or the hop, rather than being the
/// caller's metadata: not passed on to the RPC.
const PROTOCOL_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "accept-encoding",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "te",
    "trailer",
    "host",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

/// Response headers of the RPC that are gRPC's framing, not the handler's metadata.
const GRPC_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "te",
    "trailer",
    "transfer-encoding",
];

/// What a server gives the Connect handler besides its services.
#[derive(Clone, Debug)]
pub struct Options {
    /// The largest request message, after decompression (the gRPC services' own limit).
    pub max_request_bytes: usize,
    /// `Cache-Control` of a successful GET response.
    pub get_cache_control: HeaderValue,
}

#[derive(Clone)]
pub struct Connect {
    inner: Arc<Inner>,
}

struct Inner {
    /// The services' descriptors, and those of the error details (`google.rpc.*`) for the
    /// `debug` of each detail.
    pool: DescriptorPool,
    procedures: HashMap<String, Procedure>,
    services: HashSet<String>,
    grpc: axum::Router,
    options: Options,
}

#[derive(Clone, Debug)]
struct Procedure {
    method: MethodDescriptor,
    no_side_effects: bool,
    /// `/pkg.Service/Method`, parsed once rather than on every call.
    grpc_uri: http::Uri,
}

impl Procedure {
    fn streaming(&self) -> bool {
        self.method.is_client_streaming() || self.method.is_server_streaming()
    }

    fn input(&self) -> MessageDescriptor {
        self.method.input()
    }

    fn output(&self) -> MessageDescriptor {
        self.method.output()
    }
}

/// The message codec a call names in its content type or `encoding` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Json,
    Proto,
}

impl Codec {
    fn unary_content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Codec::Json => "application/json",
            Codec::Proto => "application/proto",
        })
    }

    fn stream_content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Codec::Json => "application/connect+json",
            Codec::Proto => "application/connect+proto",
        })
    }
}

/// How a request is to be served.
enum Call {
    Unary(Procedure, Codec),
    Get(Procedure),
    Stream(Procedure, Codec),
    /// A Connect request the protocol refuses before any RPC (unknown method, wrong media
    /// type or HTTP method).
    Refused(Response),
}

impl Connect {
    /// Serves every method of every service in `services`; `details` adds the message
    /// types error details are written in.
    pub fn new(
        services: &DescriptorPool,
        details: &[&[u8]],
        grpc: axum::Router,
        options: Options,
    ) -> Connect {
        let mut pool = services.clone();
        for set in details {
            pool.decode_file_descriptor_set(*set)
                .expect("an encoded file descriptor set");
        }
        let mut procedures = HashMap::new();
        let mut names = HashSet::new();
        for service in pool.services() {
            names.insert(service.full_name().to_string());
            for method in service.methods() {
                let no_side_effects = matches!(
                    method
                        .options()
                        .get_field_by_name("idempotency_level")
                        .as_deref(),
                    Some(Value::EnumNumber(NO_SIDE_EFFECTS))
                );
                let path = format!("/{}/{}", service.full_name(), method.name());
                let grpc_uri = path.parse().expect("a procedure path is a valid URI");
                procedures.insert(
                    path,
                    Procedure {
                        method,
                        no_side_effects,
                        grpc_uri,
                    },
                );
            }
        }
        Connect {
            inner: Arc::new(Inner {
                pool,
                procedures,
                services: names,
                grpc,
                options,
            }),
        }
    }

    /// Every procedure path served, `/pkg.Service/Method`, with whether GET may call it.
    pub fn procedures(&self) -> impl Iterator<Item = (&str, bool)> {
        self.inner
            .procedures
            .iter()
            .map(|(path, p)| (path.as_str(), p.no_side_effects))
    }

    fn classify(&self, req: &Request) -> Option<Call> {
        let path = req.uri().path();
        let procedure = self.inner.procedures.get(path);
        // Compared without lowering it into a new string: this runs on every request.
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim());
        let is = |t: &str, name: &str| t.eq_ignore_ascii_case(name);
        let codec = match content_type {
            Some(t)
                if t.len() >= 16
                    && t.as_bytes()[..16].eq_ignore_ascii_case(b"application/grpc") =>
            {
                return None;
            }
            Some(t) if is(t, "application/json") => Some((Codec::Json, false)),
            Some(t) if is(t, "application/proto") => Some((Codec::Proto, false)),
            Some(t) if is(t, "application/connect+json") => Some((Codec::Json, true)),
            Some(t) if is(t, "application/connect+proto") => Some((Codec::Proto, true)),
            _ => None,
        };
        let Some(procedure) = procedure else {
            // An unknown method of a known service, asked in Connect's terms.
            let service = path
                .strip_prefix('/')
                .and_then(|p| p.rsplit_once('/'))
                .map(|(s, _)| s);
            let connect_get = *req.method() == Method::GET
                && req.uri().query().is_some_and(|q| q.contains("encoding="));
            if service.is_some_and(|s| self.inner.services.contains(s))
                && (codec.is_some() || connect_get)
            {
                let mut response =
                    ConnectError::new(tonic::Code::Unimplemented, format!("no procedure {path}"))
                        .into_response(&self.inner.pool);
                *response.status_mut() = StatusCode::NOT_FOUND;
                return Some(Call::Refused(response));
            }
            return None;
        };
        let procedure = procedure.clone();
        match (req.method().clone(), codec) {
            (Method::GET, _) if content_type.is_none() || codec.is_some() => {
                if procedure.no_side_effects && !procedure.streaming() {
                    Some(Call::Get(procedure))
                } else {
                    Some(Call::Refused(refused(
                        StatusCode::METHOD_NOT_ALLOWED,
                        &self.inner.pool,
                        format!("{path} has side effects: call it with POST"),
                        (header::ALLOW, "POST"),
                    )))
                }
            }
            (Method::POST, Some((codec, false))) if !procedure.streaming() => {
                Some(Call::Unary(procedure, codec))
            }
            (Method::POST, Some((codec, true))) if procedure.streaming() => {
                Some(Call::Stream(procedure, codec))
            }
            (Method::POST, _) => {
                let accepted = if procedure.streaming() {
                    "application/connect+json, application/connect+proto, application/grpc, application/grpc-web"
                } else {
                    "application/json, application/proto, application/grpc, application/grpc-web"
                };
                Some(Call::Refused(refused(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &self.inner.pool,
                    format!(
                        "{path} takes {accepted}, not {:?}",
                        content_type.unwrap_or_default()
                    ),
                    (HeaderName::from_static("accept-post"), accepted),
                )))
            }
            (_, Some(_)) => Some(Call::Refused(refused(
                StatusCode::METHOD_NOT_ALLOWED,
                &self.inner.pool,
                format!(
                    "{path} takes POST{}",
                    if procedure.no_side_effects {
                        " or GET"
                    } else {
                        ""
                    }
                ),
                (
                    header::ALLOW,
                    if procedure.no_side_effects {
                        "GET, POST"
                    } else {
                        "POST"
                    },
                ),
            ))),
            _ => None,
        }
    }
}

fn refused(
    status: StatusCode,
    pool: &DescriptorPool,
    message: String,
    (name, value): (HeaderName, &'static str),
) -> Response {
    let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        tonic::Code::InvalidArgument
    } else {
        tonic::Code::Unimplemented
    };
    let mut response = ConnectError::new(code, message).into_response(pool);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
    response
}

/// The middleware: a Connect request is served here, anything else by `next`. Sits inside
/// the authentication layer, whose verdict the RPC reads from the extensions.
pub async fn serve(State(connect): State<Connect>, req: Request, next: Next) -> Response {
    match connect.classify(&req) {
        None => next.run(req).await,
        Some(Call::Refused(response)) => response,
        Some(Call::Unary(procedure, codec)) => unary::serve(&connect, procedure, codec, req).await,
        Some(Call::Get(procedure)) => get::serve(&connect, procedure, req).await,
        Some(Call::Stream(procedure, codec)) => {
            stream::serve(&connect, procedure, codec, req).await
        }
    }
}

impl Connect {
    /// `error` as the Connect call `req` is answered, for a layer outside [`serve`] that
    /// refuses a request before it is routed (the URI bound); None when `req` is no Connect
    /// call. The same test of what is a Connect call as [`serve`]'s.
    pub fn refusal(&self, req: &Request, error: ConnectError) -> Option<Response> {
        Some(match self.classify(req)? {
            Call::Stream(_, codec) => {
                stream::ended(codec, self.pool(), Some(&error), &HeaderMap::new())
            }
            Call::Unary(..) | Call::Get(_) | Call::Refused(_) => error.into_response(self.pool()),
        })
    }
}

/// `connect-protocol-version`, when sent, names version 1.
fn check_version(headers: &HeaderMap) -> Result<(), ConnectError> {
    match headers.get("connect-protocol-version") {
        None => Ok(()),
        Some(v) if v == PROTOCOL_VERSION => Ok(()),
        Some(v) => Err(ConnectError::invalid(format!(
            "connect-protocol-version must be {PROTOCOL_VERSION}, not {:?}",
            String::from_utf8_lossy(v.as_bytes())
        ))),
    }
}

/// `connect-timeout-ms`: at most 10 digits, nothing else.
fn timeout(headers: &HeaderMap) -> Result<Option<Duration>, ConnectError> {
    let Some(value) = headers.get("connect-timeout-ms") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    match text.parse::<u64>() {
        Ok(ms)
            if !text.is_empty()
                && text.len() <= 10
                && text.bytes().all(|b| b.is_ascii_digit())
                && ms <= MAX_TIMEOUT_MS =>
        {
            Ok(Some(Duration::from_millis(ms)))
        }
        _ => Err(ConnectError::invalid(format!(
            "connect-timeout-ms must be a positive integer of at most 10 digits, not {text:?}"
        ))),
    }
}

fn deadline_exceeded() -> ConnectError {
    ConnectError::new(
        tonic::Code::DeadlineExceeded,
        "the call did not finish within connect-timeout-ms",
    )
}

/// The in-process gRPC request for `procedure`: the caller's headers as metadata, the
/// extensions (the caller's identity, the request's observers) carried over, and the
/// origin the client called for the links the response holds.
fn grpc_request(
    procedure: &Procedure,
    parts: http::request::Parts,
    timeout: Option<Duration>,
    body: Body,
) -> http::Request<Body> {
    let mut inner = http::Request::new(body);
    *inner.method_mut() = Method::POST;
    *inner.uri_mut() = procedure.grpc_uri.clone();
    *inner.version_mut() = Version::HTTP_2;
    // Sized once: the caller's metadata and the three headers gRPC adds.
    let mut headers = HeaderMap::with_capacity(parts.headers.len() + 3);
    for (name, value) in &parts.headers {
        if !PROTOCOL_HEADERS.contains(&name.as_str()) {
            headers.append(name, value.clone());
        }
    }
    *inner.headers_mut() = headers;
    let headers = inner.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(t) = timeout
        && let Ok(v) = HeaderValue::from_str(&format!("{}m", t.as_millis().min(99_999_999)))
    {
        headers.insert("grpc-timeout", v);
    }
    let context = crate::RequestContext::connect(&parts);
    *inner.extensions_mut() = parts.extensions;
    inner.extensions_mut().insert(context);
    inner
}

/// The status an RPC ended with: in its trailers, or in its head when it answered with
/// trailers only. Success is read off `grpc-status` alone: tonic's parser copies the whole
/// map to keep the rest as metadata, which a successful call never needs.
fn rpc_status(trailers: &HeaderMap, head: &HeaderMap) -> tonic::Status {
    if trailers.get("grpc-status").is_some_and(|v| v == "0") {
        return tonic::Status::ok("");
    }
    tonic::Status::from_header_map(trailers)
        .or_else(|| tonic::Status::from_header_map(head))
        .unwrap_or_else(|| tonic::Status::internal("the RPC ended without a status"))
}

/// The handler's metadata among an RPC's response headers or trailers.
fn metadata(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| !GRPC_RESPONSE_HEADERS.contains(&name.as_str()))
}

impl Connect {
    fn pool(&self) -> &DescriptorPool {
        &self.inner.pool
    }

    async fn call(&self, request: http::Request<Body>) -> http::Response<Body> {
        use tower::ServiceExt;
        self.inner
            .grpc
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {})
    }
}
