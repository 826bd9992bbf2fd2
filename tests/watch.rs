//! WatchEvents (issue 18) on both backends: completeness and order under concurrent
//! writes, resume, access, a slow consumer, the stream bounds, Server-Sent Events, Connect
//! server streaming, and writes through the API reaching watchers on every instance (a
//! second one on the same PostgreSQL database).
//!
//! Most events are appended through `orgd::domain::events::append` in transactions of a
//! second connection to the server's own database (a writer other than the server: on
//! SQLite the server learns of it from the table at its next read, on PostgreSQL from
//! NOTIFY), so that those tests do not depend on which writes append what;
//! `api_writes_reach_watchers_on_every_instance` covers the whole path from a REST write.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{App, for_each_backend_with};
use orgd::auth::Principal;
use orgd::domain::events::{self, NewEvent, OrgRef};
use orgd::proto::v1::organization_event_service_client::OrganizationEventServiceClient;
use orgd::proto::v1::watch_organization_events_response::Kind;
use orgd::proto::v1::{WatchOrganizationEventsRequest, WatchOrganizationEventsResponse};
use tonic::Streaming;

fn configure(c: &mut orgd::config::Config) {
    c.watch.heartbeat = Duration::from_millis(100);
    c.watch.max_per_principal = 8;
}

struct Org {
    id: i64,
    uuid: uuid::Uuid,
}

async fn org(app: &App, token: &str, name: &str) -> Org {
    let o = app.org(token, name).await;
    let id = o["id"].as_i64().expect("an id");
    let db = orgd::db::Db::connect(&app.database_url).await.unwrap();
    use sea_orm::EntityTrait;
    let m = orgd::entity::organization::Entity::find_by_id(id)
        .one(db.read())
        .await
        .unwrap()
        .unwrap();
    Org { id, uuid: m.uuid }
}

/// Appends `n` events concerning `org`, `parallel` writers at a time; their positions.
async fn write(app: &App, org: &Org, n: usize, parallel: usize) -> Vec<i64> {
    write_padded(app, org, n, parallel, 0).await
}

/// As [`write`], each event's state `padding` bytes longer.
async fn write_padded(app: &App, org: &Org, n: usize, parallel: usize, padding: usize) -> Vec<i64> {
    let db = orgd::db::Db::connect(&app.database_url).await.unwrap();
    let target = OrgRef {
        id: org.id,
        uuid: org.uuid,
    };
    let mut tasks = Vec::new();
    for w in 0..parallel {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..n).step_by(parallel) {
                let txn = db.begin_write().await.unwrap();
                let position = events::append(
                    &txn,
                    &Principal::Service {
                        name: "test".into(),
                    },
                    NewEvent {
                        kind: events::types::ORGANIZATION_UPDATED,
                        organizations: vec![target],
                        resource_id: target.id.to_string(),
                        state: serde_json::json!({"i": i, "padding": "x".repeat(padding)}),
                    },
                )
                .await
                .unwrap();
                txn.commit().await.unwrap();
                out.push(position);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    all
}

async fn client(app: &App) -> OrganizationEventServiceClient<tonic::transport::Channel> {
    OrganizationEventServiceClient::new(app.channel().await)
}

async fn watch(
    app: &App,
    token: &str,
    organization_id: i64,
    after: Option<i64>,
) -> Result<Streaming<WatchOrganizationEventsResponse>, tonic::Status> {
    let request = WatchOrganizationEventsRequest {
        organization_id,
        after_position: after,
        ..Default::default()
    };
    client(app)
        .await
        .watch_organization_events(common::bearer(request, token))
        .await
        .map(|r| r.into_inner())
}

/// The positions of the next `n` events (heartbeats skipped).
async fn positions(stream: &mut Streaming<WatchOrganizationEventsResponse>, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("an event within 30 s")
            .expect("the stream goes on")
            .expect("not ended");
        if let Some(Kind::Event(e)) = next.kind {
            out.push(e.position);
        }
    }
    out
}

/// Waits until a heartbeat arrives: the watcher is registered and caught up.
async fn heartbeat(stream: &mut Streaming<WatchOrganizationEventsResponse>) {
    loop {
        let next = stream.message().await.unwrap().unwrap();
        if let Some(Kind::Heartbeat(_)) = next.kind {
            return;
        }
    }
}

