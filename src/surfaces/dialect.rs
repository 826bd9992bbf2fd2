//! The three REST surfaces orgd publishes and their conventions: error bodies and their
//! schemas, status codes, JSON field names (the transcoder asks, `orgd_transcode::Dialect`).

use http::StatusCode;
use orgd_transcode::{FieldNaming, RestError};
use serde_json::{Map, Value, json};
use tonic::Code;

/// The published REST API a service's HTTP bindings imitate (`orgd.rest_dialect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    GroupAlarm,
    Giosg,
    MyCreditApp,
}

impl orgd_transcode::Dialect for Dialect {
    fn all() -> Vec<Dialect> {
        vec![Dialect::GroupAlarm, Dialect::Giosg, Dialect::MyCreditApp]
    }

    fn from_option(number: i32) -> Dialect {
        match number {
            2 => Dialect::Giosg,
            3 => Dialect::MyCreditApp,
            _ => Dialect::GroupAlarm,
        }
    }

    fn naming(self) -> FieldNaming {
        match self {
            Dialect::GroupAlarm => FieldNaming::JsonName,
            Dialect::Giosg | Dialect::MyCreditApp => FieldNaming::ProtoName,
        }
    }

    fn bad_path_status(self) -> StatusCode {
        match self {
            Dialect::GroupAlarm => StatusCode::BAD_REQUEST,
            Dialect::Giosg => StatusCode::NOT_FOUND,
            Dialect::MyCreditApp => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// MyCreditApp (FastAPI) answers a validation error with 422; the rest is the table.
    fn http_status(self, code: Code) -> StatusCode {
        match code {
            Code::InvalidArgument | Code::OutOfRange if self == Dialect::MyCreditApp => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            code => orgd_transcode::status::http_status(code),
        }
    }

    fn error_body(self, err: &RestError, status: StatusCode) -> Value {
        match self {
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
                // The error's family where the domain names one, else its reason.
                "type": err
                    .metadata(crate::domain::error::ERROR_KIND)
                    .map_or_else(|| err.reason.to_lowercase(), str::to_string),
                "code": err.reason,
            }]}),
        }
    }

    /// giosg (Django REST framework) takes `?format=json` on every call.
    fn format_parameter(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Dialect::Giosg => Some(("format", &["json"])),
            Dialect::GroupAlarm | Dialect::MyCreditApp => None,
        }
    }

    fn error_schema_name(self) -> String {
        format!("orgd.rest.{self:?}Error")
    }

    /// The error body of each dialect, as [`Dialect::error_body`] writes it.
    fn error_schema(self) -> Value {
        match self {
            Dialect::GroupAlarm => json!({
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "error": {"type": "string", "description": "a stable reason code"},
                },
                "required": ["message", "error"],
            }),
            Dialect::Giosg => json!({
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"detail": {"type": "string"}},
                        "required": ["detail"],
                    },
                    {
                        "type": "object",
                        "description": "validation errors: field name to its messages",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                ],
            }),
            Dialect::MyCreditApp => json!({
                "type": "object",
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                                "msg": {"type": "string"},
                                "type": {"type": "string"},
                                "code": {"type": "string"},
                            },
                            "required": ["loc", "msg", "type", "code"],
                        },
                    },
                },
                "required": ["detail"],
            }),
        }
    }
}
