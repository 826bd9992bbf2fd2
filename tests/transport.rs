//! One port, many protocols: grpc-web (HTTP/1.1 and h2, binary and text), CORS, health,
//! reflection (v1 and v1alpha), REST over h2c, all of it over TLS, and 404 / 405 for unknown
//! paths (plain, or in the error body of the surface whose prefix they are under).

mod common;

use base64::Engine;
use common::*;
use orgd::proto::v1::*;
use prost::Message;
use reqwest::Method;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// grpc-web framing.

const GRPC_WEB: &str = "application/grpc-web+proto";

fn frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(0u8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// A parsed grpc-web response.
#[derive(Debug)]
struct WebReply {
    http_status: u16,
    headers: reqwest::header::HeaderMap,
    /// Payloads of the data frames (flag 0).
    data: Vec<Vec<u8>>,
    /// Text of the trailer frame (flag 0x80), if any.
    trailer_text: Option<String>,
}

impl WebReply {
    /// grpc-status from the trailer frame, or from the headers for a trailers-only reply.
    fn grpc_status(&self) -> Option<i32> {
        if let Some(t) = &self.trailer_text {
            for line in t.split("\r\n").flat_map(|l| l.split('\n')) {
                if let Some((k, v)) = line.split_once(':')
                    && k.trim().eq_ignore_ascii_case("grpc-status")
                {
                    return v.trim().parse().ok();
                }
            }
        }
        self.headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    fn decode<M: Message + Default>(&self) -> M {
        assert_eq!(
            self.data.len(),
            1,
            "exactly one data frame expected: {self:?}"
        );
        M::decode(self.data[0].as_slice()).expect("decode the data frame")
    }

    #[track_caller]
    fn assert_ok(&self) {
        assert_eq!(self.http_status, 200, "grpc-web HTTP status: {self:?}");
        let trailer = self
            .trailer_text
            .as_deref()
            .unwrap_or_else(|| panic!("a successful reply ends with a trailer frame: {self:?}"));
        assert!(
            trailer.to_ascii_lowercase().contains("grpc-status:0")
                || trailer.to_ascii_lowercase().contains("grpc-status: 0"),
            "trailer frame carries grpc-status:0: {trailer:?}"
        );
        assert_eq!(self.grpc_status(), Some(0));
    }
}

fn parse_frames(body: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let mut data = Vec::new();
    let mut trailer = None;
    let mut rest = body;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated grpc-web frame header: {rest:?}");
        let flag = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        assert!(rest.len() >= 5 + len, "truncated grpc-web frame");
        let payload = rest[5..5 + len].to_vec();
        rest = &rest[5 + len..];
        if flag & 0x80 != 0 {
            assert!(trailer.is_none(), "at most one trailer frame");
            trailer = Some(String::from_utf8(payload).expect("trailers are text"));
        } else {
            assert!(trailer.is_none(), "no data frame after the trailer frame");
            data.push(payload);
        }
    }
    (data, trailer)
}

/// POSTs one grpc-web (binary) call.
async fn grpc_web(
    client: &reqwest::Client,
    app: &App,
    method: &str,
    message: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebReply {
    grpc_web_at(client, &app.url(method), message, token, origin).await
}

/// POSTs one grpc-web (binary) call to a full URL.
async fn grpc_web_at(
    client: &reqwest::Client,
    url: &str,
    message: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebReply {
    let mut req = client
        .post(url)
        .header("content-type", GRPC_WEB)
        .header("accept", GRPC_WEB)
        .header("x-grpc-web", "1")
        .body(frame(message));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await.expect("grpc-web request");
    let http_status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if http_status == 200 {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            ct.starts_with("application/grpc-web"),
            "grpc-web reply content-type: {ct:?}"
        );
    }
    let body = resp.bytes().await.expect("grpc-web body");
    let (data, trailer_text) = parse_frames(&body);
    WebReply {
        http_status,
        headers,
        data,
        trailer_text,
    }
}

const CREATE: &str = "/orgd.v1.OrganizationService/CreateOrganization";
const GET: &str = "/orgd.v1.OrganizationService/GetOrganization";
const UPDATE: &str = "/orgd.v1.OrganizationService/UpdateOrganization";
const LIST: &str = "/orgd.v1.OrganizationService/GetOrganizations";
const DELETE: &str = "/orgd.v1.OrganizationService/DeleteOrganization";

async fn web_crud(app: &App, client: &reqwest::Client) {
    let owner = app.user("owner").await;
    let t = Some(owner.token.as_str());

    let reply = grpc_web(
        client,
        app,
        CREATE,
        &CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Web Org".into(),
                timezone: "Europe/Berlin".into(),
                language: "de".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let created = reply
        .decode::<CreateOrganizationResponse>()
        .organization
        .expect("organization");
    assert!(created.id > 0);
    assert_eq!(created.name, "Web Org");
    assert_eq!(created.owner_ids, vec![owner.id]);

    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let got = reply
        .decode::<GetOrganizationResponse>()
        .organization
        .unwrap();
    assert_eq!(got, created);

    let reply = grpc_web(
        client,
        app,
        UPDATE,
        &UpdateOrganizationRequest {
            organization: Some(Organization {
                id: created.id,
                name: "Web Renamed".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let updated = reply
        .decode::<UpdateOrganizationResponse>()
        .organization
        .unwrap();
    assert_eq!(updated.name, "Web Renamed");
    assert_eq!(
        updated.timezone, "Europe/Berlin",
        "empty timezone keeps the old one"
    );

    let reply = grpc_web(client, app, LIST, &GetOrganizationsRequest {}, t, None).await;
    reply.assert_ok();
    let list = reply.decode::<GetOrganizationsResponse>().organizations;
    assert_eq!(list, vec![updated.clone()]);

    // REST sees the grpc-web update.
    let r = app.get_org(Auth::Bearer(&owner.token), created.id).await;
    r.assert_status(200);
    assert_eq!(r.json["name"], json!("Web Renamed"));

    let reply = grpc_web(
        client,
        app,
        DELETE,
        &DeleteOrganizationRequest {
            organization_id: created.id,
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    // An empty message still comes as one (empty) data frame.
    let _ = reply.decode::<DeleteOrganizationResponse>();

    // Errors: non-zero grpc-status.
    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        None,
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(16), "UNAUTHENTICATED: {reply:?}");
    assert!(reply.data.is_empty());

    let outsider = app.user("outsider").await;
    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        Some(&outsider.token),
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(7), "PERMISSION_DENIED: {reply:?}");

    let reply = grpc_web(
        client,
        app,
        CREATE,
        &CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Bad".into(),
                timezone: "Mars/Olympus".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(3), "INVALID_ARGUMENT: {reply:?}");
    let list = app
        .rest(
            Method::GET,
            "/api/v1/organizations",
            Auth::Bearer(&owner.token),
            None,
        )
        .await;
    assert_eq!(list.json, json!([]), "the rejected create made nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_crud_over_http1() {
    for_each_backend(|app| async move {
        let client = app.http.clone();
        web_crud(&app, &client).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_crud_over_h2c() {
    for_each_backend(|app| async move {
        let client = app.h2.clone();
        // Make sure this really is HTTP/2.
        let probe = app
            .h2
            .get(app.url("/api/v1/organizations"))
            .send()
            .await
            .unwrap();
        assert_eq!(probe.version(), reqwest::Version::HTTP_2);
        web_crud(&app, &client).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_text_mode() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b64.encode(frame(&CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Text mode".into(),
                ..Default::default()
            }),
        }));
        let resp = app
            .http
            .post(app.url(CREATE))
            .header("content-type", "application/grpc-web-text")
            .header("accept", "application/grpc-web-text")
            .header("x-grpc-web", "1")
            .header("authorization", format!("Bearer {}", owner.token))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let text = resp.text().await.unwrap();
        let (data, trailer) = parse_frames(&decode_web_text(&text));
        assert!(trailer.expect("trailer frame").contains("grpc-status:0"));
        let org = CreateOrganizationResponse::decode(data[0].as_slice())
            .unwrap()
            .organization
            .unwrap();
        assert_eq!(org.name, "Text mode");
    })
    .await;
}

/// A grpc-web-text reply: possibly several base64 chunks (data, then trailers), each padded.
fn decode_web_text(text: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let end = rest.find('=').map(|i| {
            let mut j = i;
            while rest[j..].starts_with('=') {
                j += 1;
            }
            j
        });
        let (chunk, tail) = rest.split_at(end.unwrap_or(rest.len()));
        raw.extend(b64.decode(chunk).expect("base64 reply"));
        rest = tail;
    }
    raw
}

// ---------------------------------------------------------------------------------------
// CORS.

/// Whether `Access-Control-Allow-Headers` lets a browser send `name`. Per the Fetch
/// standard `*` covers every header except `Authorization`, which must be listed.
fn header_allowed(allow: &str, name: &str) -> bool {
    let listed: Vec<String> = allow
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    listed.iter().any(|h| h == name)
        || (listed.iter().any(|h| h == "*") && !name.eq_ignore_ascii_case("authorization"))
}

fn header_str(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_on_a_grpc_path_succeeds() {
    for_each_backend(|app| async move {
        let origin = "https://app.example.com";
        let requested = [
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "authorization",
            "personal-access-token",
            "api-token",
        ];
        let resp = app
            .http
            .request(Method::OPTIONS, app.url(GET))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", requested.join(","))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        assert!(status.is_success(), "preflight answers 2xx, got {status}");
        let allow_origin = header_str(&headers, "access-control-allow-origin");
        assert!(
            allow_origin == "*" || allow_origin == origin,
            "access-control-allow-origin: {allow_origin:?}"
        );
        let methods = header_str(&headers, "access-control-allow-methods");
        assert!(
            methods.trim() == "*"
                || methods
                    .split(',')
                    .any(|m| m.trim().eq_ignore_ascii_case("POST")),
            "access-control-allow-methods covers POST: {methods:?}"
        );
        let allow_headers = header_str(&headers, "access-control-allow-headers");
        for h in requested {
            assert!(
                header_allowed(&allow_headers, h),
                "access-control-allow-headers {allow_headers:?} must let a browser send {h:?} \
                 (a wildcard does not cover Authorization)"
            );
        }
        assert!(
            headers.get("grpc-status").is_none(),
            "a preflight is not a gRPC call"
        );

        // A preflight on a REST path works too.
        let resp = app
            .http
            .request(Method::OPTIONS, app.url("/api/v1/organization"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "REST preflight: {}",
            resp.status()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_responses_expose_grpc_status() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let origin = "https://app.example.com";
        let check = |reply: &WebReply, what: &str| {
            let allow_origin = header_str(&reply.headers, "access-control-allow-origin");
            assert!(
                allow_origin == "*" || allow_origin == origin,
                "{what}: access-control-allow-origin {allow_origin:?}"
            );
            let expose =
                header_str(&reply.headers, "access-control-expose-headers").to_ascii_lowercase();
            let exposed: Vec<&str> = expose.split(',').map(str::trim).collect();
            for h in ["grpc-status", "grpc-message"] {
                assert!(
                    exposed.contains(&h),
                    "{what}: access-control-expose-headers {expose:?} lists {h}"
                );
            }
        };
        let reply = grpc_web(
            &app.http,
            &app,
            LIST,
            &GetOrganizationsRequest {},
            Some(&owner.token),
            Some(origin),
        )
        .await;
        reply.assert_ok();
        check(&reply, "success");

        let reply = grpc_web(
            &app.http,
            &app,
            LIST,
            &GetOrganizationsRequest {},
            None,
            Some(origin),
        )
        .await;
        assert_eq!(reply.grpc_status(), Some(16));
        check(&reply, "error");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Health and reflection.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    for_each_backend(|app| async move {
        let mut health = HealthClient::new(app.channel().await);
        let reply = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("Health/Check needs no token")
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving);

        let unknown = health
            .check(HealthCheckRequest {
                service: "no.such.Service".into(),
            })
            .await;
        assert_code(unknown, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    for_each_backend(|app| async move {
        let mut client = ServerReflectionClient::new(app.channel().await);
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "orgd.v1.OrganizationService".into(),
                )),
            },
        ];
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("ServerReflectionInfo needs no token")
            .into_inner();

        let first = stream
            .message()
            .await
            .unwrap()
            .expect("a ListServices reply");
        let names: Vec<String> = match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("expected ListServicesResponse, got {other:?}"),
        };
        for expected in [
            "orgd.v1.OrganizationService",
            "orgd.v1.MembershipService",
            "orgd.v1.BillingService",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "reflection lists {expected}: {names:?}"
            );
        }

        let second = stream.message().await.unwrap().expect("a file reply");
        match second.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                assert!(!files.file_descriptor_proto.is_empty());
                let decoded: Vec<prost_types::FileDescriptorProto> = files
                    .file_descriptor_proto
                    .iter()
                    .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
                    .collect();
                assert!(
                    decoded
                        .iter()
                        .any(|f| f.service.iter().any(|s| s.name() == "OrganizationService")),
                    "the file declares OrganizationService"
                );
            }
            other => panic!("expected FileDescriptorResponse, got {other:?}"),
        }
    })
    .await;
}

/// The stock grpcio-reflection and older grpcurl clients ask v1alpha.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_lists_the_services() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    for_each_backend(|app| async move {
        let mut client = ServerReflectionClient::new(app.channel().await);
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "orgd.v1.MembershipService".into(),
                )),
            },
        ];
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("v1alpha ServerReflectionInfo is served")
            .into_inner();
        let first = stream
            .message()
            .await
            .unwrap()
            .expect("a ListServices reply");
        let names: Vec<String> = match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("expected ListServicesResponse, got {other:?}"),
        };
        for expected in ["orgd.v1.OrganizationService", "grpc.health.v1.Health"] {
            assert!(
                names.iter().any(|n| n == expected),
                "v1alpha reflection lists {expected}: {names:?}"
            );
        }
        let second = stream.message().await.unwrap().expect("a file reply");
        match second.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                let declares = files.file_descriptor_proto.iter().any(|b| {
                    prost_types::FileDescriptorProto::decode(b.as_slice())
                        .unwrap()
                        .service
                        .iter()
                        .any(|s| s.name() == "MembershipService")
                });
                assert!(declares, "the file declares MembershipService");
            }
            other => panic!("expected FileDescriptorResponse, got {other:?}"),
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// TLS: one port, ALPN h2 and http/1.1, every protocol.