#[tokio::test]
async fn every_watcher_sees_each_event_once_in_position_order() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let a = org(&app, &owner.token, "A").await;
        let mut watchers = Vec::new();
        for _ in 0..3 {
            let mut s = watch(&app, &owner.token, a.id, None).await.unwrap();
            heartbeat(&mut s).await;
            watchers.push(s);
        }
        let readers: Vec<_> = watchers
            .into_iter()
            .map(|mut s| tokio::spawn(async move { positions(&mut s, 1000).await }))
            .collect();
        let written = write(&app, &a, 1000, 16).await;
        assert_eq!(written.len(), 1000);
        for r in readers {
            assert_eq!(
                r.await.unwrap(),
                written,
                "each event once, in position order"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_watcher_resumes_after_its_last_position_with_no_gap_and_no_duplicate() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let a = org(&app, &owner.token, "A").await;
        let mut s = watch(&app, &owner.token, a.id, None).await.unwrap();
        heartbeat(&mut s).await;
        let first = write(&app, &a, 10, 1).await;
        let seen = positions(&mut s, 5).await;
        assert_eq!(seen, first[..5]);
        drop(s);
        let more = write(&app, &a, 10, 2).await;
        let mut s = watch(&app, &owner.token, a.id, Some(seen[4]))
            .await
            .unwrap();
        let rest: Vec<i64> = first[5..].iter().chain(&more).copied().collect();
        assert_eq!(positions(&mut s, 15).await, rest);
    })
    .await;
}

#[tokio::test]
async fn a_watcher_never_sees_another_organizations_events_and_a_removed_member_stops() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let other = app.user("other").await;
        let a = org(&app, &owner.token, "A").await;
        let b = org(&app, &other.token, "B").await;
        // Permission before existence: A and a missing organization alike.
        for id in [a.id, 999_999] {
            let e = watch(&app, &other.token, id, None).await.unwrap_err();
            assert_eq!(e.code(), tonic::Code::PermissionDenied, "{id}: {e:?}");
        }
        let mut in_b = watch(&app, &other.token, b.id, None).await.unwrap();
        heartbeat(&mut in_b).await;
        write(&app, &a, 5, 1).await;
        let b_positions = write(&app, &b, 2, 1).await;
        assert_eq!(positions(&mut in_b, 2).await, b_positions);

        // A member of A watches, then is removed: the stream ends refused.
        app.member_add(a.id, &other.email, "member").await;
        let mut member = watch(&app, &other.token, a.id, None).await.unwrap();
        heartbeat(&mut member).await;
        let p = write(&app, &a, 1, 1).await;
        assert_eq!(positions(&mut member, 1).await, p);
        app.cli(&[
            "member",
            "remove",
            "--organization",
            &a.id.to_string(),
            "--email",
            &other.email,
        ])
        .await;
        write(&app, &a, 3, 1).await;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(30), member.message())
                .await
                .expect("the stream ends within 30 s")
            {
                Ok(Some(WatchOrganizationEventsResponse {
                    kind: Some(Kind::Event(e)),
                })) => panic!("a removed member received {}", e.position),
                Ok(Some(_)) => continue,
                Ok(None) => panic!("ended without a status"),
                Err(status) => break status,
            }
        };
        assert_eq!(ended.code(), tonic::Code::PermissionDenied, "{ended:?}");
    })
    .await;
}

#[tokio::test]
async fn a_slow_consumer_ends_resumable_and_writers_do_not_wait_for_it() {
    let small_buffer = |c: &mut orgd::config::Config| {
        configure(c);
        c.watch.buffer = 64;
    };
    for_each_backend_with(small_buffer, |app| async move {
        let owner = app.user("owner").await;
        let a = org(&app, &owner.token, "A").await;
        let mut slow = watch(&app, &owner.token, a.id, None).await.unwrap();
        heartbeat(&mut slow).await;
        // Far more than its buffer and the transport's windows and send buffers hold
        // (about 8 MB), while it reads nothing.
        let written = write_padded(&app, &a, 3000, 8, 2048).await;
        let mut seen = Vec::new();
        let status = loop {
            match slow.message().await {
                Ok(Some(WatchOrganizationEventsResponse {
                    kind: Some(Kind::Event(e)),
                })) => seen.push(e.position),
                Ok(Some(_)) => continue,
                Ok(None) => panic!("ended without a status"),
                Err(status) => break status,
            }
        };
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        use tonic_types::StatusExt;
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "WATCH_BUFFER_OVERFLOW");
        let last: i64 = info.metadata["last_position"].parse().unwrap();
        assert_eq!(Some(&last), seen.last(), "the last position delivered");
        assert!(seen.len() < written.len(), "it fell behind");
        assert_eq!(seen, written[..seen.len()]);
        // Once the server has read the whole burst (a heartbeat says how far it has), the
        // resumed stream has the rest with no gap, through its buffer of 64.
        // (A probe opened while the server still reads the burst may overflow too.)
        'probe: loop {
            let mut probe = watch(&app, &owner.token, a.id, None).await.unwrap();
            while let Ok(Some(next)) = probe.message().await {
                if let Some(Kind::Heartbeat(h)) = next.kind
                    && h.position >= *written.last().unwrap()
                {
                    break 'probe;
                }
            }
        }
        let mut s = watch(&app, &owner.token, a.id, Some(last)).await.unwrap();
        let rest = positions(&mut s, written.len() - seen.len()).await;
        assert_eq!(rest, written[seen.len()..]);
    })
    .await;
}

