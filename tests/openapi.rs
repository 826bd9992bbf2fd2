//! GET /openapi.json: the OpenAPI 3.1 document generated from the transcoder's bindings.

mod common;

use common::*;
use orgd::proto::DESCRIPTOR_POOL;
use orgd::rest::binding::{BodyTarget, bindings};
use serde_json::{Value, json};

async fn fetch(app: &App, token: Option<&str>) -> Value {
    let mut req = app.http.get(app.url("/openapi.json"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    res.json().await.unwrap()
}

/// `/api/v1/organization/{v0}` with `{vN}` in any name: compares templates by shape.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn document_lists_every_binding_with_schemas_and_security() {
    for_each_backend(|app| async move {
        // No token needed, and an unknown one does not hide it either.
        let doc = fetch(&app, None).await;
        assert_eq!(fetch(&app, Some("not-a-token")).await, doc);
        assert_eq!(doc["openapi"], "3.1.0");

        let paths = doc["paths"].as_object().unwrap();
        let all = bindings(&DESCRIPTOR_POOL);
        assert!(all.len() >= 50, "{} bindings", all.len());
        for b in &all {
            let method = b.http_method.as_str().to_ascii_lowercase();
            let found = paths
                .iter()
                .find(|(p, ops)| shape(p) == shape(&b.route) && ops.get(&method).is_some());
            let (_, ops) = found.unwrap_or_else(|| panic!("{} {} missing", method, b.route));
            let op = &ops[&method];
            let success = b.success.as_str();
            assert!(
                op["responses"][success].is_object(),
                "{} {}",
                method,
                b.route
            );
            for status in ["401", "403", "404", "413", "429", "503"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{status} of {}",
                    b.route
                );
            }
            assert_eq!(
                op["requestBody"].is_object(),
                !matches!(b.body, BodyTarget::None),
                "{} {}",
                method,
                b.route
            );
            let headers: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "header").collect())
                .unwrap_or_default();
            assert_eq!(headers.len(), b.headers.len(), "{} {}", method, b.route);
        }
        let operations: usize = paths
            .values()
            .map(|ops| ops.as_object().unwrap().len())
            .sum();
        assert_eq!(operations, all.len());

        // GroupAlarm names, nullable int64, enums with null, timestamps.
        let org = &doc["components"]["schemas"]["orgd.v1.Organization"]["properties"];
        assert_eq!(
            org["parentID"],
            json!({"type": ["integer", "null"], "format": "int64",
                "minimum": i64::MIN, "maximum": i64::MAX})
        );
        assert_eq!(org["ownerIDs"]["type"], "array");
        assert_eq!(org["ownerIDs"]["items"]["format"], "int64");
        assert_eq!(
            org["state"]["enum"],
            json!(["trial", "active", "inactive", null])
        );
        assert_eq!(org["creationDate"]["type"], json!(["string", "null"]));
        assert_eq!(org["creationDate"]["format"], "date-time");
        assert!(org.get("parent_id").is_none());
        // giosg and MyCreditApp use proto names.
        let partner = &doc["components"]["schemas"]["orgd.v1.OrganizationPartner"]["properties"];
        assert!(partner["company_name"].is_object() && partner["invitation_status"].is_object());

        // A GroupAlarm operation: path parameter by its JSON name, the body a $ref, 201.
        let create = &doc["paths"]["/api/v1/organization"]["post"];
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["anyOf"][0]["$ref"],
            "#/components/schemas/orgd.v1.Organization-input"
        );
        // Responses carry every field and nothing else; requests may send any subset.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["orgd.v1.Organization"]["required"]
                .as_array()
                .unwrap()
                .len(),
            org.as_object().unwrap().len()
        );
        assert_eq!(
            schemas["orgd.v1.Organization"]["additionalProperties"],
            false
        );
        assert!(
            schemas["orgd.v1.Organization-input"]
                .get("required")
                .is_none()
        );
        let keys = |name: &str| -> Vec<String> {
            schemas[name]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            keys("orgd.v1.Organization-input"),
            keys("orgd.v1.Organization")
        );
        assert!(create["responses"]["201"]["content"]["application/json"].is_object());
        let get = &doc["paths"]["/api/v1/organization/{organizationID}"]["get"];
        assert_eq!(get["parameters"][0]["in"], "path");
        assert_eq!(get["parameters"][0]["required"], true);
        assert_eq!(get["parameters"][0]["schema"]["format"], "int64");
        assert_eq!(
            get["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/orgd.rest.GroupAlarmError"
        );
        // A message without fields answers without a body.
        let delete = &doc["paths"]["/api/v1/organization/{organizationID}"]["delete"];
        assert!(delete["responses"]["200"].get("content").is_none());
        // HttpBody: raw bytes.
        let avatar = &doc["paths"]["/api/v1/organization/{organizationID}/avatar"]["get"];
        assert_eq!(
            avatar["responses"]["200"]["content"]["image/*"]["schema"]["format"],
            "binary"
        );
        // A bytes body field is a base64 string.
        let set_avatar = &doc["paths"]["/api/v1/organization/{organizationID}/avatar"]["put"];
        assert_eq!(
            set_avatar["requestBody"]["content"]["application/json"]["schema"]["contentEncoding"],
            "base64"
        );
        // response_body of a repeated field: the JSON array itself.
        let list = &doc["paths"]["/api/v1/organizations"]["get"]["responses"]["200"];
        assert_eq!(
            list["content"]["application/json"]["schema"]["items"]["$ref"],
            "#/components/schemas/orgd.v1.Organization"
        );

        // MyCreditApp: the two headers, required; repeated query keys exploded; 422.
        let list = &doc["paths"]["/v1/partners"]["get"];
        let params = list["parameters"].as_array().unwrap();
        for name in ["Requester-Organization-ID", "Target-Organization-ID"] {
            let p = params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p["in"], "header");
            assert_eq!(p["required"], true);
        }
        let types = params
            .iter()
            .find(|p| p["name"] == "partner_types")
            .unwrap();
        assert_eq!(types["in"], "query");
        assert_eq!(types["style"], "form");
        assert_eq!(types["explode"], true);
        assert_eq!(
            types["schema"]["items"]["enum"],
            json!(["customer", "supplier"])
        );
        assert_eq!(
            list["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/orgd.rest.MyCreditAppError"
        );
        // giosg: 204 without a body; a body of the whole message minus path fields.
        let ship = "/api/v5/orgs/{organization_id}/partnerships/{partner_organization_id}";
        assert!(
            doc["paths"][ship]["delete"]["responses"]["204"]
                .get("content")
                .is_none()
        );
        let put = &doc["paths"][ship]["put"]["requestBody"]["content"]["application/json"];
        assert_eq!(
            put["schema"]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["display_name"]
        );

        // Security schemes: every accepted token form.
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(
            schemes["Bearer"],
            json!({"type": "http", "scheme": "bearer",
            "description": schemes["Bearer"]["description"]})
        );
        assert_eq!(schemes["Token"]["name"], "Authorization");
        assert_eq!(
            schemes["PersonalAccessToken"]["name"],
            "Personal-Access-Token"
        );
        assert_eq!(schemes["ApiToken"]["name"], "API-TOKEN");
        assert_eq!(schemes["ApiToken"]["in"], "header");
        assert_eq!(doc["security"].as_array().unwrap().len(), 4);
        // The token endpoint needs none (orgd.public); a token-protected call keeps them.
        assert_eq!(
            doc["paths"]["/v1/oauth2/token"]["post"]["security"],
            json!([])
        );
        assert!(
            doc["paths"]["/v1/partners"]["get"]
                .get("security")
                .is_none()
        );
    })
    .await;
}

