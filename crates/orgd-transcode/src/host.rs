//! What the embedding application decides and the transcoder asks for, never imports: the
//! names of its own method, service and field options, its body limits, who counts as
//! authenticated, the bounds it puts on every request message, the documentation frame of
//! its OpenAPI document, and path prefixes a surface is served under as well.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use http::{Extensions, StatusCode};
use prost_reflect::{DynamicMessage, FieldDescriptor};
use serde_json::Value;

/// The app's own annotations (full extension names), beside `google.api.http`.
#[derive(Clone, Debug)]
pub struct Annotations {
    /// Service option, an enum: the surface ([`crate::Dialect::from_option`]) its bindings
    /// belong to.
    pub surface: String,
    /// Method option, a uint32: the HTTP status of a successful response (default 200).
    pub success_code: String,
    /// Method option, a string: a bool field of the response which, when true, makes the
    /// success status 201 Created (a PUT that created rather than replaced).
    pub created_when: String,
    /// Method option, a bool: the method needs no authentication.
    pub public: String,
    /// Field option, a string: the top-level request field is read from this HTTP header.
    pub header: String,
    /// Field option, a bool: the field's JSON is its type's zero value when unset, never
    /// null (a surface whose published schema has no null, such as a Go service's); a zero
    /// or null in a request means unset. Empty: no such option.
    pub zero_when_unset: String,
    /// Method option, a string: on a server-streaming method served as Server-Sent
    /// Events, the field path of each message whose value is the event's `id:` (it may
    /// run through a oneof member: `event.position`). Empty: no such option.
    pub stream_id: String,
    /// Method option, a string: on such a method, the field whose presence makes a message
    /// a heartbeat, written as an SSE comment. Empty: no such option.
    pub stream_heartbeat: String,
}

/// How the transcoder is set up: annotations, limits and aliases.
#[derive(Clone, Debug)]
pub struct Options {
    pub annotations: Annotations,
    /// The largest request body in general.
    pub max_body_bytes: usize,
    /// The largest body that is one `bytes` field (`body: "field"`): a raw upload that
    /// arrives base64-encoded in JSON.
    pub max_bytes_body_bytes: usize,
    /// The most bytes of JSON one response may have.
    pub max_response_bytes: usize,
    /// Path prefixes served as well: every binding whose template starts with the first is
    /// routed under the second too (see [`Options::alias_prefix`]).
    pub aliases: Vec<(String, String)>,
}

impl Options {
    /// Serves every binding whose path starts with `prefix` under `alias` as well
    /// (`alias_prefix("/v1/", "/v1-beta/")`): the same RPC, the same surface, whatever
    /// bindings are added later. Both must start and end with `/`.
    pub fn alias_prefix(mut self, prefix: &str, alias: &str) -> Options {
        assert!(
            [prefix, alias]
                .iter()
                .all(|p| p.starts_with('/') && p.ends_with('/')),
            "alias prefixes start and end with /: {prefix:?}, {alias:?}"
        );
        self.aliases.push((prefix.to_string(), alias.to_string()));
        self
    }
}

/// A value of a request message the app refuses whatever the RPC (its codec's bounds),
/// named by its proto field path (`organization.tags`, `items.3.name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

/// Whether a field must be present in a request, for the OpenAPI document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    No,
    Yes,
    /// Only when the operation creates what the message describes (a POST).
    OnCreate,
}

/// Something the transcoder holds from before the RPC is called until the response is
/// written (the app's admission of a costly call).
pub type Admission = Box<dyn Any + Send>;

/// The context of the REST request an RPC serves, put in the in-process call's extensions
/// (a client cannot plant it: gRPC clients have no way to set extensions). Handlers read it
/// with `request.extensions().get::<RequestContext>()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// `scheme://host/path?query` as the client called it (the scheme from
    /// `X-Forwarded-Proto` when a proxy is in front), for the links to other pages of a
    /// list. REST only: a Connect call's URL names a procedure, which a page link cannot
    /// be made from, so Connect lists answer the bare cursor as gRPC does.
    pub url: Option<String>,
    /// `scheme://host` the client called, for absolute links to other resources
    /// (avatarURL); REST and Connect alike.
    pub origin: Option<String>,
}

