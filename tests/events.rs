//! The change log (issue 18, part 1) against a real server on both backends: every kind of
//! write appends its event in its own transaction, a refused write appends none, 1,000
//! concurrent writes give positions a reader sees in commit order without a gap, the audit
//! log (ListEvents) pages, filters and refuses whoever does not administer the
//! organization, and old events are purged in the background.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// An int64 in JSON, as a number or (proto3 JSON) a string.
fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("an int64: {v}"))
}

/// GroupAlarm's audit log of `org` as `token`, with `query` (already encoded).
async fn log(app: &App, token: &str, org: i64, query: &str) -> Resp {
    app.rest(
        Method::GET,
        &format!("/api/v1/organization/{org}/events/log?{query}"),
        Auth::Bearer(token),
        None,
    )
    .await
}

/// Every event of `org` (following `next`), oldest first.
async fn all_events(app: &App, token: &str, org: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = log(app, token, org, &format!("pageSize=100&cursor={cursor}")).await;
        r.assert_status(200);
        out.extend(r.json["events"].as_array().cloned().unwrap_or_default());
        match r.json["next"].as_str() {
            Some(next) => cursor = urlencode(next),
            None => return out,
        }
    }
}

fn types_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_string())
        .collect()
}

/// A server whose writes are not rate-limited: the concurrency test makes 1,000 at once.
fn unlimited(c: &mut orgd::config::Config) {
    c.write_rate = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_write_appends_its_event() {
    for_each_backend_with(unlimited, |app| async move {
        let a = Org::active(&app, "log-a").await;
        let b = Org::active(&app, "log-b").await;
        let owner = &a.owner.token;
        let id = a.id;
        let ok = |r: Resp| {
            assert!(r.status.as_u16() < 300, "write answered {}: {}", r.status, r.text);
        };
        let v1 = |m: Method, path: String, body: Option<Value>| {
            let app = app.clone();
            let owner = owner.clone();
            async move { app.rest(m, &path, Auth::Bearer(&owner), body.as_ref()).await }
        };
        ok(v1(
            Method::PUT,
            format!("/api/v1/organization/{id}/location"),
            Some(json!({"address": "Main St 1", "latitude": 1.5, "longitude": 2.5})),
        )
        .await);
        ok(v1(Method::DELETE, format!("/api/v1/organization/{id}/location"), None).await);
        ok(v1(
            Method::PUT,
            format!("/api/v1/organization/{id}/quick-actions"),
            Some(json!([{"name": "Call", "color": "red", "icon": "phone"}])),
        )
        .await);
        let invitee = app.user("log-invitee").await;
        ok(v1(
            Method::POST,
            format!("/api/v1/organization/{id}/owner/invitations"),
            Some(json!({"email": invitee.email})),
        )
        .await);
        ok(v1(
            Method::DELETE,
            format!("/api/v1/organization/{id}/owner/invitations/{}", invitee.id),
            None,
        )
        .await);
        let second = app.user("log-second-owner").await;
        ok(v1(Method::PUT, format!("/api/v1/organization/{id}/owner/{}", second.id), None).await);
        ok(v1(Method::DELETE, format!("/api/v1/organization/{id}/owner/{}", second.id), None).await);
        let member = a.member(&app, "log-member").await;
        // giosg: a partnership invitation accepted makes a partnership on both sides.
        common::giosg::partner_up(&app, &a, &b).await;
        // Presence: the member registers a client and removes it.
        let client = format!("/api/v5/orgs/{}/users/{}/clients/c1", a.uuid, member.uuid);
        let r = app
            .rest(Method::PUT, &client, Auth::Token(&member.token), Some(&json!({"expires_in": 60})))
            .await;
        r.assert_status(201);
        app.rest(Method::DELETE, &client, Auth::Token(&member.token), None)
            .await
            .assert_status(204);
        // MyCreditApp: a directory record, and a guest connection.
        let ctx = common::mycreditapp::Ctx::new(&app, owner, &a.uuid, &a.uuid);
        let record = ctx
            .create_ok(&json!({"company_name": "Acme", "email": "acme@example.com", "partner_type": "customer"}))
            .await;
        ctx.patch(record["id"].as_str().unwrap(), &json!({"city": "Bremen"}))
            .await
            .assert_status(200);
        common::mycreditapp::partner_up(&app, &a, &b).await;
        ctx.delete(record["id"].as_str().unwrap()).await.assert_status(204);
        // The avatar, a member's removal, the partnership's removal.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR events";
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(png);
        ok(v1(Method::PUT, format!("/api/v1/organization/{id}/avatar"), Some(json!(b64))).await);
        app.cli(&["member", "remove", "--organization", &id.to_string(), "--email", &member.email])
            .await
            .json();
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid),
                Auth::Token(owner),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{} {}", r.status, r.text);

        let events = all_events(&app, owner, id).await;
        let seen: BTreeSet<String> = types_of(&events).into_iter().collect();
        for expected in [
            "organization.created",
            "organization.state_changed",
            "organization.updated",
            "organization.location_changed",
            "organization.quick_actions_changed",
            "owner_invitation.created",
            "owner_invitation.removed",
            "owner.added",
            "owner.removed",
            "member.set",
            "partnership_invitation.created",
            "partnership_invitation.resolved",
            "partnership.created",
            "presence.client_registered",
            "presence.client_removed",
            "partner.created",
            "partner.updated",
            "guest_invitation.sent",
            "guest_invitation.accepted",
            "guest_connection.created",
            "partner.deleted",
            "organization.avatar_changed",
            "member.removed",
            "partnership.deleted",
        ] {
            assert!(seen.contains(expected), "{expected} is logged: {seen:?}");
        }
        // Positions grow; each event names the organization, by both ids.
        let positions: Vec<i64> = events.iter().map(|e| int(&e["position"])).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        for e in &events {
            let ids: Vec<i64> = e["organizationIDs"].as_array().unwrap().iter().map(int).collect();
            assert!(ids.contains(&id), "{e}");
            assert_eq!(
                e["organizationUUIDs"].as_array().unwrap().len(),
                ids.len(),
                "{e}"
            );
            assert!(e["time"].is_string(), "{e}");
            assert!(!e["actor"].as_str().unwrap().is_empty(), "{e}");
        }
        // The location change carries the new state, the actor and the request id.
        let located = events
            .iter()
            .find(|e| e["type"] == "organization.location_changed")
            .unwrap();
        assert_eq!(located["state"]["location_address"], json!("Main St 1"));
        assert_eq!(located["actor"], json!(format!("user:{}", a.owner.id)));
        assert!(!located["requestID"].as_str().unwrap().is_empty(), "{located}");
        // The partnership concerns both sides: b's log has it too.
        let b_events = all_events(&app, &b.owner.token, b.id).await;
        assert!(types_of(&b_events).contains(&"partnership.created".to_string()));
        // No secret enters the log: guest tokens and invitation keys stay out.
        for e in events.iter().chain(&b_events) {
            let text = e.to_string();
            assert!(!text.contains("invitation_token") && !text.contains("\"key\""), "{text}");
        }
        // Deleting an organization is logged with its last state (readable afterwards by
        // nobody but... the log survives the row: a child's deletion shows in its parent's).
        let child = app.child_org(owner, id, &unique("log-child")).await;
        let child_id = id_of(&child);
        ok(v1(Method::DELETE, format!("/api/v1/organization/{child_id}"), None).await);
        let uuid = child["uuid"].as_str().unwrap().to_string();
        let db = orgd::db::Db::connect(&app.database_url).await.unwrap();
        let filter = orgd::domain::events::log::Filter {
            organizations: vec![child_id],
            ..Default::default()
        };
        let child_events = orgd::domain::events::log::read(db.read(), &filter, 10)
            .await
            .unwrap();
        let kinds: Vec<&str> = child_events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["organization.created", "organization.deleted"]);
        assert_eq!(child_events[1].resource_id, uuid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_appends_no_event() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "refused").await;
        let token = &a.owner.token;
        let before = all_events(&app, token, a.id).await.len();
        app.child_org(token, a.id, &unique("refused-child")).await;
        let after_child = all_events(&app, token, a.id).await.len();
        // The child's creation concerns the child only.
        assert_eq!(after_child, before);
        // Refused: the organization has a child (409), an out-of-range location (400).
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{}", a.id),
                Auth::Bearer(token),
                None,
            )
            .await;
        r.assert_status(409);
        let r = app
            .rest(
                Method::PUT,
                &format!("/api/v1/organization/{}/location", a.id),
                Auth::Bearer(token),
                Some(&json!({"address": "x", "latitude": 100.0, "longitude": 0.0})),
            )
            .await;
        r.assert_status(400);
        // A duplicate owner invitation fails on the partial unique index.
        let invitee = app.user("refused-invitee").await;
        let path = format!("/api/v1/organization/{}/owner/invitations", a.id);
        let body = json!({"email": invitee.email});
        let invite = || app.rest(Method::POST, &path, Auth::Bearer(token), Some(&body));
        assert!(invite().await.status.as_u16() < 300);
        assert_eq!(invite().await.status.as_u16(), 409);
        let events = all_events(&app, token, a.id).await;
        assert_eq!(
            types_of(&events[before..]),
            ["owner_invitation.created"],
            "only the write that committed is logged"
        );
    })
    .await;
}

