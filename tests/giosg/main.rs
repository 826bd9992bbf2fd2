//! The giosg Partnerships API (`/api/v5`) against a real server, over REST (`Authorization:
//! Token`) and gRPC: invitations, partnerships on both sides, partners and their users, your
//! own organization and users, presence, cursor pagination, every listed status code, and
//! concurrent accepts. Each test runs on SQLite and (when configured) PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod grpc;
mod invitations;
mod own_organization;
mod pagination;
mod partnerships;
mod presence;
mod status_codes;

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
