//! The REST route table, read once at start-up from every method's `google.api.http` rule
//! (and its `additional_bindings`) and the embedding app's own options ([`Annotations`]).

use http::{Method, StatusCode};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor, MethodDescriptor,
    ReflectMessage, Value,
};

use crate::dialect::Dialect;
use crate::host::{Annotations, Options};

pub use crate::wkt::HTTP_BODY;

/// Where the request body goes.
#[derive(Clone, Debug)]
pub enum BodyTarget {
    None,
    /// `body: "*"`: the whole request message (path variables aside).
    Whole,
    /// `body: "field"`: one top-level field.
    Field(FieldDescriptor),
}

/// One HTTP method + path template bound to an RPC.
#[derive(Clone, Debug)]
pub struct Binding<D> {
    pub http_method: Method,
    /// The template in matchit syntax, variables renamed `{v0}`, `{v1}`, …
    pub route: String,
    /// Method and template as annotated (`GET /api/v1/organization/{organization_id}`): the
    /// route label of metrics and logs, never the raw path with its ids.
    pub template: std::sync::Arc<str>,
    /// Field path (top-level first) of each template variable, by index.
    pub variables: Vec<Vec<FieldDescriptor>>,
    pub body: BodyTarget,
    /// Largest body accepted: larger when the body is a raw upload (a `bytes` field) that
    /// arrives base64-encoded.
    pub max_body_bytes: usize,
    /// Top-level fields read from HTTP headers ([`Annotations::header`]).
    pub headers: Vec<(http::HeaderName, FieldDescriptor)>,
    pub response_body: Option<FieldDescriptor>,
    /// How the response's JSON is written from its bytes.
    pub response_json: std::sync::Arc<crate::wire_json::Plan>,
    /// The response (or its response_body) is a `google.api.HttpBody`: raw bytes, not JSON.
    pub raw_response: bool,
    pub success: StatusCode,
    /// A bool field of the response that, when true, makes the success status 201.
    pub created_when: Option<FieldDescriptor>,
    /// Callable without authentication.
    pub public: bool,
    pub dialect: D,
    pub method: MethodDescriptor,
    /// `/package.Service/Method`, the gRPC path the call is sent to.
    pub grpc_path: String,
    /// A server-streaming method, served as Server-Sent Events.
    pub stream: Option<crate::sse::StreamSpec>,
}

impl<D> Binding<D> {
    pub fn input(&self) -> MessageDescriptor {
        self.method.input()
    }

    /// Whether an `application/x-www-form-urlencoded` body is read too (OAuth2 clients send
    /// their token request so): only when the body is the whole message, whose fields a flat
    /// form names as a query string would.
    pub fn accepts_form(&self) -> bool {
        matches!(self.body, BodyTarget::Whole)
    }

    /// True when the field is already filled from the path or the body.
    pub fn binds_top_level(&self, field: &FieldDescriptor) -> bool {
        self.variables
            .iter()
            .any(|path| path.first().is_some_and(|f| f.number() == field.number()))
            || matches!(&self.body, BodyTarget::Field(f) if f.number() == field.number())
            || self
                .headers
                .iter()
                .any(|(_, f)| f.number() == field.number())
    }

    /// The header a top-level field is read from, if any.
    pub fn header_of(&self, field: &FieldDescriptor) -> Option<&http::HeaderName> {
        self.headers
            .iter()
            .find(|(_, f)| f.number() == field.number())
            .map(|(h, _)| h)
    }
}

