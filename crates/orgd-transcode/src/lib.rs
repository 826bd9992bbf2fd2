//! The generic REST transcoder: routes come from the `google.api.http` annotations in the
//! descriptor pool; each request's path variables, query and body are merged into the RPC's
//! request message, the tonic service is called in-process, and the response (or error) is
//! written in the JSON of the binding's REST surface. No endpoint has code of its own.
//!
//! The crate knows protobuf descriptors, `google.api.http`, HTTP, JSON and OpenAPI, and
//! nothing of the app it serves: what the app decides comes in through [`Dialect`] (each
//! surface's conventions), [`Host`] (its run-time and documentation decisions) and
//! [`Options`] (its annotations, limits and aliases).

pub mod binding;
pub mod connect;
pub mod dialect;
pub mod framing;
pub mod host;
pub mod json;
pub mod openapi;
pub mod refusal;
pub mod sse;
pub mod status;
pub mod wire_json;
pub mod wkt;

pub use dialect::{Dialect, Issue, RequestPart, RestError};
pub use host::{
    Admission, Annotations, FieldSchema, Host, Options, RequestContext, Required, Violation,
};
pub use json::FieldNaming;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes};
use http::{HeaderValue, Method, StatusCode, Version, header};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value};
use tonic::Code;
use tonic_types::StatusExt;
use tower::ServiceExt;

use binding::{Binding, BodyTarget};
use json::PathSegment;

/// The template of the REST binding that served a response (`GET /api/v1/organization/{id}`),
/// set as a response extension: the route label of metrics and logs, never the raw path.
#[derive(Clone, Debug)]
pub struct RouteTemplate(pub Arc<str>);

pub struct Transcoder<D> {
    inner: Arc<Inner<D>>,
}

