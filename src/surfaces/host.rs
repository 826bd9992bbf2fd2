//! What orgd decides for the transcoder (`orgd_transcode::Host`): who is authenticated, the
//! codec's bounds on every request value, the turns of the lists answered whole, the status
//! of an error whose code says less than the domain, and its OpenAPI document's frame and
//! field rules.

use std::future::Future;
use std::pin::Pin;

use http::{Extensions, StatusCode};
use orgd_transcode::{Admission, FieldSchema, Violation};
use prost_reflect::{DynamicMessage, FieldDescriptor};
use serde_json::{Value, json};
use tonic_types::StatusExt;

use crate::auth::Authn;
use crate::domain::DomainError;
use crate::limits::{self, TurnHeld, WholeLists};

pub struct OrgdHost {
    pub whole_lists: WholeLists,
}

impl orgd_transcode::Host for OrgdHost {
    fn authenticated(&self, extensions: &Extensions) -> bool {
        !matches!(
            extensions.get::<Authn>(),
            None | Some(Authn::Anonymous) | Some(Authn::Rejected)
        )
    }

    fn unauthenticated_message(&self) -> String {
        DomainError::Unauthenticated.to_string()
    }

    fn violations(&self, message: &DynamicMessage) -> Vec<Violation> {
        crate::grpc::codec::backstop_violations(message)
            .into_iter()
            .map(|v| Violation {
                field: v.field,
                description: v.description,
            })
            .collect()
    }

    /// A list answered whole waits for its turn (see `limits::WholeLists`), and tells the
    /// in-process call that it holds one.
    fn admit<'a>(
        &'a self,
        grpc_path: &'a str,
        extensions: &'a mut Extensions,
    ) -> Pin<Box<dyn Future<Output = Option<Admission>> + Send + 'a>> {
        Box::pin(async move {
            let turn = self.whole_lists.turn(grpc_path).await?;
            extensions.insert(TurnHeld);
            Some(Box::new(turn) as Admission)
        })
    }

    fn response_too_large(&self, max_bytes: usize) -> tonic::Status {
        limits::response_too_large(max_bytes).into()
    }

    fn http_status(&self, status: &tonic::Status) -> Option<StatusCode> {
        // gRPC carries the domain's error as its code and reason: an upload over its size
        // (`DomainError::TooLarge`) is INVALID_ARGUMENT there and 413 here.
        let details = status.get_error_details();
        (details.error_info()?.reason == crate::domain::error::TOO_LARGE_REASON)
            .then_some(StatusCode::PAYLOAD_TOO_LARGE)
    }

    fn document_frame(&self) -> Value {
        json!({
            "info": {
                "title": "orgd",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "The REST surfaces of orgd (GroupAlarm /api/v1, giosg /api/v5, \
                    MyCreditApp /v1), generated from the google.api.http annotations of its \
                    protos. A token goes in any one of the security schemes.",
            },
            "securitySchemes": {
                "Bearer": {"type": "http", "scheme": "bearer",
                    "description": "Authorization: Bearer <token> (MyCreditApp, internal services)"},
                "Token": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "Authorization: Token <token> (giosg)"},
                "PersonalAccessToken": {"type": "apiKey", "in": "header",
                    "name": "Personal-Access-Token",
                    "description": "a personal access token (GroupAlarm)"},
                "ApiToken": {"type": "apiKey", "in": "header", "name": "API-TOKEN",
                    "description": "an organization's API token (GroupAlarm)"},
            },
            "security": [
                {"Bearer": []},
                {"Token": []},
                {"PersonalAccessToken": []},
                {"ApiToken": []},
            ],
        })
    }

    /// The request's time, the URI's and the headers' size ([`crate::limits`]).
    fn transport_responses(&self) -> Vec<(StatusCode, String, bool)> {
        use crate::limits::{MAX_HEADER_BYTES, MAX_URI_BYTES, REQUEST_TIMEOUT};
        vec![
            (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request took longer than {} s",
                    REQUEST_TIMEOUT.as_secs()
                ),
                false,
            ),
            (
                StatusCode::URI_TOO_LONG,
                format!("the URI is longer than {MAX_URI_BYTES} bytes"),
                true,
            ),
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("the headers are larger than {MAX_HEADER_BYTES} bytes"),
                false,
            ),
        ]
    }

    fn max_string_chars(&self) -> Option<usize> {
        Some(limits::MAX_STRING_CHARS)
    }

    fn max_list_items(&self) -> Option<usize> {
        Some(limits::MAX_LIST_ITEMS)
    }

    fn rule(&self, field: &FieldDescriptor) -> Option<&'static dyn FieldSchema> {
        crate::domain::validate::field_rule(field.full_name()).map(|r| r as &dyn FieldSchema)
    }
}