/// Every binding of every method in the pool. Panics on an annotation the transcoder
/// cannot serve: that is a defect in our protos, found at start-up and by the tests.
pub fn bindings<D: Dialect>(pool: &DescriptorPool, options: &Options) -> Vec<Binding<D>> {
    let names = &options.annotations;
    crate::json::use_zero_when_unset(&names.zero_when_unset);
    let limits = options_limits(options);
    let http_ext = pool
        .get_extension_by_name("google.api.http")
        .expect("google/api/annotations.proto is compiled in");
    let code_ext = pool.get_extension_by_name(&names.success_code);
    let created_ext = pool.get_extension_by_name(&names.created_when);
    let public_ext = pool.get_extension_by_name(&names.public);
    let dialect_ext = pool.get_extension_by_name(&names.surface);
    let stream_id_ext = pool.get_extension_by_name(&names.stream_id);
    let heartbeat_ext = pool.get_extension_by_name(&names.stream_heartbeat);
    let mut out = Vec::new();
    for service in pool.services() {
        let options = service.options();
        let dialect = dialect_ext
            .as_ref()
            .filter(|ext| options.has_extension(ext))
            .and_then(|ext| options.get_extension(ext).as_enum_number())
            .unwrap_or(0);
        let dialect = D::from_option(dialect);
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http_ext) {
                continue;
            }
            let success = code_ext
                .as_ref()
                .filter(|ext| options.has_extension(ext))
                .and_then(|ext| options.get_extension(ext).as_u32())
                .map(|c| {
                    StatusCode::from_u16(c as u16)
                        .unwrap_or_else(|_| panic!("{}: success code {c}", method.full_name()))
                })
                .unwrap_or(StatusCode::OK);
            let created_when = created_ext
                .as_ref()
                .filter(|ext| options.has_extension(ext))
                .and_then(|ext| options.get_extension(ext).as_str().map(str::to_string))
                .map(|name| {
                    method
                        .output()
                        .get_field_by_name(&name)
                        .filter(|f| matches!(f.kind(), prost_reflect::Kind::Bool) && !f.is_list())
                        .unwrap_or_else(|| {
                            panic!(
                                "{}: {name:?} is not a bool of the response",
                                method.full_name()
                            )
                        })
                });
            let public = public_ext
                .as_ref()
                .filter(|ext| options.has_extension(ext))
                .and_then(|ext| options.get_extension(ext).as_bool())
                .unwrap_or(false);
            let Value::Message(rule) = options.get_extension(&http_ext).into_owned() else {
                continue;
            };
            let mut rules = vec![rule.clone()];
            if let Some(Value::List(extra)) = rule
                .get_field_by_name("additional_bindings")
                .map(|v| v.into_owned())
            {
                rules.extend(extra.into_iter().filter_map(|v| match v {
                    Value::Message(m) => Some(m),
                    _ => None,
                }));
            }
            let string_option = |ext: &Option<prost_reflect::ExtensionDescriptor>| {
                ext.as_ref()
                    .filter(|ext| options.has_extension(ext))
                    .and_then(|ext| options.get_extension(ext).as_str().map(str::to_string))
            };
            let stream = method.is_server_streaming().then(|| {
                let output = method.output();
                let resolve = |path: String| {
                    field_path(&output, &path).unwrap_or_else(|e| {
                        panic!("{}: stream field {path:?}: {e}", method.full_name())
                    })
                };
                crate::sse::StreamSpec {
                    id: string_option(&stream_id_ext)
                        .map(resolve)
                        .unwrap_or_default(),
                    heartbeat: string_option(&heartbeat_ext)
                        .map(resolve)
                        .and_then(|mut path| (path.len() == 1).then(|| path.remove(0))),
                }
            });
            for rule in rules {
                let mut b = binding(&method, &rule, success, dialect, names, limits);
                b.public = public;
                b.created_when = created_when.clone();
                b.stream = stream.clone();
                out.push(b);
            }
        }
    }
    out
}

