//! A response's JSON written straight from its protobuf bytes, without decoding them into a
//! `DynamicMessage` first: the same bytes [`crate::json`] writes (a differential test holds
//! the two together), at a fraction of the cost. perf on a page of 25 partnerships put about
//! a quarter of the server's CPU in that decoding and in the descriptor look-ups of writing
//! it: a map and a `String` per field, then `kind()`, `get_field()` and `name()` per field
//! written. Here each message type's layout is worked out once (a [`Plan`], kept by its
//! binding) and values are read where they lie in the bytes.
//!
//! Maps, Struct, Value and ListValue (rare in responses) are written through a
//! `DynamicMessage` of just the message holding them. What this writer cannot write the way
//! protobuf reads it, it does not attempt: a singular message, or two fields of one oneof,
//! given more than once (protobuf merges them, or keeps the last member), a wire type that
//! is not the field's, invalid UTF-8, groups, nesting deeper than `MAX_DEPTH`. It answers
//! [`Unusual`], and the caller writes the whole response the general way, which also gives
//! the general way's error for bytes that are broken.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use crate::json::{self, FieldNaming};
use crate::wkt::{DURATION, LIST_VALUE, STRUCT, TIMESTAMP, VALUE, is_wrapper};

/// These bytes are not written here; write them through a `DynamicMessage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unusual;

/// How one message type is written, worked out from its descriptor once.
#[derive(Debug)]
pub struct Plan {
    shape: Shape,
    naming: FieldNaming,
}

#[derive(Debug)]
enum Shape {
    /// A JSON object of every field, in declaration order.
    Object {
        fields: Box<[FieldPlan]>,
        /// (field number, index into `fields`), by number.
        by_number: Box<[(u32, usize)]>,
        /// A wrapper type: written as the JSON of its one field, without braces or names.
        bare: bool,
    },
    Timestamp,
    Duration,
    /// Struct, Value, ListValue and messages with map fields: rare in responses, written
    /// through a `DynamicMessage` of just that message.
    General(MessageDescriptor),
}

#[derive(Debug)]
struct FieldPlan {
    /// `"name":`, escaped.
    key: Box<[u8]>,
    /// What [`crate::json`] writes for the field when it is not in the bytes.
    absent: Box<[u8]>,
    list: bool,
    /// The oneof of the field (its index in the message), if any.
    oneof: Option<i32>,
    value: ValuePlan,
}

#[derive(Debug)]
enum ValuePlan {
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Float,
    Double,
    String,
    Bytes,
    /// The JSON of each defined number other than 0, by number.
    Enum(Box<[(i32, Box<[u8]>)]>),
    /// Nested plans are made when first needed: types may be recursive.
    Message(MessageDescriptor, OnceLock<Arc<Plan>>),
}

/// Deeper messages are left to the general decoder, which refuses nesting past its own limit
/// (100) rather than run out of stack.
const MAX_DEPTH: u32 = 64;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

impl ValuePlan {
    /// The wire type of one value of the field, unpacked.
    fn wire_type(&self) -> u8 {
        match self {
            ValuePlan::Fixed64 | ValuePlan::Sfixed64 | ValuePlan::Double => FIXED64,
            ValuePlan::Fixed32 | ValuePlan::Sfixed32 | ValuePlan::Float => FIXED32,
            ValuePlan::String | ValuePlan::Bytes | ValuePlan::Message(..) => LEN,
            _ => VARINT,
        }
    }
}

/// Where one field of a message lies in its bytes.
#[derive(Clone, Copy, Debug)]
struct Occurrence {
    field: usize,
    wire_type: u8,
    start: usize,
    end: usize,
}

