//! JSON <-> `DynamicMessage` conversion with the exact shape of the REST APIs we imitate.
//!
//! Those APIs differ from proto3 JSON (defaults are always written, 64-bit integers are numbers,
//! enums are short lowercase names, zero enums are `null`), so prost-reflect's serde support
//! cannot be used.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Datelike, Timelike, Utc};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value,
};
use serde_json::Value as Json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldNaming {
    JsonName,
    ProtoName,
}

impl FieldNaming {
    /// The one rule for a field's name on the client's side: in JSON bodies, query keys,
    /// error paths and the OpenAPI document.
    pub fn name_of(self, field: &FieldDescriptor) -> &str {
        match self {
            FieldNaming::JsonName => field.json_name(),
            FieldNaming::ProtoName => field.name(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    Field(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: Vec<PathSegment>,
    pub message: String,
    pub code: &'static str,
}

pub const INVALID_TYPE: &str = "invalid_type";
pub const OUT_OF_RANGE: &str = "out_of_range";
pub const INVALID_ENUM: &str = "invalid_enum";
pub const INVALID_FORMAT: &str = "invalid_format";

use crate::wkt::{DURATION, LIST_VALUE, STRUCT, TIMESTAMP, VALUE, is_wrapper};

/// Largest |seconds| a Duration may hold per duration.proto (about 10,000 years).
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// The full name of the app's field option that makes a field's JSON its zero value when
/// unset, never null ([`crate::Annotations::zero_when_unset`]). Process-wide, because the
/// codec's functions are called from everywhere without the transcoder's options at hand;
/// one app names one option.
static ZERO_WHEN_UNSET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the zero-when-unset field option (the first name given holds). Building bindings
/// does it; an app that writes JSON without them (a CLI) calls it first.
pub fn use_zero_when_unset(option: &str) {
    if !option.is_empty() {
        let _ = ZERO_WHEN_UNSET.set(option.to_string());
    }
}

/// Whether the field carries the zero-when-unset option (shared with openapi.rs). Most
/// fields have no options at all, which is known without decoding any.
pub(crate) fn zero_when_unset(field: &FieldDescriptor) -> bool {
    if field.field_descriptor_proto().options.is_none() {
        return false;
    }
    let Some(name) = ZERO_WHEN_UNSET.get() else {
        return false;
    };
    let Some(ext) = field.parent_pool().get_extension_by_name(name) else {
        return false;
    };
    let options = field.options();
    options.has_extension(&ext) && options.get_extension(&ext).as_bool() == Some(true)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// The JSON of a response would be longer than the budget it is written within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget;

/// Appends the JSON of a whole message to `out`.
pub fn encode_message(msg: &DynamicMessage, naming: FieldNaming, out: &mut Vec<u8>) {
    write_message(msg, naming, usize::MAX, out);
}

/// As [`encode_message`], refused once `out` would hold more than `max` bytes. Checked after
/// every list item and map entry while writing, so an over-long list stops being written
/// one item past the budget, not at its end; `out` is then incomplete and must be dropped.
pub fn encode_message_within(
    msg: &DynamicMessage,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), OverBudget> {
    write_message(msg, naming, max, out);
    within(out, max)
}

/// As [`encode_field`], within `max` bytes as [`encode_message_within`] is.
pub fn encode_field_within(
    msg: &DynamicMessage,
    field: &FieldDescriptor,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), OverBudget> {
    write_field(msg, field, naming, max, out);
    within(out, max)
}

pub(crate) fn within(out: &[u8], max: usize) -> Result<(), OverBudget> {
    if out.len() > max {
        Err(OverBudget)
    } else {
        Ok(())
    }
}

pub(crate) fn write_message(
    msg: &DynamicMessage,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) {
    let desc = msg.descriptor();
    match desc.full_name() {
        TIMESTAMP => return write_timestamp(int_field(msg, 1), int_field(msg, 2), out),
        DURATION => return write_duration(int_field(msg, 1), int_field(msg, 2), out),
        // Struct, ListValue and wrappers are all "the JSON of field 1".
        STRUCT | LIST_VALUE => return encode_first_field(msg, &desc, naming, max, out),
        name if is_wrapper(name) => return encode_first_field(msg, &desc, naming, max, out),
        VALUE => {
            // null_value is the zero enum value, which the enum convention already writes as null.
            let Some(f) = desc.fields().find(|f| msg.has_field(f)) else {
                return out.extend_from_slice(b"null");
            };
            match msg.get_field(&f).as_ref() {
                // Struct holds arbitrary client JSON: give integers back as `1`, not `1.0`.
                Value::F64(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
                    put(out, *n as i64);
                }
                v => encode_value(v, &f.kind(), naming, max, out),
            }
            return;
        }
        _ => {}
    }
    out.push(b'{');
    // `fields()` yields number order, but the APIs list fields in declaration order.
    let declared = desc.descriptor_proto().field.iter();
    let fields = declared.filter_map(|f| desc.get_field(u32::try_from(f.number()).ok()?));
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(naming.name_of(&field), out);
        out.push(b':');
        write_field(msg, &field, naming, max, out);
    }
    out.push(b'}');
}

/// Appends the JSON of one field's value (a repeated field becomes a JSON array).
pub fn encode_field(
    msg: &DynamicMessage,
    field: &FieldDescriptor,
    naming: FieldNaming,
    out: &mut Vec<u8>,
) {
    write_field(msg, field, naming, usize::MAX, out);
}

fn write_field(
    msg: &DynamicMessage,
    field: &FieldDescriptor,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) {
    if field.supports_presence() && !msg.has_field(field) {
        if zero_when_unset(field) {
            // The default of a message field is the message with every field unset.
            let zero = Value::default_value_for_field(field);
            encode_value(&zero, &field.kind(), naming, max, out);
        } else {
            out.extend_from_slice(b"null");
        }
    } else {
        encode_value(&msg.get_field(field), &field.kind(), naming, max, out);
    }
}

fn encode_first_field(
    msg: &DynamicMessage,
    desc: &MessageDescriptor,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) {
    if let Some(f) = desc.get_field(1) {
        encode_value(&msg.get_field(&f), &f.kind(), naming, max, out);
    }
}

/// `kind` is the field's kind, i.e. the element kind for lists and the entry message for maps.
/// Lists and maps stop being written once `out` is past `max` (the caller checks).
pub(crate) fn encode_value(
    value: &Value,
    kind: &Kind,
    naming: FieldNaming,
    max: usize,
    out: &mut Vec<u8>,
) {
    match value {
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::I32(n) => put(out, n),
        Value::I64(n) => put(out, n),
        Value::U32(n) => put(out, n),
        Value::U64(n) => put(out, n),
        Value::F32(f) if f.is_finite() => {
            // Serialising the f32 itself keeps 0.1f32 as `0.1` rather than its f64 widening.
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Value::F32(f) => write_non_finite(f64::from(*f), out),
        Value::F64(f) if f.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Value::F64(f) => write_non_finite(*f, out),
        Value::String(s) => write_str(s, out),
        Value::Bytes(b) => {
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(b).as_bytes());
            out.push(b'"');
        }
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => match enum_json_value(e, *n) {
                Some(name) => write_str(&name, out),
                None if *n != 0 && e.get_value(*n).is_none() => put(out, n),
                None => out.extend_from_slice(b"null"),
            },
            _ => put(out, n),
        },
        Value::Message(m) => write_message(m, naming, max, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if out.len() > max {
                    return;
                }
                if i > 0 {
                    out.push(b',');
                }
                encode_value(item, kind, naming, max, out);
            }
            out.push(b']');
        }
        Value::Map(map) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                _ => return,
            };
            // HashMap order is random; sorting keeps responses stable and diffable.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if out.len() > max {
                    return;
                }
                if i > 0 {
                    out.push(b',');
                }
                match key {
                    MapKey::String(s) => write_str(s, out),
                    MapKey::Bool(b) => put(out, format_args!("\"{b}\"")),
                    MapKey::I32(n) => put(out, format_args!("\"{n}\"")),
                    MapKey::I64(n) => put(out, format_args!("\"{n}\"")),
                    MapKey::U32(n) => put(out, format_args!("\"{n}\"")),
                    MapKey::U64(n) => put(out, format_args!("\"{n}\"")),
                }
                out.push(b':');
                encode_value(v, &value_kind, naming, max, out);
            }
            out.push(b'}');
        }
    }
}