impl RequestContext {
    /// The context of a REST request: its URL and origin.
    pub fn rest(parts: &http::request::Parts) -> RequestContext {
        let origin = origin(parts);
        RequestContext {
            url: origin.as_ref().map(|o| {
                format!(
                    "{o}{}",
                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                )
            }),
            origin,
        }
    }

    /// The context of a Connect call: its origin only.
    pub fn connect(parts: &http::request::Parts) -> RequestContext {
        RequestContext {
            url: None,
            origin: origin(parts),
        }
    }
}

/// `scheme://host` as the client called it: the host from `Host` (or an absolute URI), the
/// scheme from `X-Forwarded-Proto` when a proxy is in front.
fn origin(parts: &http::request::Parts) -> Option<String> {
    let host = parts
        .headers
        .get(http::header::HOST)
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
    Some(format!("{scheme}://{host}"))
}

/// The app's decisions at run time and in its documentation.
pub trait Host: Send + Sync + 'static {
    /// Whether the request (its extensions, as the app's auth layer left them) is
    /// authenticated. Who is calling is checked before what they sent: an unauthenticated
    /// caller of a non-public binding hears 401 before 400 or 422.
    fn authenticated(&self, extensions: &Extensions) -> bool;

    /// The message of that 401.
    fn unauthenticated_message(&self) -> String {
        "authentication required".to_string()
    }

    /// The values of a request message the app refuses whatever the RPC.
    fn violations(&self, _message: &DynamicMessage) -> Vec<Violation> {
        Vec::new()
    }

    /// Waits, if the app wants, before the RPC at `grpc_path` is called; what it returns is
    /// held until the response is written. `extensions` are the in-process call's.
    fn admit<'a>(
        &'a self,
        _grpc_path: &'a str,
        _extensions: &'a mut Extensions,
    ) -> Pin<Box<dyn Future<Output = Option<Admission>> + Send + 'a>> {
        Box::pin(async { None })
    }

    /// The status of a response whose JSON is over `Options::max_response_bytes`.
    fn response_too_large(&self, max_bytes: usize) -> tonic::Status {
        tonic::Status::failed_precondition(format!(
            "the response exceeds {max_bytes} bytes; ask for a page instead"
        ))
    }

    /// The HTTP status of a failed RPC when the app's error says more than its code (the
    /// dialect's status for the code otherwise).
    fn http_status(&self, _status: &tonic::Status) -> Option<StatusCode> {
        None
    }

    /// The document's `info`, `components.securitySchemes` and `security`, as an object
    /// with those three keys.
    fn document_frame(&self) -> Value {
        serde_json::json!({
            "info": {"title": "API", "version": "0"},
            "securitySchemes": {},
            "security": [],
        })
    }

    /// Statuses the app's HTTP layers answer before any operation runs: status, the message
    /// they send, and whether it is plain text rather than the surface's error body.
    fn transport_responses(&self) -> Vec<(StatusCode, String, bool)> {
        Vec::new()
    }

    /// The most characters and list items any request value may have (the bounds of
    /// [`Host::violations`]), documented on every request body.
    fn max_string_chars(&self) -> Option<usize> {
        None
    }
    fn max_list_items(&self) -> Option<usize> {
        None
    }

    /// The app's rule for a request field, for the OpenAPI document.
    fn rule(&self, _field: &FieldDescriptor) -> Option<&'static dyn FieldSchema> {
        None
    }
}

/// What the app's rule for a request field says in the OpenAPI document.
pub trait FieldSchema: Sync {
    /// Whether a request must carry the field.
    fn required(&self) -> Required;
    /// The most entries a list field may have.
    fn max_items(&self) -> Option<usize>;
    /// The schema of one of the field's values with the rule applied; `nul_refused` when
    /// [`Host::violations`] refuses a NUL in any string.
    fn apply(&self, schema: Value, nul_refused: bool) -> Value;
}
