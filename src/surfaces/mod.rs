//! orgd's three REST surfaces (GroupAlarm `/api/v1`, giosg `/api/v5`, MyCreditApp `/v1`) as
//! the generic transcoder (`orgd_transcode`) serves them: their dialects, what orgd decides
//! for the transcoder, and the options naming orgd's annotations (`proto/orgd/options.proto`).

pub mod dialect;
pub mod host;
pub mod schema;

use std::sync::Arc;

use orgd_transcode::{Annotations, FieldNaming, Options};
use serde_json::Value;

use crate::limits;
use crate::proto::DESCRIPTOR_POOL;

pub use dialect::Dialect;
pub use host::OrgdHost;

pub type Binding = orgd_transcode::binding::Binding<Dialect>;
pub type Transcoder = orgd_transcode::Transcoder<Dialect>;

/// MyCreditApp's whole surface is served under `/v1-beta` as well (issue 19).
pub const MYCREDITAPP_ALIAS: (&str, &str) = ("/v1/", "/v1-beta/");

/// orgd's annotations, limits and aliases.
/// The field option that writes a field's zero value when it is unset (GroupAlarm).
const ZERO_WHEN_UNSET: &str = "orgd.json_zero_when_unset";

/// A proto message as the JSON its REST surface shows, outside a request (the CLI).
pub fn json_of(message: &prost_reflect::DynamicMessage, naming: FieldNaming) -> String {
    orgd_transcode::json::use_zero_when_unset(ZERO_WHEN_UNSET);
    let mut out = Vec::new();
    orgd_transcode::json::encode_message(message, naming, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

pub fn options(max_response_bytes: usize) -> Options {
    Options {
        annotations: Annotations {
            surface: "orgd.rest_dialect".into(),
            success_code: "orgd.http_success_code".into(),
            created_when: "orgd.http_created_when".into(),
            public: "orgd.public".into(),
            header: "orgd.header".into(),
            zero_when_unset: ZERO_WHEN_UNSET.into(),
            stream_id: "orgd.stream_id".into(),
            stream_heartbeat: "orgd.stream_heartbeat".into(),
        },
        max_body_bytes: limits::MAX_BODY_BYTES,
        // The avatar, the one `bytes` body, arrives base64-encoded.
        max_bytes_body_bytes: limits::MAX_AVATAR_BODY_BYTES,
        max_response_bytes,
        aliases: Vec::new(),
    }
    .alias_prefix(MYCREDITAPP_ALIAS.0, MYCREDITAPP_ALIAS.1)
}

/// Every REST binding of orgd's protos, as annotated (aliases aside).
pub fn bindings() -> Vec<Binding> {
    orgd_transcode::binding::bindings(
        &DESCRIPTOR_POOL,
        &options(limits::DEFAULT_MAX_RESPONSE_BYTES),
    )
}

/// The transcoder serving every binding by calling `grpc` in-process.
pub fn transcoder(grpc: axum::Router, max_response_bytes: usize, host: OrgdHost) -> Transcoder {
    Transcoder::new(
        &DESCRIPTOR_POOL,
        grpc,
        &options(max_response_bytes),
        Arc::new(host),
    )
}

/// The OpenAPI document of every surface (`GET /openapi.json`).
pub fn document() -> Value {
    let host = OrgdHost {
        whole_lists: limits::WholeLists::new(limits::DEFAULT_MAX_RESPONSE_BYTES),
    };
    orgd_transcode::openapi::document::<Dialect>(
        &DESCRIPTOR_POOL,
        &options(limits::DEFAULT_MAX_RESPONSE_BYTES),
        &host,
    )
}

/// The GET path of GetPublicAvatar as annotated, `{capability}` left to fill.
static PUBLIC_AVATAR_TEMPLATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    DESCRIPTOR_POOL
        .get_service_by_name("orgd.v1.OrganizationService")
        .and_then(|s| s.methods().find(|m| m.name() == "GetPublicAvatar"))
        .and_then(|m| orgd_transcode::binding::get_template(&m))
        .expect("GetPublicAvatar has a GET binding")
});

/// Where an avatar's capability is served (`avatarURL` without its origin): the path
/// GetPublicAvatar is annotated with, so no route is written twice.
pub fn public_avatar_path(capability: &str) -> String {
    PUBLIC_AVATAR_TEMPLATE.replace("{capability}", capability)
}

/// `Content-Type: application/json` with `body`.
pub use orgd_transcode::dialect::json_response;

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, StatusCode};
    use orgd_transcode::binding::BodyTarget;

    #[test]
    fn every_annotated_method_has_a_binding() {
        let all = bindings();
        let get = all
            .iter()
            .find(|b| b.grpc_path == "/orgd.v1.OrganizationService/GetOrganization")
            .expect("GetOrganization is bound");
        assert_eq!(get.http_method, Method::GET);
        assert_eq!(get.route, "/api/v1/organization/{v0}");
        assert_eq!(get.variables[0][0].name(), "organization_id");
        assert_eq!(get.response_body.as_ref().unwrap().name(), "organization");
        let create = all
            .iter()
            .find(|b| b.grpc_path == "/orgd.v1.OrganizationService/CreateOrganization")
            .unwrap();
        assert_eq!(create.success, StatusCode::CREATED);
        assert!(matches!(&create.body, BodyTarget::Field(f) if f.name() == "organization"));
        assert_eq!(create.dialect, Dialect::GroupAlarm);
    }

    #[test]
    fn the_avatar_url_is_get_public_avatars_path() {
        assert_eq!(public_avatar_path("7-3-mac"), "/api/v1/avatars/7-3-mac");
    }

    #[test]
    fn every_binding_is_documented() {
        let doc = document();
        let org = &doc["components"]["schemas"]["orgd.v1.Organization"]["properties"];
        // orgd.json_zero_when_unset: written as 0 when unset, so never null.
        assert_eq!(org["parentID"]["type"], serde_json::json!("integer"));
        assert_eq!(
            org["state"]["enum"],
            serde_json::json!(["trial", "active", "inactive", null])
        );
    }
}