#[tokio::test]
async fn streams_are_bounded_per_caller() {
    for_each_backend_with(
        |c| {
            configure(c);
            c.watch.max_per_principal = 2;
        },
        |app| async move {
            let owner = app.user("owner").await;
            let a = org(&app, &owner.token, "A").await;
            let mut open = Vec::new();
            for _ in 0..2 {
                let mut s = watch(&app, &owner.token, a.id, None).await.unwrap();
                heartbeat(&mut s).await;
                open.push(s);
            }
            let e = watch(&app, &owner.token, a.id, None).await.unwrap_err();
            assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
            let r = app
                .http
                .get(app.url(&format!("/api/v1/organization/{}/events", a.id)))
                .bearer_auth(&owner.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 429);
            // A closed stream frees its place.
            drop(open.pop());
            for _ in 0..100 {
                if let Ok(mut s) = watch(&app, &owner.token, a.id, None).await {
                    heartbeat(&mut s).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the place of a closed stream was not freed");
        },
    )
    .await;
}

/// The next `n` SSE events' (id, data) of a stream, comments skipped.
async fn sse_events(r: &mut reqwest::Response, n: usize) -> Vec<(String, serde_json::Value)> {
    let mut buffer = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(30), r.chunk())
            .await
            .expect("an event within 30 s")
            .unwrap()
            .expect("the stream goes on");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut id = String::new();
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            if let Some(data) = data {
                out.push((id, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn server_sent_events_carry_the_position_as_id_and_resume_from_last_event_id() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let a = org(&app, &owner.token, "A").await;
        let url = app.url(&format!("/api/v5/orgs/{}/events", a.uuid));
        let mut r = app
            .http
            .get(&url)
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        // The first heartbeat: the stream is registered.
        loop {
            let chunk = r.chunk().await.unwrap().unwrap();
            if chunk.starts_with(b": keep-alive") {
                break;
            }
        }
        let written = write(&app, &a, 4, 1).await;
        let got = sse_events(&mut r, 2).await;
        assert_eq!(got[0].0, written[0].to_string());
        assert_eq!(got[0].1["event"]["position"], written[0]);
        assert_eq!(got[0].1["event"]["type"], "organization.updated");
        assert_eq!(got[1].0, written[1].to_string());
        drop(r);
        // EventSource's reconnect: Last-Event-ID.
        let mut r = app
            .http
            .get(&url)
            .bearer_auth(&owner.token)
            .header("last-event-id", got[1].0.as_str())
            .send()
            .await
            .unwrap();
        let rest = sse_events(&mut r, 2).await;
        let ids: Vec<String> = rest.into_iter().map(|(id, _)| id).collect();
        let want: Vec<String> = written[2..].iter().map(i64::to_string).collect();
        assert_eq!(ids, want);
        // Refused before the stream: a plain error response.
        let other = app.user("other").await;
        let r = app
            .http
            .get(&url)
            .bearer_auth(&other.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let _: HashSet<i64> = HashSet::new();
    })
    .await;
}

/// The positions in `org`'s audit log (ListEvents, through the REST binding) after `after`.
async fn logged_after(app: &App, token: &str, org: i64, after: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/organization/{org}/events/log?pageSize=100&cursor={cursor}");
        let r = app
            .rest(
                reqwest::Method::GET,
                &path,
                common::Auth::Bearer(token),
                None,
            )
            .await;
        r.assert_status(200);
        for e in r.json["events"].as_array().cloned().unwrap_or_default() {
            let p = &e["position"];
            let p = p.as_i64().or_else(|| p.as_str()?.parse().ok()).unwrap();
            if p > after {
                out.push(p);
            }
        }
        match r.json["next"].as_str() {
            Some(next) => cursor = common::urlencode(next),
            None => break,
        }
    }
    out.sort_unstable();
    out
}

/// Writes through the API (REST, the owner's token) reach a watcher on the instance that
/// committed them and, on PostgreSQL, one on a second instance over the same database
/// (its hub is woken by NOTIFY alone): each sees exactly the audit log's new events, in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_writes_reach_watchers_on_every_instance() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let a = org(&app, &owner.token, "A").await;
        app.set_state(&a.id.to_string(), "active").await;

        // A second instance on the same database (PostgreSQL only: SQLite is one process's).
        let second = match app.backend {
            common::Backend::Postgres => {
                let mut c = orgd::config::Config::new(
                    "127.0.0.1:0".parse().unwrap(),
                    app.database_url.clone(),
                );
                configure(&mut c);
                // Longer than the test waits: only NOTIFY can wake this instance's hub.
                c.watch.heartbeat = Duration::from_secs(120);
                Some(orgd::server::Server::start(c).await.unwrap())
            }
            common::Backend::Sqlite => None,
        };
        let instances: Vec<App> = std::iter::once(app.clone())
            .chain(
                second
                    .iter()
                    .map(|s| App::for_server(app.backend, s.local_addr(), &app.database_url)),
            )
            .collect();

        let before = logged_after(&app, &owner.token, a.id, 0)
            .await
            .last()
            .copied()
            .unwrap_or(0);
        // From `before`, so an event committed while a watcher still catches up is read
        // from the table; the rest can only come from its hub.
        let mut streams = Vec::new();
        for instance in &instances {
            streams.push(watch(instance, &owner.token, a.id, Some(before)).await.unwrap());
        }
        const WRITES: usize = 20;
        for i in 0..WRITES {
            let r = app
                .rest(
                    reqwest::Method::PUT,
                    &format!("/api/v1/organization/{}/quick-actions", a.id),
                    common::Auth::Bearer(&owner.token),
                    Some(&serde_json::json!([{"name": format!("Call {i}"), "color": "red", "icon": "phone"}])),
                )
                .await;
            assert!(r.status.is_success(), "{}: {}", r.status, r.text);
        }
        let logged = logged_after(&app, &owner.token, a.id, before).await;
        assert!(logged.len() >= WRITES, "{} events logged", logged.len());
        for (i, s) in streams.iter_mut().enumerate() {
            assert_eq!(positions(s, logged.len()).await, logged, "instance {i}");
        }
        drop(streams);
        if let Some(s) = second {
            s.shutdown().await;
        }
    })
    .await;
}