impl Plan {
    pub fn new(desc: &MessageDescriptor, naming: FieldNaming) -> Plan {
        let shape = match desc.full_name() {
            TIMESTAMP => Shape::Timestamp,
            DURATION => Shape::Duration,
            STRUCT | LIST_VALUE | VALUE => Shape::General(desc.clone()),
            _ if desc.fields().any(|f| f.is_map()) => Shape::General(desc.clone()),
            name if is_wrapper(name) => match desc.get_field(1) {
                Some(f) => Shape::Object {
                    fields: Box::new([field_plan(&f, naming, false)]),
                    by_number: Box::new([(1, 0)]),
                    bare: true,
                },
                None => Shape::General(desc.clone()),
            },
            _ => {
                // `fields()` yields number order, but the APIs list fields in declaration order.
                let declared: Vec<FieldDescriptor> = (desc.descriptor_proto().field.iter())
                    .filter_map(|f| desc.get_field(u32::try_from(f.number()).ok()?))
                    .collect();
                let mut by_number: Vec<(u32, usize)> = (declared.iter().enumerate())
                    .map(|(i, f)| (f.number(), i))
                    .collect();
                by_number.sort_unstable();
                Shape::Object {
                    fields: declared
                        .iter()
                        .map(|f| field_plan(f, naming, true))
                        .collect(),
                    by_number: by_number.into(),
                    bare: false,
                }
            }
        };
        Plan { shape, naming }
    }

    /// Appends the JSON of the message in `bytes`. Lists stop being written once `out` is
    /// past `max`, as [`json::encode_message_within`]'s do; the caller checks the length.
    pub fn write(&self, bytes: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), Unusual> {
        self.write_message(bytes, &mut Writer::new(self.naming, max, out))
    }

    /// Appends the JSON of the field numbered `number` of the message in `bytes`, as
    /// [`json::encode_field_within`] does.
    pub fn write_field(
        &self,
        number: u32,
        bytes: &[u8],
        max: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Unusual> {
        let Shape::Object {
            fields,
            by_number,
            bare: false,
        } = &self.shape
        else {
            return Err(Unusual);
        };
        let Ok(at) = by_number.binary_search_by_key(&number, |(n, _)| *n) else {
            return Err(Unusual);
        };
        let index = by_number[at].1;
        let w = &mut Writer::new(self.naming, max, out);
        scan(bytes, fields, by_number, &mut w.scratch)?;
        w.scratch.retain(|o| o.field == index);
        match w.scratch.len() {
            0 => w.out.extend_from_slice(&fields[index].absent),
            n => write_occurrences(&fields[index], 0..n, bytes, w)?,
        }
        Ok(())
    }

    fn write_message(&self, bytes: &[u8], w: &mut Writer) -> Result<(), Unusual> {
        match &self.shape {
            Shape::Object {
                fields,
                by_number,
                bare,
            } => {
                let base = w.scratch.len();
                scan(bytes, fields, by_number, &mut w.scratch)?;
                // Grouped by field, in the order they came.
                w.scratch[base..].sort_unstable_by_key(|o| (o.field, o.start));
                check_oneofs(fields, &w.scratch[base..])?;
                if !bare {
                    w.out.push(b'{');
                }
                let mut next = base;
                for (index, field) in fields.iter().enumerate() {
                    if !bare {
                        if index > 0 {
                            w.out.push(b',');
                        }
                        w.out.extend_from_slice(&field.key);
                    }
                    let start = next;
                    while next < w.scratch.len() && w.scratch[next].field == index {
                        next += 1;
                    }
                    if start == next {
                        w.out.extend_from_slice(&field.absent);
                    } else {
                        write_occurrences(field, start..next, bytes, w)?;
                    }
                }
                if !bare {
                    w.out.push(b'}');
                }
                w.scratch.truncate(base);
                Ok(())
            }
            Shape::Timestamp => {
                let (seconds, nanos) = seconds_and_nanos(bytes)?;
                json::write_timestamp(seconds, nanos, w.out);
                Ok(())
            }
            Shape::Duration => {
                let (seconds, nanos) = seconds_and_nanos(bytes)?;
                json::write_duration(seconds, nanos, w.out);
                Ok(())
            }
            Shape::General(desc) => {
                let msg = DynamicMessage::decode(desc.clone(), bytes).map_err(|_| Unusual)?;
                json::write_message(&msg, w.naming, w.max, w.out);
                Ok(())
            }
        }
    }
}

/// One response being written.
struct Writer<'o> {
    naming: FieldNaming,
    max: usize,
    out: &'o mut Vec<u8>,
    /// The fields found in each message being written, innermost last: a message's nested
    /// messages push theirs after its own and truncate them away when done.
    scratch: Vec<Occurrence>,
    /// How many messages the one being written is nested in.
    depth: u32,
}

