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
        call(
            &app,
            Method::PUT,
            &format!("/api/v5/orgs/{a}/users/{}/clients/tab", a_owner.uuid),
            &a_owner.token,
            Some(json!({"expires_in": 600})),
        )
        .await;
        call(
            &app,
            Method::PUT,
            &format!("/api/v5/orgs/{b}/users/{}/clients/tab", b_owner.uuid),
            &b_owner.token,
            Some(json!({"expires_in": 600})),
        )
        .await;
        let service = app.service_token("chat").await;
        PresenceServiceClient::connect(app.endpoint())
            .await
            .unwrap()
            .set_user_status(bearer(
                pb::SetUserStatusRequest {
                    user: b_owner.uuid.clone(),
                    current_chat_count: None,
                    online_enabled: Some(false),
                    avatar_url: None,
                },
                &service,
            ))
            .await
            .unwrap();
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
            call(
                &app,
                Method::PUT,
                &format!("/api/v5/orgs/{b}/users/{}/clients/tab", m.uuid),
                &m.token,
                Some(json!({"expires_in": 600})),
            )
            .await;
        }
        let service = app.service_token("chat").await;
        PresenceServiceClient::connect(app.endpoint())
            .await
            .unwrap()
            .set_user_status(bearer(
                pb::SetUserStatusRequest {
                    user: away.uuid.clone(),
                    current_chat_count: Some(3),
                    online_enabled: Some(false),
                    avatar_url: Some("https://example.com/a.png".into()),
                },
                &service,
            ))
            .await
            .unwrap();

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
