//! The codec of every orgd gRPC service (`build.rs` names it as the codec path): prost's,
//! plus one bound on every request message, whatever the RPC: no string longer than
//! [`MAX_STRING_CHARS`] characters or holding a NUL (PostgreSQL's text cannot store one,
//! and no field of ours means one), no repeated or map field with more than
//! [`MAX_LIST_ITEMS`] entries (OWASP API4). It is a backstop under the domain's own, tighter
//! rules, so that a field nobody thought to bound (an opaque id, a filter list) is bounded
//! too, on gRPC, grpc-web and REST (which calls the services in-process) alike. Like the
//! message size limit it applies while decoding, before the RPC looks at the caller.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::LazyLock;

use bytes::Buf;
use prost::{Message, Name};
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, Value};
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_prost::{ProstDecoder, ProstEncoder};

use crate::domain::DomainError;
use crate::domain::error::Violation;
use crate::limits::{MAX_LIST_ITEMS, MAX_STRING_CHARS};
use crate::proto::DESCRIPTOR_POOL;

/// Request messages (by full name) that can hold a string or a list at all; others, and
/// responses (which clients decode with this codec too), go straight to prost.
static CHECKED: LazyLock<HashMap<String, MessageDescriptor>> = LazyLock::new(|| {
    DESCRIPTOR_POOL
        .services()
        .flat_map(|s| s.methods().map(|m| m.input()).collect::<Vec<_>>())
        .filter(|m| can_hold_unbounded(m, &mut Vec::new()))
        .map(|m| (m.full_name().to_string(), m))
        .collect()
});

fn can_hold_unbounded(message: &MessageDescriptor, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == message.full_name()) {
        return false;
    }
    seen.push(message.full_name().to_string());
    message.fields().any(|f| {
        f.is_list()
            || f.is_map()
            || matches!(f.kind(), Kind::String)
            || f.kind()
                .as_message()
                .is_some_and(|m| can_hold_unbounded(m, seen))
    })
}

#[derive(Debug, Clone)]
pub struct BoundedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for BoundedCodec<T, U> {
    fn default() -> Self {
        BoundedCodec(PhantomData)
    }
}

impl<T, U> Codec for BoundedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Name + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = SizedEncoder<T>;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        SizedEncoder(ProstEncoder::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder(ProstDecoder::default())
    }
}

/// prost's encoder, with the buffer grown once to the message's size: left to grow by
/// doubling, a large list (up to the response budget) would briefly take three times its
/// size while the buffer is copied.
#[derive(Debug)]
pub struct SizedEncoder<T>(ProstEncoder<T>);

