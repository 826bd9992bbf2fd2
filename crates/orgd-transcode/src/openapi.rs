//! The OpenAPI 3.1 document of every REST surface, generated at start-up from the same
//! bindings ([`binding::bindings`]) and message descriptors the transcoder serves, with the
//! JSON conventions of [`super::json`]: field names per dialect, 64-bit integers as numbers,
//! fields with presence `null` when unset, enums as lowercase short names (the zero value as
//! `null`), timestamps as RFC 3339 strings. Nothing in it is written per endpoint.

use std::collections::{BTreeMap, HashMap};

use http::{Method, StatusCode};
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::binding::{self, Binding, BodyTarget, HTTP_BODY};
use crate::dialect::Dialect;
use crate::host::{FieldSchema, Host, Options, Required};
use crate::json::{FieldNaming, enum_json_value, zero_when_unset};
use crate::wkt::{self, is_wrapper};

/// The error statuses every operation may answer: what the dialects map RPC codes to
/// (invalid argument, authentication, permission, existence, conflict, quota, availability)
/// plus the transcoder's own (a body over the size limit is 413).
const ERROR_STATUSES: [StatusCode; 9] = [
    StatusCode::BAD_REQUEST,
    StatusCode::UNAUTHORIZED,
    StatusCode::FORBIDDEN,
    StatusCode::NOT_FOUND,
    StatusCode::CONFLICT,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::UNPROCESSABLE_ENTITY,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// Query parameters are expanded through nested messages this deep at most.
const MAX_QUERY_DEPTH: usize = 3;

/// The whole document for the bindings of `pool`.
pub fn document<D: Dialect>(pool: &DescriptorPool, options: &Options, host: &dyn Host) -> Value {
    let mut generator = Generator {
        host,
        schemas: Map::new(),
        names: HashMap::new(),
        response: false,
        body: false,
        creating: false,
        nul_refused: refuses_nul(pool, host),
    };
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut operation_ids: HashMap<String, usize> = HashMap::new();
    let all = binding::bindings::<D>(pool, options);
    let mut ids = Vec::with_capacity(all.len());
    for b in &all {
        let path = openapi_path(b);
        let mut id = format!("{}.{}", b.method.parent_service().name(), b.method.name());
        let seen = operation_ids.entry(id.clone()).or_default();
        *seen += 1;
        if *seen > 1 {
            id = format!("{id}_{seen}");
        }
        let op = generator.operation(b, id.clone());
        ids.push(id);
        paths
            .entry(path)
            .or_default()
            .insert(b.http_method.as_str().to_ascii_lowercase(), op);
    }
    for creator in &all {
        let links = links_from(creator, &all, &ids);
        if links.is_empty() {
            continue;
        }
        let op = &mut paths
            .get_mut(&openapi_path(creator))
            .expect("documented above")[&creator.http_method.as_str().to_ascii_lowercase()];
        op["responses"][creator.success.as_str()]["links"] = Value::Object(links);
    }
    let mut schemas = Map::new();
    for dialect in D::all() {
        schemas.insert(dialect.error_schema_name(), dialect.error_schema());
    }
    schemas.extend(std::mem::take(&mut generator.schemas));
    let frame = host.document_frame();
    json!({
        "openapi": "3.1.0",
        "info": frame["info"],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": frame["securitySchemes"],
        },
        "security": frame["security"],
    })
}

/// The message a POST answers with, when its body is that message as JSON.
fn created_message<D>(b: &Binding<D>) -> Option<MessageDescriptor> {
    if b.http_method != Method::POST || b.raw_response {
        return None;
    }
    match &b.response_body {
        Some(field) if field.is_list() || field.is_map() => None,
        Some(field) => match field.kind() {
            Kind::Message(m) => Some(m),
            _ => None,
        },
        None => Some(b.method.output()),
    }
}

