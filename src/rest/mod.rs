//! The generic REST transcoder: routes come from the `google.api.http` annotations in the
//! descriptor pool; each request's path variables, query and body are merged into the RPC's
//! request message, the tonic service is called in-process, and the response (or error) is
//! written in the JSON of the binding's REST surface. No endpoint has code of its own.

pub mod binding;
pub mod dialect;
pub mod json;
pub mod openapi;

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

use crate::auth::Authn;
use crate::domain::DomainError;

use binding::{Binding, BodyTarget};
use dialect::{Issue, Location, PAYLOAD_TOO_LARGE, RestError};
use json::{FieldNaming, PathSegment};

#[derive(Clone)]
pub struct Transcoder {
    inner: Arc<Inner>,
}

struct Inner {
    routes: HashMap<Method, matchit::Router<usize>>,
    bindings: Vec<Binding>,
    /// Each surface's path prefix (`/api/v1`, ...) and dialect, longest first.
    surfaces: Vec<(String, dialect::Dialect)>,
    /// The gRPC services, called in-process.
    grpc: axum::Router,
    /// The most bytes of JSON one response may have (`Config::max_response_bytes`).
    max_response_bytes: usize,
    whole_lists: crate::limits::WholeLists,
}

impl Transcoder {
    pub fn new(
        pool: &DescriptorPool,
        grpc: axum::Router,
        max_response_bytes: usize,
        whole_lists: crate::limits::WholeLists,
    ) -> Transcoder {
        let bindings = binding::bindings(pool);
        let mut routes: HashMap<Method, matchit::Router<usize>> = HashMap::new();
        for (i, b) in bindings.iter().enumerate() {
            routes
                .entry(b.http_method.clone())
                .or_default()
                .insert(b.route.clone(), i)
                .unwrap_or_else(|e| panic!("{}: route {}: {e}", b.grpc_path, b.route));
        }
        let surfaces = surfaces(&bindings);
        Transcoder {
            inner: Arc::new(Inner {
                routes,
                bindings,
                surfaces,
                grpc,
                max_response_bytes,
                whole_lists,
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
        let mut response = match self.call(binding, vars, req).await {
            Ok(response) => response,
            Err(e) => binding.dialect.render(&e),
        };
        response
            .extensions_mut()
            .insert(crate::observability::request::RouteTemplate(
                binding.template.clone(),
            ));
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
            (Some(dialect), true) => dialect.render(&RestError::new(
                Code::NotFound,
                "NOT_FOUND",
                format!("no operation at {path}"),
            )),
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
                dialect.render(&e)
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
        binding: &Binding,
        vars: Vec<(usize, String)>,
        req: Request,
    ) -> Result<Response, RestError> {
        // Held through the RPC and the JSON, while the list is built (see `limits`).
        let turn = self.inner.whole_lists.turn(&binding.grpc_path).await;
        let (parts, body) = req.into_parts();
        let limit = binding.max_body_bytes;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            RestError::new(
                Code::InvalidArgument,
                PAYLOAD_TOO_LARGE,
                format!("the request body exceeds {limit} bytes"),
            )
        })?;
        let message = match request_message(binding, &vars, &parts.uri, &parts.headers, &bytes)
            .and_then(|m| within_backstop(binding, m))
        {
            Ok(m) => m,
            // Who is calling is checked before what they sent (401 before 400/422).
            Err(_) if !binding.public && !authenticated(&parts.extensions) => {
                return Err(RestError::new(
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    DomainError::Unauthenticated.to_string(),
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
            ) {
                inner.headers_mut().append(name, value.clone());
            }
        }
        let headers = inner.headers_mut();
        // The absolute URL the client called, for links in the response (`next`); the
        // client cannot plant its own.
        headers.remove(crate::grpc::REQUEST_URL_HEADER);
        if let Some(url) = request_url(&parts)
            && let Ok(value) = HeaderValue::from_str(&url)
        {
            headers.insert(crate::grpc::REQUEST_URL_HEADER, value);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        *inner.extensions_mut() = parts.extensions;
        if turn.is_some() {
            inner.extensions_mut().insert(crate::limits::TurnHeld);
        }

        let response = self
            .inner
            .grpc
            .clone()
            .oneshot(inner)
            .await
            .unwrap_or_else(|never| match never {});
        let (head, body) = response.into_parts();
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
            return Err(status_error(binding, &status));
        }
        // An RPC may choose its success status at run time (201 created vs 200 refreshed).
        let success = head
            .headers
            .get(crate::grpc::HTTP_STATUS_HEADER)
            .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .filter(StatusCode::is_success)
            .unwrap_or(binding.success);
        let data = collected.to_bytes();
        let output = decode_frame(binding.method.output(), &data)?;
        // JSON is about as long as the protobuf plus the field names: reserved once rather
        // than grown by doubling, which copies a large list over and over.
        let estimate = (data.len() + data.len() / 4).min(self.inner.max_response_bytes) + 512;
        // The protobuf is not needed while the JSON is written.
        drop(data);
        if binding.raw_response {
            return Ok(raw_response(binding, &output));
        }
        let mut out = Vec::with_capacity(estimate);
        let naming = binding.dialect.naming();
        let max = self.inner.max_response_bytes;
        let written = match &binding.response_body {
            Some(field) => json::encode_field_within(&output, field, naming, max, &mut out),
            None if binding.method.output().fields().len() == 0 => Ok(()),
            None => json::encode_message_within(&output, naming, max, &mut out),
        };
        // JSON spells out what protobuf numbers, so a response within the RPC's budget can
        // still be over it here; it is refused whole as well.
        if written.is_err() {
            drop(out);
            return Err(status_error(
                binding,
                &crate::limits::response_too_large(max).into(),
            ));
        }
        if out.is_empty() {
            return Ok(success.into_response());
        }
        drop(turn);
        Ok(dialect::json_response(success, out))
    }
}

/// Writes a `google.api.HttpBody` as its bytes under its own content type.
fn raw_response(binding: &Binding, output: &DynamicMessage) -> Response {
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

fn surfaces(bindings: &[Binding]) -> Vec<(String, dialect::Dialect)> {
    let mut common: Vec<(dialect::Dialect, Vec<&str>)> = Vec::new();
    for b in bindings {
        let literal: Vec<&str> = b
            .route
            .split('/')
            .skip(1)
            .take_while(|s| !s.starts_with('{'))
            .collect();
        match common.iter_mut().find(|(d, _)| *d == b.dialect) {
            Some((_, prefix)) => {
                let shared = prefix
                    .iter()
                    .zip(&literal)
                    .take_while(|(a, b)| a == b)
                    .count();
                prefix.truncate(shared);
            }
            None => common.push((b.dialect, literal)),
        }
    }
    let mut out: Vec<(String, dialect::Dialect)> = common
        .into_iter()
        .filter(|(_, prefix)| !prefix.is_empty())
        .map(|(d, prefix)| (format!("/{}", prefix.join("/")), d))
        .collect();
    out.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    out
}

/// `scheme://host/path?query` of a request: the scheme from `X-Forwarded-Proto` (a proxy in
/// front) or the URI, the host from `Host` or the HTTP/2 authority.
fn request_url(parts: &http::request::Parts) -> Option<String> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))?;
    let scheme = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
        .filter(|v| v == "http" || v == "https")
        .or_else(|| parts.uri.scheme_str().map(str::to_string))
        .unwrap_or_else(|| "http".to_string());
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    Some(format!("{scheme}://{host}{path_and_query}"))
}

fn authenticated(extensions: &http::Extensions) -> bool {
    !matches!(
        extensions.get::<Authn>(),
        None | Some(Authn::Anonymous) | Some(Authn::Rejected)
    )
}

fn decode_frame(output: MessageDescriptor, data: &Bytes) -> Result<DynamicMessage, RestError> {
    let internal = |m: &str| RestError::new(Code::Internal, "INTERNAL", m.to_string());
    if data.len() < 5 || data[0] != 0 {
        return Err(internal("malformed RPC response frame"));
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    let payload = data
        .get(5..5 + len)
        .ok_or_else(|| internal("truncated RPC response frame"))?;
    DynamicMessage::decode(output, payload).map_err(|_| internal("undecodable RPC response"))
}

/// Body, then query, then path variables, merged into one request message; every bad value
/// is reported at once.
fn request_message(
    binding: &Binding,
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
        let tree = scalar_tree(binding, &input, &text, Location::Body, &mut issues, false);
        if !tree.is_empty() {
            let result = json::decode_into(&mut message, &Value::Object(tree));
            collect(&mut issues, Location::Body, &[], result);
        }
    } else if has_body && !matches!(binding.body, BodyTarget::None) {
        match serde_json::from_slice::<Value>(body) {
            Err(e) => issues.push(Issue {
                location: Location::Body,
                path: Vec::new(),
                message: format!("malformed JSON: {e}"),
                kind: "json_invalid".into(),
            }),
            Ok(json) => {
                let result = match &binding.body {
                    BodyTarget::Field(f) => json::decode_field(&mut message, f, &json),
                    _ => json::decode_into(&mut message, &json),
                };
                collect(&mut issues, Location::Body, &[], result);
            }
        }
    }

    if !matches!(binding.body, BodyTarget::Whole) {
        let tree = scalar_tree(
            binding,
            &input,
            query.unwrap_or(""),
            Location::Query,
            &mut issues,
            true,
        );
        if !tree.is_empty() {
            let result = json::decode_into(&mut message, &Value::Object(tree));
            collect(&mut issues, Location::Query, &[], result);
        }
    }

    let mut missing_headers = Vec::new();
    for (name, field) in &binding.headers {
        let Some(value) = headers.get(name) else {
            // The RPC reports it as required; listed here only beside other bad values,
            // so that a client learns every problem at once.
            missing_headers.push(Issue {
                location: Location::Header,
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
                        location: Location::Header,
                        path: path.clone(),
                        message: e.message,
                        kind: e.code.to_string(),
                    }));
                }
            }
            Err(message) => issues.push(Issue {
                location: Location::Header,
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
                    location: Location::Path,
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
        collect(&mut issues, Location::Path, &[], result);
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

/// The gRPC codec's bound on every string and list (`grpc::codec`), checked here as well so
/// that an unauthenticated caller hears 401 before what is wrong with the values.
fn within_backstop(
    binding: &Binding,
    message: DynamicMessage,
) -> Result<DynamicMessage, RestError> {
    let violations = crate::grpc::codec::backstop_violations(&message);
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
fn scalar_tree(
    binding: &Binding,
    input: &MessageDescriptor,
    text: &str,
    location: Location,
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
        .map(|f| match naming {
            FieldNaming::JsonName => f.json_name().to_string(),
            FieldNaming::ProtoName => f.name().to_string(),
        })
        .collect()
}

fn collect(
    issues: &mut Vec<Issue>,
    location: Location,
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
    let mut fields = Vec::new();
    let mut message = input.clone();
    let parts: Vec<&str> = key.split('.').collect();
    for (i, name) in parts.iter().enumerate() {
        let field = message
            .get_field_by_name(name)
            .or_else(|| message.get_field_by_json_name(name))?;
        if i + 1 < parts.len() {
            message = field.kind().as_message()?.clone();
        }
        fields.push(field);
    }
    Some(fields)
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
fn status_error(binding: &Binding, status: &tonic::Status) -> RestError {
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| code_name(status.code()).to_string());
    let violations = details
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    let retry_after = details.retry_info().and_then(|r| r.retry_delay);
    if violations.is_empty() {
        let mut e = RestError::new(status.code(), &reason, status.message());
        e.retry_after = retry_after;
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
fn locate(binding: &Binding, field_path: &str) -> (Location, Vec<String>) {
    let naming = binding.dialect.naming();
    let mut names: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut message = Some(binding.input());
    for part in field_path.split('.') {
        let field = message.as_ref().and_then(|m| m.get_field_by_name(part));
        match field {
            Some(f) => {
                names.push(client_names(std::slice::from_ref(&f), naming).remove(0));
                message = f.kind().as_message().cloned();
                fields.push(f);
            }
            None => {
                names.push(part.to_string());
                message = None;
            }
        }
    }
    let first = fields.first();
    let is_var = first.is_some_and(|f| {
        binding
            .variables
            .iter()
            .any(|v| v.first().is_some_and(|g| g.number() == f.number()))
    });
    if is_var {
        return (Location::Path, names);
    }
    if let Some(header) = first.and_then(|f| binding.header_of(f)) {
        let mut path = vec![header.as_str().to_string()];
        path.extend(names.into_iter().skip(1));
        return (Location::Header, path);
    }
    match &binding.body {
        BodyTarget::Field(b) if first.is_some_and(|f| f.number() == b.number()) => {
            (Location::Body, names.split_off(1))
        }
        BodyTarget::Whole => (Location::Body, names),
        _ => (Location::Query, names),
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::DESCRIPTOR_POOL;
    use dialect::Dialect;

    #[test]
    fn each_surface_is_the_prefix_its_routes_share() {
        let mut found = surfaces(&binding::bindings(&DESCRIPTOR_POOL));
        found.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            found,
            [
                ("/api/v1".to_string(), Dialect::GroupAlarm),
                ("/api/v5".to_string(), Dialect::Giosg),
                ("/v1".to_string(), Dialect::MyCreditApp),
            ]
        );
    }
}

/// Property-based fuzzing of request decoding: whatever a client sends in the path, query,
/// headers and body, decoding never panics, and a rejection is always a 4xx.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::proto::DESCRIPTOR_POOL;

    fn bindings() -> &'static [Binding] {
        static ALL: std::sync::LazyLock<Vec<Binding>> =
            std::sync::LazyLock::new(|| binding::bindings(&DESCRIPTOR_POOL));
        &ALL
    }

    /// Field names clients might use, so generated input reaches real fields.
    fn names() -> Vec<String> {
        let mut out: Vec<String> = bindings()
            .iter()
            .flat_map(|b| b.input().fields().collect::<Vec<_>>())
            .flat_map(|f| [f.name().to_string(), f.json_name().to_string()])
            .collect();
        out.extend(["organization.name", "partner.sales_amount", "cursor"].map(String::from));
        out.sort();
        out.dedup();
        out
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,24}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(names()), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            json_value().prop_map(|v| v.to_string().into_bytes()),
        ]
    }

    fn query() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (
                prop_oneof![prop::sample::select(names()), "[a-z_.]{1,12}"],
                "[A-Za-z0-9%+._~-]{0,16}",
            ),
            0..6,
        )
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        #[test]
        fn decoding_never_panics_and_rejects_with_4xx(
            index in any::<prop::sample::Index>(),
            vars in prop::collection::vec("\\PC{0,20}", 4),
            query in query(),
            header in "[ -~]{0,40}",
            form in any::<bool>(),
            body in body(),
        ) {
            let binding = &bindings()[index.index(bindings().len())];
            let vars: Vec<(usize, String)> = (0..binding.variables.len())
                .map(|i| (i, vars[i % vars.len()].clone()))
                .collect();
            let uri: http::Uri = format!("/x?{query}").parse().expect("query chars are URI-safe");
            let mut headers = http::HeaderMap::new();
            for (name, _) in &binding.headers {
                if let Ok(v) = HeaderValue::from_str(&header) {
                    headers.insert(name.clone(), v);
                }
            }
            if form {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            if let Err(e) = request_message(binding, &vars, &uri, &headers, &body) {
                let status = binding.dialect.render(&e).status();
                prop_assert!(status.is_client_error(), "{} answered {status}", binding.grpc_path);
            }
        }
    }
}
