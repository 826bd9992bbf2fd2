//! Work in progress at once: excess load is shed (503 / RESOURCE_EXHAUSTED with retry-after,
//! no queue), and slow or stalled clients time out without holding the server.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_load_is_shed_with_retry_after_not_queued() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let user = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "shed@example.com",
            "--name",
            "S",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let mut config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url);
    config.max_in_flight = 1;
    let server = orgd::server::Server::start(config).await.unwrap();
    let addr = server.local_addr();

    // One request in flight: headers sent, body still coming.
    let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = br#"{"name": "Held"}"#;
    let head = format!(
        "POST /api/v1/organization HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    held.write_all(&body[..4]).await.unwrap();
    held.flush().await.unwrap();

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{addr}/api/v1/organizations");
    // The held request takes the only slot once the server has read its headers.
    let mut refused = None;
    for _ in 0..100 {
        let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
        if r.status() == 503 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a second request is refused while the first holds the slot");
    assert_eq!(refused.headers()["retry-after"], "1");

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect_err("shed over gRPC too");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);

    // Once the held request finishes, the slot is free again.
    held.write_all(&body[4..]).await.unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut held, &mut response)
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

/// A client that never finishes its headers is dropped after the header timeout; one whose
/// body stalls gets 408 at the request timeout. Neither holds the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_stalled_clients_time_out() {
    use tokio::io::AsyncReadExt;
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let server = orgd::server::Server::start(orgd::config::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        url,
    ))
    .await
    .unwrap();
    let addr = server.local_addr();

    let slow_headers = async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /api/v1/organizations HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        // Bounded: the server must close well before this.
        tokio::time::timeout(std::time::Duration::from_secs(25), s.read_to_end(&mut buf))
            .await
            .expect("the server drops a client that never finishes its headers")
            .ok();
        String::from_utf8_lossy(&buf).into_owned()
    };
    let stalled_body = async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/organization HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na",
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(45), s.read_to_end(&mut buf))
            .await
            .expect("the server answers a stalled body")
            .ok();
        String::from_utf8_lossy(&buf).into_owned()
    };
    let (headers_reply, body_reply) = tokio::join!(slow_headers, stalled_body);
    assert!(
        headers_reply.is_empty() || headers_reply.starts_with("HTTP/1.1 408"),
        "{headers_reply}"
    );
    assert!(body_reply.starts_with("HTTP/1.1 408"), "{body_reply}");
    // The server still serves.
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/api/v1/organizations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.shutdown().await;
}
