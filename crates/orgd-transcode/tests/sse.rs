//! A server-streaming binding served as Server-Sent Events, against the toy app's stream
//! over a real port, read as it arrives.

mod toy;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

async fn open(addr: std::net::SocketAddr, query: &str, last: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("http://{addr}/v1/shelves/s/events?{query}"))
        .header("authorization", "yes");
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    request.send().await.unwrap()
}

/// The events (blocks separated by a blank line) of a whole stream.
async fn events(mut r: reqwest::Response) -> Vec<String> {
    let mut text = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text)
        .unwrap()
        .split_terminator("\n\n")
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn each_message_is_an_event_with_its_id_and_heartbeats_are_comments() {
    let addr = toy::serve(toy::options()).await;
    let r = open(addr, "count=3", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = events(r).await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[1], ": keep-alive");
    let (id, data) = events[0].split_once('\n').unwrap();
    assert_eq!(id, "id: 1");
    let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
    // The JSON of the surface, the line break escaped so the data is one line.
    assert_eq!(
        data,
        json!({"event": {"position": 1, "title": "line\nbreak 1"}, "heartbeat": null})
    );
    assert!(events[3].starts_with("id: 3\ndata: "), "{events:?}");
}

#[tokio::test]
async fn last_event_id_resumes_after_it() {
    let addr = toy::serve(toy::options()).await;
    let events = events(open(addr, "count=2", Some("41")).await).await;
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.strip_prefix("id: ")?.split('\n').next())
        .collect();
    assert_eq!(ids, ["42", "43"]);
    // An id that is no number is the client's mistake, named as the header.
    let r = open(addr, "count=2", Some("x")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["fields"][0]["in"], "header", "{body}");
}

#[tokio::test]
async fn an_error_before_the_stream_is_its_status_and_after_it_a_last_error_event() {
    let addr = toy::serve(toy::options()).await;
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/v1/shelves/missing/events"))
        .header("authorization", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "no shelf missing");

    let events = events(open(addr, "count=1&fail=true", None).await).await;
    let last = events.last().unwrap();
    let data = last.strip_prefix("event: error\ndata: ").expect(last);
    let data: Value = serde_json::from_str(data).unwrap();
    // The surface's error body, with the status the code answers elsewhere.
    assert_eq!(
        data,
        json!({"code": 429, "message": "too slow", "fields": []})
    );
}

#[tokio::test]
async fn each_event_arrives_before_the_stream_ends_and_a_client_leaving_cancels_the_rpc() {
    let addr = toy::serve(toy::options()).await;
    let before = toy::WATCHES_CANCELLED.load(Ordering::SeqCst);
    let mut r = open(addr, "count=1&forever=true", None).await;
    // The stream never ends, so the first event can only be read if it was flushed.
    let first = r.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"id: 1\ndata: "), "{first:?}");
    let beat = r.chunk().await.unwrap().unwrap();
    assert_eq!(&beat[..], b": keep-alive\n\n");
    drop(r);
    // The toy's stream notices the closed body at its next send.
    for _ in 0..500 {
        if toy::WATCHES_CANCELLED.load(Ordering::SeqCst) > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the RPC went on after its client left");
}
