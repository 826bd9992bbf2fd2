//! The Connect protocol on the serving port, spoken by hand over reqwest: every RPC
//! reachable, JSON and binary, GET, a server stream, errors with details, deadlines, gzip,
//! CORS and the shared layers (metrics, request ids).

mod common;

use std::io::{Read, Write};

use base64::Engine;
use common::{App, for_each_backend};
use prost::Message;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use orgd::proto::DESCRIPTOR_POOL;
use orgd::proto::v1::{GetOrganizationRequest, GetOrganizationResponse};

const GET_ORG: &str = "/orgd.v1.OrganizationService/GetOrganization";
const GET_ORGS: &str = "/orgd.v1.OrganizationService/GetOrganizations";
const CREATE_ORG: &str = "/orgd.v1.OrganizationService/CreateOrganization";
const WATCH: &str = "/grpc.health.v1.Health/Watch";

/// What is wrong, the headers and body that say it, and the status and code expected.
type ProtocolCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    u16,
    &'static str,
);

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.expect("the request is answered");
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// A unary Connect POST.
async fn post(app: &App, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Answer {
    send(
        app.http
            .post(app.url(path))
            .header("content-type", content_type)
            .header("connect-protocol-version", "1")
            .bearer_auth(token)
            .body(body),
    )
    .await
}

async fn post_json(app: &App, path: &str, token: &str, body: Value) -> Answer {
    post(
        app,
        path,
        token,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}

/// `path?k=v&...`, each value percent-encoded.
fn query_url(app: &App, path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", common::urlencode(v)))
        .collect();
    format!("{}?{}", app.url(path), query.join("&"))
}

fn envelope(flags: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The envelopes of a streaming response: (flags, data).
fn envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        assert!(body.len() >= 5, "truncated envelope: {body:?}");
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap()
}

async fn new_org(app: &App, token: &str, name: &str) -> i64 {
    let r = post_json(
        app,
        CREATE_ORG,
        token,
        json!({"organization": {"name": name, "timezone": "Europe/Berlin", "language": "de"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["organization"]["id"]
        .as_str()
        .expect("int64 is a string in protobuf JSON")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn every_rpc_is_reachable_over_connect() {
    for_each_backend(|app| async move {
        let owner = app.user("walker").await;
        let mut seen = 0;
        for service in DESCRIPTOR_POOL.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                // The empty message: a real answer or a typed refusal, never the protocol
                // failing to find the method.
                let r = post_json(&app, &path, &owner.token, json!({})).await;
                assert!(
                    r.header("content-type").starts_with("application/json"),
                    "{path}: {} {:?}",
                    r.status,
                    r.headers
                );
                let body = r.json();
                if r.status != 200 {
                    let code = body["code"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{path}: {body}"));
                    assert!(
                        !["unimplemented", "internal", "unknown"].contains(&code),
                        "{path}: {body}"
                    );
                    assert!(r.status < 500, "{path}: {} {body}", r.status);
                }
                let get = method
                    .options()
                    .get_field_by_name("idempotency_level")
                    .is_some_and(|v| v.as_enum_number() == Some(1));
                if get {
                    let r = send(
                        app.http
                            .get(query_url(
                                &app,
                                &path,
                                &[("encoding", "json"), ("message", "{}"), ("connect", "v1")],
                            ))
                            .bearer_auth(&owner.token),
                    )
                    .await;
                    assert_ne!(r.status, 405, "{path} is marked NO_SIDE_EFFECTS");
                    assert!(r.status < 500, "{path}: GET {}", r.status);
                } else {
                    // Reads are marked; every other method takes POST only.
                    assert!(
                        !method.name().starts_with("Get") && !method.name().starts_with("List"),
                        "{path} reads but is not marked NO_SIDE_EFFECTS"
                    );
                    let r = send(
                        app.http
                            .get(query_url(&app, &path, &[("encoding", "json")])),
                    )
                    .await;
                    assert_eq!(r.status, 405, "{path}");
                    assert_eq!(r.header("allow"), "POST", "{path}");
                }
                seen += 1;
            }
        }
        assert!(seen > 50, "only {seen} methods in the pool");
    })
    .await;
}

#[tokio::test]
async fn json_and_binary_unary_calls_answer_what_grpc_answers() {
    for_each_backend(|app| async move {
        let owner = app.user("codec").await;
        let id = new_org(&app, &owner.token, "Connect Org").await;

        let json_answer = post_json(
            &app,
            GET_ORG,
            &owner.token,
            json!({"organizationID": id.to_string()}),
        )
        .await;
        assert_eq!(json_answer.status, 200);
        assert_eq!(json_answer.header("content-type"), "application/json");
        assert_eq!(json_answer.json()["organization"]["name"], "Connect Org");

        let request = GetOrganizationRequest {
            organization_id: id,
        };
        let proto_answer = post(
            &app,
            GET_ORG,
            &owner.token,
            "application/proto",
            request.encode_to_vec(),
        )
        .await;
        assert_eq!(proto_answer.status, 200);
        assert_eq!(proto_answer.header("content-type"), "application/proto");
        let from_connect = GetOrganizationResponse::decode(proto_answer.body.as_slice()).unwrap();

        let from_grpc = app
            .organizations()
            .await
            .get_organization(common::bearer(request, &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(from_connect, from_grpc);

        // The request id and the transport label are the shared layers'.
        assert!(!proto_answer.header("x-request-id").is_empty());
        let metrics = send(app.http.get(app.url("/metrics"))).await;
        let text = String::from_utf8_lossy(&metrics.body);
        assert!(
            text.lines().any(|l| l.starts_with("orgd_requests_total")
                && l.contains("transport=\"connect\"")
                && l.contains(GET_ORG)
                && l.contains("status=\"OK\"")),
            "no Connect line in /metrics:\n{text}"
        );

        // Without a token: the same refusal gRPC gives, in Connect's terms.
        let r = send(
            app.http
                .post(app.url(GET_ORG))
                .header("content-type", "application/json")
                .body(json!({"organizationID": id.to_string()}).to_string()),
        )
        .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["code"], "unauthenticated");
    })
    .await;
}

#[tokio::test]
async fn errors_carry_the_grpc_details() {
    for_each_backend(|app| async move {
        let owner = app.user("errors").await;
        // A missing name: invalid_argument, with the BadRequest gRPC carries.
        let body = json!({"organization": {"timezone": "Europe/Berlin", "language": "de"}});
        let r = post_json(&app, CREATE_ORG, &owner.token, body).await;
        assert_eq!(r.status, 400);
        let error = r.json();
        assert_eq!(error["code"], "invalid_argument", "{error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
        let details = error["details"].as_array().expect("details");
        let bad = details
            .iter()
            .find(|d| d["type"] == "google.rpc.BadRequest")
            .unwrap_or_else(|| panic!("no BadRequest in {error}"));
        let decoded = tonic_types::pb::BadRequest::decode(
            b64_decode(bad["value"].as_str().unwrap()).as_slice(),
        )
        .unwrap();
        assert!(
            decoded
                .field_violations
                .iter()
                .any(|v| v.field == "organization.name"),
            "{decoded:?}"
        );
        assert!(bad["debug"]["fieldViolations"].is_array(), "{bad}");
        assert!(
            details.iter().any(|d| d["type"] == "google.rpc.ErrorInfo"),
            "{error}"
        );

        // The same call over gRPC carries the same details.
        let status = app
            .organizations()
            .await
            .create_organization(common::bearer(
                orgd::proto::v1::CreateOrganizationRequest {
                    organization: Some(orgd::proto::v1::Organization {
                        timezone: "Europe/Berlin".into(),
                        language: "de".into(),
                        ..Default::default()
                    }),
                },
                &owner.token,
            ))
            .await
            .unwrap_err();
        let grpc = tonic_types::pb::Status::decode(status.details()).unwrap();
        let names: Vec<&str> = grpc
            .details
            .iter()
            .map(|a| a.type_url.rsplit('/').next().unwrap())
            .collect();
        let ours: Vec<&str> = details
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        assert_eq!(names, ours);

        // Another tenant's organization: permission before existence.
        let other = app.user("stranger").await;
        let id = new_org(&app, &owner.token, "Private").await;
        let r = post_json(
            &app,
            GET_ORG,
            &other.token,
            json!({"organizationID": id.to_string()}),
        )
        .await;
        assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "permission_denied");

        // The client's protocol mistakes are 4xx in Connect's shape.
        let cases: Vec<ProtocolCase> = vec![
            ("not JSON", vec![], b"{".to_vec(), 400, "invalid_argument"),
            (
                "an unknown field",
                vec![],
                br#"{"nope":1}"#.to_vec(),
                400,
                "invalid_argument",
            ),
            (
                "version 2",
                vec![("connect-protocol-version", "2")],
                b"{}".to_vec(),
                400,
                "invalid_argument",
            ),
            (
                "a bad timeout",
                vec![("connect-timeout-ms", "-5")],
                b"{}".to_vec(),
                400,
                "invalid_argument",
            ),
            (
                "a long timeout",
                vec![("connect-timeout-ms", "12345678901")],
                b"{}".to_vec(),
                400,
                "invalid_argument",
            ),
            (
                "brotli",
                vec![("content-encoding", "br")],
                b"{}".to_vec(),
                501,
                "unimplemented",
            ),
            (
                "broken gzip",
                vec![("content-encoding", "gzip")],
                b"{}".to_vec(),
                400,
                "invalid_argument",
            ),
        ];
        for (what, headers, body, status, code) in cases {
            let mut req = app
                .http
                .post(app.url(GET_ORG))
                .header("content-type", "application/json")
                .bearer_auth(&owner.token)
                .body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let r = send(req).await;
            assert_eq!(
                r.status,
                status,
                "{what}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(r.json()["code"], code, "{what}");
        }
        let r = post(&app, GET_ORG, &owner.token, "text/plain", b"{}".to_vec()).await;
        assert_eq!(r.status, 415);
        assert!(r.header("accept-post").contains("application/proto"));
        let r = post_json(
            &app,
            "/orgd.v1.OrganizationService/Nope",
            &owner.token,
            json!({}),
        )
        .await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (404, Some("unimplemented"))
        );
        let r = post(
            &app,
            GET_ORG,
            &owner.token,
            "application/proto",
            vec![0xff, 0xff],
        )
        .await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some("invalid_argument"))
        );
    })
    .await;
}

#[tokio::test]
async fn get_calls_carry_the_message_in_the_query_and_are_cacheable() {
    for_each_backend(|app| async move {
        let owner = app.user("getter").await;
        let id = new_org(&app, &owner.token, "Cached").await;
        let message = json!({"organizationID": id.to_string()}).to_string();
        let r = send(
            app.http
                .get(query_url(
                    &app,
                    GET_ORG,
                    &[
                        ("encoding", "json"),
                        ("message", &message),
                        ("connect", "v1"),
                    ],
                ))
                .bearer_auth(&owner.token),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["organization"]["name"], "Cached");
        assert_eq!(r.header("cache-control"), "private, no-cache");
        assert!(r.header("vary").contains("Authorization"));
        let etag = r.header("etag").to_string();
        assert!(etag.starts_with("W/\""), "{etag}");

        // Unchanged: 304 without a body.
        let r = send(
            app.http
                .get(query_url(
                    &app,
                    GET_ORG,
                    &[("encoding", "json"), ("message", &message)],
                ))
                .header("if-none-match", &etag)
                .bearer_auth(&owner.token),
        )
        .await;
        assert_eq!(r.status, 304);
        assert!(r.body.is_empty());

        // Binary, base64 and gzip in the query.
        let proto = GetOrganizationRequest {
            organization_id: id,
        }
        .encode_to_vec();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gzip(&proto));
        let r = send(
            app.http
                .get(query_url(
                    &app,
                    GET_ORG,
                    &[
                        ("encoding", "proto"),
                        ("base64", "1"),
                        ("compression", "gzip"),
                        ("message", &b64),
                    ],
                ))
                .bearer_auth(&owner.token),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let got = GetOrganizationResponse::decode(r.body.as_slice()).unwrap();
        assert_eq!(got.organization.unwrap().name, "Cached");

        // Errors are not cached.
        let r = send(app.http.get(query_url(
            &app,
            GET_ORG,
            &[("encoding", "json"), ("message", &message)],
        )))
        .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("cache-control"), "no-store");
        // A write takes POST only.
        let r = send(
            app.http
                .get(query_url(&app, CREATE_ORG, &[("encoding", "json")])),
        )
        .await;
        assert_eq!(r.status, 405);
    })
    .await;
}

#[tokio::test]
async fn a_server_stream_ends_with_its_end_of_stream_message_and_deadline() {
    for_each_backend(|app| async move {
        let token = app.user("watcher").await.token;
        for (content_type, request) in [
            ("application/connect+json", br#"{"service":""}"#.to_vec()),
            ("application/connect+proto", Vec::new()),
        ] {
            let started = std::time::Instant::now();
            // Watch never ends by itself: the deadline ends it.
            let r = send(
                app.http
                    .post(app.url(WATCH))
                    .header("content-type", content_type)
                    .header("connect-protocol-version", "1")
                    .header("connect-timeout-ms", "400")
                    .bearer_auth(&token)
                    .body(envelope(0, &request)),
            )
            .await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), content_type);
            let messages = envelopes(&r.body);
            assert!(messages.len() >= 2, "{messages:?}");
            let (flags, first) = &messages[0];
            assert_eq!(*flags, 0);
            if content_type.ends_with("json") {
                assert_eq!(
                    serde_json::from_slice::<Value>(first).unwrap(),
                    json!({"status": "SERVING"})
                );
            } else {
                assert_eq!(first, &[0x08, 0x01], "status SERVING in protobuf");
            }
            let (flags, end) = messages.last().unwrap();
            assert_eq!(*flags, 0x02, "the end-of-stream flag");
            let end: Value = serde_json::from_slice(end).unwrap();
            assert_eq!(end["error"]["code"], "deadline_exceeded", "{end}");
            let took = started.elapsed();
            assert!(
                took >= std::time::Duration::from_millis(390)
                    && took < std::time::Duration::from_secs(5),
                "{took:?}"
            );
        }
        // A unary call whose deadline has passed is not started.
        let r = send(
            app.http
                .post(app.url(CREATE_ORG))
                .header("content-type", "application/json")
                .header("connect-timeout-ms", "0")
                .bearer_auth(&token)
                .body(r#"{"organization": {"name": "Late", "timezone": "UTC", "language": "en"}}"#),
        )
        .await;
        assert_eq!(r.status, 504, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "deadline_exceeded");
        let r = post_json(&app, GET_ORGS, &token, json!({})).await;
        assert_eq!(
            r.json()["organizations"],
            json!(null),
            "nothing was created"
        );
        // A unary content type on a stream is refused.
        let r = post_json(&app, WATCH, &token, json!({})).await;
        assert_eq!(r.status, 415);
        // A streaming error before any message: only the end-of-stream message.
        let r = send(
            app.http
                .post(app.url(WATCH))
                .header("content-type", "application/connect+json")
                .header("connect-protocol-version", "7")
                .body(envelope(0, b"{}")),
        )
        .await;
        assert_eq!(r.status, 200);
        let messages = envelopes(&r.body);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].0, 0x02);
    })
    .await;
}

#[tokio::test]
async fn gzip_both_ways_for_connect_and_grpc() {
    for_each_backend(|app| async move {
        let owner = app.user("zipper").await;
        let long = "x".repeat(2000);
        // A compressed request; a response large enough to be compressed.
        let body = json!({"organization": {"name": "Zipped", "description": long, "timezone": "Europe/Berlin", "language": "de"}});
        let r = send(
            app.http
                .post(app.url(CREATE_ORG))
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .header("accept-encoding", "gzip")
                .bearer_auth(&owner.token)
                .body(gzip(body.to_string().as_bytes())),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("content-encoding"), "gzip");
        let created: Value = serde_json::from_slice(&gunzip(&r.body)).unwrap();
        assert_eq!(created["organization"]["description"], long.as_str());
        // A decompression bomb is refused, not inflated.
        let bomb = gzip(&vec![b' '; 3 * 1024 * 1024]);
        let r = send(
            app.http
                .post(app.url(CREATE_ORG))
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .bearer_auth(&owner.token)
                .body(bomb),
        )
        .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

        // gRPC: a gzip-compressed request frame, and a compressed answer when asked.
        let id: i64 = created["organization"]["id"].as_str().unwrap().parse().unwrap();
        let message = GetOrganizationRequest { organization_id: id }.encode_to_vec();
        let r = send(
            app.h2
                .post(app.url(GET_ORG))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("grpc-encoding", "gzip")
                .header("grpc-accept-encoding", "gzip")
                .bearer_auth(&owner.token)
                .body(envelope(1, &gzip(&message))),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("grpc-encoding"), "gzip");
        let frames = envelopes(&r.body);
        assert_eq!(frames.len(), 1, "{:?}", r.headers);
        assert_eq!(frames[0].0, 1, "the compressed flag");
        let got = GetOrganizationResponse::decode(gunzip(&frames[0].1).as_slice()).unwrap();
        assert_eq!(got.organization.unwrap().description, long);

        // And tonic's own client, compressing both ways.
        let mut client = app
            .organizations()
            .await
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let got = client
            .get_organization(common::bearer(GetOrganizationRequest { organization_id: id }, &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.organization.unwrap().name, "Zipped");
    })
    .await;
}

#[tokio::test]
async fn cors_allows_and_exposes_connect_headers() {
    for_each_backend(|app| async move {
        let r = send(
            app.http
                .request(reqwest::Method::OPTIONS, app.url(GET_ORG))
                .header("origin", "http://elsewhere.example")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,connect-protocol-version,connect-timeout-ms,content-type",
                ),
        )
        .await;
        assert!(r.status < 300, "{}", r.status);
        let allowed = r
            .header("access-control-allow-headers")
            .to_ascii_lowercase();
        for h in [
            "connect-protocol-version",
            "connect-timeout-ms",
            "authorization",
        ] {
            assert!(allowed.contains(h), "{allowed}");
        }
        let owner = app.user("cors").await;
        let r = send(
            app.http
                .post(app.url(GET_ORG))
                .header("origin", "http://elsewhere.example")
                .header("content-type", "application/json")
                .bearer_auth(&owner.token)
                .body("{}"),
        )
        .await;
        let exposed = r
            .header("access-control-expose-headers")
            .to_ascii_lowercase();
        for h in [
            "connect-content-encoding",
            "grpc-status",
            "grpc-status-details-bin",
            "etag",
        ] {
            assert!(exposed.contains(h), "{exposed}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_write_limit_applies_to_connect_as_to_grpc() {
    common::for_each_backend_with(
        // No refill: the budget is spent for the whole test, whatever its speed.
        |c| c.write_rate = Some(orgd::rate_limit::Rate::new(2, 0)),
        |app| async move {
            let owner = app.user("limited").await;
            new_org(&app, &owner.token, "One").await;
            new_org(&app, &owner.token, "Two").await;
            let body =
                json!({"organization": {"name": "Three", "timezone": "UTC", "language": "en"}});
            let r = post_json(&app, CREATE_ORG, &owner.token, body).await;
            assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
            let error = r.json();
            assert_eq!(error["code"], "resource_exhausted", "{error}");
            assert!(
                error["details"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["type"] == "google.rpc.RetryInfo"),
                "{error}"
            );
            // Reads go on.
            let r = send(
                app.http
                    .get(query_url(
                        &app,
                        GET_ORGS,
                        &[("encoding", "json"), ("message", "{}")],
                    ))
                    .bearer_auth(&owner.token),
            )
            .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.json()["organizations"].as_array().unwrap().len(), 2);
        },
    )
    .await;
}

#[tokio::test]
async fn a_get_url_over_the_bound_is_a_connect_error() {
    for_each_backend(|app| async move {
        let token = app.user("longurl").await.token;
        // A message whose query is past the 8 KiB URI bound.
        let message = json!({"organizationID": "1", "pad": "x".repeat(9000)}).to_string();
        let r = send(
            app.http
                .get(query_url(
                    &app,
                    GET_ORG,
                    &[
                        ("encoding", "json"),
                        ("message", &message),
                        ("connect", "v1"),
                    ],
                ))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("content-type"), "application/json");
        let error = r.json();
        assert_eq!(error["code"], "out_of_range", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("POST"),
            "{error}"
        );
        // A streaming call's refusal is its end-of-stream message.
        let r = send(
            app.http
                .post(format!("{}?pad={}", app.url(WATCH), "x".repeat(9000)))
                .header("content-type", "application/connect+json")
                .bearer_auth(&token)
                .body(envelope(0, b"{}")),
        )
        .await;
        assert_eq!(r.status, 200);
        let messages = envelopes(&r.body);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0].0, 0x02);
        let end: Value = serde_json::from_slice(&messages[0].1).unwrap();
        assert_eq!(end["error"]["code"], "out_of_range", "{end}");
        // Not a Connect call: the plain 414 as before.
        let r = send(app.http.get(format!(
            "{}?pad={}",
            app.url("/api/v1/organizations"),
            "x".repeat(9000)
        )))
        .await;
        assert_eq!(r.status, 414);
    })
    .await;
}

#[tokio::test]
async fn avatar_url_is_absolute_to_the_origin_called_over_connect() {
    for_each_backend(|app| async move {
        let owner = app.user("pictured").await;
        let id = new_org(&app, &owner.token, "Pictured").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
            .unwrap();
        let r = post_json(
            &app,
            "/orgd.v1.OrganizationService/SetAvatar",
            &owner.token,
            json!({
                "organizationID": id.to_string(),
                "avatar": base64::engine::general_purpose::STANDARD.encode(&png),
            }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let r = post_json(
            &app,
            GET_ORG,
            &owner.token,
            json!({"organizationID": id.to_string()}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let url = r.json()["organization"]["avatarURL"]
            .as_str()
            .unwrap_or_else(|| panic!("avatarURL is set: {}", r.json()))
            .to_string();
        let path = url
            .strip_prefix(&app.endpoint())
            .unwrap_or_else(|| panic!("avatarURL is absolute: {url}"));
        // The link serves the image, as it does when REST made it.
        let got = send(app.http.get(app.url(path))).await;
        assert_eq!(got.status, 200, "{url}");
        assert_eq!(got.body, png);
        // Over HTTP/2 the origin is the request's authority (no Host header).
        let r = send(
            app.h2
                .post(app.url(GET_ORG))
                .header("content-type", "application/json")
                .bearer_auth(&owner.token)
                .body(json!({"organizationID": id.to_string()}).to_string()),
        )
        .await;
        assert_eq!(r.json()["organization"]["avatarURL"], url.as_str());
    })
    .await;
}

const REFLECT: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

#[tokio::test]
async fn json_request_streams_are_bounded_whole() {
    for_each_backend(|app| async move {
        let token = app.user("streamer").await.token;
        let stream = |path: &str, compressed: bool, body: Vec<u8>| {
            let mut req = app
                .http
                .post(app.url(path))
                .header("content-type", "application/connect+json")
                .bearer_auth(&token)
                .body(body);
            if compressed {
                req = req.header("connect-content-encoding", "gzip");
            }
            req
        };
        let end_code = |r: &Answer| {
            assert_eq!(r.status, 200);
            let messages = envelopes(&r.body);
            let (flags, end) = messages.last().expect("an end-of-stream message");
            assert_eq!(*flags, 0x02);
            let end: Value = serde_json::from_slice(end).unwrap();
            end["error"]["code"].as_str().unwrap_or("").to_string()
        };
        // A server stream takes one message: none, or two, is the client's mistake.
        let r = send(stream(WATCH, false, Vec::new())).await;
        assert_eq!(end_code(&r), "invalid_argument");
        let mut two = envelope(0, br#"{"service":""}"#);
        two.extend(envelope(0, br#"{"service":""}"#));
        let r = send(stream(WATCH, false, two).header("connect-timeout-ms", "200")).await;
        assert_eq!(end_code(&r), "invalid_argument");
        // Envelopes that are small compressed but inflate past the message limit together
        // are refused (each alone is within it): the stream is held whole before the RPC.
        let one = json!({"fileContainingSymbol": "a".repeat(600 * 1024)}).to_string();
        let mut body = Vec::new();
        for _ in 0..3 {
            body.extend(envelope(1, &gzip(one.as_bytes())));
        }
        assert!(body.len() < 64 * 1024, "{}", body.len());
        let r = send(stream(REFLECT, true, body)).await;
        assert_eq!(end_code(&r), "out_of_range");
        // Within the bound, the stream is served: one such message reaches the RPC (which
        // knows no such symbol), and a stream of two is answered in full.
        let r = send(stream(REFLECT, true, envelope(1, &gzip(one.as_bytes())))).await;
        assert_eq!(end_code(&r), "not_found");
        let mut body = envelope(0, br#"{"listServices": ""}"#);
        body.extend(envelope(0, br#"{"listServices": ""}"#));
        let r = send(stream(REFLECT, false, body)).await;
        assert_eq!(end_code(&r), "");
        assert_eq!(envelopes(&r.body).len(), 3, "two answers and the end");
    })
    .await;
}
