//! giosg's v3 network partnerships (`/api/v3/network/partnerships`) against a real server:
//! each side's own integer id, the published attributes with the invitation that made the
//! partnership, PUT/PATCH/DELETE, `visible_to_everyone` stored per side and shared with the
//! v5 mapping, orderings and page numbers, the published order of checks; and `?format=json`
//! on every giosg GET (v3 and v5). Each test runs on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;

use super::v3::*;
use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
// The v3 fixtures' own member (of their own Org), not the shared library's.
use super::v3::member;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_has_its_own_id_and_attributes() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "p3-a").await;
        let b = active_org(&app, "p3-b").await;
        let outsider = active_org(&app, "p3-out").await;
        let accepted = partner_up(&app, &a, &b).await;

        let a_side = side(&app, &a, &b).await;
        let b_side = side(&app, &b, &a).await;
        assert_keys(&a_side, PARTNERSHIP_KEYS);
        assert_ne!(a_side["id"], b_side["id"], "each side sees a different id");
        assert_eq!(a_side["company_id"], json!(a.id));
        assert_eq!(a_side["partner_company_id"], json!(b.id));
        assert_keys(&a_side["company"], COMPANY_KEYS);
        assert_eq!(a_side["partner_company"]["id"], json!(b.id));
        assert_eq!(a_side["partner_company"]["email"], json!(b.email));
        // A sent the invitation, B received it.
        assert_eq!(a_side["outgoing_invitation_id"], accepted["id"]);
        assert_eq!(a_side["outgoing_invitation"]["id"], accepted["id"]);
        assert_eq!(a_side["outgoing_invitation"]["key"], Value::Null);
        assert_eq!(a_side["incoming_invitation_id"], Value::Null);
        assert_eq!(a_side["incoming_invitation"], Value::Null);
        assert_eq!(b_side["incoming_invitation_id"], accepted["id"]);
        assert_eq!(b_side["incoming_invitation"]["key"], accepted["key"]);
        assert_eq!(b_side["outgoing_invitation"], Value::Null);

        let a_path = format!("{PARTNERSHIPS}{}", a_side["id"]);
        let b_path = format!("{PARTNERSHIPS}{}", b_side["id"]);
        let one = get(&app, &a_path, &a.owner.token).await;
        one.assert_status(200);
        assert_eq!(one.json, a_side);
        // Another side's id, or another organization's, names nothing for the caller.
        assert_detail(&get(&app, &b_path, &a.owner.token).await, 404);
        assert_detail(&get(&app, &a_path, &outsider.owner.token).await, 404);
        assert_detail(
            &get(&app, &format!("{PARTNERSHIPS}999999"), &a.owner.token).await,
            404,
        );
        assert_detail(
            &get(&app, &format!("{PARTNERSHIPS}abc"), &a.owner.token).await,
            404,
        );
        assert_detail(&app.rest(Method::GET, &a_path, Auth::None, None).await, 401);
        assert_eq!(
            get(&app, PARTNERSHIPS, &outsider.owner.token).await.json["count"],
            json!(0)
        );

        // PUT needs visible_to_everyone; nothing changes without it.
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &a_path,
                &a.owner.token,
                Some(json!({"display_name": "B Oy"})),
            )
            .await,
            "visible_to_everyone",
        );
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &a_path,
                &a.owner.token,
                Some(json!({"display_name": 5, "visible_to_everyone": true})),
            )
            .await,
            "display_name",
        );
        assert_eq!(get(&app, &a_path, &a.owner.token).await.json, a_side);
        let put = call(
            &app,
            Method::PUT,
            &a_path,
            &a.owner.token,
            Some(json!({"display_name": "B Oy", "visible_to_everyone": false})),
        )
        .await;
        put.assert_status(200);
        assert_eq!(put.json["display_name"], json!("B Oy"));
        assert_eq!(put.json["visible_to_everyone"], json!(false));
        // The other side keeps its own.
        assert_eq!(side(&app, &b, &a).await, b_side);

        // PATCH: absent fields stay; null clears the display name.
        let patch = call(
            &app,
            Method::PATCH,
            &a_path,
            &a.owner.token,
            Some(json!({"display_name": null})),
        )
        .await;
        patch.assert_status(200);
        assert_eq!(patch.json["display_name"], Value::Null);
        assert_eq!(patch.json["visible_to_everyone"], json!(false));
        let patch = call(
            &app,
            Method::PATCH,
            &a_path,
            &a.owner.token,
            Some(json!({"visible_to_everyone": true})),
        )
        .await;
        assert_eq!(patch.json["visible_to_everyone"], json!(true));

        // One row per side behind both surfaces: v5's rename shows in v3 and back.
        let v5_path = format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid);
        call(
            &app,
            Method::PATCH,
            &v5_path,
            &a.owner.token,
            Some(json!({"display_name": "From v5"})),
        )
        .await
        .assert_status(200);
        let seen = get(&app, &a_path, &a.owner.token).await.json;
        assert_eq!(seen["display_name"], json!("From v5"));
        assert_eq!(
            seen["visible_to_everyone"],
            json!(true),
            "v5 leaves visibility alone"
        );
        call(
            &app,
            Method::PATCH,
            &a_path,
            &a.owner.token,
            Some(json!({"display_name": "From v3", "visible_to_everyone": false})),
        )
        .await
        .assert_status(200);
        assert_eq!(
            get(&app, &v5_path, &a.owner.token).await.json["display_name"],
            json!("From v3")
        );
        assert_eq!(
            get(&app, &a_path, &a.owner.token).await.json["visible_to_everyone"],
            json!(false)
        );

        // The published order: a member reads but may not write (403); no subscription 403.
        let plain = member(&app, &a, "p3-member", "member").await;
        get(&app, &a_path, &plain.token).await.assert_status(200);
        for method in [Method::PUT, Method::PATCH] {
            assert_detail(
                &call(
                    &app,
                    method,
                    &a_path,
                    &plain.token,
                    Some(json!({"visible_to_everyone": true})),
                )
                .await,
                403,
            );
        }
        assert_detail(
            &call(&app, Method::DELETE, &a_path, &plain.token, None).await,
            403,
        );
        app.set_state(&a.id.to_string(), "inactive").await;
        assert_detail(&get(&app, &a_path, &a.owner.token).await, 403);
        app.set_state(&a.id.to_string(), "active").await;

        // DELETE removes both sides, on both surfaces.
        let del = call(&app, Method::DELETE, &b_path, &b.owner.token, None).await;
        del.assert_status(204);
        assert!(del.text.is_empty(), "{}", del.text);
        assert_detail(&get(&app, &a_path, &a.owner.token).await, 404);
        assert_detail(&get(&app, &b_path, &b.owner.token).await, 404);
        assert_detail(&get(&app, &v5_path, &a.owner.token).await, 404);
        assert_detail(
            &call(&app, Method::DELETE, &b_path, &b.owner.token, None).await,
            404,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_orders_and_numbers_its_pages() {
    for_each_backend(|app| async move {
        let hub = active_org(&app, "hub").await;
        let mut partners = Vec::new();
        for label in ["p-charlie", "p-alpha", "p-bravo"] {
            let p = active_org(&app, label).await;
            partner_up(&app, &hub, &p).await;
            partners.push(p);
        }
        let token = &hub.owner.token;
        let names = |page: &Value| -> Vec<String> {
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["partner_company"]["name"].as_str().unwrap().to_string())
                .collect()
        };
        let by_name = get(
            &app,
            &format!("{PARTNERSHIPS}?ordering=partner_company_name"),
            token,
        )
        .await;
        by_name.assert_status(200);
        let mut sorted = names(&by_name.json);
        sorted.sort();
        assert_eq!(names(&by_name.json), sorted);
        assert!(sorted[0].starts_with("p-alpha"), "{sorted:?}");
        let desc = get(
            &app,
            &format!("{PARTNERSHIPS}?ordering=-partner_company_name"),
            token,
        )
        .await;
        let mut reversed = names(&desc.json);
        reversed.reverse();
        assert_eq!(reversed, sorted);
        let by_created = get(&app, &format!("{PARTNERSHIPS}?ordering=created_at"), token).await;
        let partner_ids: Vec<i64> = by_created.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["partner_company_id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            partner_ids,
            partners.iter().map(|p| p.id).collect::<Vec<_>>()
        );
        let newest = get(&app, &format!("{PARTNERSHIPS}?ordering=-created_at"), token).await;
        assert_eq!(
            newest.json["results"][0]["partner_company_id"],
            json!(partners[2].id)
        );
        assert_field_error(
            &get(&app, &format!("{PARTNERSHIPS}?ordering=email"), token).await,
            "ordering",
        );

        let first = get(
            &app,
            &format!("{PARTNERSHIPS}?page_size=2&ordering=partner_company_name"),
            token,
        )
        .await;
        assert_eq!(first.json["count"], json!(3));
        assert_eq!(first.json["previous"], Value::Null);
        let second = get(&app, &local(&app, &first.json["next"]), token).await;
        second.assert_status(200);
        assert_eq!(names(&second.json), sorted[2..]);
        assert_eq!(second.json["next"], Value::Null);
        assert_detail(
            &get(&app, &format!("{PARTNERSHIPS}?page_size=2&page=3"), token).await,
            404,
        );
        assert_field_error(
            &get(&app, &format!("{PARTNERSHIPS}?page_size=101"), token).await,
            "page_size",
        );
        get(&app, &format!("{PARTNERSHIPS}?page_size=100"), token)
            .await
            .assert_status(200);
        // One organization's, by its integer id; another's is 403 (permission first).
        let only = get(
            &app,
            &format!("{PARTNERSHIPS}?organization_id={}", hub.id),
            token,
        )
        .await;
        assert_eq!(only.json["count"], json!(3));
        assert_detail(
            &get(
                &app,
                &format!("{PARTNERSHIPS}?organization_id={}", partners[0].id),
                token,
            )
            .await,
            403,
        );
        assert_detail(
            &get(
                &app,
                &format!("{PARTNERSHIPS}?organization_id=999999"),
                token,
            )
            .await,
            403,
        );
    })
    .await;
}

