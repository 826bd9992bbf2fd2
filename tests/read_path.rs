//! Reads that load an object in one statement (access rule, rows and derived fields
//! together; see `src/db/sqlite_inline.rs`) must answer exactly what the same object looks
//! like in its list: every field, presence flags and display names included. Each test
//! runs on SQLite and (when configured) PostgreSQL.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::presence_service_client::PresenceServiceClient;

/// An organization in state active with an email (partnership invitations reach it),
/// owned by a new user; its UUID and owner.
async fn active_org(app: &App, label: &str) -> (String, User) {
    let (uuid, owner, _) = active_org_with_id(app, label).await;
    (uuid, owner)
}

/// As [`active_org`], with the organization's id too.
async fn active_org_with_id(app: &App, label: &str) -> (String, User, i64) {
    let owner = app.user(label).await;
    let org = app.org(&owner.token, &unique(label)).await;
    let id = id_of(&org).to_string();
    app.set_state(&id, "active").await;
    let email = format!("{label}-{}@orgs.example.com", uuid::Uuid::new_v4().simple());
    app.cli(&[
        "organization",
        "set-email",
        "--organization",
        &id,
        "--email",
        &email,
    ])
    .await
    .json();
    let uuid = org["uuid"].as_str().expect("uuid").to_string();
    (uuid, owner, id_of(&org))
}

async fn call(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let r = app
        .rest(method, path, Auth::Token(token), body.as_ref())
        .await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.text);
    r.json
}

/// `user` opens a presence client in `org` for ten minutes.
async fn open_client(app: &App, org: &str, user: &User) {
    let path = format!("/api/v5/orgs/{org}/users/{}/clients/tab", user.uuid);
    let body = json!({"expires_in": 600});
    call(app, Method::PUT, &path, &user.token, Some(body)).await;
}

/// The chat service sets a user's status.
async fn set_status(app: &App, status: pb::SetUserStatusRequest) {
    let service = app.service_token("chat").await;
    PresenceServiceClient::connect(app.endpoint())
        .await
        .unwrap()
        .set_user_status(bearer(status, &service))
        .await
        .unwrap();
}