impl<'o> Writer<'o> {
    fn new(naming: FieldNaming, max: usize, out: &'o mut Vec<u8>) -> Self {
        Writer {
            naming,
            max,
            out,
            scratch: Vec::with_capacity(32),
            depth: 0,
        }
    }

    /// Starts the next item of a list: false, and nothing written, once past the budget.
    fn next_item(&mut self, first: &mut bool) -> bool {
        if self.out.len() > self.max {
            return false;
        }
        if !*first {
            self.out.push(b',');
        }
        *first = false;
        true
    }
}

fn field_plan(field: &FieldDescriptor, naming: FieldNaming, with_presence: bool) -> FieldPlan {
    let mut key = Vec::new();
    json::write_str(naming.name_of(field), &mut key);
    key.push(b':');
    // Exactly what the general writer puts for a field it does not have.
    let mut absent = Vec::new();
    if field.is_list() {
        absent.extend_from_slice(b"[]");
    } else if with_presence && field.supports_presence() && !json::zero_when_unset(field) {
        absent.extend_from_slice(b"null");
    } else {
        let zero = Value::default_value_for_field(field);
        json::encode_value(&zero, &field.kind(), naming, usize::MAX, &mut absent);
    }
    let value = match field.kind() {
        Kind::Bool => ValuePlan::Bool,
        Kind::Int32 => ValuePlan::Int32,
        Kind::Int64 => ValuePlan::Int64,
        Kind::Uint32 => ValuePlan::Uint32,
        Kind::Uint64 => ValuePlan::Uint64,
        Kind::Sint32 => ValuePlan::Sint32,
        Kind::Sint64 => ValuePlan::Sint64,
        Kind::Fixed32 => ValuePlan::Fixed32,
        Kind::Fixed64 => ValuePlan::Fixed64,
        Kind::Sfixed32 => ValuePlan::Sfixed32,
        Kind::Sfixed64 => ValuePlan::Sfixed64,
        Kind::Float => ValuePlan::Float,
        Kind::Double => ValuePlan::Double,
        Kind::String => ValuePlan::String,
        Kind::Bytes => ValuePlan::Bytes,
        Kind::Enum(e) => {
            let mut names: Vec<(i32, Box<[u8]>)> = e
                .values()
                .filter_map(|v| {
                    let name = json::enum_json_value(&e, v.number())?;
                    let mut quoted = Vec::new();
                    json::write_str(&name, &mut quoted);
                    Some((v.number(), quoted.into()))
                })
                .collect();
            names.sort_unstable_by_key(|(n, _)| *n);
            names.dedup_by_key(|(n, _)| *n);
            ValuePlan::Enum(names.into())
        }
        Kind::Message(m) => ValuePlan::Message(m, OnceLock::new()),
    };
    FieldPlan {
        key: key.into(),
        absent: absent.into(),
        list: field.is_list(),
        oneof: field.field_descriptor_proto().oneof_index,
        value,
    }
}

/// Records where each known field of the message in `bytes` lies; unknown fields are skipped,
/// as the general decoder keeps them unwritten.
fn scan(
    bytes: &[u8],
    fields: &[FieldPlan],
    by_number: &[(u32, usize)],
    scratch: &mut Vec<Occurrence>,
) -> Result<(), Unusual> {
    let mut pos = 0;
    while pos < bytes.len() {
        let (number, wire_type) = key(bytes, &mut pos)?;
        let start = pos;
        skip(bytes, &mut pos, wire_type)?;
        let Ok(at) = by_number.binary_search_by_key(&number, |(n, _)| *n) else {
            continue;
        };
        let field = by_number[at].1;
        let expected = fields[field].value.wire_type();
        let packed = fields[field].list && wire_type == LEN && expected != LEN;
        if wire_type != expected && !packed {
            return Err(Unusual);
        }
        let (start, end) = payload(bytes, start, pos, wire_type);
        scratch.push(Occurrence {
            field,
            wire_type,
            start,
            end,
        });
    }
    Ok(())
}