fn put(out: &mut Vec<u8>, v: impl Display) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{v}");
}

pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_non_finite(f: f64, out: &mut Vec<u8>) {
    let s: &[u8] = if f.is_nan() {
        b"\"NaN\""
    } else if f > 0.0 {
        b"\"Infinity\""
    } else {
        b"\"-Infinity\""
    };
    out.extend_from_slice(s);
}

fn int_field(msg: &DynamicMessage, number: u32) -> i64 {
    match msg.get_field_by_number(number).as_deref() {
        Some(Value::I64(v)) => *v,
        Some(Value::I32(v)) => i64::from(*v),
        _ => 0,
    }
}

/// Fractions use 3, 6 or 9 digits, like the proto3 JSON canonical form.
pub(crate) fn write_timestamp(seconds: i64, nanos: i64, out: &mut Vec<u8>) {
    let dt = u32::try_from(nanos)
        .ok()
        .and_then(|n| DateTime::<Utc>::from_timestamp(seconds, n))
        .filter(|dt| (1..=9999).contains(&dt.year()));
    // An out-of-range Timestamp has no RFC 3339 form; null beats emitting invalid JSON.
    let Some(dt) = dt else {
        return out.extend_from_slice(b"null");
    };
    // Digit by digit rather than through `write!`: timestamps are in most responses, and
    // formatting machinery was about 2 % of a page's CPU (perf, `core::fmt::write`).
    let (date, time) = (dt.date_naive(), dt.time());
    out.push(b'"');
    put_padded(out, date.year().unsigned_abs(), 4);
    for (separator, n) in [
        (b'-', date.month()),
        (b'-', date.day()),
        (b'T', time.hour()),
        (b':', time.minute()),
        (b':', time.second()),
    ] {
        out.push(separator);
        put_padded(out, n, 2);
    }
    // `nanos` is non-negative here: it converted to u32 above.
    let nanos = nanos.unsigned_abs();
    let (fraction, width) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if width > 0 {
        out.push(b'.');
        put_padded(out, fraction, width);
    }
    out.extend_from_slice(b"Z\"");
}

/// `n` in decimal, zero-padded to at least `width` digits (as `{:0width$}`).
fn put_padded(out: &mut Vec<u8>, n: impl itoa::Integer, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n).as_bytes();
    out.extend(std::iter::repeat_n(
        b'0',
        width.saturating_sub(digits.len()),
    ));
    out.extend_from_slice(digits);
}

/// Written with the fewest fraction digits ("1.5s", "3s"), matching the APIs' examples.
pub(crate) fn write_duration(seconds: i64, nanos: i64, out: &mut Vec<u8>) {
    if seconds.abs() > MAX_DURATION_SECONDS
        || nanos.abs() >= 1_000_000_000
        || seconds.signum() * nanos.signum() < 0
    {
        return out.extend_from_slice(b"null");
    }
    let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
    put(out, format_args!("\"{sign}{}", seconds.unsigned_abs()));
    if nanos != 0 {
        let frac = format!("{:09}", nanos.unsigned_abs());
        put(out, format_args!(".{}", frac.trim_end_matches('0')));
    }
    out.extend_from_slice(b"s\"");
}

