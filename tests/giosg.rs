//! The giosg Partnerships API (`/api/v5`) against a real server, over REST (`Authorization:
//! Token`) and gRPC: invitations, partnerships on both sides, partners and their users, your
//! own organization and users, presence, cursor pagination, every listed status code, and
//! concurrent accepts. Each test runs on SQLite and (when configured) PostgreSQL.

mod common;

use std::collections::HashSet;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::partnership_invitation_service_client::PartnershipInvitationServiceClient;
use orgd::proto::v1::partnership_service_client::PartnershipServiceClient;
use orgd::proto::v1::presence_service_client::PresenceServiceClient;

/// An organization in state active with an email, owned by `owner`.
#[derive(Clone, Debug)]
struct Org {
    id: i64,
    uuid: String,
    email: String,
    owner: User,
}

async fn active_org(app: &App, label: &str) -> Org {
    let owner = app.user(label).await;
    let org = app.org(&owner.token, &unique(label)).await;
    let id = id_of(&org);
    app.set_state(&id.to_string(), "active").await;
    let email = format!(
        "{label}-{}@orgs.example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let set = app
        .cli(&[
            "organization",
            "set-email",
            "--organization",
            &id.to_string(),
            "--email",
            &email,
        ])
        .await
        .json();
    assert_eq!(set["email"], json!(email));
    Org {
        id,
        uuid: org["uuid"].as_str().expect("uuid").to_string(),
        email,
        owner,
    }
}

async fn call(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.rest(method, path, Auth::Token(token), body.as_ref())
        .await
}

async fn get(app: &App, path: &str, token: &str) -> Resp {
    call(app, Method::GET, path, token, None).await
}

/// A user added to `org` with `role`.
async fn member(app: &App, org: &Org, label: &str, role: &str) -> User {
    let user = app.user(label).await;
    app.member_add(org.id, &user.email, role).await;
    user
}

/// `from` invites `to` (by the organization's email); returns the outgoing invitation.
async fn invite(app: &App, from: &Org, to_email: &str, display: Option<&str>) -> Value {
    let r = call(
        app,
        Method::POST,
        "/api/v5/outgoing_invitations",
        &from.owner.token,
        Some(json!({"email": to_email, "message": "hello", "partner_display_name": display})),
    )
    .await;
    r.assert_status(201);
    r.json
}

/// The key of an invitation as the invited user sees it.
async fn key_of(app: &App, token: &str, invitation_id: &str) -> String {
    let list = get(app, "/api/v5/incoming_invitations?page_size=100", token).await;
    list.assert_status(200);
    let found = list.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|i| i["id"] == json!(invitation_id))
        .unwrap_or_else(|| panic!("incoming invitation {invitation_id} in {}", list.text))
        .clone();
    found["key"].as_str().expect("incoming key").to_string()
}

/// Makes `a` and `b` partners through an invitation; returns the accepted invitation.
async fn partner_up(app: &App, a: &Org, b: &Org) -> Value {
    let sent = invite(app, a, &b.email, None).await;
    let key = key_of(app, &b.owner.token, sent["id"].as_str().unwrap()).await;
    let r = call(
        app,
        Method::POST,
        &format!("/api/v5/incoming_invitations/{key}/accept"),
        &b.owner.token,
        Some(json!({})),
    )
    .await;
    r.assert_status(200);
    r.json
}

#[track_caller]
fn assert_detail(r: &Resp, status: u16) {
    r.assert_status(status);
    assert!(
        r.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "giosg error body {{\"detail\": ...}}: {}",
        r.text
    );
}

#[track_caller]
fn assert_field_error(r: &Resp, field: &str) {
    r.assert_status(400);
    assert!(
        r.json[field].as_array().is_some_and(|a| !a.is_empty()),
        "validation body {{\"{field}\": [...]}}: {}",
        r.text
    );
}

#[track_caller]
fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v.as_object().unwrap_or_else(|| panic!("object: {v}"));
    let mut have: Vec<&str> = obj.keys().map(String::as_str).collect();
    have.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(have, want, "keys of {v}");
}

const ORG_KEYS: &[&str] = &[
    "id",
    "name",
    "email",
    "created_at",
    "is_present",
    "is_online",
];
const USER_KEYS: &[&str] = &[
    "id",
    "full_name",
    "email",
    "current_chat_count",
    "avatar_id",
    "avatar",
    "created_at",
    "is_present",
    "is_online",
];
const PARTNER_KEYS: &[&str] = &["id", "name", "created_at", "is_present", "is_online"];
const PARTNERSHIP_KEYS: &[&str] = &[
    "partner_organization_id",
    "partner_organization",
    "organization_id",
    "organization",
    "display_name",
    "created_at",
];
const INVITATION_KEYS: &[&str] = &[
    "id",
    "key",
    "status",
    "email",
    "message",
    "partner_display_name",
    "created_at",
    "created_by_organization_id",
    "created_by_user_id",
    "resolved_at",
    "resolved_by_organization_id",
    "resolved_by_user_id",
    "partnership_id",
    "created_new_partnership",
];

fn ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {page}"))
        .iter()
        .map(|r| {
            r.get("id")
                .or_else(|| r.get("partner_organization_id"))
                .and_then(Value::as_str)
                .expect("id")
                .to_string()
        })
        .collect()
}