/// Protobuf keeps the last of a oneof's members given; the general writer shows only that
/// one, so two members given are left to it.
fn check_oneofs(fields: &[FieldPlan], found: &[Occurrence]) -> Result<(), Unusual> {
    for (i, o) in found.iter().enumerate() {
        let Some(oneof) = fields[o.field].oneof else {
            continue;
        };
        let other = |p: &Occurrence| p.field != o.field && fields[p.field].oneof == Some(oneof);
        if found[..i].iter().any(other) {
            return Err(Unusual);
        }
    }
    Ok(())
}

/// Writes one field's value from every place it was found (all of them for a list, the last
/// for a singular field). `found` indexes `w.scratch`.
fn write_occurrences(
    field: &FieldPlan,
    found: std::ops::Range<usize>,
    bytes: &[u8],
    w: &mut Writer,
) -> Result<(), Unusual> {
    if !field.list {
        if found.len() > 1 && matches!(field.value, ValuePlan::Message(..)) {
            return Err(Unusual);
        }
        let last = w.scratch[found.end - 1];
        return write_value(field, &bytes[last.start..last.end], w);
    }
    w.out.push(b'[');
    let mut first = true;
    let width = match field.value.wire_type() {
        FIXED32 => Some(4),
        FIXED64 => Some(8),
        _ => None,
    };
    for i in found {
        // Copied: writing a nested message pushes onto `scratch`.
        let o = w.scratch[i];
        let data = &bytes[o.start..o.end];
        if o.wire_type != LEN || field.value.wire_type() == LEN {
            if !w.next_item(&mut first) {
                return Ok(());
            }
            write_value(field, data, w)?;
            continue;
        }
        // Packed: values one after another.
        let mut pos = 0;
        while pos < data.len() {
            let start = pos;
            match width {
                Some(n) if data.len() - pos >= n => pos += n,
                Some(_) => return Err(Unusual),
                None => {
                    varint(data, &mut pos)?;
                }
            }
            if !w.next_item(&mut first) {
                return Ok(());
            }
            write_value(field, &data[start..pos], w)?;
        }
    }
    w.out.push(b']');
    Ok(())
}

/// Writes one value: `data` is a varint's bytes, a fixed-width value, or a length-delimited
/// payload, by the field's kind.
fn write_value(field: &FieldPlan, data: &[u8], w: &mut Writer) -> Result<(), Unusual> {
    let mut number = itoa::Buffer::new();
    let v = || {
        let mut pos = 0;
        varint(data, &mut pos)
    };
    let out = &mut *w.out;
    match &field.value {
        ValuePlan::Bool => out.extend_from_slice(if v()? != 0 { b"true" } else { b"false" }),
        ValuePlan::Int32 => out.extend_from_slice(number.format(v()? as i32).as_bytes()),
        ValuePlan::Int64 => out.extend_from_slice(number.format(v()? as i64).as_bytes()),
        ValuePlan::Uint32 => out.extend_from_slice(number.format(v()? as u32).as_bytes()),
        ValuePlan::Uint64 => out.extend_from_slice(number.format(v()?).as_bytes()),
        ValuePlan::Sint32 => {
            let n = v()? as u32;
            let n = ((n >> 1) as i32) ^ -((n & 1) as i32);
            out.extend_from_slice(number.format(n).as_bytes());
        }
        ValuePlan::Sint64 => {
            let n = v()?;
            let n = ((n >> 1) as i64) ^ -((n & 1) as i64);
            out.extend_from_slice(number.format(n).as_bytes());
        }
        ValuePlan::Fixed32 => out.extend_from_slice(number.format(le32(data)?).as_bytes()),
        ValuePlan::Sfixed32 => {
            out.extend_from_slice(number.format(le32(data)? as i32).as_bytes());
        }
        ValuePlan::Fixed64 => out.extend_from_slice(number.format(le64(data)?).as_bytes()),
        ValuePlan::Sfixed64 => {
            out.extend_from_slice(number.format(le64(data)? as i64).as_bytes());
        }
        ValuePlan::Float => {
            let value = Value::F32(f32::from_bits(le32(data)?));
            json::encode_value(&value, &Kind::Float, w.naming, w.max, out);
        }
        ValuePlan::Double => {
            let value = Value::F64(f64::from_bits(le64(data)?));
            json::encode_value(&value, &Kind::Double, w.naming, w.max, out);
        }
        ValuePlan::String => {
            let s = std::str::from_utf8(data).map_err(|_| Unusual)?;
            json::write_str(s, out);
        }
        ValuePlan::Bytes => {
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(data).as_bytes());
            out.push(b'"');
        }
        ValuePlan::Enum(names) => {
            let n = v()? as i32;
            match names.binary_search_by_key(&n, |(k, _)| *k) {
                Ok(at) => out.extend_from_slice(&names[at].1),
                // Undefined numbers are kept as numbers, the zero value is null.
                Err(_) if n != 0 => out.extend_from_slice(number.format(n).as_bytes()),
                Err(_) => out.extend_from_slice(b"null"),
            }
        }
        ValuePlan::Message(desc, plan) => {
            if w.depth >= MAX_DEPTH {
                return Err(Unusual);
            }
            let plan = plan.get_or_init(|| Arc::new(Plan::new(desc, w.naming)));
            w.depth += 1;
            let written = plan.write_message(data, w);
            w.depth -= 1;
            written?;
        }
    }
    Ok(())
}

