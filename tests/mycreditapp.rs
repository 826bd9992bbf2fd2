//! The MyCreditApp partner directory (`/v1`) against a real server: every list filter and
//! order field, pagination, the 422 rules of each parameter with their `loc`, the
//! requester/target rules across organizations connected as host and guest, the
//! invitation flow, CRUD status codes, the OAuth2 token endpoint and the gRPC service.
//! Each test runs on SQLite and (when configured) PostgreSQL.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::organization_partner_service_client::OrganizationPartnerServiceClient;

// ---------------------------------------------------------------------------------------
// Helpers.

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

/// Connects `a` and `b` as host and guest (a's owner sends a guest invitation to b's
/// owner, who accepts it for b).
async fn partner_up(app: &App, a: &Org, b: &Org) {
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
async fn guest_invitation_to(app: &App, host: &Org, email: &str) -> Option<Value> {
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
async fn accept_guest(app: &App, guest: &Org, token: &str) -> Value {
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

// ---------------------------------------------------------------------------------------
// CRUD.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_201_with_every_key() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "create").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);

        let full = json!({
            "company_name": "Müller Logistik GmbH",
            "sales_amount": 1073741823,
            "partner_type": "supplier",
            "email": "billing@mueller.example.com",
            "frequency": "monthly",
            "payment_terms": "net 30",
            "address": "Hauptstraße 1",
            "city": "Berlin",
            "state": "BE",
            "postal_code": "10115",
            "country_code": "DE",
            "company_registration_number": "HRB 12345",
        });
        let created = ctx.create_ok(&full).await;
        for (k, v) in full.as_object().unwrap() {
            assert_eq!(&created[k], v, "{k} round-trips: {created}");
        }
        assert_eq!(created["invitation_status"], Value::Null);
        assert_eq!(created["guest_organization_id"], Value::Null);
        let created_at = utc(&created["created_at"]);
        let updated_at = utc(&created["updated_at"]);
        assert!(updated_at >= created_at, "updated_at >= created_at");

        let got = ctx.get(&sid(&created)).await;
        got.assert_status(200);
        assert_partner_shape(&got.json);
        assert_eq!(got.json, created, "GET returns what POST returned");

        // Minimal body: defaults and nulls.
        let minimal = ctx
            .create_ok(&body("Tiny Co", "customer", "tiny@example.com"))
            .await;
        assert_eq!(minimal["company_name"], json!("Tiny Co"));
        assert_eq!(minimal["partner_type"], json!("customer"));
        assert_eq!(minimal["email"], json!("tiny@example.com"));
        assert_eq!(
            minimal["sales_amount"],
            json!(0),
            "sales_amount defaults to 0"
        );
        for key in [
            "address",
            "city",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
            "invitation_status",
            "guest_organization_id",
        ] {
            assert_eq!(
                minimal[key],
                Value::Null,
                "{key} is null when unset: {minimal}"
            );
        }
        assert_ne!(minimal["id"], created["id"], "ids are distinct");

        // Explicit nulls for the optional fields are the same as leaving them out.
        let nulls = ctx
            .create_ok(&json!({
                "company_name": "Null Co",
                "partner_type": "supplier",
                "email": "null@example.com",
                "address": null,
                "city": null,
                "state": null,
                "postal_code": null,
                "country_code": null,
                "company_registration_number": null,
            }))
            .await;
        for key in [
            "address",
            "city",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
        ] {
            assert_eq!(nulls[key], Value::Null, "{key}: {nulls}");
        }
        ctx.delete(&sid(&nulls)).await.assert_status(204);

        // Both are listed.
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert_eq!(total, 2);
        assert_eq!(
            id_set(&items),
            BTreeSet::from([sid(&created), sid(&minimal)])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_validation_lists_every_bad_field() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "validate").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);

        // Every required field missing at once.
        let r = ctx.create(&json!({})).await;
        assert_422(
            &r,
            &[
                ["body", "company_name"],
                ["body", "partner_type"],
                ["body", "email"],
            ],
        );

        // Every value rule broken at once.
        let r = ctx
            .create(&json!({
                "company_name": "x".repeat(101),
                "sales_amount": -1,
                "partner_type": "customer",
                "email": "not-an-email",
                "country_code": "XX",
            }))
            .await;
        assert_422(
            &r,
            &[
                ["body", "company_name"],
                ["body", "sales_amount"],
                ["body", "email"],
                ["body", "country_code"],
            ],
        );

        // Wrong JSON types and unknown enum values.
        for (field, value) in [
            ("sales_amount", json!("x")),
            ("sales_amount", json!(1.5)),
            ("company_name", json!(42)),
            ("partner_type", json!("vendor")),
        ] {
            let mut b = body("Typed", "customer", "typed@example.com");
            b[field] = value.clone();
            let r = ctx.create(&b).await;
            assert_422(&r, &[["body", field]]);
        }

        // Malformed JSON.
        let r = send(
            app.http
                .post(app.url("/v1/partners"))
                .header("Authorization", format!("Bearer {}", a.owner.token))
                .header("Requester-Organization-ID", &a.uuid)
                .header("Target-Organization-ID", &a.uuid)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
        detail(&r, 422);

        // Boundaries that are fine.
        let ok = ctx
            .create_ok(&json!({
                "company_name": "y".repeat(100),
                "sales_amount": 0,
                "partner_type": "supplier",
                "email": "edge@example.com",
                "country_code": "FR",
            }))
            .await;
        assert_eq!(ok["company_name"], json!("y".repeat(100)));
        assert_eq!(ok["country_code"], json!("FR"));

        // Nothing invalid was stored.
        let (_, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert_eq!(total, 1, "only the valid partner was created");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_status_codes() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "crud").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let created = ctx
            .create_ok(&json!({
                "company_name": "Patch Me",
                "sales_amount": 10,
                "partner_type": "customer",
                "email": "patch@example.com",
                "frequency": "weekly",
                "payment_terms": "net 14",
                "city": "Hamburg",
                "country_code": "DE",
            }))
            .await;
        let id = sid(&created);

        // PATCH changes only the fields present.
        let r = ctx
            .patch(&id, &json!({"sales_amount": 250, "city": "Bremen"}))
            .await;
        r.assert_status(200);
        assert_partner_shape(&r.json);
        let patched = r.json.clone();
        assert_eq!(patched["sales_amount"], json!(250));
        assert_eq!(patched["city"], json!("Bremen"));
        for key in [
            "id",
            "company_name",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
            "address",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
            "created_at",
            "invitation_status",
            "guest_organization_id",
        ] {
            assert_eq!(patched[key], created[key], "{key} unchanged by PATCH");
        }
        assert!(utc(&patched["updated_at"]) >= utc(&created["updated_at"]));

        let r = ctx
            .patch(
                &id,
                &json!({"partner_type": "supplier", "company_name": "Patched"}),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["partner_type"], json!("supplier"));
        assert_eq!(r.json["company_name"], json!("Patched"));
        assert_eq!(r.json["sales_amount"], json!(250));

        // An empty PATCH changes nothing.
        let r = ctx.patch(&id, &json!({})).await;
        r.assert_status(200);
        for key in PARTNER_KEYS.iter().filter(|k| **k != "updated_at") {
            let before = ctx.get(&id).await;
            assert_eq!(
                r.json[*key], before.json[*key],
                "{key} unchanged by an empty PATCH"
            );
        }

        // PATCH with bad values: 422 listing each, nothing changes.
        let r = ctx
            .patch(
                &id,
                &json!({"sales_amount": -1, "country_code": "XX", "email": "nope"}),
            )
            .await;
        assert_422(
            &r,
            &[
                ["body", "sales_amount"],
                ["body", "country_code"],
                ["body", "email"],
            ],
        );
        assert_422(
            &ctx.patch(&id, &json!({"sales_amount": "x"})).await,
            &[["body", "sales_amount"]],
        );
        assert_422(
            &ctx.patch(&id, &json!({"partner_type": "vendor"})).await,
            &[["body", "partner_type"]],
        );
        assert_422(
            &ctx.patch(&id, &json!({"company_name": ""})).await,
            &[["body", "company_name"]],
        );
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["sales_amount"], json!(250));
        assert_eq!(got.json["country_code"], json!("DE"));
        assert_eq!(got.json["partner_type"], json!("supplier"));
        assert_eq!(got.json["company_name"], json!("Patched"));

        // Unknown and malformed ids: 404 everywhere.
        let missing = uuid::Uuid::new_v4().to_string();
        for bad in [missing.as_str(), "nope"] {
            assert_plain_error(&ctx.get(bad).await, 404);
            assert_plain_error(&ctx.patch(bad, &json!({"city": "X"})).await, 404);
            assert_plain_error(&ctx.delete(bad).await, 404);
            assert_plain_error(&ctx.invite(bad).await, 404);
        }

        // DELETE: 204 with an empty body, then gone.
        let r = ctx.delete(&id).await;
        r.assert_status(204);
        assert!(r.text.is_empty(), "204 has an empty body: {:?}", r.text);
        assert_plain_error(&ctx.get(&id).await, 404);
        assert_plain_error(&ctx.delete(&id).await, 404);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert!(items.is_empty());
        assert_eq!(total, 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Listing: filters, order, pagination.

/// One record as the test stores it, to compute expectations locally.
#[derive(Clone, Debug)]
struct Rec {
    id: String,
    name: String,
    kind: &'static str,
    email: String,
    status: Option<&'static str>,
}

/// A varied directory: (name, type, email, sales, frequency, payment terms).
const DATA: &[(&str, &str, &str, i64, &str, &str)] = &[
    (
        "Acme Alpha",
        "customer",
        "alpha@north.example.com",
        500,
        "monthly",
        "net 30",
    ),
    (
        "Acme Bravo",
        "supplier",
        "bravo@south.example.com",
        0,
        "weekly",
        "net 14",
    ),
    (
        "acme charlie",
        "customer",
        "charlie@north.example.com",
        500,
        "",
        "net 60",
    ),
    (
        "Delta 100% Organic",
        "supplier",
        "delta@east.example.com",
        1073741823,
        "daily",
        "",
    ),
    (
        "Echo_Under Ltd",
        "customer",
        "echo_x@west.example.com",
        75,
        "monthly",
        "net 30",
    ),
    (
        "Foxtrot Plain",
        "supplier",
        "foxtrot@east.example.com",
        75,
        "yearly",
        "prepaid",
    ),
    (
        "Golf Percent Free",
        "customer",
        "golf@north.example.com",
        1,
        "weekly",
        "net 14",
    ),
    (
        "Hotel Underscore",
        "supplier",
        "hotel@south.example.com",
        999,
        "",
        "net 90",
    ),
    (
        "India Acme",
        "customer",
        "india@west.example.com",
        500,
        "quarterly",
        "net 30",
    ),
    (
        "Juliet",
        "supplier",
        "juliet@north.example.com",
        20,
        "monthly",
        "cash",
    ),
    (
        "Kilo",
        "customer",
        "kilo@acme.example.com",
        20,
        "monthly",
        "net 30",
    ),
    (
        "Lima",
        "customer",
        "lima@south.example.com",
        3,
        "weekly",
        "cash",
    ),
];

async fn seed(ctx: &Ctx<'_>) -> Vec<Rec> {
    let mut out = Vec::new();
    for &(name, kind, email, sales, frequency, terms) in DATA {
        let mut record = json!({
            "company_name": name,
            "partner_type": kind,
            "email": email,
            "sales_amount": sales,
        });
        // Published as 1 character or more: an empty one is left out (and stored empty).
        for (field, value) in [("frequency", frequency), ("payment_terms", terms)] {
            if !value.is_empty() {
                record[field] = json!(value);
            }
        }
        let p = ctx.create_ok(&record).await;
        out.push(Rec {
            id: sid(&p),
            name: name.to_string(),
            kind: if kind == "customer" {
                "customer"
            } else {
                "supplier"
            },
            email: email.to_string(),
            status: None,
        });
    }
    out
}

fn rec_ids<'a>(recs: impl IntoIterator<Item = &'a Rec>) -> BTreeSet<String> {
    recs.into_iter().map(|r| r.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "filters").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let mut recs = seed(&ctx).await;

        // Invite two partners; one accepts (its email is the user of another organization).
        let guest_org = new_org(&app, "guest").await;
        let accepted = ctx
            .create_ok(&body("Mike Accepted", "supplier", &guest_org.owner.email))
            .await;
        let r = ctx.invite(&sid(&accepted)).await;
        r.assert_status(200);
        let inv = guest_invitation_to(&app, &a, &guest_org.owner.email)
            .await
            .expect("the guest invitation");
        accept_guest(&app, &guest_org, inv["invitation_token"].as_str().unwrap()).await;
        recs.push(Rec {
            id: sid(&accepted),
            name: "Mike Accepted".into(),
            kind: "supplier",
            email: guest_org.owner.email.clone(),
            status: Some("accepted"),
        });
        for name in ["Acme Alpha", "Foxtrot Plain"] {
            let rec = recs.iter_mut().find(|r| r.name == name).unwrap();
            let r = ctx.invite(&rec.id).await;
            r.assert_status(200);
            assert_eq!(r.json["invitation_status"], json!("invited"));
            rec.status = Some("invited");
        }

        let check = |query: String, want: BTreeSet<String>| {
            async move {
                let (items, total) = ctx.list_ok(&format!("{query}&limit=100&offset=0")).await;
                assert_eq!(id_set(&items), want, "items of {query}");
                assert_eq!(items.len(), want.len(), "no duplicates in {query}");
                assert_eq!(total, want.len() as i64, "total_items of {query}");
                // total_items counts every match, not only the page.
                if want.len() > 1 {
                    let (page, total) = ctx.list_ok(&format!("{query}&limit=1&offset=0")).await;
                    assert_eq!(page.len(), 1);
                    assert_eq!(total, want.len() as i64, "total_items with limit=1 of {query}");
                }
            }
        };

        // partner_types.
        check(BOTH.into(), rec_ids(&recs)).await;
        check(
            "partner_types=customer".into(),
            rec_ids(recs.iter().filter(|r| r.kind == "customer")),
        )
        .await;
        check(
            "partner_types=supplier".into(),
            rec_ids(recs.iter().filter(|r| r.kind == "supplier")),
        )
        .await;

        // partner_ids.
        let some: Vec<&Rec> = vec![&recs[0], &recs[1], &recs[4]];
        let q = some
            .iter()
            .map(|r| format!("partner_ids={}", r.id))
            .collect::<Vec<_>>()
            .join("&");
        check(format!("{BOTH}&{q}"), rec_ids(some.iter().copied())).await;
        check(
            format!("partner_types=customer&{q}"),
            rec_ids(some.iter().copied().filter(|r| r.kind == "customer")),
        )
        .await;
        check(
            format!("{BOTH}&partner_ids={}", uuid::Uuid::new_v4()),
            BTreeSet::new(),
        )
        .await;

        // search_text on company_name (the default) and email: case-insensitive substring.
        let by_name = |needle: &str| {
            let n = needle.to_lowercase();
            rec_ids(recs.iter().filter(|r| r.name.to_lowercase().contains(&n)))
        };
        let by_email = |needle: &str| {
            let n = needle.to_lowercase();
            rec_ids(recs.iter().filter(|r| r.email.to_lowercase().contains(&n)))
        };
        for needle in ["acme", "ACME", "aCmE c", "under", "plain", "zzz"] {
            let want = by_name(needle);
            let enc = needle.replace(' ', "%20");
            check(format!("{BOTH}&search_text={enc}"), want.clone()).await;
            check(
                format!("{BOTH}&search_field=company_name&search_text={enc}"),
                want,
            )
            .await;
        }
        assert_eq!(by_name("acme").len(), 4, "the data has four acme names");
        // % and _ match literally.
        check(format!("{BOTH}&search_text=%25"), by_name("%")).await;
        assert_eq!(by_name("%").len(), 1);
        check(format!("{BOTH}&search_text=_"), by_name("_")).await;
        assert_eq!(by_name("_").len(), 1);
        check(format!("{BOTH}&search_text=0%25%20O"), by_name("0% o")).await;
        for needle in ["north", "NORTH", "acme", "_x@", "example.com"] {
            check(
                format!("{BOTH}&search_field=email&search_text={needle}"),
                by_email(needle),
            )
            .await;
        }
        check(
            "partner_types=customer&search_field=email&search_text=north".to_string(),
            rec_ids(
                recs.iter()
                    .filter(|r| r.kind == "customer" && r.email.contains("north")),
            ),
        )
        .await;
        // search_text of 255 characters is allowed.
        check(format!("{BOTH}&search_text={}", "a".repeat(255)), BTreeSet::new()).await;

        // invitation_statuses.
        let with = |s: &[&str]| {
            rec_ids(
                recs.iter()
                    .filter(|r| r.status.is_some_and(|x| s.contains(&x))),
            )
        };
        check(format!("{BOTH}&invitation_statuses=invited"), with(&["invited"])).await;
        check(
            format!("{BOTH}&invitation_statuses=accepted"),
            with(&["accepted"]),
        )
        .await;
        check(
            format!("{BOTH}&invitation_statuses=invited&invitation_statuses=accepted"),
            with(&["invited", "accepted"]),
        )
        .await;
        assert_eq!(with(&["invited", "accepted"]).len(), 3);
        check(
            "partner_types=customer&invitation_statuses=invited".into(),
            rec_ids(
                recs.iter()
                    .filter(|r| r.kind == "customer" && r.status == Some("invited")),
            ),
        )
        .await;

        // Everything together.
        check(
            format!(
                "partner_types=customer&search_field=company_name&search_text=acme&invitation_statuses=invited&partner_ids={}&partner_ids={}",
                recs[0].id, recs[2].id
            ),
            BTreeSet::from([recs[0].id.clone()]),
        )
        .await;

        // Filters never leak another organization's directory.
        let other = new_org(&app, "other").await;
        let octx = Ctx::new(&app, &other.owner.token, &other.uuid, &other.uuid);
        octx.create_ok(&body("Acme Elsewhere", "customer", "x@acme.example.com"))
            .await;
        check(format!("{BOTH}&search_text=acme"), by_name("acme")).await;
        let (items, total) = octx
            .list_ok(&format!("{BOTH}&partner_ids={}&limit=10&offset=0", recs[0].id))
            .await;
        assert!(items.is_empty(), "another directory's partner_ids match nothing");
        assert_eq!(total, 0);
    })
    .await;
}