/// The enum's JSON value for a number; None for the zero value and for undefined numbers.
pub fn enum_json_value(e: &EnumDescriptor, number: i32) -> Option<String> {
    if number == 0 {
        return None;
    }
    e.get_value(number).map(|v| convention_name(e, v.name()))
}

/// `ORGANIZATION_STATE_TRIAL` of `OrganizationState` -> `trial`.
fn convention_name(e: &EnumDescriptor, value_name: &str) -> String {
    let prefix = upper_snake(e.name());
    value_name
        .strip_prefix(prefix.as_str())
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(value_name)
        .to_ascii_lowercase()
}

/// `OrderBy` -> `ORDER_BY`, `HTTPMethod` -> `HTTP_METHOD`, `V2Kind` -> `V2_KIND`.
fn upper_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut s = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev != '_' && (prev.is_ascii_lowercase() || prev.is_ascii_digit() || next_lower) {
                s.push('_');
            }
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Decoding

type Failure = (&'static str, String);

/// Merges a JSON object into `msg`, collecting every error. Unknown keys are ignored.
pub fn decode_into(msg: &mut DynamicMessage, json: &Json) -> Result<(), Vec<FieldError>> {
    let mut d = Decoder::default();
    d.message(msg, json);
    d.finish()
}

/// Sets one field from a JSON value; error paths are relative to `json` itself.
pub fn decode_field(
    msg: &mut DynamicMessage,
    field: &FieldDescriptor,
    json: &Json,
) -> Result<(), Vec<FieldError>> {
    let mut d = Decoder::default();
    d.field(msg, field, json);
    d.finish()
}

#[derive(Default)]
struct Decoder {
    path: Vec<PathSegment>,
    errors: Vec<FieldError>,
}

impl Decoder {
    fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    fn fail(&mut self, code: &'static str, message: impl Into<String>) {
        let (path, message) = (self.path.clone(), message.into());
        self.errors.push(FieldError {
            path,
            message,
            code,
        });
    }

    fn check<T>(&mut self, r: Result<T, Failure>) -> Option<T> {
        r.map_err(|(code, message)| self.fail(code, message)).ok()
    }

    fn message(&mut self, msg: &mut DynamicMessage, json: &Json) {
        let desc = msg.descriptor();
        match desc.full_name() {
            TIMESTAMP => {
                let dt = json
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                match dt.filter(|dt| (1..=9999).contains(&dt.with_timezone(&Utc).year())) {
                    Some(dt) => {
                        msg.set_field_by_number(1, Value::I64(dt.timestamp()));
                        // chrono reports a leap second as nanos >= 1e9, which Timestamp forbids.
                        let nanos = dt.timestamp_subsec_nanos().min(999_999_999) as i32;
                        msg.set_field_by_number(2, Value::I32(nanos));
                    }
                    None => self.fail(INVALID_FORMAT, "must be an RFC 3339 date-time"),
                }
                return;
            }
            DURATION => {
                match json.as_str().and_then(parse_duration) {
                    Some((secs, nanos)) => {
                        msg.set_field_by_number(1, Value::I64(secs));
                        msg.set_field_by_number(2, Value::I32(nanos));
                    }
                    None => self.fail(INVALID_FORMAT, "must be a duration like \"1.5s\""),
                }
                return;
            }
            STRUCT | LIST_VALUE => return self.first_field(msg, &desc, json),
            name if is_wrapper(name) => return self.first_field(msg, &desc, json),
            VALUE => {
                let number = match json {
                    Json::Null => 1,
                    Json::Number(_) => 2,
                    Json::String(_) => 3,
                    Json::Bool(_) => 4,
                    Json::Object(_) => 5,
                    Json::Array(_) => 6,
                };
                if let Some(f) = desc.get_field(number) {
                    if json.is_null() {
                        msg.set_field(&f, Value::EnumNumber(0));
                    } else {
                        self.field(msg, &f, json);
                    }
                }
                return;
            }
            _ => {}
        }
        let Json::Object(obj) = json else {
            return self.fail(INVALID_TYPE, "must be an object");
        };
        for (key, value) in obj {
            let field = desc.get_field_by_json_name(key);
            let Some(field) = field.or_else(|| desc.get_field_by_name(key)) else {
                continue;
            };
            self.path.push(PathSegment::Field(key.clone()));
            self.field(msg, &field, value);
            self.path.pop();
        }
    }

    fn first_field(&mut self, msg: &mut DynamicMessage, desc: &MessageDescriptor, json: &Json) {
        if let Some(f) = desc.get_field(1) {
            self.field(msg, &f, json);
        }
    }

    /// Repeated and map fields are replaced, not appended to: a REST body states the whole value.
    fn field(&mut self, msg: &mut DynamicMessage, field: &FieldDescriptor, json: &Json) {
        // A google.protobuf.Value holds JSON null itself (proto3 JSON), which lets an RPC tell
        // an explicit null from an absent field; any other field is cleared by null.
        let holds_null =
            !field.is_list() && matches!(field.kind(), Kind::Message(m) if m.full_name() == VALUE);
        if json.is_null() && !holds_null {
            // null stands for "unset" only where the documented schema allows it (fields
            // with presence, enums); elsewhere it is the wrong type, as the schema says.
            if !field.supports_presence() && !matches!(field.kind(), Kind::Enum(_)) {
                return self.fail(INVALID_TYPE, "must not be null");
            }
            return msg.clear_field(field);
        }
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = &kind else { return };
            let Json::Object(obj) = json else {
                return self.fail(INVALID_TYPE, "must be an object");
            };
            let key_kind = entry.map_entry_key_field().kind();
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = HashMap::with_capacity(obj.len());
            for (k, v) in obj {
                self.path.push(PathSegment::Field(k.clone()));
                let key = self.map_key(&key_kind, k);
                if let (Some(key), Some(value)) = (key, self.single(&value_kind, v)) {
                    map.insert(key, value);
                }
                self.path.pop();
            }
            msg.set_field(field, Value::Map(map));
        } else if field.is_list() {
            let Json::Array(items) = json else {
                return self.fail(INVALID_TYPE, "must be an array");
            };
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                self.path.push(PathSegment::Index(i));
                list.extend(self.single(&kind, item));
                self.path.pop();
            }
            msg.set_field(field, Value::List(list));
        } else if let Kind::Message(_) = kind {
            // Merge into the existing sub-message, as proto3 JSON parsing does.
            if let Value::Message(m) = msg.get_field_mut(field) {
                self.message(m, json);
            }
            let zero = msg
                .get_field(field)
                .as_message()
                .is_some_and(|m| m.fields().next().is_none());
            if zero && zero_when_unset(field) {
                msg.clear_field(field);
            }
        } else if let Some(v) = self.single(&kind, json) {
            if field.supports_presence()
                && v == Value::default_value(&kind)
                && zero_when_unset(field)
            {
                msg.clear_field(field);
            } else {
                msg.set_field(field, v);
            }
        }
    }

    fn map_key(&mut self, kind: &Kind, key: &str) -> Option<MapKey> {
        if let Kind::Bool = kind {
            // JSON object keys are always strings, so bool keys arrive as "true"/"false".
            return match key {
                "true" | "false" => Some(MapKey::Bool(key == "true")),
                _ => self.check(Err((INVALID_TYPE, "must be a boolean".into()))),
            };
        }
        match self.single(kind, &Json::String(key.to_owned()))? {
            Value::String(s) => Some(MapKey::String(s)),
            Value::I32(n) => Some(MapKey::I32(n)),
            Value::I64(n) => Some(MapKey::I64(n)),
            Value::U32(n) => Some(MapKey::U32(n)),
            Value::U64(n) => Some(MapKey::U64(n)),
            _ => None,
        }
    }

    fn single(&mut self, kind: &Kind, json: &Json) -> Option<Value> {
        if let Some((min, max)) = int_bounds(kind) {
            let n = self.check(parse_int(json, min, max))?;
            // parse_int enforced the kind's bounds, so these narrowing casts are lossless.
            return Some(match kind {
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(n as i32),
                Kind::Uint32 | Kind::Fixed32 => Value::U32(n as u32),
                Kind::Uint64 | Kind::Fixed64 => Value::U64(n as u64),
                _ => Value::I64(n as i64),
            });
        }
        match kind {
            Kind::Double => self.check(parse_float(json, false)).map(Value::F64),
            Kind::Float => self
                .check(parse_float(json, true))
                .map(|f| Value::F32(f as f32)),
            Kind::Bool => match json {
                Json::Bool(b) => Some(Value::Bool(*b)),
                _ => self.check(Err((INVALID_TYPE, "must be a boolean".into()))),
            },
            Kind::String => match json {
                Json::String(s) => Some(Value::String(s.clone())),
                _ => self.check(Err((INVALID_TYPE, "must be a string".into()))),
            },
            Kind::Bytes => match json.as_str().and_then(decode_base64) {
                Some(b) => Some(Value::Bytes(b.into())),
                None => self.check(Err((INVALID_FORMAT, "must be base64".into()))),
            },
            Kind::Enum(e) => self.check(parse_enum(e, json)).map(Value::EnumNumber),
            Kind::Message(md) => {
                let mut m = DynamicMessage::new(md.clone());
                self.message(&mut m, json);
                Some(Value::Message(m))
            }
            _ => None,
        }
    }
}