/// Timestamp and Duration: field 1 int64, field 2 int32, the last of each given.
fn seconds_and_nanos(bytes: &[u8]) -> Result<(i64, i64), Unusual> {
    let (mut seconds, mut nanos) = (0i64, 0i64);
    let mut pos = 0;
    while pos < bytes.len() {
        let (number, wire_type) = key(bytes, &mut pos)?;
        match (number, wire_type) {
            (1, VARINT) => seconds = varint(bytes, &mut pos)? as i64,
            (2, VARINT) => nanos = i64::from(varint(bytes, &mut pos)? as i32),
            (1 | 2, _) => return Err(Unusual),
            _ => skip(bytes, &mut pos, wire_type)?,
        }
    }
    Ok((seconds, nanos))
}

fn key(bytes: &[u8], pos: &mut usize) -> Result<(u32, u8), Unusual> {
    let key = varint(bytes, pos)?;
    let number = u32::try_from(key >> 3).map_err(|_| Unusual)?;
    if number == 0 {
        return Err(Unusual);
    }
    Ok((number, (key & 7) as u8))
}

/// Moves `pos` past the value that starts there.
fn skip(bytes: &[u8], pos: &mut usize, wire_type: u8) -> Result<(), Unusual> {
    let end = match wire_type {
        VARINT => {
            varint(bytes, pos)?;
            return Ok(());
        }
        FIXED64 => pos.checked_add(8),
        FIXED32 => pos.checked_add(4),
        LEN => {
            let len = usize::try_from(varint(bytes, pos)?).map_err(|_| Unusual)?;
            pos.checked_add(len)
        }
        // Groups (3, 4) and undefined wire types.
        _ => None,
    };
    match end {
        Some(end) if end <= bytes.len() => {
            *pos = end;
            Ok(())
        }
        _ => Err(Unusual),
    }
}

/// The bytes of a value that `start..end` spans with its key removed: a length-delimited
/// value without its length.
fn payload(bytes: &[u8], start: usize, end: usize, wire_type: u8) -> (usize, usize) {
    if wire_type == LEN {
        let mut pos = start;
        // Read once already by `skip`, so it is well-formed.
        let _ = varint(bytes, &mut pos);
        (pos, end)
    } else {
        (start, end)
    }
}

/// A varint at `pos`, read by prost's own decoder.
fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, Unusual> {
    let mut rest = bytes.get(*pos..).ok_or(Unusual)?;
    let before = rest.len();
    let value = prost::encoding::decode_varint(&mut rest).map_err(|_| Unusual)?;
    *pos += before - rest.len();
    Ok(value)
}

fn le32(data: &[u8]) -> Result<u32, Unusual> {
    Ok(u32::from_le_bytes(data.try_into().map_err(|_| Unusual)?))
}

