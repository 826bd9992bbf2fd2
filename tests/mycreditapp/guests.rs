//! MyCreditApp guest invitations and host/guest connections (`/v1/guest-invitations`,
//! `/v1/guest-connections`, `/v1/host-connections`) against a real server: the published
//! fields, `expired_at`, accepting (one transaction, concurrent accepts and duplicate
//! invitations leave one row), archiving, and the Requester/Target rule that the connection
//! — not a giosg partnership — decides, endpoint by endpoint. Each test runs on SQLite and
//! (when configured) PostgreSQL.

use std::collections::BTreeSet;

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
struct Org {
    id: i64,
    uuid: String,
    name: String,
    owner: User,
}

async fn new_org(app: &App, label: &str) -> Org {
    let owner = app.user(label).await;
    let name = unique(label);
    let org = app.org(&owner.token, &name).await;
    Org {
        id: id_of(&org),
        uuid: org["uuid"].as_str().expect("organization uuid").to_string(),
        name,
        owner,
    }
}

async fn member(app: &App, org: &Org, label: &str, role: &str) -> User {
    let user = app.user(label).await;
    app.member_add(org.id, &user.email, role).await;
    user
}

/// A `/v1` call with both headers.
async fn call(
    app: &App,
    method: Method,
    path: &str,
    token: &str,
    requester: &str,
    target: &str,
    body: Option<Value>,
) -> Resp {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .header("Requester-Organization-ID", requester)
        .header("Target-Organization-ID", target);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    send(req).await
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

/// `host`'s owner invites `email`; asserts 201.
async fn invite(app: &App, host: &Org, email: &str, expired_at: &str) -> Value {
    let r = call(
        app,
        Method::POST,
        "/v1/guest-invitations",
        &host.owner.token,
        &host.uuid,
        &host.uuid,
        Some(json!({"email": email, "expired_at": expired_at, "parent_organization_id": null})),
    )
    .await;
    r.assert_status(201);
    r.json
}

/// `guest`'s owner accepts `token` for `guest`.
async fn accept(app: &App, guest: &Org, token: &str) -> Resp {
    call(
        app,
        Method::POST,
        &format!("/v1/guest-invitations/{token}/accept"),
        &guest.owner.token,
        &guest.uuid,
        &guest.uuid,
        None,
    )
    .await
}

/// `host` invites `guest`'s owner and `guest` accepts: connected.
async fn connect(app: &App, host: &Org, guest: &Org) -> Value {
    let sent = invite(app, host, &guest.owner.email, &in_days(7)).await;
    let r = accept(app, guest, sent["invitation_token"].as_str().unwrap()).await;
    r.assert_status(200);
    r.json
}

const PARTNERS: &str =
    "/v1/partners?partner_types=customer&partner_types=supplier&limit=100&offset=0";

async fn partners(app: &App, who: &User, requester: &Org, target: &Org) -> Resp {
    call(
        app,
        Method::GET,
        PARTNERS,
        &who.token,
        &requester.uuid,
        &target.uuid,
        None,
    )
    .await
}

fn record(name: &str, email: &str) -> Value {
    json!({"company_name": name, "partner_type": "customer", "email": email})
}

#[track_caller]
fn assert_detail(r: &Resp, status: u16, code: &str) {
    r.assert_status(status);
    assert_eq!(r.json["detail"][0]["code"], json!(code), "{}", r.text);
}

/// The `loc`s of a 422.
#[track_caller]
fn locs(r: &Resp) -> BTreeSet<String> {
    r.assert_status(422);
    r.json["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail: {}", r.text))
        .iter()
        .map(|d| {
            d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().map(str::to_string).unwrap_or(p.to_string()))
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

const INVITATION_KEYS: &[&str] = &[
    "id",
    "host_organization_id",
    "email",
    "first_invitation_sent_at",
    "last_invitation_sent_at",
    "expired_at",
    "expired",
    "status",
    "invitation_token",
    "archived",
    "created_at",
    "updated_at",
    "accepted_at",
    "archived_at",
    "parent_organization_id",
    "parent_organization_name",
];

#[track_caller]
fn assert_invitation_shape(v: &Value) {
    let keys: BTreeSet<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, INVITATION_KEYS.iter().copied().collect(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_invitation_has_the_published_fields() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let expires = in_days(7);
        let sent = invite(&app, &host, "  Guest@Example.COM ", &expires).await;
        assert_invitation_shape(&sent);
        assert_eq!(sent["host_organization_id"], json!(host.uuid));
        assert_eq!(sent["email"], json!("guest@example.com"));
        assert_eq!(sent["status"], json!("sent"));
        assert_eq!(sent["expired"], json!(false));
        assert_eq!(sent["archived"], json!(false));
        assert_eq!(sent["accepted_at"], Value::Null);
        assert_eq!(sent["archived_at"], Value::Null);
        assert_eq!(sent["parent_organization_id"], Value::Null);
        assert_eq!(sent["parent_organization_name"], Value::Null);
        assert_eq!(
            sent["first_invitation_sent_at"],
            sent["last_invitation_sent_at"]
        );
        assert!(
            (utc(&sent["expired_at"]) - utc(&json!(expires)))
                .num_milliseconds()
                .abs()
                < 1,
            "{sent}"
        );
        assert!(
            sent["invitation_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 32),
            "{sent}"
        );

        // Under a unit of the host: named in the response.
        let unit = app.child_org(&host.owner.token, host.id, "Unit").await;
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(json!({"email": "second@example.com", "expired_at": expires,
                "parent_organization_id": unit["uuid"]})),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["parent_organization_id"], unit["uuid"]);
        assert_eq!(r.json["parent_organization_name"], json!("Unit"));

        // Sending to the same email again sends the open invitation again.
        let again = invite(&app, &host, "guest@example.com", &in_days(9)).await;
        assert_eq!(again["id"], sent["id"]);
        assert_eq!(again["invitation_token"], sent["invitation_token"]);
        assert_eq!(
            again["first_invitation_sent_at"],
            sent["first_invitation_sent_at"]
        );
        assert!(utc(&again["last_invitation_sent_at"]) >= utc(&sent["last_invitation_sent_at"]));
        assert!(utc(&again["expired_at"]) > utc(&sent["expired_at"]));

        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        list.assert_status(200);
        assert_eq!(list.json["total_items"], json!(2), "{}", list.text);
        let items = list.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        items.iter().for_each(assert_invitation_shape);
        // Newest first.
        assert_eq!(items[0]["email"], json!("second@example.com"));
        let page = call(
            &app,
            Method::GET,
            "/v1/guest-invitations?limit=1&offset=1",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        page.assert_status(200);
        assert_eq!(page.json["items"][0]["id"], sent["id"]);
        assert_eq!(page.json["total_items"], json!(2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_connects_and_the_connection_is_what_the_headers_check() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Host's customer", "c@host.example")),
        )
        .await
        .assert_status(201);
        call(
            &app,
            Method::POST,
            "/v1/partners",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            Some(record("Guest's customer", "c@guest.example")),
        )
        .await
        .assert_status(201);

        // A giosg partnership is no host/guest connection.
        let sent = app
            .rest(
                Method::POST,
                &format!("/api/v5/outgoing_invitations?organization_id={}", host.uuid),
                Auth::Token(&host.owner.token),
                Some(&json!({"email": guest.owner.email})),
            )
            .await;
        sent.assert_status(201);
        let incoming = app
            .rest(
                Method::GET,
                "/api/v5/incoming_invitations?page_size=100",
                Auth::Token(&guest.owner.token),
                None,
            )
            .await;
        let key = incoming.json["results"][0]["key"]
            .as_str()
            .expect("key")
            .to_string();
        app.rest(
            Method::POST,
            &format!(
                "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
                guest.uuid
            ),
            Auth::Token(&guest.owner.token),
            Some(&json!({})),
        )
        .await
        .assert_status(200);
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        assert_detail(
            &partners(&app, &host.owner, &host, &guest).await,
            403,
            "PERMISSION_DENIED",
        );

        let accepted = connect(&app, &host, &guest).await;
        assert_invitation_shape(&accepted);
        assert_eq!(accepted["status"], json!("accepted"));
        assert!(accepted["accepted_at"].is_string(), "{accepted}");
        // Accepting again for the same guest answers the same.
        let token = accepted["invitation_token"].as_str().unwrap();
        let again = accept(&app, &guest, token).await;
        again.assert_status(200);
        assert_eq!(again.json["accepted_at"], accepted["accepted_at"]);

        // Guest to its host, host to its guest: reads; the Self-only writes stay refused.
        let r = partners(&app, &guest.owner, &guest, &host).await;
        r.assert_status(200);
        assert_eq!(r.json["items"][0]["company_name"], json!("Host's customer"));
        let r = partners(&app, &host.owner, &host, &guest).await;
        r.assert_status(200);
        assert_eq!(
            r.json["items"][0]["company_name"],
            json!("Guest's customer")
        );
        for (who, requester, target) in [(&guest, &guest, &host), (&host, &host, &guest)] {
            let r = call(
                &app,
                Method::POST,
                "/v1/partners",
                &who.owner.token,
                &requester.uuid,
                &target.uuid,
                Some(record("Planted", "p@x.example")),
            )
            .await;
            assert_detail(&r, 403, "PERMISSION_DENIED");
        }
        // A third organization is connected to neither.
        let other = new_org(&app, "other").await;
        assert_detail(
            &partners(&app, &other.owner, &other, &host).await,
            403,
            "PERMISSION_DENIED",
        );

        // Each side lists the connection.
        let guests = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        guests.assert_status(200);
        assert_eq!(guests.json["total_items"], json!(1), "{}", guests.text);
        let c = &guests.json["items"][0];
        assert_eq!(c["host_organization_id"], json!(host.uuid));
        assert_eq!(c["guest_organization_id"], json!(guest.uuid));
        assert_eq!(c["guest_organization_name"], json!(guest.name));
        assert_eq!(c["host_organization_name"], json!(host.name));
        assert_eq!(c["status"], json!("connected"));
        assert_eq!(c["archived"], json!(false));
        assert_eq!(c["invitation_id"], accepted["id"]);
        let hosts = call(
            &app,
            Method::GET,
            "/v1/host-connections?statuses=connected",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        hosts.assert_status(200);
        assert_eq!(
            hosts.json["items"][0]["host_organization_id"],
            json!(host.uuid),
            "{}",
            hosts.text
        );
        // The host has no hosts, the guest no guests.
        let none = call(
            &app,
            Method::GET,
            "/v1/host-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(none.json["total_items"], json!(0), "{}", none.text);
        let none = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(none.json["total_items"], json!(0), "{}", none.text);
        // Lists are Self only.
        let r = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &guest.owner.token,
            &guest.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invitation_cannot_be_accepted() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let sent = invite(&app, &host, &guest.owner.email, &in_days(-1)).await;
        assert_eq!(sent["expired"], json!(true), "{sent}");
        assert_eq!(sent["status"], json!("sent"));
        let token = sent["invitation_token"].as_str().unwrap().to_string();
        assert_detail(
            &accept(&app, &guest, &token).await,
            409,
            "INVITATION_EXPIRED",
        );
        let guests = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            guests.json["total_items"],
            json!(0),
            "no connection: {}",
            guests.text
        );
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        // Sent again with a later expiry, the same invitation can be accepted.
        let again = invite(&app, &host, &guest.owner.email, &in_days(1)).await;
        assert_eq!(again["id"], sent["id"]);
        assert_eq!(again["expired"], json!(false));
        let r = accept(&app, &guest, &token).await;
        r.assert_status(200);
        assert_eq!(
            r.json["expired"],
            json!(false),
            "an accepted invitation never expires"
        );
        // An unknown token is not found.
        assert_detail(
            &accept(&app, &guest, "no-such-token").await,
            404,
            "NOT_FOUND",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_invite_and_accept() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let host_member = member(&app, &host, "hmember", "member").await;
        let host_admin = member(&app, &host, "hadmin", "admin").await;
        let guest_member = member(&app, &guest, "gmember", "member").await;
        let stranger = new_org(&app, "stranger").await;
        let body = json!({"email": "g@example.com", "expired_at": in_days(3)});
        // Settings permission in the host, Self only.
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host_member.token,
            &host.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host_member.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &stranger.owner.token,
            &host.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &stranger.owner.token,
            &stranger.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            list.json["total_items"],
            json!(0),
            "nothing stored: {}",
            list.text
        );
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host_admin.token,
            &host.uuid,
            &host.uuid,
            Some(body),
        )
        .await;
        r.assert_status(201);
        let token = r.json["invitation_token"].as_str().unwrap().to_string();
        let path = format!("/v1/guest-invitations/{token}/accept");

        // Accepting: settings permission in the accepting organization, Self only, never
        // the host itself.
        let r = call(
            &app,
            Method::POST,
            &path,
            &guest_member.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            &path,
            &guest.owner.token,
            &guest.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            &path,
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            &path,
            &stranger.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            list.json["items"][0]["status"],
            json!("sent"),
            "{}",
            list.text
        );
        // The guest's OAuth client (an organization token) may accept.
        let client = app
            .cli(&["client", "create", "--organization", &guest.id.to_string()])
            .await
            .json();
        let t = app
            .rest(
                Method::POST,
                "/v1/oauth2/token",
                Auth::None,
                Some(&json!({
                "client_id": client["client_id"], "client_secret": client["client_secret"]})),
            )
            .await;
        t.assert_status(200);
        let org_token = t.json["access_token"].as_str().unwrap().to_string();
        let r = call(
            &app,
            Method::POST,
            &path,
            &org_token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        r.assert_status(200);
        // Taken: another organization cannot accept it too.
        let r = call(
            &app,
            Method::POST,
            &path,
            &stranger.owner.token,
            &stranger.uuid,
            &stranger.uuid,
            None,
        )
        .await;
        assert_detail(&r, 409, "ALREADY_ACCEPTED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_a_guest_disconnects_it() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let host_member = member(&app, &host, "hmember", "member").await;
        let accepted = connect(&app, &host, &guest).await;
        let path = format!("/v1/guest-connections/{}", guest.uuid);
        let patch =
            |token: String, requester: String, target: String, path: String, body: Value| {
                let app = app.clone();
                async move {
                    call(
                        &app,
                        Method::PATCH,
                        &path,
                        &token,
                        &requester,
                        &target,
                        Some(body),
                    )
                    .await
                }
            };
        // Host only (Target = the guest), settings permission; the path names the Target.
        let r = patch(
            host_member.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            guest.owner.token.clone(),
            guest.uuid.clone(),
            host.uuid.clone(),
            format!("/v1/guest-connections/{}", host.uuid),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            host.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        // The path names another organization than the Target.
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({}),
        )
        .await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["body.archived".to_string()]),
            "{}",
            r.text
        );

        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], json!("disconnected"), "{}", r.text);
        assert_eq!(r.json["archived"], json!(true));
        assert!(r.json["archived_at"].is_string());
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        assert_detail(
            &partners(&app, &host.owner, &host, &guest).await,
            403,
            "PERMISSION_DENIED",
        );
        let hosts = |statuses: &'static str| {
            let app = app.clone();
            let guest = guest.clone();
            async move {
                let r = call(
                    &app,
                    Method::GET,
                    &format!("/v1/host-connections{statuses}"),
                    &guest.owner.token,
                    &guest.uuid,
                    &guest.uuid,
                    None,
                )
                .await;
                r.assert_status(200);
                r.json["total_items"].as_i64().unwrap()
            }
        };
        assert_eq!(hosts("?statuses=connected").await, 0);
        assert_eq!(hosts("?statuses=disconnected").await, 1);
        assert_eq!(hosts("?statuses=connected&statuses=disconnected").await, 1);
        assert_eq!(hosts("").await, 1);
        let r = call(
            &app,
            Method::GET,
            "/v1/host-connections?statuses=pending",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["query.statuses.0".to_string()]),
            "{}",
            r.text
        );
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(list.json["items"][0]["id"], accepted["id"]);
        assert_eq!(
            list.json["items"][0]["archived"],
            json!(true),
            "the invitation shows it: {}",
            list.text
        );

        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": false}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], json!("connected"));
        assert_eq!(r.json["archived_at"], Value::Null);
        partners(&app, &guest.owner, &guest, &host)
            .await
            .assert_status(200);
        // No connection with a third organization to change.
        let other = new_org(&app, "other").await;
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            other.uuid.clone(),
            format!("/v1/guest-connections/{}", other.uuid),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
    })
    .await;
}

