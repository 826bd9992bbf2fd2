//! The MyCreditApp partner directory (`/v1`) against a real server: every list filter and
//! order field, pagination, the 422 rules of each parameter with their `loc`, the
//! requester/target rules across organizations connected by giosg partnerships, the
//! invitation flow, CRUD status codes, the OAuth2 token endpoint and the gRPC service.
//! Each test runs on SQLite and (when configured) PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod crud;
mod grpc;
mod invitations;
mod listing;
mod oauth;
mod pagination;
mod requester_and_target;
mod validation;

use std::collections::{BTreeSet, HashSet};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::organization_partner_service_client::OrganizationPartnerServiceClient;

/// An organization created through GroupAlarm by its owner.
#[derive(Clone, Debug)]
struct Org {
    id: i64,
    uuid: String,
    owner: User,
}

async fn new_org(app: &App, label: &str) -> Org {
    let owner = app.user(label).await;
    let org = app.org(&owner.token, &unique(label)).await;
    Org {
        id: id_of(&org),
        uuid: org["uuid"].as_str().expect("organization uuid").to_string(),
        owner,
    }
}

/// A new user added to `org` with `role`.
async fn member(app: &App, org: &Org, label: &str, role: &str) -> User {
    let user = app.user(label).await;
    app.member_add(org.id, &user.email, role).await;
    user
}

/// A giosg call (`Authorization: Token`).
async fn giosg(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.rest(method, path, Auth::Token(token), body.as_ref())
        .await
}

/// The key of invitation `id` as the user holding `token` sees it among incoming invitations.
async fn incoming(app: &App, token: &str, id: &str) -> Value {
    let list = giosg(
        app,
        Method::GET,
        "/api/v5/incoming_invitations?page_size=100",
        token,
        None,
    )
    .await;
    list.assert_status(200);
    list.json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("incoming invitations carry results: {}", list.text))
        .iter()
        .find(|i| i["id"] == json!(id))
        .unwrap_or_else(|| panic!("incoming invitation {id} is listed: {}", list.text))
        .clone()
}

/// Accepts invitation `key` as `user` for `org`; asserts status 1.
async fn accept(app: &App, user: &User, org: &Org, key: &str) -> Value {
    let r = giosg(
        app,
        Method::POST,
        &format!(
            "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
            org.uuid
        ),
        &user.token,
        Some(json!({})),
    )
    .await;
    r.assert_status(200);
    assert_eq!(
        r.json["status"],
        json!(1),
        "accepted invitation: {}",
        r.text
    );
    r.json
}

/// Connects `a` and `b` by a giosg partnership (a's owner invites b's owner).
async fn partner_up(app: &App, a: &Org, b: &Org) {
    let sent = giosg(
        app,
        Method::POST,
        &format!("/api/v5/outgoing_invitations?organization_id={}", a.uuid),
        &a.owner.token,
        Some(json!({"email": b.owner.email})),
    )
    .await;
    sent.assert_status(201);
    let id = sent.json["id"].as_str().expect("invitation id").to_string();
    let found = incoming(app, &b.owner.token, &id).await;
    let key = found["key"].as_str().expect("incoming key").to_string();
    accept(app, &b.owner, b, &key).await;
}

/// A directory call with the two MyCreditApp headers (None leaves a header out).
#[allow(clippy::too_many_arguments)]
async fn dir(
    app: &App,
    method: Method,
    path: &str,
    token: Option<&str>,
    requester: Option<&str>,
    target: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(r) = requester {
        req = req.header("Requester-Organization-ID", r);
    }
    if let Some(t) = target {
        req = req.header("Target-Organization-ID", t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    send(req).await
}

/// Who calls and on which directory.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    app: &'a App,
    token: &'a str,
    requester: &'a str,
    target: &'a str,
}

impl<'a> Ctx<'a> {
    fn new(app: &'a App, token: &'a str, requester: &'a str, target: &'a str) -> Ctx<'a> {
        Ctx {
            app,
            token,
            requester,
            target,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        dir(
            self.app,
            method,
            path,
            Some(self.token),
            Some(self.requester),
            Some(self.target),
            body,
        )
        .await
    }

    async fn list(&self, query: &str) -> Resp {
        self.call(Method::GET, &format!("/v1/partners?{query}"), None)
            .await
    }

    /// The list, asserting 200 and the response shape.
    async fn list_ok(&self, query: &str) -> (Vec<Value>, i64) {
        let r = self.list(query).await;
        r.assert_status(200);
        let obj = r.json.as_object().expect("list body is an object");
        let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["items", "total_items"]),
            "list body keys: {}",
            r.text
        );
        let items = r.json["items"].as_array().expect("items").clone();
        for item in &items {
            assert_partner_shape(item);
        }
        let total = r.json["total_items"].as_i64().expect("total_items");
        (items, total)
    }

    async fn create(&self, body: &Value) -> Resp {
        self.call(Method::POST, "/v1/partners", Some(body)).await
    }

    async fn create_ok(&self, body: &Value) -> Value {
        let r = self.create(body).await;
        r.assert_status(201);
        assert_partner_shape(&r.json);
        r.json
    }

    async fn get(&self, id: &str) -> Resp {
        self.call(Method::GET, &format!("/v1/partners/{id}"), None)
            .await
    }

    async fn patch(&self, id: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, &format!("/v1/partners/{id}"), Some(body))
            .await
    }

    async fn delete(&self, id: &str) -> Resp {
        self.call(Method::DELETE, &format!("/v1/partners/{id}"), None)
            .await
    }

    async fn invite(&self, id: &str) -> Resp {
        self.call(Method::POST, &format!("/v1/partners/{id}/invitation"), None)
            .await
    }
}