/// On a full database (SQLite's cap) a write that fails leaves no event, and every write
/// acknowledged has exactly one: the event and the change commit together or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_on_a_full_database_appends_no_event() {
    for_each_backend_with(
        |c| {
            c.write_rate = None;
            c.sqlite_max_size_bytes = Some(1024 * 1024);
        },
        |app| async move {
            if app.backend != Backend::Sqlite {
                return; // The cap is SQLite's; PostgreSQL's full disk is storage_full's.
            }
            let a = Org::create(&app, "full").await;
            let token = &a.owner.token;
            let path = format!("/api/v1/organization/{}/location", a.id);
            let (mut acknowledged, mut refused) = (0, false);
            for i in 0..20_000 {
                let body = json!({"address": format!("{i} {}", "x".repeat(200)),
                    "latitude": 0.0, "longitude": 0.0});
                let r = app
                    .rest(Method::PUT, &path, Auth::Bearer(token), Some(&body))
                    .await;
                match r.status.as_u16() {
                    200 => acknowledged += 1,
                    503 => {
                        assert_eq!(r.json["error"], json!("STORAGE_FULL"), "{}", r.text);
                        refused = true;
                        break;
                    }
                    other => panic!("unexpected {other}: {}", r.text),
                }
            }
            assert!(refused, "the database filled up");
            // Once more while full, then count: reads still answer.
            let body = json!({"address": "refused", "latitude": 0.0, "longitude": 0.0});
            let r = app
                .rest(Method::PUT, &path, Auth::Bearer(token), Some(&body))
                .await;
            assert_eq!(r.status.as_u16(), 503, "{}", r.text);
            let logged = all_events(&app, token, a.id)
                .await
                .iter()
                .filter(|e| e["type"] == "organization.location_changed")
                .count();
            assert_eq!(
                logged, acknowledged,
                "one event per acknowledged write, none for a refused one"
            );
        },
    )
    .await;
}

