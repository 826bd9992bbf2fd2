//! Helpers for the giosg v3 network API suites (`v3_invitations`, `v3_partnerships`): active
//! organizations with an email, invitations sent and accepted over `/api/v3/network`, and
//! the published attribute lists.

#![allow(dead_code)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

pub const OUTGOING: &str = "/api/v3/network/invitations/outgoing/";
pub const INCOMING: &str = "/api/v3/network/invitations/incoming/";
pub const PARTNERSHIPS: &str = "/api/v3/network/partnerships/";

/// An organization in state active with an email, owned by `owner`.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub owner: User,
}

pub async fn active_org(app: &App, label: &str) -> Org {
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

pub async fn call(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.rest(method, path, Auth::Token(token), body.as_ref())
        .await
}

pub async fn get(app: &App, path: &str, token: &str) -> Resp {
    call(app, Method::GET, path, token, None).await
}

/// A user added to `org` with `role`.
pub async fn member(app: &App, org: &Org, label: &str, role: &str) -> User {
    let user = app.user(label).await;
    app.member_add(org.id, &user.email, role).await;
    user
}

/// `from` invites `to_email` over v3; returns the outgoing invitation.
pub async fn invite(app: &App, from: &Org, to_email: &str, visible: bool) -> Value {
    let r = call(
        app,
        Method::POST,
        OUTGOING,
        &from.owner.token,
        Some(
            json!({"email": to_email, "message": "hello", "partner_visible_to_everyone": visible}),
        ),
    )
    .await;
    r.assert_status(201);
    r.json
}

/// The key of an invitation as `token`'s caller sees it among its incoming ones.
pub async fn key_of(app: &App, token: &str, invitation_id: i64) -> String {
    let list = get(app, &format!("{INCOMING}?page_size=200"), token).await;
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

pub fn accept_path(key: &str) -> String {
    format!("{INCOMING}{key}/accept")
}

pub fn reject_path(key: &str) -> String {
    format!("{INCOMING}{key}/reject")
}

/// Makes `a` and `b` partners over v3 (a invites b's email, b accepts); returns the
/// accepted invitation.
pub async fn partner_up(app: &App, a: &Org, b: &Org) -> Value {
    let sent = invite(app, a, &b.email, true).await;
    let key = key_of(app, &b.owner.token, sent["id"].as_i64().unwrap()).await;
    let r = call(
        app,
        Method::POST,
        &accept_path(&key),
        &b.owner.token,
        Some(json!({"visible_to_everyone": true})),
    )
    .await;
    r.assert_status(200);
    r.json
}

/// `org`'s own side of its partnership with `partner`, from the v3 list.
pub async fn side(app: &App, org: &Org, partner: &Org) -> Value {
    let list = get(
        app,
        &format!("{PARTNERSHIPS}?page_size=100"),
        &org.owner.token,
    )
    .await;
    list.assert_status(200);
    list.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|p| p["partner_company_id"] == json!(partner.id))
        .unwrap_or_else(|| panic!("partnership with {} in {}", partner.id, list.text))
        .clone()
}

#[track_caller]
pub fn assert_detail(r: &Resp, status: u16) {
    r.assert_status(status);
    assert!(
        r.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "giosg error body {{\"detail\": ...}}: {}",
        r.text
    );
}

#[track_caller]
pub fn assert_field_error(r: &Resp, field: &str) {
    r.assert_status(400);
    assert!(
        r.json[field].as_array().is_some_and(|a| !a.is_empty()),
        "validation body {{\"{field}\": [...]}}: {}",
        r.text
    );
}

#[track_caller]
pub fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v.as_object().unwrap_or_else(|| panic!("object: {v}"));
    let mut have: Vec<&str> = obj.keys().map(String::as_str).collect();
    have.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(have, want, "keys of {v}");
}

/// The published invitation attributes (`key` is null on outgoing ones).
pub const INVITATION_KEYS: &[&str] = &[
    "id",
    "key",
    "status",
    "email",
    "message",
    "partner_display_name",
    "partner_visible_to_everyone",
    "room_shares",
    "team_shares",
    "created_at",
    "creator_company_id",
    "creator_company",
    "creator_person_id",
    "creator_person",
    "resolved_at",
    "resolver_company_id",
    "resolver_company",
    "resolver_person_id",
    "resolver_person",
];

/// The published partnership attributes.
pub const PARTNERSHIP_KEYS: &[&str] = &[
    "id",
    "created_at",
    "partner_company_id",
    "partner_company",
    "company_id",
    "company",
    "display_name",
    "visible_to_everyone",
    "incoming_invitation_id",
    "incoming_invitation",
    "outgoing_invitation_id",
    "outgoing_invitation",
];

pub const COMPANY_KEYS: &[&str] = &["id", "name", "email", "created_at"];
pub const PERSON_KEYS: &[&str] = &["id", "full_name", "email"];

/// The `id`s of a v3 page's results.
pub fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {page}"))
        .iter()
        .map(|r| r["id"].as_i64().expect("integer id"))
        .collect()
}

/// The path and query of an absolute `next` / `previous` link of this server.
pub fn local(app: &App, link: &Value) -> String {
    let url = link.as_str().unwrap_or_else(|| panic!("link: {link}"));
    let prefix = format!("http://{}", app.addr);
    url.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is absolute on {prefix}"))
        .to_string()
}