const PARTNER_KEYS: &[&str] = &[
    "id",
    "company_name",
    "sales_amount",
    "partner_type",
    "email",
    "frequency",
    "payment_terms",
    "address",
    "city",
    "state",
    "postal_code",
    "country_code",
    "company_registration_number",
    "created_at",
    "updated_at",
    "invitation_status",
    "guest_organization_id",
];

#[track_caller]
fn assert_partner_shape(p: &Value) {
    let obj = p
        .as_object()
        .unwrap_or_else(|| panic!("partner is an object: {p}"));
    for key in PARTNER_KEYS {
        assert!(obj.contains_key(*key), "partner lacks {key:?}: {p}");
    }
    let id = p["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is a UUID: {p}");
    assert!(p["company_name"].is_string(), "company_name: {p}");
    assert!(
        p["sales_amount"].is_i64(),
        "sales_amount is an integer: {p}"
    );
    assert!(
        ["customer", "supplier"].contains(&p["partner_type"].as_str().unwrap_or("")),
        "partner_type: {p}"
    );
    assert!(p["email"].is_string(), "email: {p}");
    assert!(p["frequency"].is_string(), "frequency: {p}");
    assert!(p["payment_terms"].is_string(), "payment_terms: {p}");
    for key in [
        "address",
        "city",
        "state",
        "postal_code",
        "country_code",
        "company_registration_number",
    ] {
        assert!(
            p[key].is_null() || p[key].is_string(),
            "{key} is a string or null: {p}"
        );
    }
    for key in ["created_at", "updated_at"] {
        let s = p[key].as_str().unwrap_or_else(|| panic!("{key}: {p}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "{key} is RFC 3339: {p}"
        );
    }
    assert!(
        p["invitation_status"].is_null()
            || ["invited", "accepted"].contains(&p["invitation_status"].as_str().unwrap_or("")),
        "invitation_status: {p}"
    );
    assert!(
        p["guest_organization_id"].is_null()
            || p["guest_organization_id"]
                .as_str()
                .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
        "guest_organization_id: {p}"
    );
}

/// The MyCreditApp error body: `{"detail": [{"loc": [...], "msg", "type", "code"}]}`.
#[track_caller]
fn detail(r: &Resp, status: u16) -> Vec<Value> {
    r.assert_status(status);
    let list = r.json["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("error body {{\"detail\": [...]}}: {}", r.text))
        .clone();
    assert!(!list.is_empty(), "detail is not empty: {}", r.text);
    for d in &list {
        assert!(d["loc"].is_array(), "detail loc is a list: {}", r.text);
        assert!(d["msg"].is_string(), "detail msg is a string: {}", r.text);
        assert!(
            d["type"].is_string() && d["code"].is_string(),
            "detail type and code: {}",
            r.text
        );
    }
    list
}

/// 401/403/404/409: one detail with `loc: []`.
#[track_caller]
fn assert_plain_error(r: &Resp, status: u16) {
    let list = detail(r, status);
    for d in &list {
        assert_eq!(
            d["loc"],
            json!([]),
            "loc is [] for HTTP {status}: {}",
            r.text
        );
    }
}

/// A 422 whose detail names exactly these locations (compared by their first two parts, so
/// `["query", "partner_ids", 0]` matches `["query", "partner_ids"]`).
#[track_caller]
fn assert_422(r: &Resp, expected: &[[&str; 2]]) {
    let list = detail(r, 422);
    let got: BTreeSet<(String, String)> = list
        .iter()
        .map(|d| {
            let loc = d["loc"].as_array().expect("loc");
            let part = |i: usize| match loc.get(i) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            (part(0), part(1))
        })
        .collect();
    let want: BTreeSet<(String, String)> = expected
        .iter()
        .map(|[a, b]| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "422 locations: {}", r.text);
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

fn id_set(items: &[Value]) -> BTreeSet<String> {
    ids(items).into_iter().collect()
}

fn sid(p: &Value) -> String {
    p["id"].as_str().expect("partner id").to_string()
}

/// A minimal valid create body.
fn body(name: &str, kind: &str, email: &str) -> Value {
    json!({"company_name": name, "partner_type": kind, "email": email})
}

/// Every page of `query` (without limit/offset) with page size `limit`.
async fn all_pages(ctx: &Ctx<'_>, query: &str, limit: usize) -> (Vec<Value>, i64) {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut total = None;
    loop {
        let (items, t) = ctx
            .list_ok(&format!("{query}&limit={limit}&offset={offset}"))
            .await;
        if let Some(prev) = total {
            assert_eq!(prev, t, "total_items is the same on every page of {query}");
        }
        total = Some(t);
        assert!(items.len() <= limit, "a page holds at most limit items");
        let n = items.len();
        out.extend(items);
        if n < limit {
            break;
        }
        offset += limit;
        assert!(offset <= 1000, "runaway pagination");
    }
    (out, total.unwrap())
}

const BOTH: &str = "partner_types=customer&partner_types=supplier";