/// `a` invites `b`'s email and `b`'s owner accepts: a partnership on both sides.
async fn partner_up(app: &App, a_owner: &User, b_email: &str, b_owner: &User) {
    let sent = call(
        app,
        Method::POST,
        "/api/v5/outgoing_invitations",
        &a_owner.token,
        Some(json!({"email": b_email, "message": "hello"})),
    )
    .await;
    let incoming = call(
        app,
        Method::GET,
        "/api/v5/incoming_invitations?page_size=100",
        &b_owner.token,
        None,
    )
    .await;
    let key = incoming["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|i| i["id"] == sent["id"])
        .and_then(|i| i["key"].as_str())
        .expect("the invitation arrived")
        .to_string();
    call(
        app,
        Method::POST,
        &format!("/api/v5/incoming_invitations/{key}/accept"),
        &b_owner.token,
        Some(json!({})),
    )
    .await;
}

/// The organization's email, as the CLI set it.
async fn email_of(app: &App, uuid: &str, owner: &User) -> String {
    call(
        app,
        Method::GET,
        &format!("/api/v5/orgs/{uuid}"),
        &owner.token,
        None,
    )
    .await["email"]
        .as_str()
        .expect("an email")
        .to_string()
}

/// The giosg partnership detail reads the caller's organization, the partner, this side's
/// row and both organizations' presence in one statement (and so do the partner detail and
/// your own organization): each must equal the list's item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_partnership_equals_its_listed_self() {
    for_each_backend(|app| async move {
        let (a, a_owner) = active_org(&app, "detail-a").await;
        let (b, b_owner) = active_org(&app, "detail-b").await;
        let (c, c_owner) = active_org(&app, "detail-c").await;
        for (uuid, owner) in [(&b, &b_owner), (&c, &c_owner)] {
            let email = email_of(&app, uuid, owner).await;
            partner_up(&app, &a_owner, &email, owner).await;
        }
        // Presence on both sides of one partnership: a's owner online, b's owner present
        // with the online switch off.
        open_client(&app, &a, &a_owner).await;
        open_client(&app, &b, &b_owner).await;
        set_status(
            &app,
            pb::SetUserStatusRequest {
                user: b_owner.uuid.clone(),
                current_chat_count: None,
                online_enabled: Some(false),
                avatar_url: None,
            },
        )
        .await;
        // A display name of this side only, with characters JSON escapes.
        call(
            &app,
            Method::PATCH,
            &format!("/api/v5/orgs/{a}/partnerships/{c}"),
            &a_owner.token,
            Some(json!({"display_name": "Çé \"quoted\" ✓"})),
        )
        .await;

        let page = call(
            &app,
            Method::GET,
            &format!("/api/v5/orgs/{a}/partnerships?page_size=100"),
            &a_owner.token,
            None,
        )
        .await;
        let listed = page["results"].as_array().expect("results").clone();
        assert_eq!(listed.len(), 2, "{page}");
        let partners = call(
            &app,
            Method::GET,
            &format!("/api/v5/orgs/{a}/partners?page_size=100"),
            &a_owner.token,
            None,
        )
        .await["results"]
            .as_array()
            .expect("results")
            .clone();
        assert_eq!(partners.len(), 2);
        let own = call(
            &app,
            Method::GET,
            &format!("/api/v5/orgs/{a}"),
            &a_owner.token,
            None,
        )
        .await;
        let mut present = 0;
        for item in listed {
            // Your own organization, as it is embedded in each partnership.
            assert_eq!(own, item["organization"]);
            let partner = item["partner_organization_id"].as_str().expect("partner");
            let fetched = call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{a}/partnerships/{partner}"),
                &a_owner.token,
                None,
            )
            .await;
            assert_eq!(fetched, item, "the detail of {partner} and its listed self");
            let as_partner = call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{a}/partners/{partner}"),
                &a_owner.token,
                None,
            )
            .await;
            let listed_partner = partners
                .iter()
                .find(|p| p["id"] == json!(partner))
                .expect("every partnership's partner is listed");
            assert_eq!(&as_partner, listed_partner, "partner {partner}");
            assert_eq!(item["organization"]["is_online"], json!(true), "{item}");
            if item["partner_organization"]["is_present"] == json!(true) {
                present += 1;
            }
            // The other side sees its own row, the same way.
            let owner = if partner == b { &b_owner } else { &c_owner };
            let theirs = call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{partner}/partnerships/{a}"),
                &owner.token,
                None,
            )
            .await;
            let their_page = call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{partner}/partnerships"),
                &owner.token,
                None,
            )
            .await;
            assert_eq!(their_page["results"][0], theirs);
        }
        assert_eq!(present, 1, "b's owner is present, c's nobody");
        let b_side = call(
            &app,
            Method::GET,
            &format!("/api/v5/orgs/{a}/partnerships/{b}"),
            &a_owner.token,
            None,
        )
        .await;
        assert_eq!(b_side["partner_organization"]["is_online"], json!(false));
    })
    .await;
}

