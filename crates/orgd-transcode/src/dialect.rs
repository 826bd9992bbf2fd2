//! What a REST surface decides (its [`Dialect`]: error bodies, statuses, field names) and the
//! errors the transcoder hands it.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;
use tonic::Code;

use super::json::FieldNaming;

/// The reason of the transcoder's refusal of a body over its limit (answered 413: the
/// status is set on the error, not read from the reason).
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";

/// The conventions of one REST surface the embedding app publishes: how it names fields,
/// which statuses it answers and what its error body looks like. Implemented by the app
/// (an enum of its surfaces); the transcoder and the OpenAPI generator only ask.
pub trait Dialect: Copy + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static {
    /// Every surface, in the order the OpenAPI document lists their error schemas.
    fn all() -> Vec<Self>;
    /// The surface a service's surface option names (its enum number; 0 when unset).
    fn from_option(number: i32) -> Self;
    fn naming(self) -> FieldNaming;
    /// A path value that does not parse (`/organization/abc`, a malformed UUID).
    fn bad_path_status(self) -> StatusCode;
    /// The status a failed RPC's code answers: the one table unless the surface differs.
    fn http_status(self, code: Code) -> StatusCode {
        crate::status::http_status(code)
    }
    /// The error body, for an error answered with `status`.
    fn error_body(self, err: &RestError, status: StatusCode) -> Value;
    /// The component name of the error body's schema.
    fn error_schema_name(self) -> String;
    /// The JSON schema of [`Dialect::error_body`].
    fn error_schema(self) -> Value;
    /// The query parameter that picks a response format on this surface and the formats it
    /// serves (giosg's `?format=json`); `None` when the surface has none.
    fn format_parameter(self) -> Option<(&'static str, &'static [&'static str])> {
        None
    }
}

/// Refuses a request whose format parameter names a format the surface does not serve,
/// with 404 as Django REST framework's content negotiation answers. An empty value asks
/// for no format in particular.
pub fn check_format<D: Dialect>(dialect: D, query: Option<&str>) -> Result<(), RestError> {
    let (Some((name, served)), Some(query)) = (dialect.format_parameter(), query) else {
        return Ok(());
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        if decode(key) == name && !value.is_empty() && !served.contains(&value.as_str()) {
            return Err(RestError::new(Code::NotFound, "NOT_FOUND", "Not found."));
        }
    }
    Ok(())
}

/// The part of the request a bad value came from (MyCreditApp names it first in `loc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPart {
    Path,
    Query,
    Body,
    Header,
}

impl RequestPart {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestPart::Path => "path",
            RequestPart::Query => "query",
            RequestPart::Body => "body",
            RequestPart::Header => "header",
        }
    }
}

/// One bad input value, named as the client named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub location: RequestPart,
    pub path: Vec<String>,
    pub message: String,
    pub kind: String,
}

/// A failed REST call, from the transcoder or from the RPC's status.
#[derive(Clone, Debug)]
pub struct RestError {
    pub code: Code,
    pub message: String,
    pub reason: String,
    pub issues: Vec<Issue>,
    /// Overrides the status the code maps to (a bad path value on giosg is a 404).
    pub status: Option<StatusCode>,
    /// When the client may try again (`Retry-After`), from the status's `RetryInfo`.
    pub retry_after: Option<std::time::Duration>,
    /// The metadata of the status's `ErrorInfo`, for a dialect that shows some of it
    /// (a list, not a map: a map would make every `Result<_, RestError>` larger).
    pub metadata: Vec<(String, String)>,
}

impl RestError {
    pub fn new(code: Code, reason: &str, message: impl Into<String>) -> RestError {
        RestError {
            code,
            message: message.into(),
            reason: reason.to_string(),
            issues: Vec::new(),
            status: None,
            retry_after: None,
            metadata: Vec::new(),
        }
    }

    /// A value of the status's `ErrorInfo` metadata.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn invalid(issues: Vec<Issue>) -> RestError {
        let text: Vec<String> = issues
            .iter()
            .map(|i| {
                if i.path.is_empty() {
                    i.message.clone()
                } else {
                    format!("{}: {}", i.path.join("."), i.message)
                }
            })
            .collect();
        RestError {
            code: Code::InvalidArgument,
            message: format!("invalid request: {}", text.join("; ")),
            reason: "INVALID_ARGUMENT".into(),
            issues,
            status: None,
            retry_after: None,
            metadata: Vec::new(),
        }
    }
}

/// The response of a failed call in the dialect's terms, with `Retry-After` when the
/// status said when to try again.
pub fn render<D: Dialect>(dialect: D, err: &RestError) -> Response {
    let status = err.status.unwrap_or_else(|| dialect.http_status(err.code));
    let body = dialect.error_body(err, status);
    let mut response = json_response(status, body.to_string().into_bytes());
    if let Some(wait) = err.retry_after {
        let secs = crate::status::retry_after_secs(wait);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&secs.to_string()).expect("digits"),
        );
    }
    response
}

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