impl<T: Message> Encoder for SizedEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.reserve(item.encoded_len());
        self.0.encode(item, buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

#[derive(Debug)]
pub struct BoundedDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default + Name> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let Some(descriptor) = CHECKED.get(&U::full_name()) else {
            return U::decode(buf).map(Some).map_err(undecodable);
        };
        // Split off, not copied: both decodes read the same bytes.
        let bytes = buf.copy_to_bytes(buf.remaining());
        if let Ok(message) = DynamicMessage::decode(descriptor.clone(), bytes.clone()) {
            let violations = backstop_violations(&message);
            if !violations.is_empty() {
                return Err(DomainError::Invalid(violations).into());
            }
        }
        U::decode(bytes).map(Some).map_err(undecodable)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// Bytes that are not the message the RPC takes are the client's mistake (prost's own
/// decoder calls it INTERNAL).
fn undecodable(e: prost::DecodeError) -> Status {
    Status::invalid_argument(format!("the request message does not decode: {e}"))
}

/// Every string and list of the message over the backstop, and every string holding a NUL,
/// named by its proto field path (`organization.tags`, `quick_actions.3.name`) as domain
/// violations are.
pub fn backstop_violations(message: &DynamicMessage) -> Vec<Violation> {
    let mut out = Vec::new();
    visit_message(message, "", false, &mut out);
    out
}

/// `in_struct`: inside a `google.protobuf.Struct`, a free-form JSON object that is kept as
/// JSON text (escaped, so a NUL is `\u0000` there) and documented as any object: its
/// strings may hold a NUL. Everywhere else a string may become a column, which in
/// PostgreSQL cannot hold one.
fn visit_message(message: &DynamicMessage, path: &str, in_struct: bool, out: &mut Vec<Violation>) {
    // The well-known types' insides (Value, Struct, wrappers) are one field to the client.
    let opaque = message.descriptor().package_name() == "google.protobuf";
    let in_struct = in_struct || message.descriptor().full_name() == "google.protobuf.Struct";
    for (field, value) in message.fields() {
        let name = match (path.is_empty(), opaque) {
            (true, _) => field.name().to_string(),
            (false, true) => path.to_string(),
            (false, false) => format!("{path}.{}", field.name()),
        };
        visit_value(value, &name, opaque, in_struct, out);
    }
}

fn visit_value(value: &Value, path: &str, opaque: bool, in_struct: bool, out: &mut Vec<Violation>) {
    let item = |i: usize| {
        if opaque {
            path.to_string()
        } else {
            format!("{path}.{i}")
        }
    };
    match value {
        // Bytes are at least as many as characters: most strings need no count.
        Value::String(s) if s.len() > MAX_STRING_CHARS && s.chars().count() > MAX_STRING_CHARS => {
            out.push(Violation::new(
                path,
                format!("must be at most {MAX_STRING_CHARS} characters"),
            ));
        }
        Value::String(s) if !in_struct && s.contains('\0') => {
            out.push(Violation::new(path, "must not contain a NUL character"));
        }
        Value::List(items) if items.len() > MAX_LIST_ITEMS => out.push(too_many(path)),
        Value::List(items) => {
            for (i, v) in items.iter().enumerate() {
                visit_value(v, &item(i), opaque, in_struct, out);
            }
        }
        Value::Map(entries) if entries.len() > MAX_LIST_ITEMS => out.push(too_many(path)),
        Value::Map(entries) => {
            for (key, v) in entries {
                if let MapKey::String(k) = key {
                    visit_value(&Value::String(k.clone()), path, opaque, in_struct, out);
                }
                visit_value(v, path, opaque, in_struct, out);
            }
        }
        Value::Message(m) => visit_message(m, path, in_struct, out),
        _ => {}
    }
}

fn too_many(path: &str) -> Violation {
    Violation::new(path, format!("must have at most {MAX_LIST_ITEMS} items"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{
        GetOrganizationRequest, ListMembershipsRequest, ListOrganizationPartnersRequest,
        Organization, UpdateOrganizationRequest,
    };

    fn dynamic<M: Message + Name>(m: &M) -> DynamicMessage {
        let descriptor = DESCRIPTOR_POOL
            .get_message_by_name(&M::full_name())
            .expect("in the pool");
        DynamicMessage::decode(descriptor, m.encode_to_vec().as_slice()).unwrap()
    }

    #[test]
    fn strings_and_lists_over_the_backstop_are_named() {
        let long = "é".repeat(MAX_STRING_CHARS + 1);
        let update = UpdateOrganizationRequest {
            organization: Some(Organization {
                name: long.clone(),
                tags: vec!["x".into(); MAX_LIST_ITEMS + 1],
                description: "é".repeat(MAX_STRING_CHARS),
                ..Default::default()
            }),
        };
        let fields: Vec<String> = backstop_violations(&dynamic(&update))
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["organization.name", "organization.tags"]);

        let list = ListOrganizationPartnersRequest {
            partner_ids: vec!["a".into(), long],
            ..Default::default()
        };
        let fields: Vec<String> = backstop_violations(&dynamic(&list))
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["partner_ids.1"]);
    }

    #[test]
    fn a_nul_is_refused_but_inside_a_struct() {
        use prost_types::{Struct, Value as JsonValue, value::Kind};
        let nul = || JsonValue {
            kind: Some(Kind::StringValue("a\0b".into())),
        };
        let invitation = crate::proto::v1::CreateNetworkInvitationRequest {
            invitation: Some(crate::proto::v1::NetworkInvitationInput {
                message: "a\0b".into(),
                room_shares: vec![Struct {
                    fields: [("name".to_string(), nul())].into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let fields: Vec<String> = backstop_violations(&dynamic(&invitation))
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["invitation.message"]);
    }

    #[test]
    fn only_requests_that_can_hold_text_or_lists_are_checked() {
        assert!(CHECKED.contains_key(&ListMembershipsRequest::full_name()));
        assert!(!CHECKED.contains_key(&GetOrganizationRequest::full_name()));
        assert!(!CHECKED.contains_key("orgd.v1.GetOrganizationResponse"));
    }
}
