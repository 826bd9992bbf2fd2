//! A request refused before it is routed (the server overloaded, its database out): the
//! protocol is all that is known of it, not the surface. A gRPC (or grpc-web) request gets
//! a trailers-only status; any other one error body that every surface's clients can read,
//! the surfaces' own bodies merged (the first surface's field winning where two share a
//! name), with `Retry-After` either way. A Connect call gets a Connect error,
//! which its client reads as the code.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};
use tonic::Code;

use crate::connect::Connect;
use crate::connect::error::ConnectError;
use crate::dialect::{Dialect, RestError, json_response};

/// Whether the request speaks gRPC or grpc-web.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The error bodies of every surface for `err`, merged into one object.
pub fn merged_body<D: Dialect>(err: &RestError, status: StatusCode) -> Value {
    let mut merged = Map::new();
    for dialect in D::all() {
        if let Value::Object(body) = dialect.error_body(err, status) {
            for (key, value) in body {
                merged.entry(key).or_insert(value);
            }
        }
    }
    Value::Object(merged)
}

/// The refusal of `req` before it is routed, with `Retry-After`: a Connect error for a
/// Connect call that `connect` serves, `err`'s code on gRPC, and otherwise its status (the
/// table's for the code unless set) and [`merged_body`].
pub fn refuse<D: Dialect>(
    connect: &Connect,
    req: &axum::extract::Request,
    err: &RestError,
    retry_after: std::time::Duration,
) -> Response {
    let connect_error = ConnectError::new(err.code, err.message.clone());
    let mut response = if let Some(response) = connect.refusal(req, connect_error) {
        response
    } else if is_grpc(req.headers()) {
        let status = tonic::Status::new(err.code, err.message.clone());
        let (parts, _) = status.into_http::<axum::body::Body>().into_parts();
        Response::from_parts(parts, axum::body::Body::empty())
    } else {
        let status = err
            .status
            .unwrap_or_else(|| crate::status::http_status(err.code));
        json_response(
            status,
            merged_body::<D>(err, status).to_string().into_bytes(),
        )
        .into_response()
    };
    let secs = crate::status::retry_after_secs(retry_after);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&secs.to_string()).expect("digits"),
    );
    response
}

/// A refusal's error: `code` on gRPC, `status` on REST when it differs from the table's.
pub fn error(code: Code, status: Option<StatusCode>, reason: &str, message: &str) -> RestError {
    let mut e = RestError::new(code, reason, message);
    e.status = status;
    e
}