/// The value an order_by field sorts on, comparable across records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Text(String),
}

fn key_of(item: &Value, field: &str) -> Key {
    match &item[field] {
        Value::Number(n) => Key::Int(n.as_i64().expect("integer")),
        Value::String(s) => Key::Text(s.clone()),
        other => panic!("{field} is sortable: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders_by_every_field_in_both_directions() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "order").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        // Names, emails and terms whose order is the same under byte and locale collation.
        let rows: &[(&str, &str, i64, &str, &str, &str)] = &[
            (
                "Kestrel",
                "supplier",
                40,
                "kestrel@example.com",
                "monthly",
                "net 30",
            ),
            (
                "Albatross",
                "customer",
                0,
                "albatross@example.com",
                "weekly",
                "cash",
            ),
            (
                "Heron",
                "customer",
                1073741823,
                "heron@example.com",
                "daily",
                "net 60",
            ),
            (
                "Buzzard",
                "supplier",
                40,
                "buzzard@example.com",
                "monthly",
                "prepaid",
            ),
            (
                "Osprey",
                "customer",
                7,
                "osprey@example.com",
                "yearly",
                "net 30",
            ),
            (
                "Falcon",
                "supplier",
                12,
                "falcon@example.com",
                "weekly",
                "cash",
            ),
            (
                "Merlin",
                "customer",
                40,
                "merlin@example.com",
                "quarterly",
                "net 90",
            ),
            (
                "Condor",
                "supplier",
                999,
                "condor@example.com",
                "daily",
                "net 14",
            ),
        ];
        for (name, kind, sales, email, frequency, terms) in rows {
            ctx.create_ok(&json!({
                "company_name": name,
                "partner_type": kind,
                "sales_amount": sales,
                "email": email,
                "frequency": frequency,
                "payment_terms": terms,
            }))
            .await;
        }
        let fields = [
            "company_name",
            "sales_amount",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
        ];
        let mut all_ids: Option<BTreeSet<String>> = None;
        for field in fields {
            for dir in ["asc", "desc"] {
                let query = format!("{BOTH}&order_by={field}&order_dir={dir}");
                let (items, total) = ctx.list_ok(&format!("{query}&limit=100&offset=0")).await;
                assert_eq!(total, rows.len() as i64);
                assert_eq!(items.len(), rows.len());
                let got: Vec<Key> = items.iter().map(|i| key_of(i, field)).collect();
                let mut want = got.clone();
                want.sort();
                if dir == "desc" {
                    want.reverse();
                }
                assert_eq!(got, want, "order_by={field} order_dir={dir}");
                let set = id_set(&items);
                match &all_ids {
                    Some(s) => assert_eq!(&set, s, "every order lists the same partners"),
                    None => all_ids = Some(set),
                }

                // Pages of 3 give the same sequence: the order is total.
                let (paged, t) = all_pages(&ctx, &query, 3).await;
                assert_eq!(t, rows.len() as i64);
                assert_eq!(
                    ids(&paged),
                    ids(&items),
                    "pages of order_by={field} order_dir={dir} join into the full list"
                );
            }
        }

        // Defaults: order_by company_name, order_dir asc.
        let (by_default, _) = ctx.list_ok(&format!("{BOTH}&limit=100&offset=0")).await;
        let names: Vec<&str> = by_default
            .iter()
            .map(|i| i["company_name"].as_str().unwrap())
            .collect();
        let mut sorted: Vec<&str> = rows.iter().map(|r| r.0).collect();
        sorted.sort();
        assert_eq!(names, sorted, "default order is company_name asc");
        let (asc, _) = ctx
            .list_ok(&format!("{BOTH}&order_by=sales_amount&limit=100&offset=0"))
            .await;
        let amounts: Vec<i64> = asc
            .iter()
            .map(|i| i["sales_amount"].as_i64().unwrap())
            .collect();
        let mut want: Vec<i64> = rows.iter().map(|r| r.2).collect();
        want.sort();
        assert_eq!(amounts, want, "order_dir defaults to asc");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_covers_every_item_exactly_once() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "pages").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        // Many ties on every field: only the internal id tells them apart.
        let mut created = BTreeSet::new();
        for i in 0..23 {
            let kind = if i % 3 == 0 { "supplier" } else { "customer" };
            let p = ctx
                .create_ok(&json!({
                    "company_name": format!("Same Name {}", i % 2),
                    "partner_type": kind,
                    "sales_amount": (i % 4) * 100,
                    "email": format!("p{i}@example.com"),
                    "frequency": "monthly",
                    "payment_terms": if i % 5 == 0 { "cash" } else { "net 30" },
                }))
                .await;
            created.insert(sid(&p));
        }
        let n = created.len() as i64;
        for order in [
            "company_name",
            "sales_amount",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
        ] {
            for dir in ["asc", "desc"] {
                for limit in [1, 4, 7, 23, 100] {
                    let query = format!("{BOTH}&order_by={order}&order_dir={dir}");
                    let (items, total) = all_pages(&ctx, &query, limit).await;
                    assert_eq!(total, n, "total_items for {query}");
                    let list = ids(&items);
                    let unique: HashSet<&String> = list.iter().collect();
                    assert_eq!(
                        unique.len(),
                        list.len(),
                        "pages of {limit} overlap for {query}"
                    );
                    assert_eq!(
                        id_set(&items),
                        created,
                        "pages of {limit} skip items for {query}"
                    );
                }
            }
        }

        // Past the end: no items, total still counts every match.
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=23")).await;
        assert!(items.is_empty());
        assert_eq!(total, n);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=1000")).await;
        assert!(items.is_empty());
        assert_eq!(total, n);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=20")).await;
        assert_eq!(items.len(), 3);
        assert_eq!(total, n);
        // Filtered totals.
        let (items, total) = ctx.list_ok("partner_types=supplier&limit=2&offset=0").await;
        assert_eq!(items.len(), 2);
        assert_eq!(total, 8, "suppliers: i % 3 == 0 for i in 0..23");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_query_validation_names_each_parameter() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "query").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let ok = "limit=10&offset=0";

        // The three required parameters missing at once.
        assert_422(
            &ctx.list("").await,
            &[
                ["query", "partner_types"],
                ["query", "limit"],
                ["query", "offset"],
            ],
        );
        assert_422(&ctx.list(&format!("{BOTH}&offset=0")).await, &[["query", "limit"]]);
        assert_422(&ctx.list(&format!("{BOTH}&limit=10")).await, &[["query", "offset"]]);
        assert_422(&ctx.list(ok).await, &[["query", "partner_types"]]);

        let cases: Vec<(String, &str)> = vec![
            (format!("{BOTH}&limit=0&offset=0"), "limit"),
            (format!("{BOTH}&limit=101&offset=0"), "limit"),
            (format!("{BOTH}&limit=-1&offset=0"), "limit"),
            (format!("{BOTH}&limit=abc&offset=0"), "limit"),
            (format!("{BOTH}&limit=10&offset=-1"), "offset"),
            (format!("{BOTH}&limit=10&offset=x"), "offset"),
            (format!("partner_types=vendor&{ok}"), "partner_types"),
            (format!("partner_types=customer&partner_types=bogus&{ok}"), "partner_types"),
            (format!("{BOTH}&partner_ids=nope&{ok}"), "partner_ids"),
            (
                format!("{BOTH}&partner_ids={}&partner_ids=123&{ok}", uuid::Uuid::new_v4()),
                "partner_ids",
            ),
            (format!("{BOTH}&search_field=phone&{ok}"), "search_field"),
            (format!("{BOTH}&search_text=&{ok}"), "search_text"),
            (format!("{BOTH}&search_text={}&{ok}", "a".repeat(256)), "search_text"),
            (format!("{BOTH}&invitation_statuses=pending&{ok}"), "invitation_statuses"),
            (format!("{BOTH}&order_by=created_at&{ok}"), "order_by"),
            (format!("{BOTH}&order_dir=sideways&{ok}"), "order_dir"),
        ];
        for (query, field) in &cases {
            let r = ctx.list(query).await;
            assert!(
                r.status.as_u16() == 422,
                "{query}: expected 422, got {} {}",
                r.status,
                r.text
            );
            assert_422(&r, &[["query", field]]);
        }

        // Several bad parameters are all listed.
        assert_422(
            &ctx
                .list(&format!("{BOTH}&limit=0&offset=-1&search_text=&partner_ids=nope"))
                .await,
            &[
                ["query", "limit"],
                ["query", "offset"],
                ["query", "search_text"],
                ["query", "partner_ids"],
            ],
        );

        // Boundaries that are fine.
        for query in [
            format!("{BOTH}&limit=1&offset=0"),
            format!("{BOTH}&limit=100&offset=0"),
            "partner_types=customer&limit=100&offset=5".to_string(),
            format!("{BOTH}&search_field=email&search_text=a&order_by=payment_terms&order_dir=desc&invitation_statuses=invited&{ok}"),
        ] {
            ctx.list_ok(&query).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_required_and_must_be_uuids() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "headers").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        let list = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let create = body("Header Co", "customer", "h@example.com");
        const REQ: [&str; 2] = ["header", "requester-organization-id"];
        const TGT: [&str; 2] = ["header", "target-organization-id"];

        for (method, path, b) in [
            (Method::GET, list.as_str(), None),
            (Method::POST, "/v1/partners", Some(&create)),
        ] {
            assert_422(
                &dir(&app, method.clone(), path, t, None, me, b).await,
                &[REQ],
            );
            assert_422(
                &dir(&app, method.clone(), path, t, me, None, b).await,
                &[TGT],
            );
            assert_422(
                &dir(&app, method.clone(), path, t, None, None, b).await,
                &[REQ, TGT],
            );

            for bad in ["not-a-uuid", "", "1234"] {
                assert_422(
                    &dir(&app, method.clone(), path, t, Some(bad), me, b).await,
                    &[REQ],
                );
                assert_422(
                    &dir(&app, method.clone(), path, t, me, Some(bad), b).await,
                    &[TGT],
                );
                assert_422(
                    &dir(&app, method.clone(), path, t, Some(bad), Some(bad), b).await,
                    &[REQ, TGT],
                );
            }
        }

        // Per-partner routes too.
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let p = sid(&ctx.create_ok(&create).await);
        for (method, path) in [
            (Method::GET, format!("/v1/partners/{p}")),
            (Method::PATCH, format!("/v1/partners/{p}")),
            (Method::DELETE, format!("/v1/partners/{p}")),
            (Method::POST, format!("/v1/partners/{p}/invitation")),
        ] {
            let b = (method == Method::PATCH).then(|| json!({"city": "Köln"}));
            assert_422(
                &dir(&app, method.clone(), &path, t, None, me, b.as_ref()).await,
                &[REQ],
            );
            assert_422(
                &dir(&app, method.clone(), &path, t, me, Some("zzz"), b.as_ref()).await,
                &[TGT],
            );
        }
        // Nothing was changed by the rejected calls.
        let got = ctx.get(&p).await;
        got.assert_status(200);
        assert_eq!(got.json["city"], Value::Null);
        assert_eq!(got.json["invitation_status"], Value::Null);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_query_errors_are_reported_together() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "together").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        const REQ: [&str; 2] = ["header", "requester-organization-id"];
        const TGT: [&str; 2] = ["header", "target-organization-id"];
        // Headers and query problems are reported together.
        let r = dir(
            &app,
            Method::GET,
            "/v1/partners?partner_types=customer&offset=0",
            t,
            None,
            me,
            None,
        )
        .await;
        assert_422(&r, &[REQ, ["query", "limit"]]);
        let r = dir(
            &app,
            Method::GET,
            "/v1/partners?partner_types=customer&limit=abc&offset=0",
            t,
            me,
            None,
            None,
        )
        .await;
        assert_422(&r, &[TGT, ["query", "limit"]]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_body_errors_are_reported_together() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "together-body").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        let r = dir(
            &app,
            Method::POST,
            "/v1/partners",
            t,
            None,
            me,
            Some(&json!({"partner_type": "customer", "email": "not-an-email", "sales_amount": -1})),
        )
        .await;
        assert_422(
            &r,
            &[
                ["header", "requester-organization-id"],
                ["body", "company_name"],
                ["body", "email"],
                ["body", "sales_amount"],
            ],
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_header_and_query_checks() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "order401").await;
        let good = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            assert_plain_error(
                &dir(&app, Method::GET, &good, token, me, me, None).await,
                401,
            );
            // Missing headers and query.
            assert_plain_error(
                &dir(
                    &app,
                    Method::GET,
                    "/v1/partners",
                    token,
                    None,
                    Some("x"),
                    None,
                )
                .await,
                401,
            );
            // Missing headers, valid body.
            assert_plain_error(
                &dir(
                    &app,
                    Method::POST,
                    "/v1/partners",
                    token,
                    None,
                    None,
                    Some(&body("Anon", "customer", "anon@example.com")),
                )
                .await,
                401,
            );
            assert_plain_error(
                &dir(
                    &app,
                    Method::DELETE,
                    &format!("/v1/partners/{}", uuid::Uuid::new_v4()),
                    token,
                    me,
                    me,
                    None,
                )
                .await,
                401,
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_malformed_query_values() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "order401q").await;
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            let r = dir(
                &app,
                Method::GET,
                "/v1/partners?partner_types=vendor&limit=abc&offset=0",
                token,
                me,
                me,
                None,
            )
            .await;
            assert_plain_error(&r, 401);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_body_type_errors() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "order401b").await;
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            let r = dir(
                &app,
                Method::POST,
                "/v1/partners",
                token,
                me,
                me,
                Some(&json!({"company_name": "Typed", "partner_type": "customer", "email": "t@example.com", "sales_amount": "x"})),
            )
            .await;
            assert_plain_error(&r, 401);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_is_422_before_permission_403() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "order422").await;
        let stranger = app.user("stranger").await;
        let good = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let me = Some(a.uuid.as_str());
        let s = Some(stranger.token.as_str());

        // A stranger (not a member of the requester) with a bad query or missing headers.
        assert_422(
            &dir(
                &app,
                Method::GET,
                &format!("/v1/partners?{BOTH}&offset=0"),
                s,
                me,
                me,
                None,
            )
            .await,
            &[["query", "limit"]],
        );
        assert_422(
            &dir(
                &app,
                Method::GET,
                &format!("/v1/partners?{BOTH}&limit=500&offset=0"),
                s,
                me,
                me,
                None,
            )
            .await,
            &[["query", "limit"]],
        );
        assert_422(
            &dir(&app, Method::GET, &good, s, None, me, None).await,
            &[["header", "requester-organization-id"]],
        );
        assert_422(
            &dir(
                &app,
                Method::GET,
                "/v1/partners?offset=0",
                s,
                me,
                Some("bad"),
                None,
            )
            .await,
            &[
                ["header", "target-organization-id"],
                ["query", "partner_types"],
                ["query", "limit"],
            ],
        );
        // 403 once the request is well formed.
        assert_plain_error(&dir(&app, Method::GET, &good, s, me, me, None).await, 403);
        assert_plain_error(
            &dir(
                &app,
                Method::POST,
                "/v1/partners",
                s,
                me,
                me,
                Some(&body("Sneaky", "customer", "s@example.com")),
            )
            .await,
            403,
        );
        // The owner is fine.
        Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid)
            .list_ok(&good)
            .await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Requester and target across organizations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_directory_is_writable_by_any_member_and_invites_need_settings_permission() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "own").await;
        for role in ["member", "admin", "owner"] {
            let u = member(&app, &a, role, role).await;
            let ctx = Ctx::new(&app, &u.token, &a.uuid, &a.uuid);
            let p = ctx
                .create_ok(&body(
                    &format!("{role} Co"),
                    "customer",
                    &format!("{role}@example.com"),
                ))
                .await;
            let id = sid(&p);
            ctx.get(&id).await.assert_status(200);
            let r = ctx.patch(&id, &json!({"city": "Essen"})).await;
            r.assert_status(200);
            assert_eq!(r.json["city"], json!("Essen"));
            // An invitation comes from the organization: settings permission (issue 13, H2).
            let r = ctx.invite(&id).await;
            if role == "member" {
                assert_plain_error(&r, 403);
            } else {
                r.assert_status(200);
                assert_eq!(r.json["invitation_status"], json!("invited"));
            }
            let (items, _) = ctx
                .list_ok(&format!("{BOTH}&partner_ids={id}&limit=10&offset=0"))
                .await;
            assert_eq!(ids(&items), vec![id.clone()]);
            ctx.delete(&id).await.assert_status(204);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_organizations_read_each_other_and_never_write() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "requester").await;
        let b = new_org(&app, "connected").await;
        let c = new_org(&app, "unconnected").await;
        partner_up(&app, &a, &b).await;
        let a_member = member(&app, &a, "amember", "member").await;
        let a_admin = member(&app, &a, "aadmin", "admin").await;

        // B's own directory, written by B's owner.
        let b_own = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let b_partner = b_own
            .create_ok(&body("B Customer", "customer", "bc@example.com"))
            .await;
        let b_id = sid(&b_partner);
        // C's own directory.
        let c_own = Ctx::new(&app, &c.owner.token, &c.uuid, &c.uuid);
        let c_id = sid(&c_own
            .create_ok(&body("C Customer", "customer", "cc@example.com"))
            .await);
        // A's own directory.
        let a_own = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let a_id = sid(&a_own
            .create_ok(&body("A Customer", "customer", "ac@example.com"))
            .await);

        let list_q = format!("{BOTH}&limit=10&offset=0");

        // Read a connected target: every member of the requester.
        for u in [&a_member, &a_admin, &a.owner] {
            let ctx = Ctx::new(&app, &u.token, &a.uuid, &b.uuid);
            let (items, total) = ctx.list_ok(&list_q).await;
            assert_eq!(
                ids(&items),
                vec![b_id.clone()],
                "A's members read B's directory"
            );
            assert_eq!(total, 1);
            let got = ctx.get(&b_id).await;
            got.assert_status(200);
            assert_eq!(got.json, b_partner);
            // A's partner is not in B's directory.
            assert_plain_error(&ctx.get(&a_id).await, 404);
        }
        // The connection is symmetric: B reads A.
        let (items, _) = Ctx::new(&app, &b.owner.token, &b.uuid, &a.uuid)
            .list_ok(&list_q)
            .await;
        assert_eq!(ids(&items), vec![a_id.clone()]);

        // Writes on a connected target as a plain member: 403, nothing changes.
        let m = Ctx::new(&app, &a_member.token, &a.uuid, &b.uuid);
        assert_plain_error(
            &m.create(&body("Nope", "customer", "n@example.com")).await,
            403,
        );
        assert_plain_error(&m.patch(&b_id, &json!({"city": "Nope"})).await, 403);
        assert_plain_error(&m.delete(&b_id).await, 403);
        assert_plain_error(&m.invite(&b_id).await, 403);
        let got = b_own.get(&b_id).await;
        got.assert_status(200);
        assert_eq!(got.json, b_partner, "the member's writes changed nothing");
        assert_eq!(b_own.list_ok(&list_q).await.1, 1);

        // Not even as admin or owner of the requester: the published matrix has create
        // "Self ✓, Host ✗, Guest ✗", and acting as B needs B's consent (issue 13, H1).
        for u in [&a_admin, &a.owner] {
            let w = Ctx::new(&app, &u.token, &a.uuid, &b.uuid);
            assert_plain_error(
                &w.create(&body("Written by A", "supplier", "wa@example.com"))
                    .await,
                403,
            );
            assert_plain_error(&w.patch(&b_id, &json!({"sales_amount": 5})).await, 403);
            assert_plain_error(&w.invite(&b_id).await, 403);
            assert_plain_error(&w.delete(&b_id).await, 403);
        }
        let got = b_own.get(&b_id).await;
        got.assert_status(200);
        assert_eq!(got.json, b_partner, "A's writes changed nothing");
        assert_eq!(b_own.list_ok(&list_q).await.1, 1);

        // An unconnected target: 403 even for A's owner, for reads and writes.
        let u = Ctx::new(&app, &a.owner.token, &a.uuid, &c.uuid);
        assert_plain_error(&u.list(&list_q).await, 403);
        assert_plain_error(&u.get(&c_id).await, 403);
        assert_plain_error(
            &u.create(&body("X", "customer", "x@example.com")).await,
            403,
        );
        assert_plain_error(&u.patch(&c_id, &json!({"city": "X"})).await, 403);
        assert_plain_error(&u.delete(&c_id).await, 403);
        assert_plain_error(&u.invite(&c_id).await, 403);
        // Through one's own directory another organization's partner is not found.
        assert_plain_error(&a_own.get(&c_id).await, 404);
        assert_plain_error(&a_own.get(&b_id).await, 404);
        assert_plain_error(&a_own.patch(&c_id, &json!({"city": "X"})).await, 404);
        assert_plain_error(&a_own.delete(&c_id).await, 404);
        c_own.get(&c_id).await.assert_status(200);

        // Not a member of the requester: 403, even naming a connected target.
        assert_plain_error(
            &Ctx::new(&app, &c.owner.token, &a.uuid, &a.uuid)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &c.owner.token, &a.uuid, &b.uuid)
                .list(&list_q)
                .await,
            403,
        );
        // B's owner naming A as requester to reach B's partner: not a member of A.
        assert_plain_error(
            &Ctx::new(&app, &b.owner.token, &a.uuid, &b.uuid)
                .get(&b_id)
                .await,
            403,
        );
        // Unknown requester or target.
        let ghost = uuid::Uuid::new_v4().to_string();
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &ghost, &ghost)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &ghost, &a.uuid)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &a.uuid, &ghost)
                .list(&list_q)
                .await,
            403,
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Invitation flow.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_then_accept_marks_the_partner_accepted() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "inviter").await;
        let g = new_org(&app, "invitee").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let p = ctx
            .create_ok(&body("Invitee GmbH", "customer", &g.owner.email))
            .await;
        let id = sid(&p);
        assert_eq!(p["invitation_status"], Value::Null);

        let r = ctx.invite(&id).await;
        r.assert_status(200);
        assert_partner_shape(&r.json);
        assert_eq!(r.json["id"], json!(id));
        assert_eq!(r.json["invitation_status"], json!("invited"));
        assert_eq!(r.json["guest_organization_id"], Value::Null);
        assert_eq!(r.json["company_name"], p["company_name"]);
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("invited"));

        // A sent a guest invitation to the record's email.
        let inv = guest_invitation_to(&app, &a, &g.owner.email)
            .await
            .expect("one guest invitation from A");
        assert_eq!(inv["host_organization_id"], json!(a.uuid), "{inv}");
        let key = inv["invitation_token"].as_str().expect("token").to_string();

        // Before acceptance, the accepted filter does not match it.
        let (items, _) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=accepted&limit=10&offset=0"
            ))
            .await;
        assert!(items.is_empty());

        accept_guest(&app, &g, &key).await;

        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
        let (items, total) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=accepted&limit=10&offset=0"
            ))
            .await;
        assert_eq!(ids(&items), vec![id.clone()]);
        assert_eq!(total, 1);
        let (items, _) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=invited&limit=10&offset=0"
            ))
            .await;
        assert!(items.is_empty(), "no longer invited");

        // Inviting an accepted partner again: 409, nothing changes.
        assert_plain_error(&ctx.invite(&id).await, 409);
        let again = ctx.get(&id).await;
        assert_eq!(again.json["invitation_status"], json!("accepted"));
        assert_eq!(again.json["guest_organization_id"], json!(g.uuid));

        // The acceptance made G A's guest: G's owner may read A's directory.
        let (items, _) = Ctx::new(&app, &g.owner.token, &g.uuid, &a.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_eq!(ids(&items), vec![id]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// OAuth2 client credentials.

async fn client(app: &App, organization: &str) -> (String, String) {
    let v = app
        .cli(&["client", "create", "--organization", organization])
        .await
        .json();
    (
        v["client_id"].as_str().expect("client_id").to_string(),
        v["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_string(),
    )
}

async fn token_json(app: &App, body: &Value) -> Resp {
    app.rest(Method::POST, "/v1/oauth2/token", Auth::None, Some(body))
        .await
}

async fn token_form(app: &App, form: &str) -> Resp {
    send(
        app.http
            .post(app.url("/v1/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string()),
    )
    .await
}

#[track_caller]
fn access_token(r: &Resp) -> String {
    r.assert_status(200);
    assert_eq!(r.json["expires_in"], json!(3600), "{}", r.text);
    assert_eq!(r.json["token_type"], json!("bearer"), "{}", r.text);
    let t = r.json["access_token"].as_str().expect("access_token");
    assert!(!t.is_empty());
    t.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_token_json_form_and_wrong_secret() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "oauth").await;
        let other = new_org(&app, "oauth-other").await;
        let (id, secret) = client(&app, &a.id.to_string()).await;
        let (id2, secret2) = client(&app, &a.uuid).await;

        let t1 = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        let t2 = access_token(
            &token_form(
                &app,
                &format!("grant_type=client_credentials&client_id={id2}&client_secret={secret2}"),
            )
            .await,
        );
        assert_ne!(t1, t2);

        // The tokens act for A.
        for t in [&t1, &t2] {
            let ctx = Ctx::new(&app, t, &a.uuid, &a.uuid);
            let p = ctx
                .create_ok(&body("Via OAuth", "customer", "oauth@example.com"))
                .await;
            let (items, _) = ctx
                .list_ok(&format!("{BOTH}&partner_ids={}&limit=10&offset=0", sid(&p)))
                .await;
            assert_eq!(items.len(), 1);
            ctx.get(&sid(&p)).await.assert_status(200);
            // Not for another organization.
            assert_plain_error(
                &Ctx::new(&app, t, &other.uuid, &other.uuid)
                    .list(&format!("{BOTH}&limit=10&offset=0"))
                    .await,
                403,
            );
        }

        // grant_type in a JSON body is accepted too.
        access_token(
            &token_json(
                &app,
                &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
            )
            .await,
        );

        // Acting for A, the token reads an organization connected to A.
        let b = new_org(&app, "oauth-connected").await;
        partner_up(&app, &a, &b).await;
        let b_id = sid(
            &Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid)
                .create_ok(&body("B Via OAuth", "customer", "bo@example.com"))
                .await,
        );
        let (items, _) = Ctx::new(&app, &t1, &a.uuid, &b.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_eq!(ids(&items), vec![b_id]);

        // Wrong secret, unknown client: 401 in both body forms.
        assert_plain_error(
            &token_json(&app, &json!({"client_id": id, "client_secret": "wrong"})).await,
            401,
        );
        assert_plain_error(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret2})).await,
            401,
        );
        assert_plain_error(
            &token_json(
                &app,
                &json!({"client_id": uuid::Uuid::new_v4().to_string(), "client_secret": secret}),
            )
            .await,
            401,
        );
        assert_plain_error(
            &token_form(
                &app,
                &format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
            )
            .await,
            401,
        );
        assert_plain_error(
            &token_form(
                &app,
                &format!(
                    "grant_type=client_credentials&client_id={}&client_secret={secret}",
                    uuid::Uuid::new_v4()
                ),
            )
            .await,
            401,
        );
        // The secret is not a token.
        assert_plain_error(
            &Ctx::new(&app, &secret, &a.uuid, &a.uuid)
                .list(&format!("{BOTH}&limit=10&offset=0"))
                .await,
            401,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_oauth_token_is_401() {
    for_each_backend(|app| async move {
        use orgd::entity::api_token;
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        let a = new_org(&app, "expiry").await;
        let (id, secret) = client(&app, &a.uuid).await;
        let token = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        let ctx = Ctx::new(&app, &token, &a.uuid, &a.uuid);
        let q = format!("{BOTH}&limit=10&offset=0");
        ctx.list_ok(&q).await;

        let conn = sea_orm::Database::connect(app.database_url.as_str())
            .await
            .expect("connect to the test database");
        let past = chrono::Utc::now() - chrono::Duration::hours(2);
        let updated = api_token::Entity::update_many()
            .col_expr(api_token::Column::ExpiresAt, Expr::value(past))
            .filter(api_token::Column::TokenHash.eq(orgd::auth::token::hash(&token)))
            .exec(&conn)
            .await
            .expect("expire the token");
        assert_eq!(updated.rows_affected, 1, "the access token row exists");
        let _ = conn.close().await;

        // A running server trusts a token it resolved for a few seconds (the token
        // cache); past that, a row changed behind its back is seen.
        let deadline =
            std::time::Instant::now() + orgd::auth::cache::TTL + std::time::Duration::from_secs(2);
        while ctx.list(&q).await.status != 401 {
            assert!(
                std::time::Instant::now() < deadline,
                "the expired token still works after the cache TTL"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_plain_error(&ctx.list(&q).await, 401);
        assert_plain_error(
            &ctx.create(&body("Late", "customer", "late@example.com"))
                .await,
            401,
        );
        // A new token works again.
        let fresh = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        Ctx::new(&app, &fresh, &a.uuid, &a.uuid).list_ok(&q).await;
        // The owner's personal token is unaffected.
        Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid)
            .list_ok(&q)
            .await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// gRPC.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_happy_path() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "grpc").await;
        let g = new_org(&app, "grpc-guest").await;
        let token = a.owner.token.clone();
        let mut svc = OrganizationPartnerServiceClient::connect(app.endpoint())
            .await
            .expect("connect OrganizationPartnerService");

        let created = svc
            .create_organization_partner(bearer(
                pb::CreateOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner: Some(pb::PartnerInput {
                        company_name: Some("Grpc AG".into()),
                        sales_amount: Some(1_073_741_823),
                        partner_type: pb::PartnerType::Supplier as i32,
                        email: Some(g.owner.email.clone()),
                        frequency: Some("monthly".into()),
                        country_code: Some("AT".into()),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("create")
            .into_inner()
            .partner
            .expect("partner");
        assert!(uuid::Uuid::parse_str(&created.id).is_ok());
        assert_eq!(created.company_name, "Grpc AG");
        assert_eq!(created.sales_amount, 1_073_741_823);
        assert_eq!(created.partner_type, pb::PartnerType::Supplier as i32);
        assert_eq!(created.country_code.as_deref(), Some("AT"));
        assert_eq!(created.city, None);
        assert_eq!(
            created.invitation_status,
            pb::InvitationStatus::Unspecified as i32
        );
        assert!(created.created_at.is_some() && created.updated_at.is_some());

        let got = svc
            .get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await
            .expect("get")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(got, created);

        let listed = svc
            .list_organization_partners(bearer(
                pb::ListOrganizationPartnersRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_types: vec![pb::PartnerType::Supplier as i32],
                    search_text: Some("grpc".into()),
                    limit: Some(10),
                    offset: Some(0),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.total_items, 1);
        assert_eq!(listed.items, vec![created.clone()]);

        let updated = svc
            .update_organization_partner(bearer(
                pb::UpdateOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                    partner: Some(pb::PartnerInput {
                        city: Some("Wien".into()),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("update")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(updated.city.as_deref(), Some("Wien"));
        assert_eq!(updated.company_name, "Grpc AG");
        assert_eq!(updated.partner_type, pb::PartnerType::Supplier as i32);
        assert_eq!(updated.sales_amount, 1_073_741_823);

        let invited = svc
            .invite_organization_partner(bearer(
                pb::InviteOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await
            .expect("invite")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(
            invited.invitation_status,
            pb::InvitationStatus::Invited as i32
        );

        // Without a token: UNAUTHENTICATED; unconnected target: PERMISSION_DENIED.
        assert_code(
            svc.list_organization_partners(pb::ListOrganizationPartnersRequest {
                requester_organization_id: a.uuid.clone(),
                target_organization_id: a.uuid.clone(),
                partner_types: vec![pb::PartnerType::Customer as i32],
                limit: Some(10),
                offset: Some(0),
                ..Default::default()
            })
            .await,
            tonic::Code::Unauthenticated,
        );
        assert_code(
            svc.get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: g.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await,
            tonic::Code::PermissionDenied,
        );
        assert_code(
            svc.list_organization_partners(bearer(
                pb::ListOrganizationPartnersRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_types: vec![pb::PartnerType::Customer as i32],
                    limit: Some(0),
                    offset: Some(0),
                    ..Default::default()
                },
                &token,
            ))
            .await,
            tonic::Code::InvalidArgument,
        );

        svc.delete_organization_partner(bearer(
            pb::DeleteOrganizationPartnerRequest {
                requester_organization_id: a.uuid.clone(),
                target_organization_id: a.uuid.clone(),
                partner_id: created.id.clone(),
            },
            &token,
        ))
        .await
        .expect("delete");
        assert_code(
            svc.get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await,
            tonic::Code::NotFound,
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// More contract edges.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_case_insensitive_beyond_ascii() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "unicode").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let upper = sid(&ctx
            .create_ok(&body("MÜLLER ÖL GMBH", "customer", "m@example.com"))
            .await);
        let lower = sid(&ctx
            .create_ok(&body("müller öl gmbh", "supplier", "n@example.com"))
            .await);
        ctx.create_ok(&body("Mueller", "customer", "o@example.com"))
            .await;
        let both = BTreeSet::from([upper, lower]);
        for needle in ["müller", "MÜLLER", "Müller", "ÖL"] {
            let (items, total) = ctx
                .list_ok(&format!(
                    "{BOTH}&search_text={}&limit=10&offset=0",
                    urlencode(needle)
                ))
                .await;
            assert_eq!(id_set(&items), both, "search_text={needle}");
            assert_eq!(total, 2, "search_text={needle}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengths_count_characters_not_bytes() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "chars").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let name = "ü".repeat(100);
        let p = ctx
            .create_ok(&body(&name, "customer", "u@example.com"))
            .await;
        assert_eq!(p["company_name"], json!(name));
        assert_422(
            &ctx.create(&body(&"ü".repeat(101), "customer", "v@example.com"))
                .await,
            &[["body", "company_name"]],
        );
        ctx.list_ok(&format!(
            "{BOTH}&search_text={}&limit=10&offset=0",
            urlencode(&"ü".repeat(255))
        ))
        .await;
        assert_422(
            &ctx.list(&format!(
                "{BOTH}&search_text={}&limit=10&offset=0",
                urlencode(&"ü".repeat(256))
            ))
            .await,
            &[["query", "search_text"]],
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_come_only_from_the_directory_owner() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "inv-req").await;
        let b = new_org(&app, "inv-tgt").await;
        let g = new_org(&app, "inv-guest").await;
        partner_up(&app, &a, &b).await;
        let admin = member(&app, &a, "inv-admin", "admin").await;
        let b_own = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let id = sid(&b_own
            .create_ok(&body("Guest Co", "customer", &g.owner.email))
            .await);
        // A's admin, connected to B, cannot invite from B (issue 13, H1).
        let w = Ctx::new(&app, &admin.token, &a.uuid, &b.uuid);
        assert_plain_error(&w.invite(&id).await, 403);
        for host in [&a, &b] {
            assert!(
                guest_invitation_to(&app, host, &g.owner.email)
                    .await
                    .is_none(),
                "nothing was sent to G"
            );
        }

        // B's owner invites: the invitation comes from B.
        let r = b_own.invite(&id).await;
        r.assert_status(200);
        assert_eq!(r.json["invitation_status"], json!("invited"));
        let inv = guest_invitation_to(&app, &b, &g.owner.email)
            .await
            .expect("one invitation from B");
        assert_eq!(inv["host_organization_id"], json!(b.uuid));
        accept_guest(&app, &g, inv["invitation_token"].as_str().unwrap()).await;

        let got = b_own.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
        // The read through A shows the same.
        let got = w.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        // G is now B's guest; A and G are not connected.
        Ctx::new(&app, &g.owner.token, &g.uuid, &b.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_plain_error(
            &Ctx::new(&app, &g.owner.token, &g.uuid, &a.uuid)
                .list(&format!("{BOTH}&limit=10&offset=0"))
                .await,
            403,
        );
        // Inviting again: 409.
        assert_plain_error(&b_own.invite(&id).await, 409);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvited_partner_is_accepted_through_either_invitation() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "reinv").await;
        let g = new_org(&app, "reinv-guest").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let id = sid(&ctx
            .create_ok(&body("Twice Invited", "customer", &g.owner.email))
            .await);
        for _ in 0..2 {
            let r = ctx.invite(&id).await;
            r.assert_status(200);
            assert_eq!(r.json["invitation_status"], json!("invited"));
        }
        // Inviting again sends the open guest invitation again.
        let inv = guest_invitation_to(&app, &a, &g.owner.email)
            .await
            .expect("the guest invitation");
        assert_ne!(
            inv["first_invitation_sent_at"], inv["last_invitation_sent_at"],
            "sent twice: {inv}"
        );
        accept_guest(&app, &g, inv["invitation_token"].as_str().unwrap()).await;
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(
            got.json["invitation_status"],
            json!("accepted"),
            "accepting the first of two invitations: {}",
            got.text
        );
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_partnership_revokes_access() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "revoke-a").await;
        let b = new_org(&app, "revoke-b").await;
        partner_up(&app, &a, &b).await;
        let b_id = sid(&Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid)
            .create_ok(&body("B Only", "customer", "bo@example.com"))
            .await);
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &b.uuid);
        let q = format!("{BOTH}&limit=10&offset=0");
        ctx.list_ok(&q).await;
        ctx.get(&b_id).await.assert_status(200);

        // The host archives its guest.
        let r = dir(
            &app,
            Method::PATCH,
            &format!("/v1/guest-connections/{}", b.uuid),
            Some(&a.owner.token),
            Some(&a.uuid),
            Some(&b.uuid),
            Some(&json!({"archived": true})),
        )
        .await;
        r.assert_status(200);

        assert_plain_error(&ctx.list(&q).await, 403);
        assert_plain_error(&ctx.get(&b_id).await, 403);
        assert_plain_error(
            &ctx.create(&body("Late", "customer", "l@example.com")).await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &b.owner.token, &b.uuid, &a.uuid)
                .list(&q)
                .await,
            403,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_has_no_upper_bound() {
    for_each_backend(|app| async move {
        let a = new_org(&app, "bigoffset").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        ctx.create_ok(&body("Only", "customer", "only@example.com"))
            .await;
        for offset in ["1", "2147483647", "3000000000"] {
            let (items, total) = ctx
                .list_ok(&format!("{BOTH}&limit=10&offset={offset}"))
                .await;
            assert!(items.is_empty(), "offset={offset}");
            assert_eq!(total, 1, "offset={offset}");
        }
    })
    .await;
}
