//! The GroupAlarm Organization API (`/api/v1`) against a real server, over REST with every
//! status code each operation can answer and over native gRPC: organizations (CRUD, their
//! input and who may do what to them), children, availability and its history, avatar,
//! location, owners and owner invitations, quick actions, paginated top-level organizations
//! and the trial, the hierarchy's permission rules, and real concurrent requests.
//! Each test runs on SQLite and (when configured) PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod availability;
mod avatar;
mod avatar_url;
mod children;
mod grpc;
mod location;
mod organization_access;
mod organization_validation;
mod organizations;
mod owned_organizations;
mod owner_invitations;
mod owners;
mod paginated_organizations;
mod permissions;
mod quick_actions;
mod trial;
mod zero_values;

use std::collections::HashSet;

use base64::Engine;
use common::*;
use orgd::proto::v1::availability_service_client::AvailabilityServiceClient;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

/// `/api/v1/organization/{id}{tail}`.
fn org_path(id: impl std::fmt::Display, tail: &str) -> String {
    format!("/api/v1/organization/{id}{tail}")
}

const MISSING: i64 = 999_999;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64 constant")
}

/// A real 1×1 RGBA PNG.
fn png() -> Vec<u8> {
    unb64(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    )
}

fn webp() -> Vec<u8> {
    unb64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
}

/// The JSON body of PUT avatar: a JSON string holding base64.
fn avatar_body(bytes: &[u8]) -> Value {
    Value::String(b64(bytes))
}

#[track_caller]
fn assert_empty_200(r: &Resp, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        200,
        "{what}: expected 200, got {} {}",
        r.status,
        r.text
    );
    assert!(
        r.text.trim().is_empty(),
        "{what}: 200 with an empty body, got {:?}",
        r.text
    );
}

/// Asserts the GroupAlarm error body with a description of the request.
#[track_caller]
fn expect_error(r: &Resp, status: u16, reason: &str, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{what}: expected {status} {reason}, got {} {}",
        r.status,
        r.text
    );
    r.assert_error(status, reason);
}

#[track_caller]
fn expect_status(r: &Resp, status: u16, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{what}: expected {status}, got {} {}",
        r.status,
        r.text
    );
}

fn counts(available: i64, in_event: i64, not_available: i64) -> Value {
    json!({
        "countAvailable": available,
        "countInEvent": in_event,
        "countNotAvailable": not_available,
    })
}

/// An organization's JSON without the availability counts, which only GetOrganization must
/// fill in (lists and create responses may leave them null).
fn without_counts(org: &Value) -> Value {
    let mut org = org.clone();
    if let Some(obj) = org.as_object_mut() {
        obj.remove("availableUsers");
        obj.remove("availableUsersTotal");
    }
    org
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[track_caller]
fn owner_ids(org: &Value) -> Vec<i64> {
    sorted(
        org["ownerIDs"]
            .as_array()
            .unwrap_or_else(|| panic!("ownerIDs is an array: {org}"))
            .iter()
            .map(|v| v.as_i64().expect("owner id is a number"))
            .collect(),
    )
}

impl App {
    async fn get(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.rest(Method::GET, path, auth, None).await
    }

    /// GET `path` as `token` (Bearer), asserting 200.
    async fn get_ok(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Auth::Bearer(token)).await;
        expect_status(&r, 200, &format!("GET {path}"));
        r.json
    }

    async fn org_json(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, ""), token).await
    }

    async fn put_avatar(&self, token: &str, id: i64, bytes: &[u8]) -> Resp {
        self.rest(
            Method::PUT,
            &org_path(id, "/avatar"),
            Auth::Bearer(token),
            Some(&avatar_body(bytes)),
        )
        .await
    }

    async fn quick_actions(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, "/quick-actions"), token).await
    }

    async fn invitations(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, "/owner/invitations"), token)
            .await
    }

    async fn invite(&self, token: &str, id: i64, email: &str) -> Resp {
        self.rest(
            Method::POST,
            &org_path(id, "/owner/invitations"),
            Auth::Bearer(token),
            Some(&json!({ "email": email })),
        )
        .await
    }

    async fn accept(&self, auth: Auth<'_>, id: i64, invitation: &str) -> Resp {
        self.rest(
            Method::POST,
            &org_path(id, &format!("/owner/invitations/{invitation}/accept")),
            auth,
            None,
        )
        .await
    }

    /// The avatar bytes and content type behind the organization's avatarURL (None: "").
    async fn avatar_of(&self, token: &str, id: i64) -> Option<(Vec<u8>, String)> {
        let org = self.org_json(token, id).await;
        let url = org["avatarURL"]
            .as_str()
            .filter(|u| !u.is_empty())?
            .to_string();
        let resp = self
            .http
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("GET avatar");
        assert_eq!(resp.status().as_u16(), 200, "GET {url}");
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Some((resp.bytes().await.unwrap().to_vec(), ct))
    }
}

async fn availability_client(app: &App) -> AvailabilityServiceClient<tonic::transport::Channel> {
    AvailabilityServiceClient::connect(app.endpoint())
        .await
        .expect("connect AvailabilityService")
}

async fn set_status(
    app: &App,
    token: &str,
    organization: &str,
    user: &str,
    status: AvailabilityStatus,
) -> Result<tonic::Response<SetUserAvailabilityResponse>, tonic::Status> {
    availability_client(app)
        .await
        .set_user_availability(bearer(
            SetUserAvailabilityRequest {
                organization: organization.to_string(),
                user: user.to_string(),
                status: status as i32,
            },
            token,
        ))
        .await
}

#[track_caller]
fn ok<T>(r: Result<tonic::Response<T>, tonic::Status>, what: &str) -> T {
    match r {
        Ok(r) => r.into_inner(),
        Err(s) => panic!("{what}: {:?} {}", s.code(), s.message()),
    }
}

fn quick_action(name: &str) -> Value {
    json!({
        "name": name,
        "color": "#ff0000",
        "icon": "bell",
        "one_click": true,
        "resource": "alarm_template",
        "resource_id": 7,
    })
}

#[track_caller]
fn names_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a JSON array: {list}"))
        .iter()
        .map(|q| q["name"].as_str().expect("name").to_string())
        .collect()
}