fn string_field(rule: &DynamicMessage, name: &str) -> String {
    rule.get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The body limits: in general, and for a body that is one `bytes` field.
fn options_limits(options: &Options) -> (usize, usize) {
    (options.max_body_bytes, options.max_bytes_body_bytes)
}

fn binding<D: Dialect>(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    success: StatusCode,
    dialect: D,
    names: &Annotations,
    (max_body, max_bytes_body): (usize, usize),
) -> Binding<D> {
    let name = method.full_name();
    let (http_method, template) = ["get", "put", "post", "delete", "patch"]
        .iter()
        .find_map(|m| {
            let field = rule.descriptor().get_field_by_name(m)?;
            rule.has_field(&field).then(|| {
                (
                    Method::from_bytes(m.to_uppercase().as_bytes()).expect("http method"),
                    string_field(rule, m),
                )
            })
        })
        .or_else(|| {
            let custom = rule.get_field_by_name("custom")?;
            let custom = custom.as_message()?;
            let kind = string_field(custom, "kind");
            Some((
                Method::from_bytes(kind.as_bytes()).expect("custom http method"),
                string_field(custom, "path"),
            ))
        })
        .unwrap_or_else(|| panic!("{name}: google.api.http rule without a pattern"));

    let input = method.input();
    let (route, variables) = parse_template(&template, &input)
        .unwrap_or_else(|e| panic!("{name}: path template {template:?}: {e}"));
    let body = match string_field(rule, "body").as_str() {
        "" => BodyTarget::None,
        "*" => BodyTarget::Whole,
        field => BodyTarget::Field(
            input
                .get_field_by_name(field)
                .unwrap_or_else(|| panic!("{name}: body field {field:?} not in the request")),
        ),
    };
    let response_body = match string_field(rule, "response_body").as_str() {
        "" => None,
        field => Some(
            method
                .output()
                .get_field_by_name(field)
                .unwrap_or_else(|| panic!("{name}: response_body {field:?} not in the response")),
        ),
    };
    let header_ext = method.parent_pool().get_extension_by_name(&names.header);
    let headers = input
        .fields()
        .filter_map(|field| {
            let header_ext = header_ext.as_ref()?;
            let options = field.options();
            if !options.has_extension(header_ext) {
                return None;
            }
            let name = options
                .get_extension(header_ext)
                .as_str()?
                .to_ascii_lowercase();
            let header = http::HeaderName::from_bytes(name.as_bytes())
                .unwrap_or_else(|_| panic!("{}: {name:?} is not a header name", field.full_name()));
            Some((header, field))
        })
        .collect();
    let raw_response = match &response_body {
        Some(field) => field
            .kind()
            .as_message()
            .is_some_and(|m| m.full_name() == HTTP_BODY),
        None => method.output().full_name() == HTTP_BODY,
    };
    let max_body_bytes = match &body {
        BodyTarget::Field(f) if matches!(f.kind(), prost_reflect::Kind::Bytes) => max_bytes_body,
        _ => max_body,
    };
    let response_json = crate::wire_json::Plan::new(&method.output(), dialect.naming()).into();
    Binding {
        template: format!("{http_method} {template}").into(),
        http_method,
        route,
        variables,
        body,
        max_body_bytes,
        headers,
        response_body,
        response_json,
        raw_response,
        success,
        created_when: None,
        public: false,
        dialect,
        grpc_path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
        method: method.clone(),
        stream: None,
    }
}

/// The path template of a method's GET binding as annotated
/// (`/api/v1/organization/{organization_id}/avatar`): links to what it serves are built
/// from the annotation, not written again.
pub fn get_template(method: &MethodDescriptor) -> Option<String> {
    let http_ext = method
        .parent_pool()
        .get_extension_by_name("google.api.http")?;
    let options = method.options();
    if !options.has_extension(&http_ext) {
        return None;
    }
    let Value::Message(rule) = options.get_extension(&http_ext).into_owned() else {
        return None;
    };
    let field = rule.descriptor().get_field_by_name("get")?;
    rule.has_field(&field).then(|| string_field(&rule, "get"))
}

/// `/api/v1/organization/{organization_id}` → (`/api/v1/organization/{v0}`, [[organization_id]]).
/// Supports `{field}`, `{field.sub}` and `{field=*}` segments.
fn parse_template(
    template: &str,
    input: &MessageDescriptor,
) -> Result<(String, Vec<Vec<FieldDescriptor>>), String> {
    if !template.starts_with('/') {
        return Err("must start with /".into());
    }
    let mut route = String::new();
    let mut variables = Vec::new();
    for segment in template[1..].split('/') {
        route.push('/');
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (path, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
            if pattern != "*" {
                return Err(format!("variable pattern {pattern:?} is not supported"));
            }
            let fields = field_path(input, path)?;
            route.push_str(&format!("{{v{}}}", variables.len()));
            variables.push(fields);
        } else if segment.contains(['{', '}', '*', ':']) {
            return Err(format!("segment {segment:?} is not supported"));
        } else {
            route.push_str(segment);
        }
    }
    Ok((route, variables))
}

/// Resolves a dotted proto field path; every field but the last must be a message.
pub fn field_path(input: &MessageDescriptor, path: &str) -> Result<Vec<FieldDescriptor>, String> {
    match walk(input, path, |m, name| m.get_field_by_name(name)) {
        (fields, None) => Ok(fields),
        (_, Some(why)) => Err(why),
    }
}

/// The one walk of a dotted field path (`organization.location.city`) from `input`: each
/// part is looked up by `lookup` in the message the field before it holds. Returns the
/// fields as far as they resolve and, when it stopped short, why.
pub fn walk(
    input: &MessageDescriptor,
    path: &str,
    lookup: impl Fn(&MessageDescriptor, &str) -> Option<FieldDescriptor>,
) -> (Vec<FieldDescriptor>, Option<String>) {
    let mut fields: Vec<FieldDescriptor> = Vec::new();
    let mut message = input.clone();
    for name in path.split('.') {
        if let Some(last) = fields.last() {
            match last.kind().as_message() {
                Some(m) => message = m.clone(),
                None => {
                    let why = format!("{:?} is not a message", last.name());
                    return (fields, Some(why));
                }
            }
        }
        match lookup(&message, name) {
            Some(field) => fields.push(field),
            None => {
                let why = format!("no field {name:?} in {}", message.full_name());
                return (fields, Some(why));
            }
        }
    }
    (fields, None)
}
