//! Connections cannot be hoarded: one that sends nothing, sits idle between HTTP/1.1
//! requests or holds an h2 connection without streams is closed after the idle timeout; an
//! h2 peer that stops answering pings is dropped; and at the open-connection cap (derived
//! from `RLIMIT_NOFILE`) newcomers are closed at once while the server keeps serving.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough that only a broken server makes a test wait for it.
const GUARD: Duration = Duration::from_secs(30);

/// Reads until the peer closes the connection (EOF or reset); panics if it stays open.
async fn closed_by_server(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Err(_) => panic!("{what}: the server kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return seen,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// One HTTP/1.1 keep-alive request on `stream`; returns the response head and body.
async fn get_keep_alive(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
            .await
            .expect("a response")
            .expect("read");
        assert!(n > 0, "connection closed before the response");
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .expect("content-length");
            if response.len() >= head_end + 4 + length {
                return text;
            }
        }
    }
}

/// A log line without its terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    for_each_backend_with(
        |c| c.idle_timeout = Duration::from_millis(300),
        |app| async move {
            let mut silent = TcpStream::connect(app.addr).await.unwrap();
            let seen = closed_by_server(&mut silent, "a socket that never sent a byte").await;
            assert!(seen.is_empty(), "nothing is answered to nothing: {seen:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_keep_alive_is_closed_after_the_idle_timeout() {
    for_each_backend_with(
        |c| c.idle_timeout = Duration::from_millis(300),
        |app| async move {
            let mut stream = TcpStream::connect(app.addr).await.unwrap();
            // Requests in a row keep it open: idleness counts from the last response.
            for _ in 0..3 {
                let response = get_keep_alive(&mut stream, "/healthz").await;
                assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            }
            let after = closed_by_server(&mut stream, "an idle keep-alive connection").await;
            assert!(after.is_empty(), "closed without a response: {after:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_connection_gets_goaway_and_is_closed() {
    for_each_backend_with(
        |c| c.idle_timeout = Duration::from_millis(300),
        |app| async move {
            let tcp = TcpStream::connect(app.addr).await.unwrap();
            let (client, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
            let driver = tokio::spawn(connection);
            let mut client = client.ready().await.unwrap();
            let request = http::Request::get(app.url("/healthz")).body(()).unwrap();
            let (response, _) = client.send_request(request, true).unwrap();
            let response = response.await.expect("an h2 response");
            assert_eq!(response.status(), 200);
            let mut body = response.into_body();
            while let Some(chunk) = body.data().await {
                chunk.unwrap();
            }
            // `client` stays alive: only the server can end this connection now.
            let ended = tokio::time::timeout(GUARD, driver)
                .await
                .expect("the server closes an idle h2 connection");
            ended
                .unwrap()
                .expect("a clean close (GOAWAY), not a protocol error");
            drop(client);
        },
    )
    .await;
}

/// An h2 peer that completes the handshake and then answers nothing, not even PING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_peer_that_never_answers_pings_is_dropped() {
    for_each_backend_with(
        |c| {
            // The idle timeout is out of the way: only the keep-alive can close it.
            c.idle_timeout = Duration::from_secs(3600);
            c.h2_keepalive_interval = Duration::from_millis(200);
            c.h2_keepalive_timeout = Duration::from_millis(200);
        },
        |app| async move {
            let mut stream = TcpStream::connect(app.addr).await.unwrap();
            stream
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                .await
                .unwrap();
            // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
            stream
                .write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
                .await
                .unwrap();
            let seen = closed_by_server(&mut stream, "an h2 peer that never answers").await;
            let mut types = Vec::new();
            let mut at = 0;
            while at + 9 <= seen.len() {
                let length = u32::from_be_bytes([0, seen[at], seen[at + 1], seen[at + 2]]) as usize;
                types.push(seen[at + 3]);
                at += 9 + length;
            }
            assert!(
                types.contains(&6),
                "the server pinged (frame types {types:?})"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_newcomers_are_closed_and_the_rest_keep_working() {
    const CAP: usize = 3;
    for_each_backend_with(
        |c| {
            c.max_connections = Some(CAP);
            c.idle_timeout = Duration::from_secs(3600);
        },
        |app| async move {
            let mut open = Vec::new();
            for _ in 0..CAP {
                let mut stream = TcpStream::connect(app.addr).await.unwrap();
                let response = get_keep_alive(&mut stream, "/healthz").await;
                assert!(response.starts_with("HTTP/1.1 200"), "{response}");
                open.push(stream);
            }
            // Over the cap: closed at once, nothing answered.
            let mut extra = TcpStream::connect(app.addr).await.unwrap();
            let _ = extra
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await;
            let answered = closed_by_server(&mut extra, "a connection over the cap").await;
            assert!(answered.is_empty(), "over the cap: {answered:?}");
            // Those already open are still served, database included.
            let response = get_keep_alive(&mut open[1], "/readyz").await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");

            // One leaves: a newcomer gets its place (once the server has seen it go).
            drop(open.remove(0));
            let mut served = false;
            for _ in 0..100 {
                if let Ok(r) = app.http.get(app.url("/healthz")).send().await
                    && r.status() == 200
                {
                    served = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(
                served,
                "a place under the cap is given back when a connection closes"
            );
        },
    )
    .await;
}

/// The cap comes from `RLIMIT_NOFILE`: under `ulimit -n 256`, 300 silent sockets neither
/// exhaust the descriptors nor stop an open connection from reading and writing the
/// database, the refusals are logged, and once they are gone new connections are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_follows_the_open_files_limit_and_leaves_room_for_the_database() {
    use tokio::io::AsyncBufReadExt;
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let user = run_cli(
        &url,
        &["user", "create", "--email", "fd@example.com", "--name", "F"],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "ulimit -n 256 && exec {} --database-url '{url}' serve --listen 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_orgd")
    );
    let mut server = tokio::process::Command::new("sh")
        .args(["-c", &script])
        .env("ORGD_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("orgd serve starts");
    let mut log = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let mut cap_line = String::new();
    loop {
        let line = tokio::time::timeout(GUARD, log.next_line())
            .await
            .expect("ready within the guard")
            .unwrap()
            .expect("orgd serve exited before it was ready");
        if line.contains("max_connections") {
            cap_line = strip_ansi(&line);
        }
        if line.contains("ready on http://") {
            break;
        }
    }
    assert!(
        cap_line.contains("max_connections=128") && cap_line.contains("rlimit_nofile=256"),
        "the cap is RLIMIT_NOFILE less the database's headroom: {cap_line:?}"
    );
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = log.next_line().await {
            let _ = lines_tx.send(line);
        }
    });

    let mut keeper = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(
        get_keep_alive(&mut keeper, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // The open connection still reads and writes the database.
    let body = r#"{"name": "Under siege"}"#;
    keeper
        .write_all(
            format!(
                "POST /api/v1/organization HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(GUARD, keeper.read(&mut buf))
        .await
        .expect("an answer during the flood")
        .unwrap();
    let response = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let mut logged = false;
    while let Ok(Some(line)) = tokio::time::timeout(GUARD, lines_rx.recv()).await {
        if line.contains("connection limit reached") {
            logged = true;
            break;
        }
    }
    assert!(logged, "refusals at the cap are logged");

    drop(flood);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut served = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "new connections are served once the flood is gone");
    let _ = server.start_kill();
}