/// Every giosg GET route, v3 and v5, with a path that names something real. A server
/// stream's GET is Server-Sent Events, not JSON: the change-stream tests cover it.
fn giosg_get_templates() -> BTreeSet<String> {
    use orgd::surfaces::{Dialect, bindings};
    let streams: BTreeSet<String> = orgd::proto::DESCRIPTOR_POOL
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| m.is_server_streaming())
        .map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name()))
        .collect();
    bindings()
        .into_iter()
        .filter(|b| b.dialect == Dialect::Giosg && b.http_method == http::Method::GET)
        .filter(|b| !streams.contains(b.grpc_path.as_str()))
        .map(|b| b.template.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_giosg_get_accepts_format_json_and_refuses_other_formats() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "fmt-a").await;
        let b = active_org(&app, "fmt-b").await;
        let accepted = partner_up(&app, &a, &b).await;
        let key = accepted["key"].as_str().unwrap().to_string();
        let partnership = side(&app, &b, &a).await["id"].clone();
        let v5_out = get(&app, "/api/v5/outgoing_invitations", &a.owner.token).await.json["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let b_member = member(&app, &b, "fmt-member", "member").await;
        let calls: Vec<(&str, String)> = vec![
            ("GET /api/v5/orgs/{organization_id}", format!("/api/v5/orgs/{}", b.uuid)),
            ("GET /api/v5/orgs/{organization_id}/users", format!("/api/v5/orgs/{}/users", b.uuid)),
            ("GET /api/v5/orgs/{organization_id}/users/{user_id}", format!("/api/v5/orgs/{}/users/{}", b.uuid, b_member.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partnerships", format!("/api/v5/orgs/{}/partnerships", b.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partnerships/{partner_organization_id}", format!("/api/v5/orgs/{}/partnerships/{}", b.uuid, a.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partners", format!("/api/v5/orgs/{}/partners", b.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partners/{partner_organization_id}", format!("/api/v5/orgs/{}/partners/{}", b.uuid, a.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partners/{partner_organization_id}/users", format!("/api/v5/orgs/{}/partners/{}/users", b.uuid, a.uuid)),
            ("GET /api/v5/orgs/{organization_id}/partners/{partner_organization_id}/users/{user_id}", format!("/api/v5/orgs/{}/partners/{}/users/{}", b.uuid, a.uuid, a.owner.uuid)),
            ("GET /api/v5/outgoing_invitations", "/api/v5/outgoing_invitations".to_string()),
            ("GET /api/v5/outgoing_invitations/{id}", format!("/api/v5/outgoing_invitations/{v5_out}")),
            ("GET /api/v5/incoming_invitations", "/api/v5/incoming_invitations".to_string()),
            ("GET /api/v5/incoming_invitations/{key}", format!("/api/v5/incoming_invitations/{key}")),
            ("GET /api/v3/network/invitations/outgoing", OUTGOING.to_string()),
            ("GET /api/v3/network/invitations/outgoing/{invitation_id}", format!("{OUTGOING}{}", accepted["id"])),
            ("GET /api/v3/network/invitations/incoming", INCOMING.to_string()),
            ("GET /api/v3/network/invitations/incoming/{invitation_key}", format!("{INCOMING}{key}")),
            ("GET /api/v3/network/partnerships", PARTNERSHIPS.to_string()),
            ("GET /api/v3/network/partnerships/{partnership_id}", format!("{PARTNERSHIPS}{partnership}")),
            ("GET /api/v5/orgs/{organization_id}/events/log", format!("/api/v5/orgs/{}/events/log", b.uuid)),
        ];
        let covered: BTreeSet<String> = calls.iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(covered, giosg_get_templates(), "every giosg GET is called below");

        for (template, path) in &calls {
            // The outgoing ones are A's; the rest B's.
            let token = if path.contains("outgoing") { &a.owner.token } else { &b.owner.token };
            let plain = get(&app, path, token).await;
            plain.assert_status(200);
            let join = if path.contains('?') { '&' } else { '?' };
            let json_format = get(&app, &format!("{path}{join}format=json"), token).await;
            get(&app, &format!("{path}{join}format="), token).await.assert_status(200);
            assert_eq!(json_format.status.as_u16(), 200, "{template}: {}", json_format.text);
            assert_eq!(json_format.headers["content-type"], "application/json", "{template}");
            if !template.ends_with("users") && !template.contains("users/") {
                assert_eq!(json_format.json, plain.json, "{template}");
            }
            for other in ["xml", "api", "JSON"] {
                let r = get(&app, &format!("{path}{join}format={other}"), token).await;
                assert_detail(&r, 404);
            }
        }
        // On writes too, as the same content negotiation applies.
        assert_detail(
            &call(&app, Method::POST, &format!("{OUTGOING}?format=xml"), &a.owner.token,
                Some(json!({"email": "x@example.com", "partner_visible_to_everyone": true}))).await,
            404,
        );
        let r = call(&app, Method::POST, &format!("{OUTGOING}?format=json"), &a.owner.token,
            Some(json!({"email": "x@example.com", "partner_visible_to_everyone": true}))).await;
        r.assert_status(201);
        // The served document states the parameter on every giosg operation, and only there.
        let doc = app.rest(Method::GET, "/openapi.json", Auth::None, None).await;
        doc.assert_status(200);
        let mut documented = 0;
        for (path, ops) in doc.json["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().unwrap() {
                let format = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == "format" && p["in"] == "query");
                let giosg = path.starts_with("/api/v5") || path.starts_with("/api/v3/network");
                assert_eq!(format.is_some(), giosg, "{method} {path}");
                if let Some(p) = format {
                    assert_eq!(p["schema"]["enum"], json!(["json", ""]), "{method} {path}");
                    documented += 1;
                }
            }
        }
        assert!(documented >= calls.len(), "{documented} operations document format");
        // Other surfaces have no such parameter: it is ignored there.
        let org = app.org(&a.owner.token, &unique("fmt-ga")).await;
        app.get_org(Auth::Token(&a.owner.token), format!("{}?format=xml", id_of(&org)))
            .await
            .assert_status(200);
    })
    .await;
}