/// A host that archived its guest and invites it again: the new invitation is the one the
/// connection mirrors from then on (archiving again shows on it, not on the old one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_invited_again_after_archiving_is_mirrored_by_the_new_invitation() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "rehost").await;
        let guest = new_org(&app, "reguest").await;
        let path = format!("/v1/guest-connections/{}", guest.uuid);
        let archive = |archived: bool| {
            let (app, host, guest, path) = (app.clone(), host.clone(), guest.clone(), path.clone());
            async move {
                let r = call(
                    &app,
                    Method::PATCH,
                    &path,
                    &host.owner.token,
                    &host.uuid,
                    &guest.uuid,
                    Some(json!({"archived": archived})),
                )
                .await;
                r.assert_status(200);
                r.json
            }
        };
        let invitations = || {
            let (app, host) = (app.clone(), host.clone());
            async move {
                let r = call(
                    &app,
                    Method::GET,
                    "/v1/guest-invitations",
                    &host.owner.token,
                    &host.uuid,
                    &host.uuid,
                    None,
                )
                .await;
                r.assert_status(200);
                r.json["items"].as_array().expect("items").clone()
            }
        };
        let first = connect(&app, &host, &guest).await;
        assert_eq!(archive(true).await["status"], json!("disconnected"));

        let again = connect(&app, &host, &guest).await;
        assert_ne!(again["id"], first["id"], "a new invitation");
        let list = invitations().await;
        assert_eq!(list[0]["id"], again["id"], "newest first: {list:?}");
        assert_eq!(list[0]["archived"], json!(false), "{list:?}");
        assert_eq!(
            list[1]["archived"],
            json!(true),
            "the old one stays archived"
        );

        assert_eq!(archive(true).await["status"], json!("disconnected"));
        let list = invitations().await;
        assert_eq!(list[0]["id"], again["id"]);
        assert_eq!(
            list[0]["archived"],
            json!(true),
            "archiving shows on the invitation that made the connection now: {list:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_422_and_stores_nothing() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let stranger = new_org(&app, "stranger").await;
        let post = |body: Value| {
            let app = app.clone();
            let host = host.clone();
            async move { call(&app, Method::POST, "/v1/guest-invitations", &host.owner.token, &host.uuid, &host.uuid, Some(body)).await }
        };
        let r = post(json!({})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.email".to_string(), "body.expired_at".to_string()]), "{}", r.text);
        let r = post(json!({"email": "not-an-email", "expired_at": in_days(1)})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.email".to_string()]), "{}", r.text);
        let r = post(json!({"email": "a@example.com", "expired_at": "tomorrow"})).await;
        assert_eq!(r.status.as_u16(), 422, "{}", r.text);
        let r = post(json!({"email": "a@example.com", "expired_at": in_days(1), "parent_organization_id": "nope"})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.parent_organization_id".to_string()]), "{}", r.text);
        // Another tenant's organization, or one that does not exist: the same answer.
        for parent in [stranger.uuid.clone(), uuid::Uuid::new_v4().to_string()] {
            let r = post(json!({"email": "a@example.com", "expired_at": in_days(1), "parent_organization_id": parent})).await;
            assert_eq!(locs(&r), BTreeSet::from(["body.parent_organization_id".to_string()]), "{}", r.text);
            assert_eq!(r.json["detail"][0]["msg"], json!("must be the host organization or one below it"));
        }
        let r = send(app.http.post(app.url("/v1/guest-invitations"))
            .header("Authorization", format!("Bearer {}", host.owner.token))
            .header("content-type", "application/json")
            .body(json!({"email": "a@example.com", "expired_at": in_days(1)}).to_string())).await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["header.requester-organization-id".to_string(), "header.target-organization-id".to_string()]),
            "{}",
            r.text
        );
        let r = call(&app, Method::GET, "/v1/guest-connections?limit=0", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(locs(&r), BTreeSet::from(["query.limit".to_string()]), "{}", r.text);
        let r = call(&app, Method::GET, "/v1/guest-invitations?limit=101", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(locs(&r), BTreeSet::from(["query.limit".to_string()]), "{}", r.text);
        let list = call(&app, Method::GET, "/v1/guest-invitations", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(list.json["total_items"], json!(0), "nothing stored: {}", list.text);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invitations_and_accepts_leave_one_row() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let mut sends = Vec::new();
        for _ in 0..12 {
            let (app, host) = (app.clone(), host.clone());
            sends.push(tokio::spawn(async move {
                call(
                    &app,
                    Method::POST,
                    "/v1/guest-invitations",
                    &host.owner.token,
                    &host.uuid,
                    &host.uuid,
                    Some(json!({"email": "same@example.com", "expired_at": in_days(2)})),
                )
                .await
            }));
        }
        let mut ids = BTreeSet::new();
        for s in sends {
            let r = s.await.unwrap();
            r.assert_status(201);
            ids.insert(r.json["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1, "one invitation: {ids:?}");
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(list.json["total_items"], json!(1), "{}", list.text);
        let token = list.json["items"][0]["invitation_token"]
            .as_str()
            .unwrap()
            .to_string();

        // Six organizations accept at once, each twice: one of them wins, once.
        let mut guests = Vec::new();
        for i in 0..6 {
            guests.push(new_org(&app, &format!("guest{i}")).await);
        }
        let mut accepts = Vec::new();
        for g in guests.iter().chain(guests.iter()) {
            let (app, g, token) = (app.clone(), g.clone(), token.clone());
            accepts.push(tokio::spawn(async move {
                (g.uuid.clone(), accept(&app, &g, &token).await)
            }));
        }
        let mut winners = BTreeSet::new();
        for a in accepts {
            let (uuid, r) = a.await.unwrap();
            match r.status.as_u16() {
                200 => {
                    winners.insert(uuid);
                }
                409 => assert_detail(&r, 409, "ALREADY_ACCEPTED"),
                s => panic!("accept answered {s}: {}", r.text),
            }
        }
        assert_eq!(winners.len(), 1, "one guest: {winners:?}");
        let guests_list = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            guests_list.json["total_items"],
            json!(1),
            "{}",
            guests_list.text
        );
        assert_eq!(
            guests_list.json["items"][0]["guest_organization_id"],
            json!(winners.first().unwrap())
        );

        // Two invitations accepted by the same guest at once: still one connection.
        let guest = new_org(&app, "twice").await;
        let a = invite(&app, &host, "first@example.com", &in_days(2)).await;
        let b = invite(&app, &host, "second@example.com", &in_days(2)).await;
        let (ra, rb) = tokio::join!(
            accept(&app, &guest, a["invitation_token"].as_str().unwrap()),
            accept(&app, &guest, b["invitation_token"].as_str().unwrap())
        );
        ra.assert_status(200);
        rb.assert_status(200);
        let r = call(
            &app,
            Method::GET,
            "/v1/host-connections",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(r.json["total_items"], json!(1), "{}", r.text);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_invitation_is_a_guest_invitation() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let created = call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Guest Ltd", &guest.owner.email)),
        )
        .await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        let r = call(
            &app,
            Method::POST,
            &format!("/v1/partners/{id}/invitation"),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["invitation_status"], json!("invited"), "{}", r.text);
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(list.json["total_items"], json!(1), "{}", list.text);
        let inv = &list.json["items"][0];
        assert_eq!(inv["email"], json!(guest.owner.email));
        let days = (utc(&inv["expired_at"]) - chrono::Utc::now()).num_hours();
        assert!((13 * 24..=14 * 24).contains(&days), "open 14 days: {inv}");
        accept(&app, &guest, inv["invitation_token"].as_str().unwrap())
            .await
            .assert_status(200);
        let got = call(
            &app,
            Method::GET,
            &format!("/v1/partners/{id}"),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            got.json["invitation_status"],
            json!("accepted"),
            "{}",
            got.text
        );
        assert_eq!(got.json["guest_organization_id"], json!(guest.uuid));
        // A guest invitation to a record's email marks it too.
        let other = call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Other", "other@example.com")),
        )
        .await;
        invite(&app, &host, "Other@Example.com", &in_days(2)).await;
        let got = call(
            &app,
            Method::GET,
            &format!("/v1/partners/{}", other.json["id"].as_str().unwrap()),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            got.json["invitation_status"],
            json!("invited"),
            "{}",
            got.text
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_invite_accept_and_list() {
    use orgd::proto::v1 as pb;
    use orgd::proto::v1::guest_connection_service_client::GuestConnectionServiceClient;
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let mut svc = GuestConnectionServiceClient::new(app.channel().await);
        let expires = chrono::Utc::now() + chrono::Duration::days(1);
        let sent = svc
            .create_guest_invitation(bearer(
                pb::CreateGuestInvitationRequest {
                    requester_organization_id: host.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    invitation: Some(pb::GuestInvitationInput {
                        email: guest.owner.email.clone(),
                        expired_at: Some(prost_types::Timestamp {
                            seconds: expires.timestamp(),
                            nanos: 0,
                        }),
                        parent_organization_id: None,
                    }),
                },
                &host.owner.token,
            ))
            .await
            .expect("create")
            .into_inner()
            .guest_invitation
            .unwrap();
        assert_eq!(sent.status(), pb::GuestInvitationStatus::Sent);
        let missing = svc
            .create_guest_invitation(bearer(
                pb::CreateGuestInvitationRequest {
                    requester_organization_id: host.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    invitation: Some(pb::GuestInvitationInput::default()),
                },
                &host.owner.token,
            ))
            .await;
        assert_code(missing, tonic::Code::InvalidArgument);
        let accepted = svc
            .accept_guest_invitation(bearer(
                pb::AcceptGuestInvitationRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: guest.uuid.clone(),
                    invitation_token: sent.invitation_token.clone(),
                },
                &guest.owner.token,
            ))
            .await
            .expect("accept")
            .into_inner()
            .guest_invitation
            .unwrap();
        assert_eq!(accepted.status(), pb::GuestInvitationStatus::Accepted);
        let hosts = svc
            .list_host_connections(bearer(
                pb::ListHostConnectionsRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: guest.uuid.clone(),
                    statuses: vec![pb::ConnectionStatus::Connected as i32],
                    ..Default::default()
                },
                &guest.owner.token,
            ))
            .await
            .expect("hosts")
            .into_inner();
        assert_eq!(hosts.total_items, 1);
        assert_eq!(hosts.items[0].host_organization_id, host.uuid);
        let denied = svc
            .list_guest_connections(bearer(
                pb::ListGuestConnectionsRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    ..Default::default()
                },
                &guest.owner.token,
            ))
            .await;
        assert_code(denied, tonic::Code::PermissionDenied);
    })
    .await;
}