impl<D> Clone for Transcoder<D> {
    fn clone(&self) -> Self {
        Transcoder {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<D> {
    routes: HashMap<Method, matchit::Router<usize>>,
    bindings: Vec<Binding<D>>,
    /// Each surface's path prefix (`/api/v1`, ...) and dialect, longest first.
    surfaces: Vec<(String, D)>,
    /// The gRPC services, called in-process.
    grpc: axum::Router,
    /// The most bytes of JSON one response may have.
    max_response_bytes: usize,
    host: Arc<dyn Host>,
}

impl<D: Dialect> Transcoder<D> {
    pub fn new(
        pool: &DescriptorPool,
        grpc: axum::Router,
        options: &Options,
        host: Arc<dyn Host>,
    ) -> Transcoder<D> {
        let annotated = binding::bindings::<D>(pool, options);
        let mut surfaces = surfaces(&annotated);
        let mut bindings = annotated.clone();
        for (prefix, alias) in &options.aliases {
            bindings.extend(annotated.iter().filter_map(|b| aliased(b, prefix, alias)));
            let more: Vec<(String, D)> = surfaces
                .iter()
                .filter_map(|(p, d)| {
                    let rest = format!("{p}/").strip_prefix(prefix.as_str())?.to_string();
                    Some((
                        format!("{alias}{rest}").trim_end_matches('/').to_string(),
                        *d,
                    ))
                })
                .collect();
            surfaces.extend(more);
        }
        surfaces.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let mut routes: HashMap<Method, matchit::Router<usize>> = HashMap::new();
        for (i, b) in bindings.iter().enumerate() {
            routes
                .entry(b.http_method.clone())
                .or_default()
                .insert(b.route.clone(), i)
                .unwrap_or_else(|e| panic!("{}: route {}: {e}", b.grpc_path, b.route));
        }
        Transcoder {
            inner: Arc::new(Inner {
                routes,
                bindings,
                surfaces,
                grpc,
                max_response_bytes: options.max_response_bytes,
                host,
            }),
        }
    }

    pub async fn handle(self, req: Request) -> Response {
        let path = req.uri().path();
        // Trailing slashes are optional on every surface.
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let found = self
            .inner
            .routes
            .get(req.method())
            .and_then(|r| r.at(path).ok())
            .map(|m| {
                let vars: Vec<(usize, String)> = m
                    .params
                    .iter()
                    .filter_map(|(k, v)| Some((k[1..].parse().ok()?, percent_decode(v))))
                    .collect();
                (*m.value, vars)
            });
        let Some((index, vars)) = found else {
            return self.not_routed(req.method(), path);
        };
        if self.another_method_is_more_specific(req.method(), path, index) {
            return self.not_routed(req.method(), path);
        }
        let binding = &self.inner.bindings[index];
        // The surface's response-format parameter (giosg's `?format=json`) is settled
        // before anything else, as the published API negotiates it.
        if let Err(e) = dialect::check_format(binding.dialect, req.uri().query()) {
            return dialect::render(binding.dialect, &e);
        }
        let mut response = match self.call(binding, vars, req).await {
            Ok(response) => response,
            Err(e) => dialect::render(binding.dialect, &e),
        };
        response
            .extensions_mut()
            .insert(RouteTemplate(binding.template.clone()));
        response
    }

    /// Whether another method has a route for `path` with more literal segments than the
    /// one matched (`PUT .../owner/invitations` matched `PUT .../owner/{user_id}` while
    /// GET and POST have `.../owner/invitations` itself): the path names that resource, so
    /// the method is not allowed on it, rather than its last segment being a bad id.
    fn another_method_is_more_specific(&self, method: &Method, path: &str, index: usize) -> bool {
        let ours = literal_segments(&self.inner.bindings[index].route);
        self.inner.routes.iter().any(|(m, r)| {
            m != method
                && r.at(path).is_ok_and(|found| {
                    literal_segments(&self.inner.bindings[*found.value].route) > ours
                })
        })
    }

    /// 405 with `allow` when the path exists for another method, else 404: in the error
    /// body of the surface whose prefix the path is under, plain text elsewhere.
    fn not_routed(&self, method: &Method, path: &str) -> Response {
        // Methods whose route for the path is the most specific one (see above).
        let matches: Vec<(&Method, usize)> = self
            .inner
            .routes
            .iter()
            .filter(|(m, _)| *m != method)
            .filter_map(|(m, r)| {
                let found = r.at(path).ok()?;
                Some((
                    m,
                    literal_segments(&self.inner.bindings[*found.value].route),
                ))
            })
            .collect();
        let most = matches.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let mut allowed: Vec<&str> = matches
            .iter()
            .filter(|(_, n)| *n == most)
            .map(|(m, _)| m.as_str())
            .collect();
        allowed.sort_unstable();
        let surface = self
            .inner
            .surfaces
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, dialect)| *dialect);
        let mut response = match (surface, allowed.is_empty()) {
            (Some(dialect), true) => dialect::render(
                dialect,
                &RestError::new(
                    Code::NotFound,
                    "NOT_FOUND",
                    format!("no operation at {path}"),
                ),
            ),
            (Some(dialect), false) => {
                let mut e = RestError::new(
                    Code::Unimplemented,
                    "METHOD_NOT_ALLOWED",
                    format!(
                        "{method} is not allowed on {path}; allowed: {}",
                        allowed.join(", ")
                    ),
                );
                e.status = Some(StatusCode::METHOD_NOT_ALLOWED);
                dialect::render(dialect, &e)
            }
            (None, true) => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
            (None, false) => {
                (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response()
            }
        };
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", "))
            && !allowed.is_empty()
        {
            response.headers_mut().insert(header::ALLOW, v);
        }
        response
    }

