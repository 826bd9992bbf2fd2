//! Connect's error: a JSON object `{code, message, details: [{type, value, debug}]}`, under
//! the HTTP status the Connect specification gives each code. The details are those of the
//! gRPC status (`grpc-status-details-bin`), so a Connect client sees the same ErrorInfo and
//! BadRequest a gRPC client decodes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Map, Value, json};
use tonic::Code;

/// A failed Connect call: the gRPC status it came from, or one the protocol layer made.
#[derive(Clone, Debug)]
pub struct ConnectError {
    pub code: Code,
    pub message: String,
    /// `google.rpc.Status.details` as `(type name, serialized message)`.
    pub details: Vec<(String, Bytes)>,
}

impl ConnectError {
    pub fn new(code: Code, message: impl Into<String>) -> ConnectError {
        ConnectError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ConnectError {
        ConnectError::new(Code::InvalidArgument, message)
    }

    /// The error a gRPC status carries, with the details of its `grpc-status-details-bin`.
    pub fn from_status(status: &tonic::Status) -> ConnectError {
        let details = tonic_types::pb::Status::decode(status.details())
            .map(|s| {
                s.details
                    .into_iter()
                    .map(|any| {
                        let name = any
                            .type_url
                            .rsplit_once('/')
                            .map_or(any.type_url.as_str(), |(_, n)| n)
                            .to_string();
                        (name, Bytes::from(any.value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ConnectError {
            code: status.code(),
            message: status.message().to_string(),
            details,
        }
    }

    /// The JSON object, each detail's `debug` its message in protobuf JSON when `pool`
    /// knows the type.
    pub fn to_json(&self, pool: &DescriptorPool) -> Value {
        let mut out = Map::new();
        out.insert("code".into(), Value::from(code_name(self.code)));
        if !self.message.is_empty() {
            out.insert("message".into(), Value::from(self.message.clone()));
        }
        if !self.details.is_empty() {
            let details = self
                .details
                .iter()
                .map(|(name, value)| {
                    let mut d = json!({
                        "type": name,
                        "value": STANDARD_NO_PAD.encode(value),
                    });
                    if let Some(debug) = pool
                        .get_message_by_name(name)
                        .and_then(|m| DynamicMessage::decode(m, value.clone()).ok())
                        .and_then(|m| serde_json::to_value(&m).ok())
                    {
                        d["debug"] = debug;
                    }
                    d
                })
                .collect();
            out.insert("details".into(), Value::Array(details));
        }
        Value::Object(out)
    }

    /// A unary (or GET) answer: the JSON under the code's HTTP status.
    pub fn into_response(self, pool: &DescriptorPool) -> http::Response<axum::body::Body> {
        let body = serde_json::to_vec(&self.to_json(pool)).expect("JSON serialises");
        let mut response = http::Response::new(axum::body::Body::from(body));
        *response.status_mut() = http_status(self.code);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Connect's name of each code (`canceled` with one L, as the spec spells it).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary error, from the Connect specification's table.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).expect("a valid status"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_specified_status() {
        let table = [
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, status) in table {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }
}
