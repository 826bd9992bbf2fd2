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

mod connections;
mod invitations;
mod who_may_and_how_often;

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