    async fn call(
        &self,
        binding: &Binding<D>,
        vars: Vec<(usize, String)>,
        req: Request,
    ) -> Result<Response, RestError> {
        let host = &*self.inner.host;
        let (mut parts, body) = req.into_parts();
        // Held through the RPC and the JSON, while the response is built.
        let admission = host.admit(&binding.grpc_path, &mut parts.extensions).await;
        let limit = binding.max_body_bytes;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            let mut e = RestError::new(
                Code::InvalidArgument,
                dialect::PAYLOAD_TOO_LARGE,
                format!("the request body exceeds {limit} bytes"),
            );
            e.status = Some(StatusCode::PAYLOAD_TOO_LARGE);
            e
        })?;
        let message = match request_message(binding, &vars, &parts.uri, &parts.headers, &bytes)
            .and_then(|m| within_bounds(host, binding, m))
        {
            Ok(m) => m,
            // Who is calling is checked before what they sent (401 before 400/422).
            Err(_) if !binding.public && !host.authenticated(&parts.extensions) => {
                return Err(RestError::new(
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    host.unauthenticated_message(),
                ));
            }
            Err(e) => return Err(e),
        };

        let mut frame = Vec::with_capacity(5 + message.encoded_len());
        frame.put_u8(0);
        frame.put_u32(message.encoded_len() as u32);
        message.encode(&mut frame).expect("Vec grows");
        let mut inner = http::Request::new(Body::from(frame));
        *inner.method_mut() = Method::POST;
        *inner.uri_mut() = binding.grpc_path.parse().expect("gRPC path is a valid URI");
        *inner.version_mut() = Version::HTTP_2;
        // The client's headers become gRPC metadata (auth, MyCreditApp's organization
        // headers); the resolved principal travels in the extensions.
        for (name, value) in &parts.headers {
            if !matches!(
                name.as_str(),
                "content-type"
                    | "content-length"
                    | "transfer-encoding"
                    | "connection"
                    | "te"
                    | "host"
                    | "accept-encoding"
                    | "grpc-timeout"
                    | "grpc-encoding"
                    // The response is decoded here, so it must come uncompressed.
                    | "grpc-accept-encoding"
            ) {
                inner.headers_mut().append(name, value.clone());
            }
        }
        let context = RequestContext::rest(&parts);
        let headers = inner.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        *inner.extensions_mut() = parts.extensions;
        inner.extensions_mut().insert(context);

        let response = self
            .inner
            .grpc
            .clone()
            .oneshot(inner)
            .await
            .unwrap_or_else(|never| match never {});
        let (head, body) = response.into_parts();
        if let Some(spec) = &binding.stream {
            // A stream holds no admission: it lives as long as its client listens.
            drop(admission);
            if let Some(status) = tonic::Status::from_header_map(&head.headers)
                && status.code() != Code::Ok
            {
                return Err(status_error(host, binding, &status));
            }
            let (inner_host, b) = (self.inner.host.clone(), binding.clone());
            let error_json: sse::ErrorJson = Box::new(move |status| {
                let e = status_error(&*inner_host, &b, status);
                let code = e.status.unwrap_or_else(|| b.dialect.http_status(e.code));
                b.dialect.error_body(&e, code).to_string().into_bytes()
            });
            return Ok(sse::respond(
                head,
                body,
                binding.method.output(),
                binding.dialect.naming(),
                spec.clone(),
                error_json,
            ));
        }
        let collected = body.collect().await.map_err(|e| {
            RestError::new(
                Code::Internal,
                "INTERNAL",
                format!("reading the RPC response: {e}"),
            )
        })?;
        let status = collected
            .trailers()
            .and_then(tonic::Status::from_header_map)
            .or_else(|| tonic::Status::from_header_map(&head.headers))
            .unwrap_or_else(|| tonic::Status::internal("the RPC ended without a status"));
        if status.code() != Code::Ok {
            return Err(status_error(host, binding, &status));
        }
        let data = collected.to_bytes();
        let payload = frame_payload(&data)?;
        // JSON is about as long as the protobuf plus the field names: reserved once rather
        // than grown by doubling, which copies a large list over and over.
        let estimate = (data.len() + data.len() / 4).min(self.inner.max_response_bytes) + 512;
        let max = self.inner.max_response_bytes;
        let mut out = Vec::with_capacity(estimate);
        let direct = if binding.created_when.is_none() && !binding.raw_response {
            direct_json(binding, payload, max, &mut out)
        } else {
            Err(wire_json::Unusual)
        };
        let success = match direct {
            Ok(()) => binding.success,
            Err(wire_json::Unusual) => {
                out.clear();
                match general_json(binding, payload, max, &mut out)? {
                    General::Json(success) => success,
                    General::Raw(response) => return Ok(response),
                }
            }
        };
        drop(data);
        // JSON spells out what protobuf numbers, so a response within the RPC's budget can
        // still be over it here; it is refused whole as well.
        if json::within(&out, max).is_err() {
            drop(out);
            return Err(status_error(host, binding, &host.response_too_large(max)));
        }
        if out.is_empty() {
            return Ok(success.into_response());
        }
        drop(admission);
        Ok(dialect::json_response(success, out))
    }
}