/// 1,000 writes at once while a reader follows "after the last position I saw": the reader
/// sees every event exactly once, in increasing position, and the positions have no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_read_in_commit_order_without_gaps() {
    for_each_backend_with(unlimited, |app| async move {
        const WRITES: usize = 1000;
        let a = Org::active(&app, "concurrent").await;
        let token = a.owner.token.clone();
        let db = orgd::db::Db::connect(&app.database_url).await.unwrap();
        let start = {
            let filter = orgd::domain::events::log::Filter {
                organizations: vec![a.id],
                ..Default::default()
            };
            let so_far = orgd::domain::events::log::read(db.read(), &filter, 1000)
                .await
                .unwrap();
            so_far.last().map(|e| e.position).unwrap_or(0)
        };
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let db = db.clone();
            let done = done.clone();
            let org = a.id;
            tokio::spawn(async move {
                let mut seen: Vec<i64> = Vec::new();
                let mut last = start;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let filter = orgd::domain::events::log::Filter {
                        organizations: vec![org],
                        after: last,
                        ..Default::default()
                    };
                    let page = orgd::domain::events::log::read(db.read(), &filter, 500)
                        .await
                        .unwrap();
                    for e in &page {
                        seen.push(e.position);
                        last = e.position;
                    }
                    if finished && page.is_empty() {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        // Presence registrations: rows of their own, so no row lock of the write itself
        // orders them (an update of one organization would).
        let path = |i: usize| {
            format!(
                "/api/v5/orgs/{}/users/{}/clients/c{i}",
                a.uuid, a.owner.uuid
            )
        };
        let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
        let writes: Vec<_> = (0..WRITES)
            .map(|i| {
                let app = app.clone();
                let token = token.clone();
                let path = path(i);
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    let _slot = in_flight.acquire_owned().await.unwrap();
                    let r = app
                        .h2
                        .put(app.url(&path))
                        .header("authorization", format!("Token {token}"))
                        .header("content-type", "application/json")
                        .body(json!({"expires_in": 600}).to_string())
                        .send()
                        .await
                        .expect("send");
                    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                })
            })
            .collect();
        for w in writes {
            w.await.unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let seen = reader.await.unwrap();
        assert_eq!(seen.len(), WRITES, "every event once");
        assert!(
            seen.windows(2).all(|w| w[1] == w[0] + 1),
            "strictly increasing without a gap: {:?}",
            seen.windows(2).find(|w| w[1] != w[0] + 1)
        );
        assert_eq!(seen[0], start + 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_pages_filters_and_is_for_admins_and_owners_only() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "audit").await;
        let other = Org::active(&app, "audit-other").await;
        let token = &a.owner.token;
        let admin = a.admin(&app, "audit-admin").await;
        let member = a.member(&app, "audit-member").await;
        let writer = a.add(&app, "audit-writer", Role::Owner).await;
        for i in 0..5 {
            app.rest(
                Method::PUT,
                &format!("/api/v1/organization/{}/location", a.id),
                Auth::Bearer(&writer.token),
                Some(&json!({"address": format!("a{i}"), "latitude": 0.0, "longitude": 0.0})),
            )
            .await
            .assert_status(200);
        }
        let all = all_events(&app, token, a.id).await;
        assert!(all.len() >= 8, "{}", all.len());

        // Pages of 2 cover the log once, in order.
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let r = log(&app, token, a.id, &format!("pageSize=2&cursor={cursor}")).await;
            r.assert_status(200);
            let page = r.json["events"].as_array().cloned().unwrap_or_default();
            assert!(page.len() <= 2);
            paged.extend(page);
            match r.json["next"].as_str() {
                Some(n) => cursor = urlencode(n),
                None => break,
            }
        }
        assert_eq!(paged, all);

        // By type, by actor, by time.
        let r = log(&app, token, a.id, "types=organization.location_changed").await;
        r.assert_status(200);
        assert_eq!(r.json["events"].as_array().unwrap().len(), 5);
        let r = log(
            &app,
            token,
            a.id,
            "types=organization.location_changed&types=member.set",
        )
        .await;
        assert_eq!(r.json["events"].as_array().unwrap().len(), 8, "{}", r.text);
        let r = log(&app, token, a.id, &format!("actor=user:{}", writer.id)).await;
        assert_eq!(r.json["events"].as_array().unwrap().len(), 5, "{}", r.text);
        let fifth = &all[all.len() - 3];
        let at = fifth["time"].as_str().unwrap();
        let r = log(&app, token, a.id, &format!("startTime={}", urlencode(at))).await;
        assert_eq!(r.json["events"].as_array().unwrap().len(), 3, "{}", r.text);
        let r = log(&app, token, a.id, &format!("endTime={}", urlencode(at))).await;
        assert_eq!(
            r.json["events"].as_array().unwrap().len(),
            all.len().min(25) - 3,
            "{}",
            r.text
        );

        // The giosg surface serves the same log by UUID.
        let r = app
            .rest(
                Method::GET,
                &format!("/api/v5/orgs/{}/events/log?page_size=100", a.uuid),
                Auth::Token(token),
                None,
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["results"].as_array().unwrap().len(), all.len());

        // Admins read it; a member, another tenant, a service and an unknown organization
        // get 403 (permission before existence).
        log(&app, &admin.token, a.id, "").await.assert_status(200);
        log(&app, &member.token, a.id, "").await.assert_status(403);
        log(&app, &other.owner.token, a.id, "")
            .await
            .assert_status(403);
        let service = app.service_token("audit-service").await;
        log(&app, &service, a.id, "").await.assert_status(403);
        log(&app, token, 987_654_321, "").await.assert_status(403);
        let r = app
            .rest(
                Method::GET,
                &format!("/api/v5/orgs/{}/events/log", uuid::Uuid::new_v4()),
                Auth::Token(token),
                None,
            )
            .await;
        r.assert_status(403);
        // Another tenant's events never show in one's own log.
        let theirs = all_events(&app, &other.owner.token, other.id).await;
        assert!(theirs.iter().all(|e| {
            !e["organizationIDs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| int(i) == a.id)
        }));

        // Bad input is 400, never 500.
        for query in ["pageSize=0", "pageSize=101", "types=no.such_type"] {
            log(&app, token, a.id, query).await.assert_status(400);
        }
        // An inverted time range holds nothing.
        let empty = log(
            &app,
            token,
            a.id,
            "startTime=2026-01-02T00:00:00Z&endTime=2026-01-01T00:00:00Z",
        )
        .await;
        empty.assert_status(200);
        assert!(
            empty.json["events"].as_array().is_none_or(Vec::is_empty),
            "{}",
            empty.text
        );
        // A cursor the server never gave names no page, as on every cursor list.
        log(&app, token, a.id, "cursor=garbage")
            .await
            .assert_status(404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_events_are_purged_in_the_background() {
    for_each_backend_with(
        |c| {
            c.purge_interval = std::time::Duration::from_millis(50);
            c.event_retention = std::time::Duration::from_millis(1);
        },
        |app| async move {
            let a = Org::create(&app, "purge").await;
            // Eventually empty (the bound only ends a failing run).
            let mut left = usize::MAX;
            for _ in 0..400 {
                left = all_events(&app, &a.owner.token, a.id).await.len();
                if left == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert_eq!(left, 0, "events past the retention are purged");
            let db = sea_orm::Database::connect(app.database_url.as_str())
                .await
                .unwrap();
            use sea_orm::{EntityTrait, PaginatorTrait};
            let rows = orgd::entity::event_organization::Entity::find()
                .count(&db)
                .await
                .unwrap();
            assert_eq!(rows, 0, "their index rows go with them");
        },
    )
    .await;
}
