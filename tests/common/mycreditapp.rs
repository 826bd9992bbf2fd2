//! The MyCreditApp partner directory (`/v1`, a bearer token and the two headers
//! `Requester-Organization-ID` and `Target-Organization-ID`): its calls, the guest
//! invitations that connect two organizations as host and guest, the partner's shape, and
//! its error bodies (`{"detail": [...]}`, FastAPI's).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::{App, Org, Resp, send};

/// A directory call with the two MyCreditApp headers (None leaves a header out).
#[allow(clippy::too_many_arguments)]
pub async fn dir(
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

/// Connects `a` and `b` as host and guest (a's owner sends a guest invitation to b's
/// owner, who accepts it for b).
pub async fn partner_up(app: &App, a: &Org, b: &Org) {
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let sent = dir(
        app,
        Method::POST,
        "/v1/guest-invitations",
        Some(&a.owner.token),
        Some(&a.uuid),
        Some(&a.uuid),
        Some(&json!({"email": b.owner.email, "expired_at": expires})),
    )
    .await;
    sent.assert_status(201);
    let token = sent.json["invitation_token"].as_str().expect("token");
    accept_guest(app, b, token).await;
}

/// The open guest invitation `host` sent to `email`, as its owner lists it.
pub async fn guest_invitation_to(app: &App, host: &Org, email: &str) -> Option<Value> {
    let list = dir(
        app,
        Method::GET,
        "/v1/guest-invitations",
        Some(&host.owner.token),
        Some(&host.uuid),
        Some(&host.uuid),
        None,
    )
    .await;
    list.assert_status(200);
    list.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["email"] == json!(email.to_lowercase()) && i["status"] == json!("sent"))
        .cloned()
}

/// `guest`'s owner accepts the guest invitation `token` for `guest`.
pub async fn accept_guest(app: &App, guest: &Org, token: &str) -> Value {
    let r = dir(
        app,
        Method::POST,
        &format!("/v1/guest-invitations/{token}/accept"),
        Some(&guest.owner.token),
        Some(&guest.uuid),
        Some(&guest.uuid),
        None,
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], json!("accepted"), "{}", r.text);
    r.json
}

/// Who calls and on which directory.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub app: &'a App,
    pub token: &'a str,
    pub requester: &'a str,
    pub target: &'a str,
}

impl<'a> Ctx<'a> {
    pub fn new(app: &'a App, token: &'a str, requester: &'a str, target: &'a str) -> Ctx<'a> {
        Ctx {
            app,
            token,
            requester,
            target,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
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

    pub async fn list(&self, query: &str) -> Resp {
        self.call(Method::GET, &format!("/v1/partners?{query}"), None)
            .await
    }

    /// The list, asserting 200 and the response shape.
    pub async fn list_ok(&self, query: &str) -> (Vec<Value>, i64) {
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

    pub async fn create(&self, body: &Value) -> Resp {
        self.call(Method::POST, "/v1/partners", Some(body)).await
    }

    pub async fn create_ok(&self, body: &Value) -> Value {
        let r = self.create(body).await;
        r.assert_status(201);
        assert_partner_shape(&r.json);
        r.json
    }

    pub async fn get(&self, id: &str) -> Resp {
        self.call(Method::GET, &format!("/v1/partners/{id}"), None)
            .await
    }

    pub async fn patch(&self, id: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, &format!("/v1/partners/{id}"), Some(body))
            .await
    }

    pub async fn delete(&self, id: &str) -> Resp {
        self.call(Method::DELETE, &format!("/v1/partners/{id}"), None)
            .await
    }

    pub async fn invite(&self, id: &str) -> Resp {
        self.call(Method::POST, &format!("/v1/partners/{id}/invitation"), None)
            .await
    }
}

pub const PARTNER_KEYS: &[&str] = &[
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
pub fn assert_partner_shape(p: &Value) {
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
pub fn detail(r: &Resp, status: u16) -> Vec<Value> {
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
pub fn assert_plain_error(r: &Resp, status: u16) {
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
pub fn assert_422(r: &Resp, expected: &[[&str; 2]]) {
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