/// The operation of a binding in the document.
fn operation<'a>(doc: &'a Value, b: &orgd::rest::binding::Binding) -> &'a Value {
    let method = b.http_method.as_str().to_ascii_lowercase();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(p, ops)| shape(p) == shape(&b.route) && ops.get(&method).is_some())
        .map(|(_, ops)| &ops[&method])
        .unwrap_or_else(|| panic!("{method} {} missing", b.route))
}

/// A form body is documented wherever the transcoder reads one (a whole-message body, as
/// OAuth2 token requests are), with the fields of the JSON body.
#[test]
fn form_bodies_are_documented_where_the_transcoder_reads_them() {
    let doc = orgd::rest::openapi::document(&DESCRIPTOR_POOL);
    let mut forms = 0;
    for b in bindings(&DESCRIPTOR_POOL) {
        let content = &operation(&doc, &b)["requestBody"]["content"];
        let form = content.get("application/x-www-form-urlencoded");
        assert_eq!(
            form.is_some(),
            b.accepts_form(),
            "{} {}",
            b.http_method,
            b.route
        );
        if let Some(form) = form {
            forms += 1;
            let keys = |schema: &Value| -> Vec<String> {
                schema["properties"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect()
            };
            let json = &content["application/json"]["schema"];
            assert_eq!(keys(&form["schema"]), keys(json), "{}", b.route);
        }
    }
    assert!(forms >= 1);
    let token = &doc["paths"]["/v1/oauth2/token"]["post"]["requestBody"]["content"];
    let form = &token["application/x-www-form-urlencoded"]["schema"];
    assert_eq!(form["type"], "object");
    assert_eq!(
        form["properties"]["client_id"],
        json!({"type": "string", "maxLength": orgd::limits::MAX_STRING_CHARS})
    );
}

/// Every string and list a request body may carry shows the bound the gRPC codec enforces
/// on it; responses are not bounded by it, and parameters are bounded more tightly by the
/// URI and header sizes (a documented maximum there would invite a 414 or 431).
#[test]
fn request_bodies_carry_the_bound_of_every_string_and_list() {
    use orgd::limits::{MAX_LIST_ITEMS, MAX_STRING_CHARS};
    let doc = orgd::rest::openapi::document(&DESCRIPTOR_POOL);
    let schemas = &doc["components"]["schemas"];
    let input = &schemas["orgd.v1.Organization-input"]["properties"];
    assert_eq!(input["name"]["maxLength"], MAX_STRING_CHARS);
    assert_eq!(input["tags"]["maxItems"], MAX_LIST_ITEMS);
    assert_eq!(input["tags"]["items"]["maxLength"], MAX_STRING_CHARS);
    assert_eq!(input["ownerIDs"]["maxItems"], MAX_LIST_ITEMS);
    let output = &schemas["orgd.v1.Organization"]["properties"];
    assert!(output["name"].get("maxLength").is_none());
    assert!(output["tags"].get("maxItems").is_none());
    let ship = "/api/v5/orgs/{organization_id}/partnerships/{partner_organization_id}";
    let patch = &doc["paths"][ship]["patch"]["requestBody"]["content"];
    assert_eq!(
        patch["application/json"]["schema"]["properties"]["display_name"],
        json!({"anyOf": [{"maxLength": MAX_STRING_CHARS}, {"type": "null"}]})
    );
    let invite = &doc["paths"]["/api/v1/organization/{organizationID}/owner/invitations"]["post"];
    assert_eq!(
        invite["requestBody"]["content"]["application/json"]["schema"]["properties"]["email"]["maxLength"],
        MAX_STRING_CHARS
    );

    for b in bindings(&DESCRIPTOR_POOL) {
        let params = operation(&doc, &b)["parameters"].as_array().cloned();
        for p in params.unwrap_or_default() {
            let schema = &p["schema"];
            assert!(
                schema.get("maxItems").is_none()
                    && schema.get("maxLength").is_none()
                    && schema["items"].get("maxLength").is_none(),
                "{} {}: {schema}",
                b.route,
                p["name"]
            );
        }
    }
}