/// MyCreditApp's partner list and detail read access and rows in one statement each (the
/// list with its total): each record fetched equals its listed self, through the directory
/// itself and through a guest connection, plain and searched; an empty page still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_partner_record_equals_its_listed_self() {
    use common::mycreditapp::{Ctx, partner_up};
    for_each_backend(|app| async move {
        let host = Org::create(&app, "records-host").await;
        let guest = Org::create(&app, "records-guest").await;
        let stranger = Org::create(&app, "records-stranger").await;
        partner_up(&app, &host, &guest).await;
        let own = Ctx::new(&app, &host.owner.token, &host.uuid, &host.uuid);
        let full = own
            .create_ok(&json!({
                "company_name": "Müller \"Logistik\" GmbH ✓",
                "sales_amount": 2147483647,
                "partner_type": "supplier",
                "email": "Billing@Mueller.example.com",
                "frequency": "monthly",
                "payment_terms": "net 30",
                "address": "Hauptstraße 1",
                "city": "Berlin",
                "state": "BE",
                "postal_code": "10115",
                "country_code": "DE",
                "company_registration_number": "HRB 12345",
            }))
            .await;
        let minimal = own
            .create_ok(&json!({
                "company_name": "Tiny Co", "partner_type": "customer", "email": "tiny@example.com"
            }))
            .await;
        // Invited: its invitation status set by the guest invitation it sent.
        let invited = own
            .create_ok(&json!({
                "company_name": "Invited Co", "partner_type": "customer",
                "email": "invited@example.com"
            }))
            .await;
        own.invite(invited["id"].as_str().expect("id"))
            .await
            .assert_status(200);

        let as_guest = Ctx::new(&app, &guest.owner.token, &guest.uuid, &host.uuid);
        let all = "partner_types=customer&partner_types=supplier&limit=100&offset=0";
        for ctx in [own, as_guest] {
            let (listed, total) = ctx.list_ok(all).await;
            assert_eq!(total, 3);
            assert_eq!(listed.len(), 3);
            for item in &listed {
                let id = item["id"].as_str().expect("id");
                let fetched = ctx.get(id).await;
                fetched.assert_status(200);
                assert_eq!(&fetched.json, item, "record {id}");
            }
            let ids: Vec<_> = listed.iter().map(|i| i["id"].clone()).collect();
            for created in [&full, &minimal] {
                assert!(ids.contains(&created["id"]), "{created} is listed");
            }
            assert!(
                listed
                    .iter()
                    .any(|i| i["invitation_status"] == json!("invited"))
            );
            // Searched (a long term the SQLite trigram index drives, and a short one it
            // cannot), ordered and filtered: the same records.
            for query in [
                "search_text=LOGISTIK&search_field=company_name",
                "search_text=mü&search_field=company_name",
                "search_text=mueller.example&search_field=email",
            ] {
                let (found, total) = ctx
                    .list_ok(&format!(
                        "partner_types=supplier&{query}&limit=10&offset=0&order_by=sales_amount&order_dir=desc"
                    ))
                    .await;
                assert_eq!(total, 1, "{query}");
                assert_eq!(found, vec![ctx.get(full["id"].as_str().unwrap()).await.json]);
            }
            let (page, total) = ctx.list_ok(&format!("{all}&limit=1&offset=7")).await;
            assert_eq!((page.len(), total), (0, 3), "past the end, still counted");
            let (page, total) = ctx
                .list_ok("partner_types=customer&limit=1&offset=1&order_by=company_name")
                .await;
            assert_eq!(total, 2);
            assert_eq!(page[0]["id"], minimal["id"], "Invited Co, then Tiny Co");
        }
        // Permission before existence: a stranger is refused alike for a record that
        // exists, one that does not and a partner id that is no UUID.
        let nosy = Ctx::new(&app, &stranger.owner.token, &stranger.uuid, &host.uuid);
        nosy.list(all).await.assert_status(403);
        for id in [
            full["id"].as_str().unwrap(),
            &uuid::Uuid::new_v4().to_string(),
            "no-uuid",
        ] {
            nosy.get(id).await.assert_status(403);
            own.get(id)
                .await
                .assert_status(if id == full["id"] { 200 } else { 404 });
        }
    })
    .await;
}