fn int_bounds(kind: &Kind) -> Option<(i128, i128)> {
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => (i32::MIN.into(), i32::MAX.into()),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => (i64::MIN.into(), i64::MAX.into()),
        Kind::Uint32 | Kind::Fixed32 => (0, u32::MAX.into()),
        Kind::Uint64 | Kind::Fixed64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

/// Accepts integral numbers (4.0 too) and strings holding them, as proto3 JSON does.
fn parse_int(json: &Json, min: i128, max: i128) -> Result<i128, Failure> {
    let not_int = || (INVALID_TYPE, "must be an integer".to_owned());
    // `as i128` saturates, so huge integral floats still fail the range check below. A
    // float is exact below 2^53; beyond, it is trusted only strictly inside the kind's
    // bounds: -9223372036854775809 reads as the float -2^63, which is i64::MIN itself.
    let exact = 2f64.powi(53);
    let integral = |f: Option<f64>| match f {
        Some(f)
            if f.is_finite()
                && f.fract() == 0.0
                && (f.abs() < exact || (f > min as f64 && f < max as f64)) =>
        {
            Ok(f as i128)
        }
        Some(f) if f.is_finite() && f.fract() == 0.0 => {
            Err((OUT_OF_RANGE, format!("must be between {min} and {max}")))
        }
        _ => Err(not_int()),
    };
    let n = match json {
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into(),
            (_, Some(u)) => u.into(),
            _ => integral(n.as_f64())?,
        },
        Json::String(s) => match s.parse::<i128>() {
            Ok(n) => n,
            Err(_) => integral(s.parse().ok())?,
        },
        _ => return Err(not_int()),
    };
    if n < min || n > max {
        return Err((OUT_OF_RANGE, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn parse_float(json: &Json, single: bool) -> Result<f64, Failure> {
    let f = match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => return Ok(f64::NAN),
            "Infinity" => return Ok(f64::INFINITY),
            "-Infinity" => return Ok(f64::NEG_INFINITY),
            // Rust also parses "inf"/"nan"; only the spellings above are JSON's.
            s => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        },
        _ => None,
    };
    let f = f.ok_or((INVALID_TYPE, "must be a number".to_owned()))?;
    if single && f.abs() > f64::from(f32::MAX) {
        let msg = format!("must be between {:e} and {:e}", f32::MIN, f32::MAX);
        return Err((OUT_OF_RANGE, msg));
    }
    Ok(f)
}

/// Only non-zero values are accepted: the zero value means "unset", which is spelled `null`.
fn parse_enum(e: &EnumDescriptor, json: &Json) -> Result<i32, Failure> {
    let found = match json {
        Json::String(s) => e.values().find(|v| {
            v.number() != 0
                && (v.name() == s || convention_name(e, v.name()).eq_ignore_ascii_case(s))
        }),
        Json::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n != 0)
            .and_then(|n| e.get_value(n)),
        _ => None,
    };
    found.map(|v| v.number()).ok_or_else(|| {
        let allowed: Vec<String> = e
            .values()
            .filter_map(|v| enum_json_value(e, v.number()))
            .collect();
        (
            INVALID_ENUM,
            format!("must be one of: {}", allowed.join(", ")),
        )
    })
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
    let engine = if s.contains(['-', '_']) { &URL } else { &STD };
    engine.decode(s).ok()
}

/// "1.5s", "-0.001s", "3s" -> (seconds, nanos) with matching signs.
fn parse_duration(s: &str) -> Option<(i64, i32)> {
    let body = s.strip_suffix('s')?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let seconds: i64 = int.parse().ok().filter(|s| *s <= MAX_DURATION_SECONDS)?;
    let nanos: i32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(if negative {
        (-seconds, -nanos)
    } else {
        (seconds, nanos)
    })
}

/// Converts a URL path or query string to the JSON value `decode_*` accepts for a singular field.
pub fn scalar_from_str(field: &FieldDescriptor, s: &str) -> Result<Json, String> {
    let mut kind = field.kind();
    if let Kind::Message(md) = &kind
        && is_wrapper(md.full_name())
        && let Some(inner) = md.get_field(1)
    {
        kind = inner.kind();
    }
    let text = Json::String(s.to_owned());
    if let Some((min, max)) = int_bounds(&kind) {
        let n = parse_int(&text, min, max).map_err(|(_, m)| m)?;
        return Ok(match i64::try_from(n) {
            Ok(i) => Json::from(i),
            Err(_) => Json::from(n as u64),
        });
    }
    match kind {
        Kind::Bool if s.eq_ignore_ascii_case("true") => Ok(Json::Bool(true)),
        Kind::Bool if s.eq_ignore_ascii_case("false") => Ok(Json::Bool(false)),
        Kind::Bool => Err("must be a boolean".to_owned()),
        Kind::Double | Kind::Float => {
            let f = parse_float(&text, kind == Kind::Float).map_err(|(_, m)| m)?;
            // Non-finite values have no JSON number form; decode accepts their string spelling.
            Ok(serde_json::Number::from_f64(f).map_or(text, Json::Number))
        }
        // A numeric enum in a URL is still a number, which decode accepts.
        Kind::Enum(_) => Ok(s.parse::<i32>().map_or(text, Json::from)),
        Kind::Message(md) if ![TIMESTAMP, DURATION, VALUE].contains(&md.full_name()) => {
            Err("cannot be set from a single value".to_owned())
        }
        _ => Ok(text),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;
    use serde_json::json;
    use std::sync::OnceLock;

    /// Integers as JSON numbers in every spelling a client (or schemathesis) writes them,
    /// read exactly: an integral float is an integer, and one past a bound is refused even
    /// where the float it reads as is the bound itself.
    #[test]
    fn integers_are_read_exactly() {
        let int64 = |text: &str| {
            let json: Json = serde_json::from_str(text).unwrap();
            parse_int(&json, i64::MIN.into(), i64::MAX.into())
        };
        assert_eq!(int64("3816529914976606.0").unwrap(), 3816529914976606);
        assert_eq!(int64("96416971.0").unwrap(), 96416971);
        assert_eq!(int64("1e3").unwrap(), 1000);
        assert_eq!(int64("-9223372036854775808").unwrap(), i128::from(i64::MIN));
        assert_eq!(int64("9223372036854775807").unwrap(), i128::from(i64::MAX));
        for outside in [
            "-9223372036854775809",
            "9223372036854775808",
            "1e19",
            "-1e19",
        ] {
            assert_eq!(int64(outside).unwrap_err().0, OUT_OF_RANGE, "{outside}");
        }
        assert_eq!(int64("1.5").unwrap_err().0, INVALID_TYPE);
    }

    /// The digit-by-digit timestamp against `write!` formatting of the same fields.
    #[test]
    fn timestamps_are_written_as_formatted() {
        let formatted = |seconds: i64, nanos: i64| -> String {
            let dt = u32::try_from(nanos)
                .ok()
                .and_then(|n| DateTime::<Utc>::from_timestamp(seconds, n))
                .filter(|dt| (1..=9999).contains(&dt.year()));
            let Some(dt) = dt else {
                return "null".into();
            };
            let fraction = match nanos {
                0 => String::new(),
                n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
                n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
                n => format!(".{n:09}"),
            };
            let (date, time) = (dt.date_naive(), dt.time());
            format!(
                "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z\"",
                date.year(),
                date.month(),
                date.day(),
                time.hour(),
                time.minute(),
                time.second()
            )
        };
        let mut state = 1u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 11
        };
        let edge_seconds = [
            0,
            -1,
            59,
            -62135596800,
            -62135596801,
            253402300799,
            253402300800,
        ];
        let edge_nanos = [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_500_000,
            7_000,
            -1,
            2_000_000_000,
        ];
        let mut cases: Vec<(i64, i64)> = edge_seconds
            .iter()
            .flat_map(|s| edge_nanos.iter().map(move |n| (*s, *n)))
            .collect();
        for _ in 0..20_000 {
            let seconds = (next() % 320_000_000_000) as i64 - 63_000_000_000;
            let nanos = match next() % 4 {
                0 => 0,
                1 => (next() % 1000 * 1_000_000) as i64,
                2 => (next() % 1_000_000 * 1_000) as i64,
                _ => (next() % 1_000_000_000) as i64,
            };
            cases.push((seconds, nanos));
        }
        for (seconds, nanos) in cases {
            let mut out = Vec::new();
            write_timestamp(seconds, nanos, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                formatted(seconds, nanos),
                "{seconds} {nanos}"
            );
        }
    }

    const PROTO: &str = r#"
syntax = "proto3";
package orgd.test;
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum OrganizationState {
  ORGANIZATION_STATE_UNSPECIFIED = 0;
  ORGANIZATION_STATE_TRIAL = 1;
  ORGANIZATION_STATE_ACTIVE = 2;
}
enum OrderBy { ORDER_BY_UNSPECIFIED = 0; ORDER_BY_COMPANY_NAME = 1; CREATED = 2; }
message Address { string city = 1; int32 floor = 2; }
message Org {
  string name = 1;
  uint32 seats = 20;
  optional string nickname = 2;
  repeated int64 member_ids = 3;
  OrganizationState state = 4;
  int64 parent_id = 5 [json_name = "parentID"];
  bytes logo = 6;
  double score = 7;
  bool verified = 8;
  google.protobuf.Timestamp create_time = 9;
  google.protobuf.Int64Value quota = 10;
  map<string, int64> limits = 11;
  Address address = 12;
  repeated Address branches = 13;
  int32 size = 14;
  float ratio = 15;
  google.protobuf.Duration ttl = 16;
  google.protobuf.Struct labels = 17;
  OrderBy order_by = 18;
  oneof contact { string email = 21; string phone = 22; }
}
message Patch { google.protobuf.Value display_name = 1; }
"#;

    /// The descriptors of one proto file given as text (compiled by protox from a file of
    /// its own, which protox needs).
    pub(crate) fn compile(file: &str, source: &str) -> DescriptorPool {
        let dir = std::env::temp_dir().join(format!("orgd-{file}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), source).unwrap();
        let set = protox::compile([dir.join(file)], [&dir]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        DescriptorPool::from_file_descriptor_set(set).unwrap()
    }

    fn pool() -> &'static DescriptorPool {
        static POOL: OnceLock<DescriptorPool> = OnceLock::new();
        POOL.get_or_init(|| compile("org.proto", PROTO))
    }

    fn org() -> DynamicMessage {
        DynamicMessage::new(pool().get_message_by_name("orgd.test.Org").unwrap())
    }

    fn field(name: &str) -> FieldDescriptor {
        org().descriptor().get_field_by_name(name).unwrap()
    }

    fn enc(msg: &DynamicMessage) -> String {
        let mut out = Vec::new();
        encode_message(msg, FieldNaming::JsonName, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn dec(json: Json) -> DynamicMessage {
        let mut msg = org();
        decode_into(&mut msg, &json).unwrap();
        msg
    }

    fn errs(json: Json) -> Vec<FieldError> {
        decode_into(&mut org(), &json).unwrap_err()
    }

    fn err(path: &[&str], code: &'static str, message: &str) -> FieldError {
        let seg = |s: &&str| match s.parse() {
            Ok(i) => PathSegment::Index(i),
            Err(_) => PathSegment::Field(s.to_string()),
        };
        let path = path.iter().map(seg).collect();
        FieldError {
            path,
            code,
            message: message.into(),
        }
    }

    fn full() -> Json {
        json!({
            "name": "Acme \"Co\"", "seats": 5, "nickname": "ac",
            "memberIds": [1, 9007199254740993u64], "state": "TRIAL", "parentID": "42",
            "logo": "aGVsbG8", "score": 0.1, "verified": true,
            "createTime": "2026-11-22T06:53:43.5+01:00", "quota": 7, "limits": {"b": 2, "a": 1},
            "address": {"city": "Oslo", "floor": 3}, "branches": [{"city": "Rome"}],
            "size": 4.0, "ratio": 0.5, "ttl": "1.5s", "labels": {"k": [1, 2.5, "x", null, true, {}]},
            "orderBy": "ORDER_BY_COMPANY_NAME", "phone": "+47", "unknownKey": {"x": 1}
        })
    }

    const FULL: &str = concat!(
        r#"{"name":"Acme \"Co\"","seats":5,"nickname":"ac","memberIds":[1,9007199254740993],"#,
        r#""state":"trial","parentID":42,"logo":"aGVsbG8=","score":0.1,"verified":true,"#,
        r#""createTime":"2026-11-22T05:53:43.500Z","quota":7,"limits":{"a":1,"b":2},"#,
        r#""address":{"city":"Oslo","floor":3},"branches":[{"city":"Rome","floor":0}],"#,
        r#""size":4,"ratio":0.5,"ttl":"1.5s","labels":{"k":[1,2.5,"x",null,true,{}]},"#,
        r#""orderBy":"company_name","email":null,"phone":"+47"}"#
    );

    #[test]
    fn encodes_defaults_and_nulls() {
        assert_eq!(
            enc(&org()),
            concat!(
                r#"{"name":"","seats":0,"nickname":null,"memberIds":[],"state":null,"parentID":0,"#,
                r#""logo":"","score":0.0,"verified":false,"createTime":null,"quota":null,"#,
                r#""limits":{},"address":null,"branches":[],"size":0,"ratio":0.0,"ttl":null,"#,
                r#""labels":null,"orderBy":null,"email":null,"phone":null}"#
            )
        );
        let mut out = Vec::new();
        encode_message(&org(), FieldNaming::ProtoName, &mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with(r#"{"name":"","seats":0,"nickname":null,"member_ids":[],"#));
        assert!(out.contains(r#""parent_id":0,"#) && out.contains(r#""create_time":null,"#));
    }

    #[test]
    fn decodes_every_kind_and_round_trips() {
        let msg = dec(full());
        assert_eq!(enc(&msg), FULL);
        let again = dec(serde_json::from_str(&enc(&msg)).unwrap());
        assert_eq!(enc(&again), FULL);
        let mut out = Vec::new();
        encode_field(&msg, &field("member_ids"), FieldNaming::JsonName, &mut out);
        assert_eq!(out, b"[1,9007199254740993]");
    }

    #[test]
    fn a_list_past_the_budget_stops_being_written_and_is_refused() {
        let msg = dec(full());
        let whole = enc(&msg).len();
        let mut out = Vec::new();
        assert_eq!(
            encode_message_within(&msg, FieldNaming::JsonName, whole, &mut out),
            Ok(())
        );
        assert_eq!(out.len(), whole);
        let mut out = Vec::new();
        assert_eq!(
            encode_message_within(&msg, FieldNaming::JsonName, whole - 1, &mut out),
            Err(OverBudget)
        );
        let mut out = Vec::new();
        let field = field("member_ids");
        assert_eq!(
            encode_field_within(&msg, &field, FieldNaming::JsonName, 1, &mut out),
            Err(OverBudget)
        );
        // Stopped after the item that crossed the budget, not at the end of the list.
        assert_eq!(out, b"[1");
    }

    #[test]
    fn null_clears_and_unknown_keys_are_ignored() {
        let mut msg = dec(full());
        let clear = json!({"nickname": null, "address": null, "state": null,
            "phone": null, "quota": null, "createTime": null, "bogus": [1]});
        decode_into(&mut msg, &clear).unwrap();
        for name in ["nickname", "address", "phone", "quota", "create_time"] {
            assert!(!msg.has_field(&field(name)), "{name}");
        }
        let out = enc(&msg);
        assert!(
            out.contains(r#""nickname":null,"memberIds":[1,9007199254740993],"state":null,"#),
            "{out}"
        );
        // Where the schema has no null (no presence, not an enum), null is refused.
        for key in ["name", "memberIds", "seats", "limits", "logo"] {
            assert_eq!(
                errs(json!({ key: null })),
                [err(&[key], INVALID_TYPE, "must not be null")],
                "{key}"
            );
        }
        assert!(out.ends_with(r#""email":null,"phone":null}"#), "{out}");
    }

    #[test]
    fn formats_special_values() {
        let mut msg = org();
        msg.set_field(&field("score"), Value::F64(f64::NAN));
        msg.set_field(&field("ratio"), Value::F32(f32::NEG_INFINITY));
        msg.set_field(&field("state"), Value::EnumNumber(7));
        let out = enc(&msg);
        assert!(
            out.contains(r#""state":7,"#) && out.contains(r#""score":"NaN","#),
            "{out}"
        );
        assert!(out.contains(r#""ratio":"-Infinity","#), "{out}");
        for (ts, want) in [
            ("2026-11-22T05:53:43Z", "2026-11-22T05:53:43Z"),
            ("2026-11-22T05:53:43.000001Z", "2026-11-22T05:53:43.000001Z"),
            (
                "2026-11-22T05:53:43.0000015-00:00",
                "2026-11-22T05:53:43.000001500Z",
            ),
        ] {
            let msg = dec(json!({"createTime": ts, "ttl": "-0.250s"}));
            assert!(enc(&msg).contains(&format!(r#""createTime":"{want}""#)));
            assert!(enc(&msg).contains(r#""ttl":"-0.25s""#));
        }
        let msg = dec(json!({"logo": "-_8", "score": "Infinity"}));
        assert_eq!(
            msg.get_field(&field("logo")).as_bytes().unwrap().as_ref(),
            [0xfb, 0xff]
        );
        assert!(enc(&msg).contains(r#""logo":"+/8=","score":"Infinity""#));
        let state = pool()
            .get_enum_by_name("orgd.test.OrganizationState")
            .unwrap();
        assert_eq!(enum_json_value(&state, 2).as_deref(), Some("active"));
        assert_eq!(enum_json_value(&state, 0), None);
        assert_eq!(upper_snake("HTTPMethod"), "HTTP_METHOD");
        assert_eq!(upper_snake("V2Kind_Name"), "V2_KIND_NAME");
        let leap = dec(json!({"createTime": "2016-12-31T23:59:60.5Z"}));
        assert!(enc(&leap).contains(r#""createTime":"2016-12-31T23:59:59.999999999Z""#));
        assert!(enc(&dec(json!({"orderBy": 2}))).contains(r#""orderBy":"created""#));
    }

    #[test]
    fn integers_and_enums() {
        assert_eq!(
            dec(json!({"size": 4.0})).get_field(&field("size")).as_i32(),
            Some(4)
        );
        assert_eq!(
            errs(json!({"size": 4.5})),
            [err(&["size"], INVALID_TYPE, "must be an integer")]
        );
        let range = "must be between -2147483648 and 2147483647";
        assert_eq!(
            errs(json!({"size": 2147483648u64})),
            [err(&["size"], OUT_OF_RANGE, range)]
        );
        for ok in [
            json!("active"),
            json!("ORGANIZATION_STATE_ACTIVE"),
            json!(2),
        ] {
            assert_eq!(
                dec(json!({ "state": ok }))
                    .get_field(&field("state"))
                    .as_enum_number(),
                Some(2)
            );
        }
        let msg = "must be one of: trial, active";
        for bad in [
            json!("unspecified"),
            json!("ORGANIZATION_STATE_UNSPECIFIED"),
            json!(0),
            json!(7),
        ] {
            assert_eq!(
                errs(json!({ "state": bad })),
                [err(&["state"], INVALID_ENUM, msg)]
            );
        }
    }

    #[test]
    fn collects_all_errors_with_paths() {
        let mut got = errs(json!({
            "seats": -1, "memberIds": [1, "x", 2.5], "branches": [{}, {"floor": "high"}],
            "verified": "yes", "name": 5, "logo": "!!", "createTime": "yesterday", "ratio": 1e39,
            "address": [], "limits": {"a": "b"}, "parent_id": true, "ttl": "5", "labels": 3
        }));
        let mut want = vec![
            err(&["seats"], OUT_OF_RANGE, "must be between 0 and 4294967295"),
            err(&["memberIds", "1"], INVALID_TYPE, "must be an integer"),
            err(&["memberIds", "2"], INVALID_TYPE, "must be an integer"),
            err(
                &["branches", "1", "floor"],
                INVALID_TYPE,
                "must be an integer",
            ),
            err(&["verified"], INVALID_TYPE, "must be a boolean"),
            err(&["name"], INVALID_TYPE, "must be a string"),
            err(&["logo"], INVALID_FORMAT, "must be base64"),
            err(
                &["createTime"],
                INVALID_FORMAT,
                "must be an RFC 3339 date-time",
            ),
            err(
                &["ratio"],
                OUT_OF_RANGE,
                "must be between -3.4028235e38 and 3.4028235e38",
            ),
            err(&["address"], INVALID_TYPE, "must be an object"),
            err(&["limits", "a"], INVALID_TYPE, "must be an integer"),
            err(&["parent_id"], INVALID_TYPE, "must be an integer"),
            err(&["ttl"], INVALID_FORMAT, "must be a duration like \"1.5s\""),
            err(&["labels"], INVALID_TYPE, "must be an object"),
        ];
        // Order follows serde_json's map order, which depends on its features.
        let key = |e: &FieldError| format!("{e:?}");
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got, want);
        assert_eq!(
            decode_into(&mut org(), &json!([])).unwrap_err(),
            [err(&[], INVALID_TYPE, "must be an object")]
        );
    }

    #[test]
    fn decode_field_sets_one_field() {
        let mut msg = org();
        decode_field(&mut msg, &field("address"), &json!({"city": "Bergen"})).unwrap();
        decode_field(&mut msg, &field("address"), &json!({"floor": 2})).unwrap();
        assert!(enc(&msg).contains(r#""address":{"city":"Bergen","floor":2}"#));
        let e = decode_field(&mut msg, &field("branches"), &json!([{"floor": []}]));
        assert_eq!(
            e.unwrap_err(),
            [err(&["0", "floor"], INVALID_TYPE, "must be an integer")]
        );
    }

    #[test]
    fn scalars_from_strings() {
        let s = |name: &str, v: &str| scalar_from_str(&field(name), v);
        assert_eq!(s("verified", "true"), Ok(json!(true)));
        assert_eq!(s("verified", "no"), Err("must be a boolean".into()));
        assert_eq!(s("size", "12"), Ok(json!(12)));
        assert_eq!(
            s("seats", "-1"),
            Err("must be between 0 and 4294967295".into())
        );
        assert_eq!(s("parent_id", "abc"), Err("must be an integer".into()));
        assert_eq!(
            s("quota", "9007199254740993"),
            Ok(json!(9007199254740993i64))
        );
        assert_eq!(s("score", "1.5"), Ok(json!(1.5)));
        assert_eq!(s("score", "NaN"), Ok(json!("NaN")));
        assert_eq!(s("ratio", "x"), Err("must be a number".into()));
        assert_eq!(s("state", "trial"), Ok(json!("trial")));
        assert_eq!(s("state", "2"), Ok(json!(2)));
        assert_eq!(s("name", "x"), Ok(json!("x")));
        assert_eq!(
            s("create_time", "2026-01-01T00:00:00Z"),
            Ok(json!("2026-01-01T00:00:00Z"))
        );
        assert!(s("address", "x").is_err());
        let mut msg = org();
        decode_field(&mut msg, &field("state"), &s("state", "trial").unwrap()).unwrap();
        assert_eq!(msg.get_field(&field("state")).as_enum_number(), Some(1));
    }

    /// null in a google.protobuf.Value field is a value (NullValue), not an absent field:
    /// that is how a PATCH tells "clear it" from "leave it".
    #[test]
    fn null_in_a_value_field_is_kept() {
        let desc = pool().get_message_by_name("orgd.test.Patch").unwrap();
        let field = desc.get_field_by_name("display_name").unwrap();
        let mut absent = DynamicMessage::new(desc.clone());
        decode_into(&mut absent, &json!({})).unwrap();
        assert!(!absent.has_field(&field));
        let mut null = DynamicMessage::new(desc.clone());
        decode_into(&mut null, &json!({"display_name": null})).unwrap();
        assert!(null.has_field(&field));
        let mut text = DynamicMessage::new(desc);
        decode_into(&mut text, &json!({"display_name": "B"})).unwrap();
        let mut out = Vec::new();
        encode_field(&text, &field, FieldNaming::ProtoName, &mut out);
        assert_eq!(out, b"\"B\"");
    }
}