fn le64(data: &[u8]) -> Result<u64, Unusual> {
    Ok(u64::from_le_bytes(data.try_into().map_err(|_| Unusual)?))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use prost::Message;
    use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, Value};

    use super::{Plan, Unusual};
    use crate::json::{self, FieldNaming};

    const PROTO: &str = r#"
syntax = "proto3";
package orgd.wiretest;
import "google/protobuf/any.proto";
import "google/protobuf/descriptor.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

extend google.protobuf.FieldOptions { bool zero = 50123; }

enum State { STATE_UNSPECIFIED = 0; STATE_TRIAL = 1; STATE_ACTIVE = 2; OTHER = 7; }
message Scalars {
  bool b = 1; int32 i32 = 2; int64 i64 = 3; uint32 u32 = 4; uint64 u64 = 5;
  sint32 s32 = 6; sint64 s64 = 7; fixed32 f32 = 8; fixed64 f64 = 9;
  sfixed32 sf32 = 10; sfixed64 sf64 = 11; float fl = 12; double db = 13;
  string s = 14; bytes by = 15; State st = 16;
}
message Lists {
  repeated bool b = 1; repeated int32 i32 = 2; repeated sint64 s64 = 3;
  repeated fixed32 f32 = 4; repeated sfixed64 sf64 = 5; repeated float fl = 6;
  repeated double db = 7; repeated string s = 8; repeated bytes by = 9;
  repeated State st = 10; repeated Scalars m = 11 [json_name = "items"];
  repeated int64 unpacked = 12 [packed = false];
  repeated google.protobuf.Timestamp times = 13;
}
message Node {
  string name = 3;
  optional int32 weight = 1;
  Node parent = 2;
  repeated Node children = 4;
  Scalars scalars = 5 [(zero) = true];
  google.protobuf.Timestamp at = 6;
  google.protobuf.Timestamp zero_at = 7 [(zero) = true];
  google.protobuf.Duration ttl = 8;
  google.protobuf.Int64Value quota = 9;
  google.protobuf.StringValue label = 10;
  google.protobuf.Struct meta = 11;
  google.protobuf.Value value = 12;
  oneof contact { string email = 14; Scalars phone = 15; }
  optional State state = 16;
  Lists lists = 17;
  google.protobuf.Any any = 18;
  optional string maybe = 20 [(zero) = true];
}
message Mapped { map<int32, Node> nodes = 1; string tag = 2; map<string, int32> counts = 3; }
"#;

    fn pool() -> &'static DescriptorPool {
        static POOL: OnceLock<DescriptorPool> = OnceLock::new();
        POOL.get_or_init(|| {
            json::use_zero_when_unset("orgd.wiretest.zero");
            json::tests::compile("wire.proto", PROTO)
        })
    }

    /// xorshift64*: the same cases on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn int(rng: &mut Rng) -> i64 {
        let edges = [
            0,
            1,
            -1,
            127,
            128,
            -128,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ];
        match rng.below(3) {
            0 => edges[rng.below(edges.len() as u64) as usize],
            1 => i64::MAX - rng.below(2) as i64,
            _ => rng.next() as i64,
        }
    }

    fn float(rng: &mut Rng) -> f64 {
        let edges = [
            0.0,
            -0.0,
            0.1,
            1.5,
            -2.25,
            1e300,
            f64::NAN,
            f64::INFINITY,
            3.0,
        ];
        match rng.below(2) {
            0 => edges[rng.below(edges.len() as u64) as usize],
            _ => f64::from_bits(rng.next()),
        }
    }

    fn string(rng: &mut Rng) -> String {
        let parts = [
            "",
            "a",
            "Zoë",
            "\"quoted\"",
            "back\\slash",
            "\n\t\u{1}",
            "日本",
            "😀",
        ];
        (0..rng.below(4))
            .map(|_| parts[rng.below(parts.len() as u64) as usize])
            .collect()
    }

    fn value(rng: &mut Rng, kind: &Kind, depth: u32) -> Value {
        match kind {
            Kind::Bool => Value::Bool(rng.below(2) == 1),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(int(rng) as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int(rng)),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(int(rng) as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(int(rng) as u64),
            Kind::Float => Value::F32(float(rng) as f32),
            Kind::Double => Value::F64(float(rng)),
            Kind::String => Value::String(string(rng)),
            Kind::Bytes => Value::Bytes(string(rng).into_bytes().into()),
            // Defined and undefined numbers, and the zero value.
            Kind::Enum(_) => Value::EnumNumber([0, 1, 2, 7, 5, -3][rng.below(6) as usize]),
            Kind::Message(m) => Value::Message(message(rng, m, depth + 1)),
        }
    }

    fn message(rng: &mut Rng, desc: &MessageDescriptor, depth: u32) -> DynamicMessage {
        let mut msg = DynamicMessage::new(desc.clone());
        if depth > 3 {
            return msg;
        }
        for field in desc.fields() {
            if rng.below(3) == 0 {
                continue;
            }
            let v = if field.is_map() {
                let entry = field.kind();
                let entry = entry.as_message().unwrap();
                let (key, val) = (entry.map_entry_key_field(), entry.map_entry_value_field());
                let map = (0..rng.below(3))
                    .map(|_| {
                        let k = match key.kind() {
                            Kind::String => MapKey::String(string(rng)),
                            _ => MapKey::I32(int(rng) as i32),
                        };
                        (k, value(rng, &val.kind(), depth))
                    })
                    .collect();
                Value::Map(map)
            } else if field.is_list() {
                Value::List(
                    (0..rng.below(4))
                        .map(|_| value(rng, &field.kind(), depth))
                        .collect(),
                )
            } else {
                value(rng, &field.kind(), depth)
            };
            msg.set_field(&field, v);
        }
        msg
    }

    fn general(msg: &DynamicMessage, naming: FieldNaming) -> Vec<u8> {
        let mut out = Vec::new();
        json::encode_message(msg, naming, &mut out);
        out
    }

    fn direct(
        desc: &MessageDescriptor,
        bytes: &[u8],
        naming: FieldNaming,
    ) -> Result<Vec<u8>, Unusual> {
        let mut out = Vec::new();
        Plan::new(desc, naming).write(bytes, usize::MAX, &mut out)?;
        Ok(out)
    }

    #[test]
    fn writes_what_the_general_writer_writes_for_every_message() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut compared = 0;
        for desc in pool().all_messages() {
            for round in 0..300 {
                let naming = if round % 2 == 0 {
                    FieldNaming::JsonName
                } else {
                    FieldNaming::ProtoName
                };
                let msg = message(&mut rng, &desc, 0);
                let bytes = msg.encode_to_vec();
                // What the general way writes is what it decodes (-0.0 is not encoded, say).
                let decoded = DynamicMessage::decode(desc.clone(), bytes.as_slice()).unwrap();
                let expected = general(&decoded, naming);
                match direct(&desc, &bytes, naming) {
                    Ok(out) => {
                        assert_eq!(
                            String::from_utf8_lossy(&out),
                            String::from_utf8_lossy(&expected),
                            "{}",
                            desc.full_name()
                        );
                        compared += 1;
                    }
                    Err(Unusual) => panic!("{}: well-formed bytes refused", desc.full_name()),
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }

    /// Within a budget, as the general writer: refused exactly when its JSON is longer.
    #[test]
    fn refuses_what_the_general_writer_refuses_for_length() {
        let mut rng = Rng(42);
        let desc = pool().get_message_by_name("orgd.wiretest.Node").unwrap();
        let (mut refused, mut written) = (0, 0);
        for _ in 0..2000 {
            let bytes = message(&mut rng, &desc, 0).encode_to_vec();
            let decoded = DynamicMessage::decode(desc.clone(), bytes.as_slice()).unwrap();
            let full = general(&decoded, FieldNaming::JsonName).len();
            // Anywhere, or right at the edge.
            let max = match rng.below(2) {
                0 => rng.below(full as u64 + 2) as usize,
                _ => (full + rng.below(3) as usize).saturating_sub(1),
            };
            let mut expected = Vec::new();
            let general =
                json::encode_message_within(&decoded, FieldNaming::JsonName, max, &mut expected);
            let mut out = Vec::new();
            let plan = Plan::new(&desc, FieldNaming::JsonName);
            plan.write(&bytes, max, &mut out).unwrap();
            let direct = json::within(&out, max);
            assert_eq!(direct, general, "max {max} of {full}");
            if direct.is_ok() {
                assert_eq!(out, expected);
                written += 1;
            } else {
                refused += 1;
            }
        }
        assert!(refused > 100 && written > 100, "{refused} {written}");
    }

    /// Bytes prost never writes but may be given: each is written as the general decoder reads
    /// it, or left to it.
    #[test]
    fn bytes_protobuf_merges_are_left_to_the_general_writer() {
        let node = pool().get_message_by_name("orgd.wiretest.Node").unwrap();
        let naming = FieldNaming::JsonName;
        let cases: [(&str, Vec<u8>); 6] = [
            // `name` twice: the last is kept.
            ("scalar twice", vec![0x1a, 1, b'a', 0x1a, 1, b'b']),
            // `parent` twice: protobuf merges the two.
            ("message twice", vec![0x12, 2, 0x1a, 0, 0x12, 2, 0x08, 5]),
            // `email` then `phone`: only the last member of the oneof is kept.
            ("two oneof members", vec![0x72, 1, b'x', 0x7a, 0]),
            // `name` as a varint.
            ("wrong wire type", vec![0x18, 1]),
            ("invalid UTF-8", vec![0x1a, 1, 0xff]),
            // An unknown field 99 (a varint), skipped.
            ("unknown field", vec![0x98, 0x06, 1, 0x1a, 1, b'c']),
        ];
        for (what, bytes) in cases {
            let decoded = DynamicMessage::decode(node.clone(), bytes.as_slice());
            match (direct(&node, &bytes, naming), decoded) {
                (Ok(out), Ok(msg)) => assert_eq!(out, general(&msg, naming), "{what}"),
                (Err(Unusual), _) => {}
                (Ok(_), Err(e)) => {
                    panic!("{what}: written, but the general decoder refuses it: {e}")
                }
            }
        }
        assert!(direct(&node, &[0x12, 2, 0x1a, 0, 0x12, 2, 0x08, 5], naming).is_err());
        assert!(direct(&node, &[0x72, 1, b'x', 0x7a, 0], naming).is_err());
        assert_eq!(
            direct(&node, &[0x1a, 1, b'a', 0x1a, 1, b'b'], naming).unwrap(),
            general(
                &DynamicMessage::decode(node.clone(), &[0x1a, 1, b'a', 0x1a, 1, b'b'][..]).unwrap(),
                naming
            )
        );
    }

    /// Arbitrary bytes: whatever is written equals the general writer's JSON, and nothing the
    /// general decoder refuses is written.
    #[test]
    fn arbitrary_bytes_are_written_as_decoded_or_refused() {
        let mut rng = Rng(7);
        for desc in pool().all_messages() {
            for _ in 0..300 {
                let valid = message(&mut rng, &desc, 1).encode_to_vec();
                let mut bytes = valid.clone();
                // Mutate a few bytes, or cut the message short.
                match rng.below(3) {
                    0 if !bytes.is_empty() => {
                        let at = rng.below(bytes.len() as u64) as usize;
                        bytes[at] = rng.next() as u8;
                    }
                    1 => bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize),
                    _ => bytes.extend((0..rng.below(6)).map(|_| rng.next() as u8)),
                }
                let decoded = DynamicMessage::decode(desc.clone(), bytes.as_slice());
                match (direct(&desc, &bytes, FieldNaming::JsonName), decoded) {
                    (Ok(out), Ok(msg)) => assert_eq!(
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&general(&msg, FieldNaming::JsonName)),
                        "{} {bytes:?}",
                        desc.full_name()
                    ),
                    (Ok(_), Err(e)) => panic!(
                        "{}: {bytes:?} written, refused by the decoder: {e}",
                        desc.full_name()
                    ),
                    (Err(Unusual), _) => {}
                }
            }
        }
    }
}