/// GroupAlarm's children page and GetOrganizations read access, rows, owners, children and
/// counts in one statement each: every child, path element and listed organization equals
/// what GetOrganization answers for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_child_equals_its_listed_self() {
    for_each_backend(|app| async move {
        let owner = app.user("children-owner").await;
        let member = app.user("children-member").await;
        let t = owner.token.as_str();
        let root = id_of(&app.org(t, "Root ✓").await);
        let c1 = id_of(&app.child_org(t, root, "C1").await);
        let c2 = id_of(&app.child_org(t, root, "C2 \"quoted\"").await);
        let g = id_of(&app.child_org(t, c1, "G").await);
        app.member_add(c1, &member.email, "member").await;
        let fetch = |id: i64, token: String| {
            let app = &app;
            async move {
                let r = app
                    .rest(
                        Method::GET,
                        &format!("/api/v1/organization/{id}"),
                        Auth::Token(&token),
                        None,
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.json
            }
        };
        let page = |id: i64, query: &'static str, token: String| {
            let app = &app;
            async move {
                let r = app
                    .rest(
                        Method::GET,
                        &format!("/api/v1/organization/{id}/children{query}"),
                        Auth::Token(&token),
                        None,
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.json
            }
        };
        for (id, childs, path) in [
            (root, vec![c1, c2], vec![root]),
            (c1, vec![g], vec![root, c1]),
            (g, vec![], vec![root, c1, g]),
        ] {
            let body = page(id, "", owner.token.clone()).await;
            assert_eq!(body["totalChilds"], json!(childs.len()), "{body}");
            let listed: Vec<i64> = body["childs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect();
            assert_eq!(listed, childs);
            for item in body["childs"].as_array().unwrap() {
                let fetched = fetch(item["id"].as_i64().unwrap(), owner.token.clone()).await;
                assert_eq!(&fetched, item, "child of {id}");
            }
            let along: Vec<i64> = body["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect();
            assert_eq!(along, path, "root first");
            for item in body["path"].as_array().unwrap() {
                let fetched = fetch(item["id"].as_i64().unwrap(), owner.token.clone()).await;
                assert_eq!(&fetched, item, "on the path of {id}");
            }
        }
        // A page past the end still counts; the member of c1 sees no root on its path.
        let body = page(root, "?limit=1&offset=5", owner.token.clone()).await;
        assert_eq!(
            (body["childs"].clone(), body["totalChilds"].clone()),
            (json!([]), json!(2))
        );
        let body = page(c1, "", member.token.clone()).await;
        let along: Vec<i64> = body["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(along, vec![c1]);
        // Listed to a reader of the parent, which may not fetch it: as its owner sees it.
        assert_eq!(body["childs"][0], fetch(g, owner.token.clone()).await);
        // Permission before existence.
        let stranger = app.user("children-stranger").await;
        for id in [root, i64::from(i32::MAX)] {
            let r = app
                .rest(
                    Method::GET,
                    &format!("/api/v1/organization/{id}/children"),
                    Auth::Token(&stranger.token),
                    None,
                )
                .await;
            assert_eq!(r.status, 403, "{}", r.text);
        }

        let listed = app
            .rest(Method::GET, "/api/v1/organizations", Auth::Token(t), None)
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let listed = listed.json.as_array().expect("an array").clone();
        let ids: Vec<i64> = listed.iter().map(|o| o["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![root, c1, c2, g]);
        for item in &listed {
            let fetched = fetch(item["id"].as_i64().unwrap(), owner.token.clone()).await;
            assert_eq!(&fetched, item);
        }
    })
    .await;
}

/// The results of a giosg page, as sent.
fn results(page: &Value) -> Vec<Value> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {page}"))
        .clone()
}

/// The path and query of one of this server's absolute page links.
fn local_link(app: &App, link: &Value) -> String {
    let url = link.as_str().unwrap_or_else(|| panic!("link: {link}"));
    url.strip_prefix(&format!("http://{}", app.addr))
        .unwrap_or_else(|| panic!("{url} is a link to this server"))
        .to_string()
}

/// The users pages read the members, their presence and (for a partner's users) the
/// partnership in one statement: each user's detail equals its listed self, a partner's
/// users are its own users as it lists them, and every page size walks the same members
/// forwards, backwards and descending, with no link past either end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_user_equals_its_listed_self() {
    for_each_backend(|app| async move {
        let (a, a_owner) = active_org(&app, "users-a").await;
        let (b, b_owner, b_id) = active_org_with_id(&app, "users-b").await;
        let email = email_of(&app, &b, &b_owner).await;
        partner_up(&app, &a_owner, &email, &b_owner).await;
        // b's members: its owner, absent; one online; one present with the switch off.
        let online = app.user("users-online").await;
        let away = app.user("users-away").await;
        for m in [&online, &away] {
            app.member_add(b_id, &m.email, "member").await;
            open_client(&app, &b, m).await;
        }
        set_status(
            &app,
            pb::SetUserStatusRequest {
                user: away.uuid.clone(),
                current_chat_count: Some(3),
                online_enabled: Some(false),
                avatar_url: Some("https://example.com/a.png".into()),
            },
        )
        .await;

        let own = results(
            &call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{b}/users?page_size=100"),
                &b_owner.token,
                None,
            )
            .await,
        );
        let uuids: Vec<String> = [&b_owner, &online, &away]
            .iter()
            .map(|u| u.uuid.clone())
            .collect();
        let listed: Vec<String> = own
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(listed, uuids, "members by their created_at");
        let flags: Vec<(Value, Value)> = own
            .iter()
            .map(|u| (u["is_present"].clone(), u["is_online"].clone()))
            .collect();
        assert_eq!(
            flags,
            vec![
                (json!(false), json!(false)),
                (json!(true), json!(true)),
                (json!(true), json!(false)),
            ]
        );
        let partners_users = format!("/api/v5/orgs/{a}/partners/{b}/users");
        let as_partner = results(
            &call(
                &app,
                Method::GET,
                &format!("{partners_users}?page_size=100"),
                &a_owner.token,
                None,
            )
            .await,
        );
        assert_eq!(as_partner, own, "a partner's users are its own users");
        for user in &own {
            let id = user["id"].as_str().expect("id");
            let fetched = call(
                &app,
                Method::GET,
                &format!("/api/v5/orgs/{b}/users/{id}"),
                &b_owner.token,
                None,
            )
            .await;
            assert_eq!(&fetched, user, "the detail of {id} and its listed self");
            let fetched = call(
                &app,
                Method::GET,
                &format!("{partners_users}/{id}"),
                &a_owner.token,
                None,
            )
            .await;
            assert_eq!(&fetched, user, "the partner user {id} and its listed self");
        }

        for size in 1..=4 {
            let mut seen = Vec::new();
            let mut pages = Vec::new();
            let mut link = format!("{partners_users}?page_size={size}");
            loop {
                let page = call(&app, Method::GET, &link, &a_owner.token, None).await;
                seen.extend(results(&page));
                pages.push(page.clone());
                assert!(pages.len() <= 4, "pagination terminates");
                if page["next"].is_null() {
                    break;
                }
                link = local_link(&app, &page["next"]);
            }
            assert_eq!(seen, own, "forwards, {size} a page");
            assert_eq!(
                pages.len(),
                3usize.div_ceil(size),
                "no empty page at the end"
            );
            assert!(
                pages[0]["previous"].is_null(),
                "no link before the first page"
            );
            let mut back = Vec::new();
            let mut page = pages.last().unwrap().clone();
            loop {
                back.splice(0..0, results(&page));
                if page["previous"].is_null() {
                    break;
                }
                let link = local_link(&app, &page["previous"]);
                page = call(&app, Method::GET, &link, &a_owner.token, None).await;
                assert!(!page["next"].is_null(), "a page before another links to it");
            }
            assert_eq!(back, own, "backwards, {size} a page");
            let mut desc = Vec::new();
            let mut link = format!("{partners_users}?page_size={size}&ordering=-created_at");
            loop {
                let page = call(&app, Method::GET, &link, &a_owner.token, None).await;
                desc.extend(results(&page));
                if page["next"].is_null() {
                    break;
                }
                link = local_link(&app, &page["next"]);
            }
            desc.reverse();
            assert_eq!(desc, own, "descending, {size} a page");
        }

        // The rule's order on a page: access (403), then the partner (404), then the page's
        // parameters (400).
        let stranger = app.user("users-stranger").await;
        for (path, token, status) in [
            (
                format!("/api/v5/orgs/{b}/users?page_size=0"),
                &stranger.token,
                403,
            ),
            (
                format!("{partners_users}?page_size=0"),
                &stranger.token,
                403,
            ),
            (
                format!(
                    "/api/v5/orgs/{a}/partners/{}/users?page_size=0",
                    uuid::Uuid::new_v4()
                ),
                &a_owner.token,
                404,
            ),
            (
                format!("/api/v5/orgs/{a}/partners/not-a-uuid/users"),
                &a_owner.token,
                404,
            ),
            (format!("{partners_users}?page_size=0"), &a_owner.token, 400),
            (
                format!("/api/v5/orgs/{b}/partnerships?ordering=name"),
                &b_owner.token,
                400,
            ),
        ] {
            let r = app.rest(Method::GET, &path, Auth::Token(token), None).await;
            assert_eq!(r.status.as_u16(), status, "{path}: {}", r.text);
        }
    })
    .await;
}

/// The inline reads' kept statements are compiled once per connection, whatever is bound
/// to them: SQLite compiles a statement again when its plan depends on a bound value (a
/// bare `LIMIT $n` did, on every page), which costs the whole parse and plan each time.
/// Each page is read at several page sizes and cursors; `GET /metrics` must count no
/// recompilation. SQLite files only: elsewhere nothing reads inline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_reads_are_not_recompiled_for_new_values() {
    for_each_backend(|app| async move {
        if !app.database_url.starts_with("sqlite") {
            return;
        }
        let (a, a_owner, a_id) = active_org_with_id(&app, "plans-a").await;
        let mut partners = Vec::new();
        for label in ["plans-b", "plans-c", "plans-d"] {
            let (b, b_owner) = active_org(&app, label).await;
            let email = email_of(&app, &b, &b_owner).await;
            partner_up(&app, &a_owner, &email, &b_owner).await;
            partners.push(b);
        }
        let t = a_owner.token.as_str();
        for name in ["Plans child 1", "Plans child 2", "Plans child 3"] {
            app.child_org(t, a_id, name).await;
        }
        let mut paths = Vec::new();
        for size in [1, 2, 25] {
            for list in ["partnerships", "partners", "users"] {
                paths.push(format!("/api/v5/orgs/{a}/{list}?page_size={size}"));
            }
            paths.push(format!(
                "/api/v5/orgs/{a}/partners/{}/users?page_size={size}",
                partners[0]
            ));
            paths.push(format!(
                "/api/v1/organization/{a_id}/children?limit={size}&offset={}",
                size - 1
            ));
        }
        let mut next = Vec::new();
        for path in &paths {
            let page = call(&app, Method::GET, path, t, None).await;
            if let Some(link) = page.get("next").filter(|n| n.is_string()) {
                next.push(local_link(&app, link));
            }
        }
        assert!(!next.is_empty(), "some pages have a next page");
        for path in &next {
            call(&app, Method::GET, path, t, None).await;
        }
        for partner in &partners {
            let detail = format!("/api/v5/orgs/{a}/partners/{partner}");
            call(&app, Method::GET, &detail, t, None).await;
        }
        let metrics = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let reprepares: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("orgd_db_inline_reprepares_total"))
            .collect();
        assert_eq!(
            reprepares,
            ["orgd_db_inline_reprepares_total 0"],
            "kept statements were compiled again"
        );
    })
    .await;
}