/// A self-signed certificate for `localhost`, made now, written as PEM files in `dir`.
fn localhost_certificate(dir: &TempDir) -> (orgd::config::TlsFiles, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate");
    let cert_pem = certified.cert.pem();
    let files = orgd::config::TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, &cert_pem).unwrap();
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
    (files, cert_pem)
}

/// One request over TLS to `localhost` (trusting only `cert_pem`), offering only `alpn`;
/// the response and the protocol the server chose.
async fn tls_request(
    addr: std::net::SocketAddr,
    cert_pem: &str,
    alpn: &[u8],
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> (http::Response<bytes::Bytes>, Option<Vec<u8>>) {
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("a TLS handshake with the test certificate");
    let negotiated = tls.get_ref().1.alpn_protocol().map(|p| p.to_vec());
    let io = TokioIo::new(tls);
    let response = if alpn == b"h2" {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(request).await.expect("an h2 response")
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        send.send_request(request)
            .await
            .expect("an HTTP/1.1 response")
    };
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (http::Response::from_parts(parts, body), negotiated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_grpc_grpc_web_and_rest_on_one_port() {
    let dir = TempDir::new();
    let (files, cert_pem) = localhost_certificate(&dir);
    for_each_backend_with(
        move |config| config.tls = Some(files.clone()),
        move |app| {
            let cert_pem = cert_pem.clone();
            async move {
                let owner = app.user("tls").await;
                let base = format!("https://localhost:{}", app.addr.port());
                let mut ids = Vec::new();
                for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
                    let label = String::from_utf8_lossy(alpn).to_string();
                    let body = json!({"name": format!("TLS {label}"), "timezone": "Europe/Berlin", "language": "de"});
                    let request = http::Request::post(format!("{base}/api/v1/organization"))
                        .header("host", format!("localhost:{}", app.addr.port()))
                        .header("authorization", format!("Bearer {}", owner.token))
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::from(body.to_string()))
                        .unwrap();
                    let (created, negotiated) =
                        tls_request(app.addr, &cert_pem, alpn, request).await;
                    assert_eq!(negotiated.as_deref(), Some(alpn), "ALPN agreed on {label}");
                    assert_eq!(created.status(), 201, "REST over TLS ({label})");
                    let created: serde_json::Value = serde_json::from_slice(created.body()).unwrap();
                    let id = created["id"].as_i64().expect("the created organization's id");
                    ids.push(id);

                    let request = http::Request::post(format!("{base}{GET}"))
                        .header("host", format!("localhost:{}", app.addr.port()))
                        .header("content-type", GRPC_WEB)
                        .header("x-grpc-web", "1")
                        .header("authorization", format!("Bearer {}", owner.token))
                        .body(http_body_util::Full::from(frame(&GetOrganizationRequest {
                            organization_id: id,
                        })))
                        .unwrap();
                    let (reply, _) = tls_request(app.addr, &cert_pem, alpn, request).await;
                    let (data, trailer_text) = parse_frames(reply.body());
                    let web = WebReply {
                        http_status: reply.status().as_u16(),
                        headers: reply.headers().clone(),
                        data,
                        trailer_text,
                    };
                    web.assert_ok();
                    let got = web.decode::<GetOrganizationResponse>().organization.unwrap();
                    assert_eq!(got.name, format!("TLS {label}"), "grpc-web over TLS ({label})");
                }

                let tls = tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
                    .domain_name("localhost");
                let channel = tonic::transport::Channel::from_shared(format!(
                    "https://127.0.0.1:{}",
                    app.addr.port()
                ))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .expect("tonic connects over TLS");
                let mut organizations =
                    organization_service_client::OrganizationServiceClient::new(channel);
                for id in ids {
                    let got = organizations
                        .get_organization(bearer(
                            GetOrganizationRequest { organization_id: id },
                            &owner.token,
                        ))
                        .await
                        .expect("gRPC over TLS")
                        .into_inner()
                        .organization
                        .unwrap();
                    assert_eq!(got.id, id);
                }

                // The port speaks TLS only: a cleartext request gets no answer.
                let plain = app.http.get(app.url("/healthz")).send().await;
                assert!(
                    plain.is_err(),
                    "cleartext HTTP is not served on the TLS port: {plain:?}"
                );
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Unknown paths and REST over h2c.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_plain_404() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/nope"),
            (Method::GET, "/api"),
            (Method::POST, "/api/v2/organization"),
            (Method::GET, "/api/v10/organizations"),
            (Method::GET, "/v10/partners"),
        ] {
            for client in [&app.http, &app.h2] {
                let resp = client
                    .request(method.clone(), app.url(path))
                    .header("authorization", format!("Bearer {}", owner.token))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 404, "{method} {path}");
                assert!(
                    resp.headers().get("grpc-status").is_none(),
                    "{method} {path}: a plain 404 has no grpc-status"
                );
            }
        }
        // An unknown gRPC service is an unknown path too.
        let resp = app
            .http
            .post(app.url("/orgd.v1.NoSuchService/Nothing"))
            .header("content-type", GRPC_WEB)
            .body(frame(&GetOrganizationsRequest {}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert!(resp.headers().get("grpc-status").is_none());
    })
    .await;
}

/// Under a surface's prefix an unknown path is a 404, and a known path with another method a
/// 405 with `allow`, in that surface's error body, with or without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_under_a_surface_answer_in_its_dialect() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let uuid = uuid::Uuid::new_v4();
        let call = |method: Method, path: String, token: bool| {
            let mut req = app.http.request(method, app.url(&path));
            if token {
                req = req.header("authorization", format!("Bearer {}", owner.token));
            }
            send(req)
        };
        for token in [true, false] {
            for path in [
                "/api/v1",
                "/api/v1/nope",
                "/api/v1/organization/1/nope/deeper",
                "/api/v1/nope/",
            ] {
                let r = call(Method::GET, path.to_string(), token).await;
                r.assert_error(404, "NOT_FOUND");
                assert_eq!(r.headers["content-type"], "application/json");
            }
            let r = call(Method::GET, "/api/v5/nope".into(), token).await;
            r.assert_status(404);
            assert!(r.json["detail"].is_string(), "{}", r.text);
            let r = call(Method::GET, format!("/v1/partners/{uuid}/nope"), token).await;
            r.assert_status(404);
            assert_eq!(r.json["detail"][0]["code"], "NOT_FOUND", "{}", r.text);

            let r = call(Method::DELETE, "/api/v1/trial".into(), token).await;
            r.assert_error(405, "METHOD_NOT_ALLOWED");
            assert_eq!(r.headers["allow"], "GET, POST");
            let r = call(Method::POST, format!("/api/v5/orgs/{uuid}"), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "GET");
            assert!(r.json["detail"].is_string(), "{}", r.text);
            let r = call(Method::PUT, format!("/v1/partners/{uuid}"), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "DELETE, GET, PATCH");
            assert_eq!(
                r.json["detail"][0]["code"], "METHOD_NOT_ALLOWED",
                "{}",
                r.text
            );
            let r = call(Method::GET, "/v1/oauth2/token".into(), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "POST");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_over_h2c() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r = send(
            app.h2
                .post(app.url("/api/v1/organization"))
                .header("authorization", format!("Bearer {}", owner.token))
                .header("content-type", "application/json")
                .body(json!({"name": "Over h2c", "timezone": "Europe/Berlin"}).to_string()),
        )
        .await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_status(201);
        assert_organization_shape(&r.json);
        let id = id_of(&r.json);

        let r = send(
            app.h2
                .get(app.url(&format!("/api/v1/organization/{id}")))
                .header("Personal-Access-Token", owner.token.as_str()),
        )
        .await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_status(200);
        assert_eq!(r.json["name"], json!("Over h2c"));

        let r = send(app.h2.get(app.url(&format!("/api/v1/organization/{id}")))).await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_error(401, "UNAUTHENTICATED");

        let r = send(
            app.h2
                .post(app.url("/api/v1/organization"))
                .header("authorization", format!("Bearer {}", owner.token))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
        r.assert_error(400, "INVALID_ARGUMENT");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Framing mistakes: the client's fault, so INVALID_ARGUMENT (or UNIMPLEMENTED for a
// compression the server does not speak), never INTERNAL.

/// Sends `body` as is to `path` and returns the HTTP status and the grpc-status, from the
/// headers (a trailers-only reply) or a grpc-web trailer frame; `None` when the status is
/// in HTTP/2 trailers, which only a successful call has here.
async fn raw_grpc(
    client: &reqwest::Client,
    app: &App,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    token: &str,
) -> (u16, Option<i32>, Vec<u8>) {
    let mut req = client
        .post(app.url(path))
        .header("content-type", content_type)
        .header("te", "trailers")
        .header("accept", content_type)
        .header("authorization", format!("Bearer {token}"))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("raw gRPC request");
    let http_status = resp.status().as_u16();
    let mut grpc_status = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let reply_type = header_str(resp.headers(), "content-type");
    let mut body = resp.bytes().await.expect("body").to_vec();
    if content_type.starts_with("application/grpc-web") {
        if reply_type.starts_with("application/grpc-web-text") {
            body = decode_web_text(std::str::from_utf8(&body).expect("base64 is text"));
        }
        let (data, trailer) = parse_frames(&body);
        let reply = WebReply {
            http_status,
            headers: reqwest::header::HeaderMap::new(),
            data,
            trailer_text: trailer,
        };
        grpc_status = grpc_status.or(reply.grpc_status());
    }
    (http_status, grpc_status, body)
}

fn with_header(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&declared.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_framing_mistakes_are_invalid_argument_not_internal() {
    for_each_backend(|app| async move {
        let owner = app.user("framing").await;
        let id = id_of(&app.org(&owner.token, "Framed").await);
        let get = GetOrganizationRequest {
            organization_id: id,
        };
        let good = frame(&get);
        let payload = get.encode_to_vec();
        let create = CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Twice".into(),
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            }),
        };
        const GRPC: &str = "application/grpc";
        let invalid = 3;
        // (what, path, extra headers, body, expected grpc-status)
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, i32);
        let cases: Vec<Case> = vec![
            (
                "a truncated frame header",
                GET,
                vec![],
                vec![0, 0, 0],
                invalid,
            ),
            (
                "a frame shorter than it declares",
                GET,
                vec![],
                with_header(0, 100, &payload),
                invalid,
            ),
            (
                "a frame longer than it declares",
                GET,
                vec![],
                with_header(0, 1, &payload),
                invalid,
            ),
            (
                "the compressed flag without grpc-encoding",
                GET,
                vec![],
                with_header(1, payload.len() as u32, &payload),
                invalid,
            ),
            (
                "an unknown flag",
                GET,
                vec![],
                with_header(2, payload.len() as u32, &payload),
                invalid,
            ),
            (
                "undecodable protobuf",
                GET,
                vec![],
                with_header(0, 2, &[0xff, 0xff]),
                invalid,
            ),
            (
                "undecodable protobuf for a checked message",
                CREATE,
                vec![],
                with_header(0, 3, &[0x0a, 0x05, 0x01]),
                invalid,
            ),
            ("no message at all", GET, vec![], vec![], invalid),
            (
                "two messages on a unary call",
                CREATE,
                vec![],
                [frame(&create), frame(&create)].concat(),
                invalid,
            ),
            (
                "a compression the server does not speak",
                GET,
                vec![("grpc-encoding", "snappy")],
                with_header(1, payload.len() as u32, &payload),
                12,
            ),
        ];
        for (what, path, headers, body, expected) in cases {
            let (http, status, _) =
                raw_grpc(&app.h2, &app, path, GRPC, &headers, body, &owner.token).await;
            assert_eq!(http, 200, "{what}");
            assert_eq!(status, Some(expected), "{what}");
        }
        // The second message was refused, not half-served: nothing was created.
        let listed = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        assert_eq!(ids_of(&listed.json), [id], "{}", listed.text);

        // The well-formed call on the same path works.
        let (http, status, body) =
            raw_grpc(&app.h2, &app, GET, GRPC, &[], good.clone(), &owner.token).await;
        assert_eq!((http, status), (200, None));
        let (data, _) = parse_frames(&body);
        let got = GetOrganizationResponse::decode(data[0].as_slice()).unwrap();
        assert_eq!(got.organization.unwrap().id, id);

        // grpc-web-text whose body is not base64, over HTTP/1.1.
        let (http, status, _) = raw_grpc(
            &app.http,
            &app,
            GET,
            "application/grpc-web-text",
            &[],
            b"!!not base64!!".to_vec(),
            &owner.token,
        )
        .await;
        assert_eq!((http, status), (200, Some(invalid)));
        let text = base64::engine::general_purpose::STANDARD.encode(&good);
        let (http, status, _) = raw_grpc(
            &app.http,
            &app,
            GET,
            "application/grpc-web-text",
            &[],
            text.into_bytes(),
            &owner.token,
        )
        .await;
        assert_eq!((http, status), (200, Some(0)));
    })
    .await;
}