/// Writes a `google.api.HttpBody` as its bytes under its own content type.
fn raw_response<D>(binding: &Binding<D>, output: &DynamicMessage) -> Response {
    let body = match &binding.response_body {
        Some(field) => output
            .get_field(field)
            .as_message()
            .cloned()
            .unwrap_or_else(|| {
                DynamicMessage::new(
                    field
                        .kind()
                        .as_message()
                        .expect("checked at start-up")
                        .clone(),
                )
            }),
        None => output.clone(),
    };
    let content_type = body
        .get_field_by_name("content_type")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let data = body
        .get_field_by_name("data")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    let mut response = (binding.success, data).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // The bytes are what the RPC says they are: a browser must not guess another type (an
    // uploaded image read as HTML or script).
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The path prefix of each dialect's surface: the leading literal segments that all of its
/// routes share (`/api/v1`, `/api/v5`, `/v1`), so that a client mistyping a path under it
/// gets an error body it can parse. A dialect whose routes share no segment has no prefix.
/// The segments of a matchit route that are not variables.
fn literal_segments(route: &str) -> usize {
    route.split('/').filter(|s| !s.starts_with('{')).count()
}

/// A dialect may serve several versions of its API (giosg's `/api/v5` and
/// `/api/v3/network`): routes are grouped by the path up to their first version segment
/// (`v` and digits), and each group has its own prefix.
fn surfaces<D: Dialect>(bindings: &[Binding<D>]) -> Vec<(String, D)> {
    let is_version = |s: &str| {
        s.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut common: Vec<(D, Vec<&str>, Vec<&str>)> = Vec::new();
    for b in bindings {
        let literal: Vec<&str> = b
            .route
            .split('/')
            .skip(1)
            .take_while(|s| !s.starts_with('{'))
            .collect();
        let version: Vec<&str> = match literal.iter().position(|s| is_version(s)) {
            Some(i) => literal[..=i].to_vec(),
            None => Vec::new(),
        };
        match common
            .iter_mut()
            .find(|(d, v, _)| *d == b.dialect && *v == version)
        {
            Some((_, _, prefix)) => {
                let shared = prefix
                    .iter()
                    .zip(&literal)
                    .take_while(|(a, b)| a == b)
                    .count();
                prefix.truncate(shared);
            }
            None => common.push((b.dialect, version, literal)),
        }
    }
    let mut out: Vec<(String, D)> = common
        .into_iter()
        .filter(|(_, _, prefix)| !prefix.is_empty())
        .map(|(d, _, prefix)| (format!("/{}", prefix.join("/")), d))
        .collect();
    out.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    out
}

/// `scheme://host/path?query` of a request: the scheme from `X-Forwarded-Proto` (a proxy in
/// front) or the URI, the host from `Host` or the HTTP/2 authority.
/// The binding served under `alias` as well, when its path starts with `prefix`.
fn aliased<D: Dialect>(b: &Binding<D>, prefix: &str, alias: &str) -> Option<Binding<D>> {
    let rest = b.route.strip_prefix(prefix)?;
    let (method, template) = b.template.split_once(' ')?;
    let template_rest = template.strip_prefix(prefix)?;
    let mut out = b.clone();
    out.route = format!("{alias}{rest}");
    out.template = format!("{method} {alias}{template_rest}").into();
    Some(out)
}

/// A response without fields has no body.
fn has_no_fields<D>(binding: &Binding<D>) -> bool {
    binding.method.output().fields().len() == 0
}

/// The JSON of a response (or of its response_body field) straight from its bytes.
fn direct_json<D>(
    binding: &Binding<D>,
    payload: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), wire_json::Unusual> {
    let plan = &binding.response_json;
    match &binding.response_body {
        Some(field) => plan.write_field(field.number(), payload, max, out),
        None if has_no_fields(binding) => Ok(()),
        None => plan.write(payload, max, out),
    }
}

/// What [`general_json`] made of a response.
enum General {
    /// Its JSON is written; it succeeds with this status.
    Json(StatusCode),
    /// A `google.api.HttpBody`: the whole response.
    Raw(Response),
}

/// The JSON of a response through a `DynamicMessage`.
fn general_json<D: Dialect>(
    binding: &Binding<D>,
    payload: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<General, RestError> {
    let output = DynamicMessage::decode(binding.method.output(), payload)
        .map_err(|_| internal("undecodable RPC response"))?;
    if binding.raw_response {
        return Ok(General::Raw(raw_response(binding, &output)));
    }
    // A PUT that created what it names answers 201, one that replaced it the binding's.
    let success = match &binding.created_when {
        Some(field) if output.get_field(field).as_bool() == Some(true) => StatusCode::CREATED,
        _ => binding.success,
    };
    let naming = binding.dialect.naming();
    // Over the budget or not, `out` is checked by the caller.
    let _ = match &binding.response_body {
        Some(field) => json::encode_field_within(&output, field, naming, max, out),
        None if has_no_fields(binding) => Ok(()),
        None => json::encode_message_within(&output, naming, max, out),
    };
    Ok(General::Json(success))
}

fn internal(message: &str) -> RestError {
    RestError::new(Code::Internal, "INTERNAL", message.to_string())
}

/// The message of a gRPC response's one frame.
fn frame_payload(data: &Bytes) -> Result<&[u8], RestError> {
    if data.len() < 5 || data[0] != 0 {
        return Err(internal("malformed RPC response frame"));
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    data.get(5..5 + len)
        .ok_or_else(|| internal("truncated RPC response frame"))
}

/// Body, then query, then path variables, merged into one request message; every bad value
/// is reported at once.
fn request_message<D: Dialect>(
    binding: &Binding<D>,
    vars: &[(usize, String)],
    uri: &http::Uri,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<DynamicMessage, RestError> {
    let query = uri.query();
    let input = binding.input();
    let naming = binding.dialect.naming();
    let mut message = DynamicMessage::new(input.clone());
    let mut issues = Vec::new();

    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if has_body && form && binding.accepts_form() {
        // Read as a query string would be.
        let text = String::from_utf8_lossy(body);
        let tree = scalar_tree(
            binding,
            &input,
            &text,
            RequestPart::Body,
            &mut issues,
            false,
        );
        if !tree.is_empty() {
            let result = json::decode_into(&mut message, &Value::Object(tree));
            collect(&mut issues, RequestPart::Body, &[], result);
        }
    } else if has_body && !matches!(binding.body, BodyTarget::None) {
        match serde_json::from_slice::<Value>(body) {
            Err(e) => issues.push(Issue {
                location: RequestPart::Body,
                path: Vec::new(),
                message: format!("malformed JSON: {e}"),
                kind: "json_invalid".into(),
            }),
            Ok(json) => {
                let result = match &binding.body {
                    BodyTarget::Field(f) => json::decode_field(&mut message, f, &json),
                    _ => json::decode_into(&mut message, &json),
                };
                collect(&mut issues, RequestPart::Body, &[], result);
            }
        }
    }

    if !matches!(binding.body, BodyTarget::Whole) {
        let tree = scalar_tree(
            binding,
            &input,
            query.unwrap_or(""),
            RequestPart::Query,
            &mut issues,
            true,
        );
        if !tree.is_empty() {
            let result = json::decode_into(&mut message, &Value::Object(tree));
            collect(&mut issues, RequestPart::Query, &[], result);
        }
    }

    let mut missing_headers = Vec::new();
    for (name, field) in &binding.headers {
        let Some(value) = headers.get(name) else {
            // The RPC reports it as required; listed here only beside other bad values,
            // so that a client learns every problem at once.
            missing_headers.push(Issue {
                location: RequestPart::Header,
                path: vec![name.as_str().to_string()],
                message: "field required".into(),
                kind: "missing".into(),
            });
            continue;
        };
        let path = vec![name.as_str().to_string()];
        let converted = value
            .to_str()
            .map_err(|_| "must be visible ASCII".to_string())
            .and_then(|v| json::scalar_from_str(field, v));
        match converted {
            Ok(v) => {
                let mut tree = Map::new();
                tree.insert(field.name().to_string(), v);
                if let Err(errors) = json::decode_into(&mut message, &Value::Object(tree)) {
                    issues.extend(errors.into_iter().map(|e| Issue {
                        location: RequestPart::Header,
                        path: path.clone(),
                        message: e.message,
                        kind: e.code.to_string(),
                    }));
                }
            }
            Err(message) => issues.push(Issue {
                location: RequestPart::Header,
                path,
                message,
                kind: "invalid_format".into(),
            }),
        }
    }

    let mut bad_path = false;
    let mut tree = Map::new();
    for (index, raw) in vars {
        let fields = &binding.variables[*index];
        let names: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
        let last = fields.last().expect("non-empty path");
        match json::scalar_from_str(last, raw) {
            Ok(v) => insert_path(&mut tree, &names.join("."), false, v),
            Err(message) => {
                bad_path = true;
                issues.push(Issue {
                    location: RequestPart::Path,
                    path: client_names(fields, naming),
                    message,
                    kind: "invalid_format".into(),
                });
            }
        }
    }
    if !tree.is_empty() {
        let result = json::decode_into(&mut message, &Value::Object(tree));
        bad_path |= result.is_err();
        collect(&mut issues, RequestPart::Path, &[], result);
    }

    if issues.is_empty() {
        return Ok(message);
    }
    issues.extend(missing_headers);
    let mut e = RestError::invalid(issues);
    if bad_path {
        e.status = Some(binding.dialect.bad_path_status());
    }
    Err(e)
}

/// The app's bound on every request value ([`Host::violations`], which its gRPC codec
/// applies too), checked here as well so that an unauthenticated caller hears 401 before
/// what is wrong with the values.
fn within_bounds<D: Dialect>(
    host: &dyn Host,
    binding: &Binding<D>,
    message: DynamicMessage,
) -> Result<DynamicMessage, RestError> {
    let violations = host.violations(&message);
    if violations.is_empty() {
        return Ok(message);
    }
    Err(RestError::invalid(
        violations
            .into_iter()
            .map(|v| {
                let (location, path) = locate(binding, &v.field);
                Issue {
                    location,
                    path,
                    message: v.description,
                    kind: "value_error".into(),
                }
            })
            .collect(),
    ))
}

/// `a=1&b.c=2&a=3` as a JSON tree of converted scalars, keyed as the client wrote them.
/// Unknown keys are ignored, as the published APIs do; with `skip_bound`, fields already
/// taken from the path, body or headers are too.
fn scalar_tree<D>(
    binding: &Binding<D>,
    input: &MessageDescriptor,
    text: &str,
    location: RequestPart,
    issues: &mut Vec<Issue>,
    skip_bound: bool,
) -> Map<String, Value> {
    let mut tree = Map::new();
    for (key, value) in query_pairs(text) {
        let Some(fields) = resolve_query_key(input, &key) else {
            continue;
        };
        if skip_bound && binding.binds_top_level(&fields[0]) {
            continue;
        }
        let last = fields.last().expect("non-empty path");
        match json::scalar_from_str(last, &value) {
            Ok(v) => insert_path(&mut tree, &key, last.is_list(), v),
            Err(message) => issues.push(Issue {
                location,
                path: key.split('.').map(str::to_string).collect(),
                message,
                kind: "invalid_format".into(),
            }),
        }
    }
    tree
}

fn client_names(fields: &[prost_reflect::FieldDescriptor], naming: FieldNaming) -> Vec<String> {
    fields
        .iter()
        .map(|f| naming.name_of(f).to_string())
        .collect()
}

fn collect(
    issues: &mut Vec<Issue>,
    location: RequestPart,
    prefix: &[String],
    result: Result<(), Vec<json::FieldError>>,
) {
    if let Err(errors) = result {
        issues.extend(errors.into_iter().map(|e| {
            Issue {
                location,
                path: prefix
                    .iter()
                    .cloned()
                    .chain(e.path.into_iter().map(|s| match s {
                        PathSegment::Field(f) => f,
                        PathSegment::Index(i) => i.to_string(),
                    }))
                    .collect(),
                message: e.message,
                kind: e.code.to_string(),
            }
        }));
    }
}

/// A dotted query key (`a.b`) to its field path, by proto or JSON name.
fn resolve_query_key(
    input: &MessageDescriptor,
    key: &str,
) -> Option<Vec<prost_reflect::FieldDescriptor>> {
    match binding::walk(input, key, |m, name| {
        m.get_field_by_name(name)
            .or_else(|| m.get_field_by_json_name(name))
    }) {
        (fields, None) => Some(fields),
        _ => None,
    }
}

/// Puts `value` at the dotted `key`, keeping the client's names; repeated keys append.
fn insert_path(tree: &mut Map<String, Value>, key: &str, repeated: bool, value: Value) {
    let mut node = tree;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if repeated {
                let entry = node
                    .entry(part.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = entry {
                    list.push(value);
                }
            } else {
                node.insert(part.to_string(), value);
            }
            return;
        }
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        node = entry.as_object_mut().expect("just made an object");
    }
}

fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The status of a failed RPC in REST terms, field paths renamed as the client sent them.
fn status_error<D: Dialect>(
    host: &dyn Host,
    binding: &Binding<D>,
    status: &tonic::Status,
) -> RestError {
    let mut e = rpc_error(binding, status);
    e.status = host.http_status(status);
    e
}

fn rpc_error<D: Dialect>(binding: &Binding<D>, status: &tonic::Status) -> RestError {
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| status::code_name(status.code()).to_string());
    let violations = details
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    let retry_after = details.retry_info().and_then(|r| r.retry_delay);
    if violations.is_empty() {
        let mut e = RestError::new(status.code(), &reason, status.message());
        e.retry_after = retry_after;
        if let Some(info) = details.error_info() {
            e.metadata = info.metadata.clone().into_iter().collect();
        }
        return e;
    }
    let issues = violations
        .iter()
        .map(|v| {
            let (location, path) = locate(binding, &v.field);
            Issue {
                location,
                path,
                message: v.description.clone(),
                kind: if v.reason.is_empty() {
                    "value_error".into()
                } else {
                    v.reason.to_lowercase()
                },
            }
        })
        .collect();
    let mut e = RestError::invalid(issues);
    e.code = status.code();
    e.reason = reason;
    e
}

/// Where a proto field path of the request came from, and its name on the client's side.
fn locate<D: Dialect>(binding: &Binding<D>, field_path: &str) -> (RequestPart, Vec<String>) {
    let naming = binding.dialect.naming();
    let (fields, _) = binding::walk(&binding.input(), field_path, |m, name| {
        m.get_field_by_name(name)
    });
    // Parts past what resolves are named as the status named them.
    let mut names = client_names(&fields, naming);
    names.extend(field_path.split('.').skip(fields.len()).map(str::to_string));
    let first = fields.first();
    let is_var = first.is_some_and(|f| {
        binding
            .variables
            .iter()
            .any(|v| v.first().is_some_and(|g| g.number() == f.number()))
    });
    if is_var {
        return (RequestPart::Path, names);
    }
    if let Some(header) = first.and_then(|f| binding.header_of(f)) {
        let mut path = vec![header.as_str().to_string()];
        path.extend(names.into_iter().skip(1));
        return (RequestPart::Header, path);
    }
    match &binding.body {
        BodyTarget::Field(b) if first.is_some_and(|f| f.number() == b.number()) => {
            (RequestPart::Body, names.split_off(1))
        }
        BodyTarget::Whole => (RequestPart::Body, names),
        _ => (RequestPart::Query, names),
    }
}
