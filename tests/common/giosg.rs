//! The giosg Partnerships API (`/api/v5`, `Authorization: Token`): its calls, its error
//! bodies, and the invitation steps that make two organizations partners.

use reqwest::Method;
use serde_json::{Value, json};

use super::{App, Auth, Org, Resp};

/// A giosg call as the user holding `token`.
pub async fn call(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.rest(method, path, Auth::Token(token), body.as_ref())
        .await
}

pub async fn get(app: &App, path: &str, token: &str) -> Resp {
    call(app, Method::GET, path, token, None).await
}

/// `from` invites `to_email` (an organization's email or a user's); returns the outgoing
/// invitation.
pub async fn invite(app: &App, from: &Org, to_email: &str, display: Option<&str>) -> Value {
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

/// Invitation `id` as the user holding `token` sees it among their incoming invitations.
pub async fn incoming(app: &App, token: &str, id: &str) -> Value {
    let list = get(app, "/api/v5/incoming_invitations?page_size=100", token).await;
    list.assert_status(200);
    list.json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("incoming invitations carry results: {}", list.text))
        .iter()
        .find(|i| i["id"] == json!(id))
        .unwrap_or_else(|| panic!("incoming invitation {id} is listed: {}", list.text))
        .clone()
}

/// The key of an invitation as the invited user sees it.
pub async fn key_of(app: &App, token: &str, invitation_id: &str) -> String {
    let found = incoming(app, token, invitation_id).await;
    found["key"].as_str().expect("incoming key").to_string()
}

/// Makes `a` and `b` partners: `a` invites `b` by its organization email (see
/// [`Org::active`]) and `b`'s owner accepts; returns the accepted invitation.
pub async fn partner_up(app: &App, a: &Org, b: &Org) -> Value {
    let sent = invite(app, a, b.email(), None).await;
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

/// The giosg error body `{"detail": "..."}` with `status`.
#[track_caller]
pub fn assert_detail(r: &Resp, status: u16) {
    r.assert_status(status);
    assert!(
        r.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "giosg error body {{\"detail\": ...}}: {}",
        r.text
    );
}

/// The giosg validation body: 400 with `{"FIELD": ["..."]}`.
#[track_caller]
pub fn assert_field_error(r: &Resp, field: &str) {
    r.assert_status(400);
    assert!(
        r.json[field].as_array().is_some_and(|a| !a.is_empty()),
        "validation body {{\"{field}\": [...]}}: {}",
        r.text
    );
}