/// The path and query of an absolute `next` / `previous` link of this server.
fn local(app: &App, link: &Value) -> String {
    let url = link.as_str().unwrap_or_else(|| panic!("link: {link}"));
    let prefix = format!("http://{}", app.addr);
    url.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is absolute on {prefix}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_accept_list_rename_and_remove_over_rest() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "alpha").await;
        let b = active_org(&app, "beta").await;

        // A invites B by B's organization email.
        let sent = invite(&app, &a, &b.email, Some("Our Beta")).await;
        assert_keys(&sent, INVITATION_KEYS);
        assert_eq!(sent["status"], json!(0));
        assert_eq!(sent["key"], Value::Null, "the sender never sees the key");
        assert_eq!(sent["email"], json!(b.email));
        assert_eq!(sent["message"], json!("hello"));
        assert_eq!(sent["partner_display_name"], json!("Our Beta"));
        assert_eq!(sent["created_by_organization_id"], json!(a.uuid));
        assert_eq!(sent["created_by_user_id"], json!(a.owner.uuid));
        assert_eq!(sent["resolved_at"], Value::Null);
        assert_eq!(sent["partnership_id"], Value::Null);
        assert_eq!(sent["created_new_partnership"], Value::Null);
        let id = sent["id"].as_str().unwrap().to_string();

        // The sender lists and reads it; B's members see it as incoming, with its key.
        let out = get(&app, "/api/v5/outgoing_invitations", &a.owner.token).await;
        out.assert_status(200);
        assert_eq!(ids(&out.json), vec![id.clone()]);
        assert_eq!(out.json["next"], Value::Null);
        assert_eq!(out.json["previous"], Value::Null);
        get(
            &app,
            &format!("/api/v5/outgoing_invitations/{id}"),
            &a.owner.token,
        )
        .await
        .assert_status(200);
        let b_member = member(&app, &b, "beta-member", "member").await;
        let key = key_of(&app, &b.owner.token, &id).await;
        // Sent to B's email, it is for B's admins and owners: a plain member does not see it.
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &b_member.token)
                .await
                .json["results"],
            json!([]),
            "a plain member sees no invitation to the organization's email"
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/incoming_invitations/{key}"),
                &b_member.token,
            )
            .await,
            404,
        );
        let incoming = get(
            &app,
            &format!("/api/v5/incoming_invitations/{key}"),
            &b.owner.token,
        )
        .await;
        incoming.assert_status(200);
        assert_eq!(incoming.json["key"], json!(key));
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &a.owner.token)
                .await
                .json["results"],
            json!([]),
            "the sender has no incoming invitation"
        );

        // A plain member may not answer (it is not theirs: 404); the owner accepts with B's
        // own display name.
        let accept = format!("/api/v5/incoming_invitations/{key}/accept");
        assert_detail(
            &call(
                &app,
                Method::POST,
                &accept,
                &b_member.token,
                Some(json!({})),
            )
            .await,
            404,
        );
        let accepted = call(
            &app,
            Method::POST,
            &accept,
            &b.owner.token,
            Some(json!({"display_name": "Our Alpha"})),
        )
        .await;
        accepted.assert_status(200);
        assert_keys(&accepted.json, INVITATION_KEYS);
        assert_eq!(accepted.json["status"], json!(1));
        assert_eq!(accepted.json["created_new_partnership"], json!(true));
        assert_eq!(accepted.json["resolved_by_organization_id"], json!(b.uuid));
        assert_eq!(accepted.json["resolved_by_user_id"], json!(b.owner.uuid));
        utc(&accepted.json["resolved_at"]);
        let partnership_id = accepted.json["partnership_id"]
            .as_str()
            .expect("partnership_id");
        assert!(uuid::Uuid::parse_str(partnership_id).is_ok());
        // Answered once, it stays answered.
        assert_detail(
            &call(&app, Method::POST, &accept, &b.owner.token, Some(json!({}))).await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("/api/v5/incoming_invitations/{key}/reject"),
                &b.owner.token,
                None,
            )
            .await,
            403,
        );

        // Both sides list the partnership, each with its own display name.
        let list_a = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships", a.uuid),
            &a.owner.token,
        )
        .await;
        list_a.assert_status(200);
        assert_keys(&list_a.json, &["next", "previous", "results"]);
        let pa = &list_a.json["results"][0];
        assert_keys(pa, PARTNERSHIP_KEYS);
        assert_keys(&pa["partner_organization"], ORG_KEYS);
        assert_keys(&pa["organization"], ORG_KEYS);
        assert_eq!(pa["partner_organization_id"], json!(b.uuid));
        assert_eq!(pa["partner_organization"]["id"], json!(b.uuid));
        assert_eq!(pa["partner_organization"]["email"], json!(b.email));
        assert_eq!(pa["organization_id"], json!(a.uuid));
        assert_eq!(pa["organization"]["id"], json!(a.uuid));
        assert_eq!(pa["display_name"], json!("Our Beta"));
        utc(&pa["created_at"]);
        let pb_ = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships/{}", b.uuid, a.uuid),
            &b_member.token,
        )
        .await;
        pb_.assert_status(200);
        assert_eq!(pb_.json["display_name"], json!("Our Alpha"));
        assert_eq!(pb_.json["partner_organization_id"], json!(a.uuid));

        // Rename A's side (PUT), B's side is unchanged; PATCH without the field changes
        // nothing; null shows the partner's own name again.
        let path_a = format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid);
        let put = call(
            &app,
            Method::PUT,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": "Beta GmbH"})),
        )
        .await;
        put.assert_status(200);
        assert_eq!(put.json["display_name"], json!("Beta GmbH"));
        let patch = call(
            &app,
            Method::PATCH,
            &path_a,
            &a.owner.token,
            Some(json!({})),
        )
        .await;
        patch.assert_status(200);
        assert_eq!(patch.json["display_name"], json!("Beta GmbH"));
        let path_b = format!("/api/v5/orgs/{}/partnerships/{}", b.uuid, a.uuid);
        assert_eq!(
            get(&app, &path_b, &b.owner.token).await.json["display_name"],
            json!("Our Alpha")
        );
        assert_field_error(
            &call(&app, Method::PUT, &path_a, &a.owner.token, Some(json!({}))).await,
            "display_name",
        );
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &path_a,
                &a.owner.token,
                Some(json!({"display_name": 5})),
            )
            .await,
            "display_name",
        );
        assert_field_error(
            &call(
                &app,
                Method::PATCH,
                &path_a,
                &a.owner.token,
                Some(json!({"display_name": "  "})),
            )
            .await,
            "display_name",
        );
        let bad = app
            .rest_raw(
                Method::PUT,
                &path_a,
                Auth::Token(&a.owner.token),
                "{not json",
            )
            .await;
        bad.assert_status(400);
        let cleared = call(
            &app,
            Method::PATCH,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": null})),
        )
        .await;
        cleared.assert_status(200);
        assert_eq!(cleared.json["display_name"], Value::Null);
        let put_null = call(
            &app,
            Method::PUT,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": null})),
        )
        .await;
        put_null.assert_status(200);
        assert_eq!(put_null.json["display_name"], Value::Null);
        assert_eq!(
            get(&app, &path_a, &a.owner.token).await.json["display_name"],
            Value::Null
        );

        // Partners and their users.
        let partners = get(
            &app,
            &format!("/api/v5/orgs/{}/partners", a.uuid),
            &a.owner.token,
        )
        .await;
        partners.assert_status(200);
        assert_eq!(ids(&partners.json), vec![b.uuid.clone()]);
        assert_keys(&partners.json["results"][0], PARTNER_KEYS);
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
            &a.owner.token,
        )
        .await;
        partner.assert_status(200);
        assert_eq!(partner.json["id"], json!(b.uuid));
        assert_eq!(partner.json["is_present"], json!(false));
        let users = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}/users", a.uuid, b.uuid),
            &a.owner.token,
        )
        .await;
        users.assert_status(200);
        let mut got = ids(&users.json);
        got.sort();
        let mut want = vec![b.owner.uuid.clone(), b_member.uuid.clone()];
        want.sort();
        assert_eq!(got, want);
        let user = get(
            &app,
            &format!(
                "/api/v5/orgs/{}/partners/{}/users/{}",
                a.uuid, b.uuid, b_member.uuid
            ),
            &a.owner.token,
        )
        .await;
        user.assert_status(200);
        assert_keys(&user.json, USER_KEYS);
        assert_eq!(user.json["email"], json!(b_member.email));
        assert_eq!(user.json["full_name"], json!("beta-member"));
        assert_eq!(user.json["current_chat_count"], json!(0));
        assert_eq!(user.json["avatar"], Value::Null);
        assert_eq!(user.json["avatar_id"], Value::Null);
        // A's own user is no partner user of B.
        assert_detail(
            &get(
                &app,
                &format!(
                    "/api/v5/orgs/{}/partners/{}/users/{}",
                    a.uuid, b.uuid, a.owner.uuid
                ),
                &a.owner.token,
            )
            .await,
            404,
        );

        // Accepting another invitation when already partners creates nothing new.
        let again = partner_up(&app, &b, &a).await;
        assert_eq!(again["created_new_partnership"], json!(false));
        assert_eq!(again["partnership_id"], json!(partnership_id));

        // Removing it removes both sides.
        let del = call(&app, Method::DELETE, &path_a, &a.owner.token, None).await;
        del.assert_status(204);
        assert!(del.text.is_empty(), "204 has no body: {}", del.text);
        assert_detail(&get(&app, &path_a, &a.owner.token).await, 404);
        assert_detail(&get(&app, &path_b, &b.owner.token).await, 404);
        assert_eq!(
            get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", b.uuid),
                &b.owner.token
            )
            .await
            .json["results"],
            json!([])
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
                &a.owner.token,
            )
            .await,
            404,
        );
        assert_detail(
            &call(&app, Method::DELETE, &path_a, &a.owner.token, None).await,
            404,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_organization_and_users() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "own").await;
        let m = member(&app, &a, "own-member", "member").await;
        let org = get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token).await;
        org.assert_status(200);
        assert_keys(&org.json, ORG_KEYS);
        assert_eq!(org.json["id"], json!(a.uuid));
        assert_eq!(org.json["email"], json!(a.email));
        assert_eq!(org.json["is_present"], json!(false));
        assert_eq!(org.json["is_online"], json!(false));
        utc(&org.json["created_at"]);
        // Trailing slash optional.
        get(&app, &format!("/api/v5/orgs/{}/", a.uuid), &m.token)
            .await
            .assert_status(200);

        let users = get(&app, &format!("/api/v5/orgs/{}/users", a.uuid), &m.token).await;
        users.assert_status(200);
        assert_eq!(
            ids(&users.json),
            vec![a.owner.uuid.clone(), m.uuid.clone()],
            "created_at order"
        );
        let desc = get(
            &app,
            &format!("/api/v5/orgs/{}/users?ordering=-created_at", a.uuid),
            &m.token,
        )
        .await;
        assert_eq!(ids(&desc.json), vec![m.uuid.clone(), a.owner.uuid.clone()]);
        let one = get(
            &app,
            &format!("/api/v5/orgs/{}/users/{}", a.uuid, a.owner.uuid),
            &m.token,
        )
        .await;
        one.assert_status(200);
        assert_keys(&one.json, USER_KEYS);
        assert_eq!(one.json["id"], json!(a.owner.uuid));
        assert_eq!(one.json["email"], json!(a.owner.email));

        let outsider = app.user("outsider").await;
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/users/{}", a.uuid, outsider.uuid),
                &m.token,
            )
            .await,
            404,
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/users/not-a-uuid", a.uuid),
                &m.token,
            )
            .await,
            404,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_in_the_published_order() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "codes-a").await;
        let b = active_org(&app, "codes-b").await;
        partner_up(&app, &a, &b).await;
        let plain = member(&app, &a, "codes-member", "member").await;
        let admin = member(&app, &a, "codes-admin", "admin").await;
        let outsider = app.user("codes-outsider").await;
        let missing = uuid::Uuid::new_v4().to_string();

        let org_paths = [
            format!("/api/v5/orgs/{}", a.uuid),
            format!("/api/v5/orgs/{}/users", a.uuid),
            format!("/api/v5/orgs/{}/users/{}", a.uuid, a.owner.uuid),
            format!("/api/v5/orgs/{}/partnerships", a.uuid),
            format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid),
            format!("/api/v5/orgs/{}/partners", a.uuid),
            format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
            format!("/api/v5/orgs/{}/partners/{}/users", a.uuid, b.uuid),
            format!(
                "/api/v5/orgs/{}/partners/{}/users/{}",
                a.uuid, b.uuid, b.owner.uuid
            ),
        ];
        for path in &org_paths {
            // 401: no token, or an unknown one.
            assert_detail(&app.rest(Method::GET, path, Auth::None, None).await, 401);
            assert_detail(&get(&app, path, "nonsense").await, 401);
            // 403: not a member (whether or not the organization exists).
            assert_detail(&get(&app, path, &outsider.token).await, 403);
            // 200 for any member.
            get(&app, path, &plain.token).await.assert_status(200);
        }
        assert_detail(
            &get(&app, &format!("/api/v5/orgs/{missing}"), &outsider.token).await,
            403,
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{missing}/partnerships"),
                &plain.token,
            )
            .await,
            403,
        );

        // 404: unknown partner, invalid UUIDs anywhere in the path.
        for path in [
            format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            format!("/api/v5/orgs/{}/partners/{missing}", a.uuid),
            format!("/api/v5/orgs/{}/partners/{missing}/users", a.uuid),
            format!(
                "/api/v5/orgs/{}/partners/{}/users/{missing}",
                a.uuid, b.uuid
            ),
            format!("/api/v5/orgs/{}/partnerships/nope", a.uuid),
            format!("/api/v5/orgs/{}/partners/nope/users", a.uuid),
            "/api/v5/orgs/not-a-uuid".to_string(),
            "/api/v5/orgs/not-a-uuid/partnerships".to_string(),
            format!("/api/v5/outgoing_invitations/{missing}"),
            "/api/v5/outgoing_invitations/nope".to_string(),
            "/api/v5/incoming_invitations/nope".to_string(),
        ] {
            assert_detail(&get(&app, &path, &a.owner.token).await, 404);
        }

        // Writes: 403 without settings permission (members), allowed for admins.
        let path = format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid);
        for method in [Method::PUT, Method::PATCH] {
            assert_detail(
                &call(
                    &app,
                    method.clone(),
                    &path,
                    &plain.token,
                    Some(json!({"display_name": "x"})),
                )
                .await,
                403,
            );
            assert_detail(
                &call(
                    &app,
                    method.clone(),
                    &path,
                    &outsider.token,
                    Some(json!({"display_name": "x"})),
                )
                .await,
                403,
            );
            assert_detail(
                &app.rest(
                    method.clone(),
                    &path,
                    Auth::None,
                    Some(&json!({"display_name": "x"})),
                )
                .await,
                401,
            );
            call(
                &app,
                method,
                &path,
                &admin.token,
                Some(json!({"display_name": "x"})),
            )
            .await
            .assert_status(200);
        }
        assert_detail(
            &call(&app, Method::DELETE, &path, &plain.token, None).await,
            403,
        );
        assert_detail(
            &call(&app, Method::DELETE, &path, &outsider.token, None).await,
            403,
        );
        assert_detail(
            &app.rest(Method::DELETE, &path, Auth::None, None).await,
            401,
        );
        assert_detail(
            &app.rest(
                Method::POST,
                "/api/v5/outgoing_invitations",
                Auth::None,
                Some(&json!({"email": "x@example.com"})),
            )
            .await,
            401,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &outsider.token,
                Some(json!({"email": "x@example.com"})),
            )
            .await,
            403,
        );
        for path in [
            "/api/v5/outgoing_invitations",
            "/api/v5/incoming_invitations",
            "/api/v5/incoming_invitations/somekey",
        ] {
            assert_detail(&app.rest(Method::GET, path, Auth::None, None).await, 401);
        }
        for path in [
            "/api/v5/incoming_invitations/somekey/accept",
            "/api/v5/incoming_invitations/somekey/reject",
        ] {
            assert_detail(&app.rest(Method::POST, path, Auth::None, None).await, 401);
            assert_detail(
                &call(&app, Method::POST, path, &a.owner.token, None).await,
                404,
            );
        }
        // Permission before existence: a member without settings gets 403 for a missing one.
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
                &plain.token,
                None,
            )
            .await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::PATCH,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
                &admin.token,
                Some(json!({})),
            )
            .await,
            404,
        );
        let invite_body = json!({"email": "someone@example.com"});
        assert_detail(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &plain.token,
                Some(invite_body.clone()),
            )
            .await,
            403,
        );
        assert_field_error(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &admin.token,
                Some(json!({"email": "not an email"})),
            )
            .await,
            "email",
        );
        let sent = call(
            &app,
            Method::POST,
            "/api/v5/outgoing_invitations",
            &admin.token,
            Some(invite_body.clone()),
        )
        .await;
        sent.assert_status(201);

        // Bad collection parameters: 400 with the field named; a cursor the server did not
        // issue names no page (404, as Django REST framework answers it).
        let list = format!("/api/v5/orgs/{}/partnerships", a.uuid);
        let garbage = get(&app, &format!("{list}?cursor=garbage"), &plain.token).await;
        garbage.assert_status(404);
        assert_eq!(garbage.json, json!({"detail": "Invalid cursor"}));
        assert_field_error(
            &get(&app, &format!("{list}?ordering=name"), &plain.token).await,
            "ordering",
        );
        assert_field_error(
            &get(&app, &format!("{list}?page_size=0"), &plain.token).await,
            "page_size",
        );
        assert_field_error(
            &get(&app, &format!("{list}?page_size=101"), &plain.token).await,
            "page_size",
        );
        get(
            &app,
            &format!("{list}?page_size=100&ordering=-created_at"),
            &plain.token,
        )
        .await
        .assert_status(200);

        // 403 no active subscription: after the membership check, before settings and 404.
        app.set_state(&a.id.to_string(), "inactive").await;
        for path in &org_paths {
            let r = get(&app, path, &plain.token).await;
            assert_detail(&r, 403);
            assert!(
                r.json["detail"].as_str().unwrap().contains("subscription"),
                "{}",
                r.text
            );
            assert_detail(&get(&app, path, &outsider.token).await, 403);
        }
        let r = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            &plain.token,
        )
        .await;
        assert!(
            r.json["detail"].as_str().unwrap().contains("subscription"),
            "{}",
            r.text
        );
        let r = call(
            &app,
            Method::POST,
            "/api/v5/outgoing_invitations",
            &admin.token,
            Some(invite_body),
        )
        .await;
        assert_detail(&r, 403);
        // Writes too: the subscription is checked before settings permission and existence.
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            for target in [
                &path,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            ] {
                for token in [&admin.token, &plain.token] {
                    let r = call(
                        &app,
                        method.clone(),
                        target,
                        token,
                        Some(json!({"display_name": "y"})),
                    )
                    .await;
                    assert_detail(&r, 403);
                    assert!(
                        r.json["detail"].as_str().unwrap().contains("subscription"),
                        "{method} {target}: {}",
                        r.text
                    );
                }
            }
        }
        // Trial is an active subscription until it ends.
        app.set_state(&a.id.to_string(), "trial").await;
        get(&app, &org_paths[0], &plain.token)
            .await
            .assert_status(200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_cancel_reject_and_their_codes() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "inv-a").await;
        let b = active_org(&app, "inv-b").await;
        let c = active_org(&app, "inv-c").await;

        // Cancel by the sender: 204, then gone (404); others cannot see it (404).
        let sent = invite(&app, &a, &b.email, None).await;
        let path = format!(
            "/api/v5/outgoing_invitations/{}",
            sent["id"].as_str().unwrap()
        );
        assert_detail(&get(&app, &path, &c.owner.token).await, 404);
        assert_detail(
            &call(&app, Method::DELETE, &path, &c.owner.token, None).await,
            404,
        );
        assert_detail(
            &app.rest(Method::DELETE, &path, Auth::None, None).await,
            401,
        );
        let del = call(&app, Method::DELETE, &path, &a.owner.token, None).await;
        del.assert_status(204);
        assert_detail(
            &call(&app, Method::DELETE, &path, &a.owner.token, None).await,
            404,
        );
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &b.owner.token)
                .await
                .json["results"],
            json!([])
        );

        // Reject: status 2, no partnership; the sender sees it resolved and cannot cancel it.
        let sent = invite(&app, &a, &b.email, None).await;
        let id = sent["id"].as_str().unwrap();
        let key = key_of(&app, &b.owner.token, id).await;
        // Someone it was not sent to cannot see or answer it.
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/incoming_invitations/{key}"),
                &c.owner.token,
            )
            .await,
            404,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("/api/v5/incoming_invitations/{key}/accept"),
                &c.owner.token,
                None,
            )
            .await,
            404,
        );
        let rejected = call(
            &app,
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/reject"),
            &b.owner.token,
            None,
        )
        .await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], json!(2));
        assert_eq!(rejected.json["partnership_id"], Value::Null);
        let seen = get(
            &app,
            &format!("/api/v5/outgoing_invitations/{id}"),
            &a.owner.token,
        )
        .await;
        assert_eq!(seen.json["status"], json!(2));
        assert_eq!(seen.json["key"], Value::Null);
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("/api/v5/outgoing_invitations/{id}"),
                &a.owner.token,
                None,
            )
            .await,
            403,
        );
        assert_eq!(
            get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", a.uuid),
                &a.owner.token
            )
            .await
            .json["results"],
            json!([])
        );

        // An invitation to a member's own email reaches that member; with two organizations
        // they must say which one answers.
        let person = app.user("inv-person").await;
        app.member_add(b.id, &person.email, "admin").await;
        app.member_add(c.id, &person.email, "admin").await;
        let sent = invite(&app, &a, &person.email, None).await;
        let key = key_of(&app, &person.token, sent["id"].as_str().unwrap()).await;
        // Sent to a person's email, it is that person's: the owners of their organizations
        // do not see it (issue 13, L4).
        for owner in [&b.owner, &c.owner] {
            let seen = get(
                &app,
                "/api/v5/incoming_invitations?page_size=100",
                &owner.token,
            )
            .await;
            assert!(
                seen.json["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .all(|i| i["id"] != sent["id"]),
                "{}",
                seen.text
            );
        }
        let accept = format!("/api/v5/incoming_invitations/{key}/accept");
        assert_field_error(
            &call(&app, Method::POST, &accept, &person.token, None).await,
            "organization_id",
        );
        let ok = call(
            &app,
            Method::POST,
            &format!("{accept}?organization_id={}", c.uuid),
            &person.token,
            None,
        )
        .await;
        ok.assert_status(200);
        assert_eq!(ok.json["resolved_by_organization_id"], json!(c.uuid));
        let list = get(
            &app,
            &format!("/api/v5/orgs/{}/partners", c.uuid),
            &c.owner.token,
        )
        .await;
        assert_eq!(ids(&list.json), vec![a.uuid.clone()]);

        // An inactive organization cannot answer.
        let sent = invite(&app, &a, &b.email, None).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_str().unwrap()).await;
        app.set_state(&b.id.to_string(), "inactive").await;
        let r = call(
            &app,
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/accept"),
            &b.owner.token,
            None,
        )
        .await;
        assert_detail(&r, 403);
        // An organization cannot invite itself.
        assert_field_error(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &a.owner.token,
                Some(json!({"email": a.email})),
            )
            .await,
            "email",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_stays_correct_while_rows_come_and_go() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "pages").await;
        let mut members = vec![a.owner.clone()];
        for i in 0..6 {
            members.push(member(&app, &a, &format!("pages-{i}"), "member").await);
        }
        let base = format!("/api/v5/orgs/{}/users", a.uuid);

        // Page 1 of 3, then insert two and delete one not yet seen, then walk on.
        let first = get(&app, &format!("{base}?page_size=3"), &a.owner.token).await;
        first.assert_status(200);
        assert_eq!(first.json["previous"], Value::Null);
        let mut seen = ids(&first.json);
        assert_eq!(
            seen,
            members[..3]
                .iter()
                .map(|u| u.uuid.clone())
                .collect::<Vec<_>>()
        );
        let added1 = member(&app, &a, "pages-new-1", "member").await;
        let added2 = member(&app, &a, "pages-new-2", "member").await;
        let removed = members[4].clone();
        app.cli(&[
            "member",
            "remove",
            "--organization",
            &a.id.to_string(),
            "--email",
            &removed.email,
        ])
        .await
        .json();
        let mut next = first.json["next"].clone();
        let mut pages = vec![first.json.clone()];
        while !next.is_null() {
            let link = local(&app, &next);
            assert!(link.contains("page_size=3"), "links keep the query: {link}");
            let page = get(&app, &link, &a.owner.token).await;
            page.assert_status(200);
            assert!(
                !page.json["previous"].is_null(),
                "a later page has a previous link"
            );
            seen.extend(ids(&page.json));
            next = page.json["next"].clone();
            pages.push(page.json.clone());
            assert!(pages.len() < 10, "pagination terminates");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates: {seen:?}");
        for u in members.iter().filter(|u| u.uuid != removed.uuid) {
            assert!(
                seen.contains(&u.uuid),
                "no row that existed throughout is skipped"
            );
        }
        assert!(
            !seen.contains(&removed.uuid),
            "a deleted row is not served later"
        );
        assert!(
            seen.contains(&added1.uuid) && seen.contains(&added2.uuid),
            "rows added at the end appear"
        );

        // Back from the last page by `previous`, the same rows in reverse page order.
        let mut back = Vec::new();
        let mut prev = pages.last().unwrap()["previous"].clone();
        back.extend(ids(pages.last().unwrap()).into_iter().rev());
        while !prev.is_null() {
            let page = get(&app, &local(&app, &prev), &a.owner.token).await;
            page.assert_status(200);
            back.extend(ids(&page.json).into_iter().rev());
            prev = page.json["previous"].clone();
            assert!(back.len() < 50, "pagination terminates");
        }
        back.reverse();
        assert_eq!(back, seen, "walking back yields the same sequence");

        // Descending order walks the same set backwards.
        let mut desc = Vec::new();
        let mut link = format!("{base}?page_size=4&ordering=-created_at");
        loop {
            let page = get(&app, &link, &a.owner.token).await;
            page.assert_status(200);
            desc.extend(ids(&page.json));
            if page.json["next"].is_null() {
                break;
            }
            link = local(&app, &page.json["next"]);
        }
        let mut reversed = seen.clone();
        reversed.reverse();
        assert_eq!(desc, reversed);

        // Links are absolute on the host the client called, behind a TLS proxy too.
        let proxied = send(
            app.http
                .get(app.url(&format!("{base}?page_size=2")))
                .header("Authorization", format!("Token {}", a.owner.token))
                .header("Host", "orgd.example.com")
                .header("X-Forwarded-Proto", "https"),
        )
        .await;
        proxied.assert_status(200);
        let next = proxied.json["next"].as_str().expect("next link");
        assert!(
            next.starts_with(&format!(
                "https://orgd.example.com{base}?page_size=2&cursor="
            )),
            "{next}"
        );

        // Over HTTP/2 the host comes from the :authority.
        let h2 = send(
            app.h2
                .get(app.url(&format!("{base}?page_size=2")))
                .header("Authorization", format!("Token {}", a.owner.token)),
        )
        .await;
        h2.assert_status(200);
        assert_eq!(h2.version, reqwest::Version::HTTP_2);
        local(&app, &h2.json["next"]);

        // A cursor is opaque but checked: one that does not decode to a position is a 404.
        let cursor = pages[0]["next"]
            .as_str()
            .unwrap()
            .split("cursor=")
            .nth(1)
            .unwrap()
            .to_string();
        let r = get(
            &app,
            &format!("{base}?cursor=Z{}", &cursor[1..]),
            &a.owner.token,
        )
        .await;
        r.assert_status(404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_registers_refreshes_and_expires() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "presence").await;
        let b = active_org(&app, "presence-b").await;
        partner_up(&app, &a, &b).await;
        let m = member(&app, &a, "presence-member", "member").await;
        let client = format!("/api/v5/orgs/{}/users/{}/clients/tab-1", a.uuid, m.uuid);

        let r = call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 60})),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["id"], json!("tab-1"));
        assert_eq!(r.json["user_id"], json!(m.uuid));
        assert_eq!(r.json["expires_in"], json!(60));
        call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 60})),
        )
        .await
        .assert_status(200);
        let user = get(
            &app,
            &format!("/api/v5/orgs/{}/users/{}", a.uuid, m.uuid),
            &m.token,
        )
        .await;
        assert_eq!(user.json["is_present"], json!(true));
        assert_eq!(user.json["is_online"], json!(true));
        let org = get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token).await;
        assert_eq!(org.json["is_present"], json!(true));
        // The partner sees it too.
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", b.uuid, a.uuid),
            &b.owner.token,
        )
        .await;
        assert_eq!(partner.json["is_present"], json!(true));
        assert_eq!(partner.json["is_online"], json!(true));

        // Bad values; other users' clients need settings permission.
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &client,
                &m.token,
                Some(json!({"expires_in": 0})),
            )
            .await,
            "expires_in",
        );
        let other = format!("/api/v5/orgs/{}/users/{}/clients/x", a.uuid, a.owner.uuid);
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &other,
                &m.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &client,
                &b.owner.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            403,
        );
        assert_detail(
            &app.rest(
                Method::PUT,
                &client,
                Auth::None,
                Some(&json!({"expires_in": 5})),
            )
            .await,
            401,
        );
        let missing = format!(
            "/api/v5/orgs/{}/users/{}/clients/x",
            a.uuid,
            uuid::Uuid::new_v4()
        );
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &missing,
                &a.owner.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            404,
        );
        call(
            &app,
            Method::PUT,
            &other,
            &a.owner.token,
            Some(json!({"expires_in": 60})),
        )
        .await
        .assert_status(201);

        // DELETE expires a client at once.
        call(&app, Method::DELETE, &other, &a.owner.token, None)
            .await
            .assert_status(204);
        assert_detail(
            &call(&app, Method::DELETE, &other, &a.owner.token, None).await,
            404,
        );

        // Replace the member's client by a 1-second one; it expires on its own.
        call(&app, Method::DELETE, &client, &m.token, None)
            .await
            .assert_status(204);
        call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 1})),
        )
        .await
        .assert_status(201);
        let path = format!("/api/v5/orgs/{}/users/{}", a.uuid, m.uuid);
        let mut expired = false;
        for _ in 0..100 {
            let u = get(&app, &path, &m.token).await;
            if u.json["is_present"] == json!(false) {
                assert_eq!(u.json["is_online"], json!(false));
                expired = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(expired, "presence expires without a refresh");
        assert_eq!(
            get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token)
                .await
                .json["is_present"],
            json!(false)
        );

        // Internal services: presence for anyone, and the status other systems own.
        let service = app.service_token("chat").await;
        let mut presence = PresenceServiceClient::connect(app.endpoint())
            .await
            .unwrap();
        let reg = presence
            .register_user_client(bearer(
                pb::RegisterUserClientRequest {
                    organization_id: a.uuid.clone(),
                    user_id: m.uuid.clone(),
                    client_id: "svc".into(),
                    expires_in: 60,
                },
                &service,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(reg.created);
        let status = presence
            .set_user_status(bearer(
                pb::SetUserStatusRequest {
                    user: m.uuid.clone(),
                    current_chat_count: Some(3),
                    online_enabled: Some(false),
                    avatar_url: Some("https://cdn.example.com/a.png".into()),
                },
                &service,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(status.current_chat_count, 3);
        let u = get(&app, &path, &m.token).await;
        assert_eq!(u.json["current_chat_count"], json!(3));
        assert_eq!(u.json["is_present"], json!(true));
        assert_eq!(
            u.json["is_online"],
            json!(false),
            "present but switched offline"
        );
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", b.uuid, a.uuid),
            &b.owner.token,
        )
        .await;
        assert_eq!(partner.json["is_present"], json!(true));
        assert_eq!(partner.json["is_online"], json!(false), "no member online");
        assert_eq!(
            u.json["avatar"]["url"],
            json!("https://cdn.example.com/a.png")
        );
        assert_eq!(u.json["avatar"]["id"], u.json["avatar_id"]);
        assert_code(
            presence
                .set_user_status(bearer(
                    pb::SetUserStatusRequest {
                        user: m.uuid.clone(),
                        current_chat_count: Some(1),
                        ..Default::default()
                    },
                    &m.token,
                ))
                .await,
            tonic::Code::PermissionDenied,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_leave_exactly_one_partnership() {
    for_each_backend(|app| async move {
        // One invitation accepted many times at once.
        let a = active_org(&app, "race-a").await;
        let b = active_org(&app, "race-b").await;
        let sent = invite(&app, &a, &b.email, None).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_str().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (app, key, token) = (app.clone(), key.clone(), b.owner.token.clone());
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &format!("/api/v5/incoming_invitations/{key}/accept"),
                    &token,
                    None,
                )
                .await
                .status
                .as_u16()
            });
        }
        let mut codes = Vec::new();
        while let Some(code) = set.join_next().await {
            codes.push(code.unwrap());
        }
        codes.sort_unstable();
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 200 || *c == 403), "{codes:?}");
        for (org, partner) in [(&a, &b), (&b, &a)] {
            let list = get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", org.uuid),
                &org.owner.token,
            )
            .await;
            assert_eq!(ids(&list.json), vec![partner.uuid.clone()]);
        }

        // Two organizations accepting each other's invitation at the same moment.
        let c = active_org(&app, "race-c").await;
        let d = active_org(&app, "race-d").await;
        let to_d = invite(&app, &c, &d.email, None).await;
        let to_c = invite(&app, &d, &c.email, None).await;
        let key_d = key_of(&app, &d.owner.token, to_d["id"].as_str().unwrap()).await;
        let key_c = key_of(&app, &c.owner.token, to_c["id"].as_str().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for (key, token) in [
            (key_d, d.owner.token.clone()),
            (key_c, c.owner.token.clone()),
        ] {
            let app = app.clone();
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &format!("/api/v5/incoming_invitations/{key}/accept"),
                    &token,
                    None,
                )
                .await
            });
        }
        let mut answers = Vec::new();
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            r.assert_status(200);
            answers.push(r.json);
        }
        let created: Vec<bool> = answers
            .iter()
            .map(|a| a["created_new_partnership"].as_bool().unwrap())
            .collect();
        assert_eq!(
            created.iter().filter(|c| **c).count(),
            1,
            "exactly one created it: {answers:?}"
        );
        assert_eq!(answers[0]["partnership_id"], answers[1]["partnership_id"]);
        for (org, partner) in [(&c, &d), (&d, &c)] {
            let list = get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", org.uuid),
                &org.owner.token,
            )
            .await;
            assert_eq!(ids(&list.json), vec![partner.uuid.clone()]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_over_grpc() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "grpc-a").await;
        let b = active_org(&app, "grpc-b").await;
        let mut invitations = PartnershipInvitationServiceClient::connect(app.endpoint())
            .await
            .unwrap();
        let mut partnerships = PartnershipServiceClient::connect(app.endpoint())
            .await
            .unwrap();

        assert_code(
            invitations
                .create_outgoing_invitation(pb::CreateOutgoingInvitationRequest::default())
                .await,
            tonic::Code::Unauthenticated,
        );
        let sent = invitations
            .create_outgoing_invitation(bearer(
                pb::CreateOutgoingInvitationRequest {
                    organization_id: Some(a.uuid.clone()),
                    invitation: Some(pb::OutgoingInvitationInput {
                        email: b.email.clone(),
                        message: "over gRPC".into(),
                        partner_display_name: Some("B".into()),
                    }),
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(sent.status, 0);
        assert_eq!(sent.key, None);
        let incoming = invitations
            .list_incoming_invitations(bearer(
                pb::ListIncomingInvitationsRequest::default(),
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(incoming.results.len(), 1);
        let key = incoming.results[0].key.clone().expect("incoming key");
        let accepted = invitations
            .accept_incoming_invitation(bearer(
                pb::AcceptIncomingInvitationRequest {
                    key,
                    organization_id: None,
                    acceptance: Some(pb::InvitationAcceptance {
                        display_name: Some("A".into()),
                    }),
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(accepted.status, 1);
        assert_eq!(accepted.created_new_partnership, Some(true));

        let list = partnerships
            .list_partnerships(bearer(
                pb::ListPartnershipsRequest {
                    organization_id: a.uuid.clone(),
                    page_size: Some(1),
                    ..Default::default()
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.results.len(), 1);
        assert_eq!(list.results[0].display_name.as_deref(), Some("B"));
        assert_eq!(list.next, None);

        let patched = partnerships
            .patch_partnership(bearer(
                pb::PatchPartnershipRequest {
                    organization_id: a.uuid.clone(),
                    partner_organization_id: b.uuid.clone(),
                    display_name: Some(prost_types::Value {
                        kind: Some(prost_types::value::Kind::NullValue(0)),
                    }),
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .partnership
            .unwrap();
        assert_eq!(patched.display_name, None);
        assert_code(
            partnerships
                .update_partnership(bearer(
                    pb::UpdatePartnershipRequest {
                        organization_id: a.uuid.clone(),
                        partner_organization_id: b.uuid.clone(),
                        display_name: None,
                    },
                    &a.owner.token,
                ))
                .await,
            tonic::Code::InvalidArgument,
        );
        let partner = partnerships
            .get_partner(bearer(
                pb::GetPartnerRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .partner
            .unwrap();
        assert_eq!(partner.id, a.uuid);
        let users = partnerships
            .list_partner_users(bearer(
                pb::ListPartnerUsersRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                    ..Default::default()
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(users.results.len(), 1);
        assert_eq!(users.results[0].id, a.owner.uuid);
        assert_code(
            partnerships
                .get_own_organization(bearer(
                    pb::GetOwnOrganizationRequest {
                        organization_id: a.uuid.clone(),
                    },
                    &b.owner.token,
                ))
                .await,
            tonic::Code::PermissionDenied,
        );
        partnerships
            .delete_partnership(bearer(
                pb::DeletePartnershipRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                },
                &b.owner.token,
            ))
            .await
            .unwrap();
        assert_code(
            partnerships
                .get_partnership(bearer(
                    pb::GetPartnershipRequest {
                        organization_id: a.uuid.clone(),
                        partner_organization_id: b.uuid.clone(),
                    },
                    &a.owner.token,
                ))
                .await,
            tonic::Code::NotFound,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partnership_partner_and_invitation_lists_paginate() {
    for_each_backend(|app| async move {
        let hub = active_org(&app, "hub").await;
        let mut partners = Vec::new();
        for i in 0..3 {
            let p = active_org(&app, &format!("spoke-{i}")).await;
            partner_up(&app, &hub, &p).await;
            partners.push(p);
        }
        for (path, key) in [
            (
                format!("/api/v5/orgs/{}/partnerships", hub.uuid),
                "partnerships",
            ),
            (format!("/api/v5/orgs/{}/partners", hub.uuid), "partners"),
        ] {
            let first = get(&app, &format!("{path}?page_size=2"), &hub.owner.token).await;
            first.assert_status(200);
            assert_eq!(
                ids(&first.json),
                vec![partners[0].uuid.clone(), partners[1].uuid.clone()],
                "{key}: first page"
            );
            assert_eq!(first.json["previous"], Value::Null);
            // A partnership made between the pages shows up at the end, nothing repeats.
            let late = active_org(&app, &format!("late-{key}")).await;
            partner_up(&app, &hub, &late).await;
            partners.push(late);
            let second = get(&app, &local(&app, &first.json["next"]), &hub.owner.token).await;
            second.assert_status(200);
            let mut rest = ids(&second.json);
            if !second.json["next"].is_null() {
                let third = get(&app, &local(&app, &second.json["next"]), &hub.owner.token).await;
                assert_eq!(third.json["next"], Value::Null);
                rest.extend(ids(&third.json));
            }
            let want: Vec<String> = partners[2..].iter().map(|p| p.uuid.clone()).collect();
            assert_eq!(rest, want, "{key}: the rest, in order");
            let back = get(
                &app,
                &local(&app, &second.json["previous"]),
                &hub.owner.token,
            )
            .await;
            assert_eq!(ids(&back.json), ids(&first.json), "{key}: previous page");
        }
        // The hub's outgoing invitations, newest first, two at a time.
        let mut seen = Vec::new();
        let mut link = "/api/v5/outgoing_invitations?ordering=-created_at&page_size=2".to_string();
        loop {
            let page = get(&app, &link, &hub.owner.token).await;
            page.assert_status(200);
            seen.extend(
                page.json["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["email"].as_str().unwrap().to_string()),
            );
            if page.json["next"].is_null() {
                break;
            }
            link = local(&app, &page.json["next"]);
        }
        let mut want: Vec<String> = partners.iter().map(|p| p.email.clone()).collect();
        want.reverse();
        assert_eq!(seen, want);
    })
    .await;
}