/// The Connect envelope of one message.
fn envelope(flags: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Reads `r` until its next whole Connect envelope: (flags, JSON).
async fn next_envelope(r: &mut reqwest::Response, buf: &mut Vec<u8>) -> (u8, serde_json::Value) {
    loop {
        if buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() >= 5 + len {
                let flags = buf[0];
                let json = serde_json::from_slice(&buf[5..5 + len]).unwrap();
                buf.drain(..5 + len);
                return (flags, json);
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), r.chunk())
            .await
            .expect("a message within 30 s")
            .unwrap()
            .expect("the stream goes on");
        buf.extend_from_slice(&chunk);
    }
}

/// WatchEvents over Connect server streaming (application/connect+json): each message
/// arrives as it is committed, heartbeats included; a refusal is the end-of-stream message.
#[tokio::test]
async fn connect_streams_each_event_as_it_commits() {
    for_each_backend_with(configure, |app| async move {
        let owner = app.user("owner").await;
        let other = app.user("other").await;
        let a = org(&app, &owner.token, "A").await;
        let open = |token: String, organization_id: i64| {
            app.http
                .post(app.url("/orgd.v1.OrganizationEventService/WatchOrganizationEvents"))
                .header("content-type", "application/connect+json")
                .header("connect-protocol-version", "1")
                .bearer_auth(token)
                .body(envelope(
                    0,
                    serde_json::json!({"organizationID": organization_id})
                        .to_string()
                        .as_bytes(),
                ))
                .send()
        };
        let mut r = open(owner.token.clone(), a.id).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/connect+json");
        let mut buf = Vec::new();
        // A heartbeat: caught up and registered.
        loop {
            let (flags, m) = next_envelope(&mut r, &mut buf).await;
            assert_eq!(flags, 0, "{m}");
            if m.get("heartbeat").is_some() {
                break;
            }
        }
        let written = write(&app, &a, 3, 1).await;
        let mut seen = Vec::new();
        while seen.len() < written.len() {
            let (flags, m) = next_envelope(&mut r, &mut buf).await;
            assert_eq!(flags, 0, "{m}");
            if let Some(e) = m.get("event") {
                assert_eq!(e["type"], events::types::ORGANIZATION_UPDATED, "{m}");
                seen.push(e["position"].as_str().unwrap().parse::<i64>().unwrap());
            }
        }
        assert_eq!(seen, written);
        drop(r);

        // Another tenant: no message, only the end of the stream with the error.
        let mut r = open(other.token.clone(), a.id).await.unwrap();
        assert_eq!(r.status(), 200);
        let (flags, end) = next_envelope(&mut r, &mut Vec::new()).await;
        assert_eq!(flags, 0x02, "{end}");
        assert_eq!(end["error"]["code"], "permission_denied", "{end}");
    })
    .await;
}