/// m0009 on a database that already holds partnerships and invitations: every existing
/// side is visible to everyone, an invitation sent before it says nothing of visibility
/// (v3 shows it as visible) and has no shares; undone and redone, it leaves the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visibility_migration_keeps_existing_partnerships_visible() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};

    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        let conn = sea_orm::Database::connect(db.url.as_str())
            .await
            .expect("connect");
        Migrator::up(&conn, Some(7))
            .await
            .expect("migrate to m0007");
        let exec = |sql: &'static str| {
            let conn = &conn;
            async move {
                conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        };
        for name in ["one", "two"] {
            let sql: &'static str = if name == "one" {
                "INSERT INTO organizations (uuid, name, description, language, timezone, \
                 enforces_two_factor_auth, data_retention_period, tags, state, created_at, updated_at) \
                 VALUES ('00000000-0000-4000-8000-000000000001', 'one', '', 'en', 'UTC', false, 0, '[]', \
                 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
            } else {
                "INSERT INTO organizations (uuid, name, description, language, timezone, \
                 enforces_two_factor_auth, data_retention_period, tags, state, created_at, updated_at) \
                 VALUES ('00000000-0000-4000-8000-000000000002', 'two', '', 'en', 'UTC', false, 0, '[]', \
                 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
            };
            exec(sql).await;
        }
        exec(
            "INSERT INTO partnerships (uuid, organization_id, partner_organization_id, created_at) \
             SELECT '00000000-0000-4000-8000-0000000000aa', a.id, b.id, '2026-01-02T00:00:00Z' \
             FROM organizations a, organizations b WHERE a.name = 'one' AND b.name = 'two'",
        )
        .await;
        exec(
            "INSERT INTO partnership_invitations (uuid, key, organization_id, email, message, status, created_at) \
             SELECT '00000000-0000-4000-8000-0000000000bb', 'k-before', id, 'x@example.com', '', 0, \
             '2026-01-02T00:00:00Z' FROM organizations WHERE name = 'one'",
        )
        .await;
        Migrator::up(&conn, None)
            .await
            .expect("m0009 over existing rows");
        let read = |sql: &'static str| {
            let conn = &conn;
            async move {
                conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .expect("a row")
            }
        };
        let check = || async {
            let side = read("SELECT visible_to_everyone FROM partnerships").await;
            assert!(
                side.try_get_by_index::<bool>(0).unwrap(),
                "[{}] visible",
                backend.name()
            );
            let sent = read(
                "SELECT partner_visible_to_everyone, room_shares, team_shares \
                 FROM partnership_invitations",
            )
            .await;
            assert_eq!(sent.try_get_by_index::<Option<bool>>(0).unwrap(), None);
            assert_eq!(sent.try_get_by_index::<String>(1).unwrap(), "[]");
            assert_eq!(sent.try_get_by_index::<String>(2).unwrap(), "[]");
        };
        check().await;
        Migrator::down(&conn, Some(1)).await.expect("m0009 down");
        Migrator::up(&conn, None).await.expect("m0009 again");
        check().await;
        conn.close().await.ok();
        db.destroy().await;
    }
}
