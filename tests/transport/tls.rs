//! TLS: one port, ALPN h2 and http/1.1, every protocol.

use super::*;

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
