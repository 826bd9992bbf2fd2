//! The three REST surfaces' conventions: error bodies, status codes, JSON field names.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use tonic::Code;

use super::json::FieldNaming;

/// The reason of every error about a request too large, whoever found it (the transcoder
/// reading the body, or the domain checking an upload); REST answers it with 413.
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    GroupAlarm,
    Giosg,
    MyCreditApp,
}

/// Where a bad value came from; MyCreditApp names it first in `loc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Body,
    Header,
}

impl Location {
    fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Body => "body",
            Location::Header => "header",
        }
    }
}

/// One bad input value, named as the client named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub location: Location,
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
    /// The error's family where the domain names one (MyCreditApp's `type`).
    pub kind: Option<String>,
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
            kind: None,
        }
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
            kind: None,
        }
    }
}

impl Dialect {
    pub fn from_option(number: i32) -> Dialect {
        match number {
            2 => Dialect::Giosg,
            3 => Dialect::MyCreditApp,
            _ => Dialect::GroupAlarm,
        }
    }

    pub fn naming(self) -> FieldNaming {
        match self {
            Dialect::GroupAlarm => FieldNaming::JsonName,
            Dialect::Giosg | Dialect::MyCreditApp => FieldNaming::ProtoName,
        }
    }

    /// A path value that does not parse (`/organization/abc`, a malformed UUID).
    pub fn bad_path_status(self) -> StatusCode {
        match self {
            Dialect::GroupAlarm => StatusCode::BAD_REQUEST,
            Dialect::Giosg => StatusCode::NOT_FOUND,
            Dialect::MyCreditApp => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    pub fn http_status(self, code: Code) -> StatusCode {
        match code {
            Code::Ok => StatusCode::OK,
            Code::InvalidArgument | Code::OutOfRange if self == Dialect::MyCreditApp => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The query parameter that picks a response format on this surface, and the formats
    /// it serves: giosg (Django REST framework) takes `?format=json` on every call and
    /// answers another format with 404, as its content negotiation does. Other surfaces
    /// have none (an unknown query parameter is ignored).
    pub fn format_parameter(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Dialect::Giosg => Some(("format", &["json"])),
            Dialect::GroupAlarm | Dialect::MyCreditApp => None,
        }
    }

    /// Refuses a request whose format parameter names a format this surface does not serve.
    pub fn check_format(self, query: Option<&str>) -> Result<(), RestError> {
        let (Some((name, served)), Some(query)) = (self.format_parameter(), query) else {
            return Ok(());
        };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let value = decode(value);
            // An empty value asks for no format in particular (Django REST framework).
            if decode(key) == name && !value.is_empty() && !served.contains(&value.as_str()) {
                return Err(RestError::new(Code::NotFound, "NOT_FOUND", "Not found."));
            }
        }
        Ok(())
    }

    pub fn render(self, err: &RestError) -> Response {
        let status = err.status.unwrap_or_else(|| {
            if err.reason == PAYLOAD_TOO_LARGE {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                self.http_status(err.code)
            }
        });
        let body = match self {
            Dialect::GroupAlarm => json!({"message": err.message, "error": err.reason}),
            Dialect::Giosg if !err.issues.is_empty() && status == StatusCode::BAD_REQUEST => {
                // Django REST framework's validation shape: field → list of messages.
                let mut fields = Map::new();
                for issue in &err.issues {
                    let key = if issue.path.is_empty() {
                        "non_field_errors".to_string()
                    } else {
                        issue.path.join(".")
                    };
                    if let Value::Array(list) = fields
                        .entry(key)
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        list.push(Value::String(issue.message.clone()));
                    }
                }
                Value::Object(fields)
            }
            Dialect::Giosg => json!({"detail": err.message}),
            Dialect::MyCreditApp if !err.issues.is_empty() => {
                let detail: Vec<Value> = err
                    .issues
                    .iter()
                    .map(|i| {
                        let mut loc = vec![Value::String(i.location.as_str().into())];
                        loc.extend(i.path.iter().map(|p| match p.parse::<u64>() {
                            Ok(n) => Value::from(n),
                            Err(_) => Value::String(p.clone()),
                        }));
                        json!({"loc": loc, "msg": i.message, "type": i.kind, "code": i.kind})
                    })
                    .collect();
                json!({ "detail": detail })
            }
            Dialect::MyCreditApp => json!({"detail": [{
                "loc": [],
                "msg": err.message,
                "type": err.kind.clone().unwrap_or_else(|| err.reason.to_lowercase()),
                "code": err.reason,
            }]}),
        };
        let mut response = json_response(status, body.to_string().into_bytes());
        if let Some(wait) = err.retry_after {
            let secs = crate::rate_limit::retry_after_secs(wait);
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs.to_string()).expect("digits"),
            );
        }
        response
    }
}

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
