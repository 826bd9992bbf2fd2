//! The well-known types whose JSON is not a plain object of their fields, named once for
//! the JSON codec, the route table and the OpenAPI document.

pub const TIMESTAMP: &str = "google.protobuf.Timestamp";
pub const DURATION: &str = "google.protobuf.Duration";
pub const STRUCT: &str = "google.protobuf.Struct";
pub const VALUE: &str = "google.protobuf.Value";
pub const LIST_VALUE: &str = "google.protobuf.ListValue";
/// Raw bytes under their own content type, not JSON.
pub const HTTP_BODY: &str = "google.api.HttpBody";

/// The google.protobuf wrappers, whose JSON is their one value.
pub fn is_wrapper(full_name: &str) -> bool {
    matches!(
        full_name,
        "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// Messages one string sets (a query or path value is converted to them).
pub fn is_scalar_message(full_name: &str) -> bool {
    is_wrapper(full_name) || matches!(full_name, TIMESTAMP | DURATION | VALUE)
}