/// OpenAPI links (for schemathesis' stateful phase, and for readers) from what a POST
/// creates to the operations of the same surface whose path names it: a path variable
/// takes the created message's field of its own name (`organization_id`), else the
/// message's `id` (or `uuid`, as the kinds match) when the variable names the message
/// (`invitation_id` of an `OwnerInvitation`) or is the `id` under the POST's own path.
fn links_from<D: Dialect>(
    creator: &Binding<D>,
    all: &[Binding<D>],
    ids: &[String],
) -> Map<String, Value> {
    let mut links = Map::new();
    let Some(created) = created_message(creator) else {
        return links;
    };
    let naming = creator.dialect.naming();
    let snake = snake_case(created.name());
    let same_kind = |a: &FieldDescriptor, b: &FieldDescriptor| {
        let string = |f: &FieldDescriptor| matches!(f.kind(), Kind::String);
        !a.is_list() && !b.is_list() && string(a) == string(b)
    };
    for (target, id) in all.iter().zip(ids) {
        if target.dialect != creator.dialect || std::ptr::eq(target, creator) {
            continue;
        }
        let mut parameters = Map::new();
        for variable in &target.variables {
            let [field] = variable.as_slice() else {
                continue;
            };
            // `id` alone is too common a name to say it is the same thing's.
            let named = created
                .get_field_by_name(field.name())
                .filter(|_| field.name() != "id");
            let names_created = field
                .name()
                .strip_suffix("_id")
                .is_some_and(|stem| snake == stem || snake.ends_with(&format!("_{stem}")))
                || (field.name() == "id"
                    && target.route.starts_with(&format!("{}/", creator.route)));
            let own_id = ["id", "uuid"]
                .into_iter()
                .filter_map(|n| created.get_field_by_name(n))
                .find(|f| same_kind(f, field));
            let source =
                named
                    .filter(|f| same_kind(f, field))
                    .or(if names_created { own_id } else { None });
            if let Some(source) = source {
                parameters.insert(
                    format!("path.{}", client_name(field, naming)),
                    json!(format!("$response.body#/{}", client_name(&source, naming))),
                );
            }
        }
        // Only a link that fills every path variable leads somewhere real.
        if !parameters.is_empty() && parameters.len() == target.variables.len() {
            // Headers naming the caller's scope (MyCreditApp's) carry over from the request.
            for (header, _) in &target.headers {
                if creator.headers.iter().any(|(h, _)| h == header) {
                    let name = header_display_name(header.as_str());
                    parameters.insert(
                        format!("header.{name}"),
                        json!(format!("$request.header.{name}")),
                    );
                }
            }
            links.insert(
                id.replace('.', "_"),
                json!({"operationId": id, "parameters": parameters}),
            );
        }
    }
    links
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The binding's matchit route with `{vN}` replaced by the client's name of the variable.
fn openapi_path<D: Dialect>(b: &Binding<D>) -> String {
    let naming = b.dialect.naming();
    b.route
        .split('/')
        .map(|segment| {
            let index = segment
                .strip_prefix("{v")
                .and_then(|s| s.strip_suffix('}'))
                .and_then(|n| n.parse::<usize>().ok());
            match index {
                Some(i) => format!("{{{}}}", dotted_name(&b.variables[i], naming)),
                None => segment.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn client_name(field: &FieldDescriptor, naming: FieldNaming) -> &str {
    naming.name_of(field)
}

fn dotted_name(fields: &[FieldDescriptor], naming: FieldNaming) -> String {
    fields
        .iter()
        .map(|f| client_name(f, naming))
        .collect::<Vec<_>>()
        .join(".")
}

struct Generator<'a> {
    host: &'a dyn Host,
    /// Component schemas by name.
    schemas: Map<String, Value>,
    /// The component name of each (message, JSON names?, response?, creating?) generated or
    /// under way.
    names: HashMap<(String, bool, bool, bool), String>,
    /// Whether schemas being generated describe a response (else a request).
    response: bool,
    /// Whether they describe a request body, whose strings and lists carry the codec's
    /// backstop (`grpc::codec`). Parameters do not: the URI and header sizes bound them
    /// more tightly (414, 431), and a documented maximum would invite values they refuse.
    body: bool,
    /// Whether the operation creates what its body describes (a POST), which decides
    /// [`Required::OnCreate`].
    creating: bool,
    /// Whether the codec refuses a NUL in any request string ([`codec_refuses_nul`]).
    nul_refused: bool,
}

/// Asks the app's bounds ([`Host::violations`]), the one place the rule lives, whether they
/// refuse a NUL in a request string: a string field of some message set to "\0" and checked.
fn refuses_nul(pool: &DescriptorPool, host: &dyn Host) -> bool {
    let field = pool.all_messages().find_map(|m| {
        m.fields()
            .find(|f| matches!(f.kind(), Kind::String) && !f.is_list() && !f.is_map())
    });
    let Some(field) = field else { return false };
    let mut message = prost_reflect::DynamicMessage::new(field.parent_message().clone());
    message.set_field(&field, prost_reflect::Value::String("\0".into()));
    !host.violations(&message).is_empty()
}

/// A request string without a NUL, for when the codec refuses one.
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

impl Generator<'_> {
    fn operation<D: Dialect>(&mut self, b: &Binding<D>, operation_id: String) -> Value {
        let naming = b.dialect.naming();
        let input = b.input();
        self.response = false;
        self.creating = b.http_method == Method::POST;
        let mut parameters = Vec::new();
        for fields in &b.variables {
            let last = fields.last().expect("non-empty variable path");
            let mut schema = self.scalar_param_schema(last);
            if matches!(last.kind(), Kind::String) && schema.get("minLength").is_none() {
                // An empty segment would not match the route at all.
                schema["minLength"] = json!(1);
            }
            parameters.push(json!({
                "name": dotted_name(fields, naming),
                "in": "path",
                "required": true,
                "schema": schema,
            }));
        }
        for (header, field) in &b.headers {
            parameters.push(json!({
                "name": header_display_name(header.as_str()),
                "in": "header",
                "required": true,
                "schema": self.scalar_param_schema(field),
            }));
        }
        // The transcoder reads the query unless the whole message comes from the body.
        if !matches!(b.body, BodyTarget::Whole) {
            for field in input.fields() {
                if b.binds_top_level(&field) {
                    continue;
                }
                self.query_params(&field, &mut Vec::new(), naming, 0, &mut parameters);
            }
        }
        // The surface's response-format parameter, read on every call of the surface.
        if let Some((name, served)) = b.dialect.format_parameter() {
            parameters.push(json!({
                "name": name,
                "in": "query",
                // An empty value asks for no format in particular (`check_format`).
                "schema": {"type": "string", "enum": served.iter().chain(&[""]).collect::<Vec<_>>()},
            }));
        }

        let mut op = Map::new();
        op.insert("operationId".into(), json!(operation_id));
        if b.public {
            // (orgd.public): no token needed, overriding the document's security.
            op.insert("security".into(), json!([]));
        }
        op.insert(
            "tags".into(),
            json!([b.method.parent_service().full_name()]),
        );
        op.insert("summary".into(), json!(b.method.full_name()));
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        self.body = true;
        if let Some(body) = self.request_body(b) {
            op.insert("requestBody".into(), body);
        }
        self.body = false;
        self.response = true;
        op.insert("responses".into(), Value::Object(self.responses(b)));
        Value::Object(op)
    }

    fn request_body<D: Dialect>(&mut self, b: &Binding<D>) -> Option<Value> {
        let naming = b.dialect.naming();
        let mut content = Map::new();
        if b.accepts_form() {
            content.insert(
                "application/x-www-form-urlencoded".into(),
                json!({"schema": self.form_schema(b)}),
            );
        }
        let (schema, required) = match &b.body {
            BodyTarget::None => return None,
            BodyTarget::Field(field) => {
                // A body message with a required field is itself required: no body (or
                // null) lacks that field.
                let required = self.required(field)
                    || field
                        .kind()
                        .as_message()
                        .is_some_and(|m| m.fields().any(|f| self.required(&f)));
                let schema = self.field_schema(field, naming);
                (if required { not_null(schema) } else { schema }, required)
            }
            BodyTarget::Whole => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for field in b.input().fields() {
                    if b.binds_top_level(&field) {
                        continue;
                    }
                    let name = client_name(&field, naming).to_string();
                    if self.required(&field) {
                        required.push(name.clone());
                    }
                    properties.insert(name, self.field_schema(&field, naming));
                }
                let mut schema = json!({"type": "object", "properties": properties});
                if !required.is_empty() {
                    schema["required"] = json!(required);
                }
                (schema, !required.is_empty())
            }
        };
        content.insert("application/json".into(), json!({"schema": schema}));
        Some(json!({"required": required, "content": content}))
    }

    /// A form body as the transcoder reads it: keys as query parameters are named (dotted
    /// through messages), repeated keys for lists.
    fn form_schema<D: Dialect>(&mut self, b: &Binding<D>) -> Value {
        let naming = b.dialect.naming();
        let mut fields = Vec::new();
        for field in b.input().fields() {
            if !b.binds_top_level(&field) {
                self.query_params(&field, &mut Vec::new(), naming, 0, &mut fields);
            }
        }
        let required: Vec<Value> = fields
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| p["name"].clone())
            .collect();
        let properties: Map<String, Value> = fields
            .into_iter()
            .filter_map(|mut p| Some((p["name"].as_str()?.to_string(), p["schema"].take())))
            .collect();
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        schema
    }

    fn responses<D: Dialect>(&mut self, b: &Binding<D>) -> Map<String, Value> {
        let naming = b.dialect.naming();
        let output = b.method.output();
        let content = if b.stream.is_some() {
            // Server-Sent Events: each event's `data:` is one JSON response message.
            let message = self.message_ref(&output, naming);
            Some(json!({"text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": format!(
                        "Server-Sent Events: each `data:` line is one {} as JSON; an error \
                         after the stream began is a last `event: error` with the error body",
                        output.name()
                    ),
                },
                "x-event-schema": message,
            }}))
        } else if b.raw_response {
            let binary = json!({"schema": {"type": "string", "format": "binary"}});
            Some(json!({"image/*": binary, "application/octet-stream": binary}))
        } else {
            let schema = match &b.response_body {
                Some(field) => Some(self.field_schema(field, naming)),
                None if output.fields().len() == 0 => None,
                None => Some(self.message_ref(&output, naming)),
            };
            schema.map(|s| json!({"application/json": {"schema": s}}))
        };
        let success = |status: StatusCode| {
            let mut response = Map::new();
            response.insert(
                "description".into(),
                json!(status.canonical_reason().unwrap_or("success")),
            );
            if let Some(content) = &content
                && status != StatusCode::NO_CONTENT
            {
                response.insert("content".into(), content.clone());
            }
            Value::Object(response)
        };
        let mut responses = Map::new();
        responses.insert(b.success.as_str().to_string(), success(b.success));
        // A PUT may create what it names (RFC 9110 §9.3.4): 201 then, 200 when it replaced.
        if b.http_method == Method::PUT {
            for status in [StatusCode::OK, StatusCode::CREATED] {
                responses
                    .entry(status.as_str().to_string())
                    .or_insert_with(|| success(status));
            }
        }
        let error = json!({
            "application/json": {
                "schema": {"$ref": format!("#/components/schemas/{}", b.dialect.error_schema_name())},
            },
        });
        for (status, description, text) in self.host.transport_responses() {
            let mut response = json!({"description": description});
            if text {
                response["content"] = json!({"text/plain": {"schema": {"type": "string"}}});
            }
            responses.insert(status.as_str().to_string(), response);
        }
        for status in ERROR_STATUSES {
            responses.insert(
                status.as_str().to_string(),
                json!({
                    "description": status.canonical_reason().unwrap_or("error"),
                    "content": error,
                }),
            );
        }
        responses
    }

    /// Query parameters of a field not bound elsewhere; messages expand to dotted names.
    fn query_params(
        &mut self,
        field: &FieldDescriptor,
        prefix: &mut Vec<FieldDescriptor>,
        naming: FieldNaming,
        depth: usize,
        out: &mut Vec<Value>,
    ) {
        prefix.push(field.clone());
        let name = dotted_name(prefix, naming);
        match field.kind() {
            Kind::Message(m) if !is_scalar_message(&m) => {
                if !field.is_list() && !field.is_map() && depth < MAX_QUERY_DEPTH {
                    for sub in m.fields() {
                        self.query_params(&sub, prefix, naming, depth + 1, out);
                    }
                }
            }
            _ if field.is_list() => {
                let items = self.scalar_param_schema(field);
                let list = self.bound_list(json!({"type": "array", "items": items}));
                let mut param = json!({
                    "name": name,
                    "in": "query",
                    "style": "form",
                    "explode": true,
                    "schema": self.list_rule(field, list),
                });
                if self.required(field) {
                    param["required"] = json!(true);
                }
                out.push(param)
            }
            _ => {
                let mut param = json!({
                    "name": name,
                    "in": "query",
                    "schema": self.scalar_param_schema(field),
                });
                if self.required(field) {
                    param["required"] = json!(true);
                }
                out.push(param)
            }
        }
        prefix.pop();
    }

    /// The schema of one value of a field as a path, query or header string carries it,
    /// with the field's rule.
    fn scalar_param_schema(&mut self, field: &FieldDescriptor) -> Value {
        let schema = self.unruled_param_schema(field);
        match self.rule(field) {
            Some(rule) => rule.apply(schema, self.nul_refused),
            None => schema,
        }
    }

    fn unruled_param_schema(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Enum(e) => {
                let names: Vec<String> = e
                    .values()
                    .filter_map(|v| enum_json_value(&e, v.number()))
                    .collect();
                json!({"type": "string", "enum": names})
            }
            // One value in a URL is a string.
            Kind::Message(m) if m.full_name() == wkt::VALUE => self.scalar(&Kind::String),
            Kind::Message(m) => match m.get_field(1) {
                // A wrapper's value, or a Timestamp/Duration string.
                Some(inner) if is_wrapper(m.full_name()) => self.scalar(&inner.kind()),
                _ => self.value_schema(&field.kind(), FieldNaming::ProtoName),
            },
            kind => self.scalar(&kind),
        }
    }

    /// A scalar's schema; in a request body a string carries the codec's backstop on
    /// length, the one bound every string field has.
    fn scalar(&self, kind: &Kind) -> Value {
        let mut schema = scalar_schema(kind);
        if let Some(max) = self.host.max_string_chars()
            && self.body
            && matches!(kind, Kind::String)
        {
            schema["maxLength"] = json!(max);
        }
        if !self.response && self.nul_refused && matches!(kind, Kind::String) {
            schema["pattern"] = json!(NO_NUL_PATTERN);
        }
        schema
    }

    /// An array (or map) schema with, in a request body, the codec's backstop on entries.
    fn bound_list(&self, mut schema: Value) -> Value {
        if let Some(max) = self.host.max_list_items()
            && self.body
        {
            let key = if schema["type"] == "object" {
                "maxProperties"
            } else {
                "maxItems"
            };
            schema[key] = json!(max);
        }
        schema
    }

    /// The JSON of a field as [`super::json::encode_field`] writes it.
    fn field_schema(&mut self, field: &FieldDescriptor, naming: FieldNaming) -> Value {
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = &kind else {
                return json!({"type": "object"});
            };
            let value = self.value_schema(&entry.map_entry_value_field().kind(), naming);
            return self.bound_list(json!({"type": "object", "additionalProperties": value}));
        }
        let rule = self.rule(field);
        if field.is_list() {
            let mut items = self.value_schema(&kind, naming);
            if let Some(rule) = rule {
                items = rule.apply(items, self.nul_refused);
            }
            let list = self.bound_list(json!({"type": "array", "items": items}));
            return self.list_rule(field, list);
        }
        let mut schema = self.value_schema(&kind, naming);
        if let Some(rule) = rule {
            if is_any_value(&kind) {
                // A rule on text makes a google.protobuf.Value a string (or null, unset).
                schema = json!({"type": "string"});
            }
            schema = rule.apply(schema, self.nul_refused);
        }
        // A field written as its zero value when unset is never null in a response
        // (orgd.json_zero_when_unset); a request may still send null for "unset".
        let zero_valued = self.response && zero_when_unset(field);
        let nullable = (field.supports_presence() && !zero_valued) || matches!(kind, Kind::Enum(_));
        // A required field is refused when null, as when it is absent.
        if nullable && !self.required(field) {
            or_null(schema)
        } else {
            schema
        }
    }

    /// The field's rule, in a request (responses are what the server wrote).
    fn rule(&self, field: &FieldDescriptor) -> Option<&'static dyn FieldSchema> {
        if self.response {
            return None;
        }
        self.host.rule(field)
    }

    /// Whether a request of this operation must carry the field.
    fn required(&self, field: &FieldDescriptor) -> bool {
        self.rule(field).is_some_and(|r| match r.required() {
            Required::No => false,
            Required::Yes => true,
            Required::OnCreate => self.creating,
        })
    }

    /// A list's own bounds: at most `max_items`, at least one entry when required.
    fn list_rule(&self, field: &FieldDescriptor, mut list: Value) -> Value {
        if let Some(max) = self.rule(field).and_then(|r| r.max_items()) {
            list["maxItems"] = json!(max);
        }
        if self.required(field) {
            list["minItems"] = json!(1);
        }
        list
    }

    /// The JSON of one value of a kind (not null, except where the value itself may be).
    fn value_schema(&mut self, kind: &Kind, naming: FieldNaming) -> Value {
        match kind {
            Kind::Enum(e) => {
                let names: Vec<String> = e
                    .values()
                    .filter_map(|v| enum_json_value(e, v.number()))
                    .collect();
                json!({"type": "string", "enum": names})
            }
            Kind::Message(m) => match m.full_name() {
                wkt::TIMESTAMP if !self.response => json!({
                    "type": "string", "format": "date-time", "pattern": RFC3339_PATTERN,
                }),
                wkt::TIMESTAMP => json!({"type": "string", "format": "date-time"}),
                wkt::DURATION => {
                    json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})
                }
                wkt::STRUCT => json!({"type": "object"}),
                wkt::LIST_VALUE => json!({"type": "array"}),
                // Any JSON value, null included (maxLength binds only a string).
                wkt::VALUE if self.body => {
                    let mut any = json!({});
                    if let Some(max) = self.host.max_string_chars() {
                        any["maxLength"] = json!(max);
                    }
                    if self.nul_refused {
                        any["pattern"] = json!(NO_NUL_PATTERN);
                    }
                    any
                }
                wkt::VALUE => json!({}),
                HTTP_BODY => json!({"type": "string", "format": "binary"}),
                name if is_wrapper(name) => match m.get_field(1) {
                    Some(inner) => self.scalar(&inner.kind()),
                    None => json!({}),
                },
                _ => self.message_ref(m, naming),
            },
            kind => self.scalar(kind),
        }
    }

    /// A `$ref` to the message's component, generated on first use (recursion-safe: the
    /// name is reserved before its fields are visited).
    fn message_ref(&mut self, message: &MessageDescriptor, naming: FieldNaming) -> Value {
        let json_names = naming == FieldNaming::JsonName;
        // Only a message with fields required on create has a variant for creating.
        let creating = !self.response
            && self.creating
            && message.fields().any(|f| {
                self.host
                    .rule(&f)
                    .is_some_and(|r| r.required() == Required::OnCreate)
            });
        let key = (
            message.full_name().to_string(),
            json_names,
            self.response,
            creating,
        );
        let name = match self.names.get(&key) {
            Some(name) => name.clone(),
            None => {
                // The first naming a message is used with gets its plain full name; request
                // bodies get their own variant with the request rules. Titles differ as the
                // names do: client generators name their types by title, and two schemas
                // of one title collide (openapi-python-client then drops operations).
                let other_naming = self
                    .names
                    .keys()
                    .any(|(full, json, ..)| full == message.full_name() && *json != json_names);
                let mut name = message.full_name().to_string();
                let mut title = message.name().to_string();
                if other_naming {
                    name = format!("{name}.{naming:?}");
                    title = format!("{title}{naming:?}");
                }
                if creating {
                    name.push_str("-create-input");
                    title.push_str("CreateInput");
                } else if !self.response {
                    name.push_str("-input");
                    title.push_str("Input");
                }
                self.names.insert(key, name.clone());
                let schema = self.message_schema(message, naming, &title);
                self.schemas.insert(name.clone(), schema);
                name
            }
        };
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// In a response every field is written, and nothing else; a request may send any
    /// subset (and unknown keys are ignored).
    fn message_schema(
        &mut self,
        message: &MessageDescriptor,
        naming: FieldNaming,
        title: &str,
    ) -> Value {
        let mut properties = Map::new();
        let mut required_in_request = Vec::new();
        // Declaration order, as the codec writes them.
        let declared = message.descriptor_proto().field.iter();
        let fields = declared.filter_map(|f| message.get_field(u32::try_from(f.number()).ok()?));
        for field in fields {
            let name = client_name(&field, naming).to_string();
            if self.required(&field) {
                required_in_request.push(name.clone());
            }
            properties.insert(name, self.field_schema(&field, naming));
        }
        if !self.response {
            let mut schema = json!({"type": "object", "title": title, "properties": properties});
            if !required_in_request.is_empty() {
                schema["required"] = json!(required_in_request);
            }
            return schema;
        }
        let required: Vec<&String> = properties.keys().collect();
        json!({
            "type": "object",
            "title": title,
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// `requester-organization-id` → `Requester-Organization-ID` is not recoverable from the
/// lowercased header name, so each word is capitalised; HTTP header names are
/// case-insensitive anyway.
fn header_display_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            if word == "id" {
                return "ID".to_string();
            }
            let mut chars = word.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// RFC 3339 as `DateTime::parse_from_rfc3339` reads it, within what a Timestamp holds.
/// Days stop at 28 so that every string it describes is a real date.
const RFC3339_PATTERN: &str = concat!(
    r"^[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])[Tt]",
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?",
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
);

fn is_any_value(kind: &Kind) -> bool {
    matches!(kind, Kind::Message(m) if m.full_name() == wkt::VALUE)
}

/// The schema without the null that [`or_null`] added.
fn not_null(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) if map.len() == 1 && map.contains_key("anyOf") => {
            match map.remove("anyOf") {
                Some(Value::Array(mut options)) => {
                    options.retain(|o| o != &json!({"type": "null"}));
                    if options.len() == 1 {
                        options.remove(0)
                    } else {
                        json!({ "anyOf": options })
                    }
                }
                other => {
                    map.insert("anyOf".into(), other.unwrap_or(Value::Null));
                    Value::Object(map)
                }
            }
        }
        Value::Object(mut map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

fn or_null(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) if map.get("type").is_some_and(Value::is_string) => {
            // {"type": "string", ...} → {"type": ["string", "null"], ...}; an enum's list
            // gains null as well.
            let t = map["type"].clone();
            map.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.push(Value::Null);
            }
            Value::Object(map)
        }
        Value::Object(map) if map.is_empty() => Value::Object(map),
        other => json!({"anyOf": [other, {"type": "null"}]}),
    }
}

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({
            "type": "integer", "format": "int32",
            "minimum": i32::MIN, "maximum": i32::MAX,
        }),
        Kind::Uint32 | Kind::Fixed32 => json!({
            "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX,
        }),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
            "type": "integer", "format": "int64",
            "minimum": i64::MIN, "maximum": i64::MAX,
        }),
        Kind::Uint64 | Kind::Fixed64 => json!({
            "type": "integer", "minimum": 0, "maximum": u64::MAX,
        }),
        Kind::Float => json!({"type": "number", "format": "float"}),
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({
            "type": "string", "format": "byte", "contentEncoding": "base64",
        }),
        Kind::Enum(_) | Kind::Message(_) => json!({}),
    }
}

/// Messages a single query value sets (the transcoder converts them from one string).
fn is_scalar_message(m: &MessageDescriptor) -> bool {
    wkt::is_scalar_message(m.full_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A request timestamp the document describes is one the JSON decoder reads.
        #[test]
        fn documented_timestamps_parse(
            s in proptest::string::string_regex(
                RFC3339_PATTERN.strip_prefix('^').and_then(|p| p.strip_suffix('$')).unwrap(),
            ).unwrap()
        ) {
            proptest::prop_assert!(chrono::DateTime::parse_from_rfc3339(&s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn header_names_are_displayed_as_published() {
        assert_eq!(
            header_display_name("requester-organization-id"),
            "Requester-Organization-ID"
        );
    }
}
