//! MyCreditApp's published limits against a real server: every organization partner field
//! at its bounds (in characters, on create and update, nothing stored on refusal), the same
//! bounds in the served OpenAPI document, and the OAuth2 token endpoint's client_id /
//! client_secret lengths and its published bad-credentials body. Each test runs on SQLite
//! and (when configured) PostgreSQL.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// (field, min, max) as MyCreditApp publishes them for an organization partner.
const TEXT_LIMITS: &[(&str, usize, usize)] = &[
    ("company_name", 1, 100),
    ("frequency", 1, 30),
    ("payment_terms", 1, 50),
    ("address", 1, 500),
    ("city", 1, 100),
    ("state", 1, 100),
    ("postal_code", 1, 30),
    ("company_registration_number", 1, 255),
];
const EMAIL_MAX: usize = 100;
const SALES_AMOUNT_MAX: i64 = 2_147_483_647;

struct Dir {
    app: App,
    token: String,
    org: String,
}

impl Dir {
    async fn new(app: &App) -> Dir {
        let owner = app.user("limits").await;
        let org = app.org(&owner.token, &unique("Limits")).await;
        Dir {
            app: app.clone(),
            token: owner.token,
            org: org["uuid"].as_str().unwrap().to_string(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(path))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Requester-Organization-ID", &self.org)
            .header("Target-Organization-ID", &self.org);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        send(req).await
    }

    async fn create(&self, body: &Value) -> Resp {
        self.call(Method::POST, "/v1/partners", Some(body)).await
    }

    async fn count(&self) -> i64 {
        let r = self
            .call(
                Method::GET,
                "/v1/partners?partner_types=customer&partner_types=supplier&limit=1&offset=0",
                None,
            )
            .await;
        r.assert_status(200);
        r.json["total_items"].as_i64().unwrap()
    }
}

fn base(email: &str) -> Value {
    json!({"company_name": "Base", "partner_type": "customer", "email": email})
}

/// The `loc`s of a 422 (as `body.field`).
#[track_caller]
fn locs(r: &Resp) -> Vec<String> {
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
                .map(|p| p.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// `n` characters, two bytes each in UTF-8: the bound counts characters.
fn chars(n: usize) -> String {
    "é".repeat(n)
}

fn email_of(len: usize) -> String {
    let domain = "@example.com";
    format!("{}{domain}", "a".repeat(len - domain.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_text_fields_take_exactly_the_published_lengths() {
    for_each_backend(|app| async move {
        let dir = Dir::new(&app).await;
        let mut stored = 0;
        for &(field, min, max) in TEXT_LIMITS {
            // At both bounds: stored and read back as sent.
            for n in [min, max] {
                let mut body = base(&format!("{field}-{n}@example.com"));
                body[field] = json!(chars(n));
                let r = dir.create(&body).await;
                assert_eq!(r.status.as_u16(), 201, "{field} of {n}: {}", r.text);
                assert_eq!(r.json[field], json!(chars(n)), "{field} of {n}");
                stored += 1;
                let got = dir
                    .call(
                        Method::GET,
                        &format!("/v1/partners/{}", r.json["id"].as_str().unwrap()),
                        None,
                    )
                    .await;
                assert_eq!(got.json[field], json!(chars(n)), "{field} of {n} read back");
            }
            // One past each bound: refused, naming the field.
            for bad in [chars(min - 1), chars(max + 1)] {
                let mut body = base("refused@example.com");
                body[field] = json!(bad);
                let r = dir.create(&body).await;
                assert_eq!(
                    locs(&r),
                    vec![format!("body.{field}")],
                    "{field} of {}: {}",
                    bad.chars().count(),
                    r.text
                );
            }
        }
        assert_eq!(dir.count().await, stored, "nothing refused was stored");

        // On update too, and the record stays as it was.
        let created = dir.create(&base("update@example.com")).await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        for &(field, _, max) in TEXT_LIMITS {
            let r = dir
                .call(
                    Method::PATCH,
                    &format!("/v1/partners/{id}"),
                    Some(&json!({field: chars(max + 1)})),
                )
                .await;
            assert_eq!(locs(&r), vec![format!("body.{field}")], "{}", r.text);
            let r = dir
                .call(
                    Method::PATCH,
                    &format!("/v1/partners/{id}"),
                    Some(&json!({field: chars(max)})),
                )
                .await;
            r.assert_status(200);
            assert_eq!(r.json[field], json!(chars(max)));
        }
        let got = dir
            .call(Method::GET, &format!("/v1/partners/{id}"), None)
            .await;
        assert_eq!(got.json["company_name"], json!(chars(100)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_email_and_sales_amount_take_the_published_bounds() {
    for_each_backend(|app| async move {
        let dir = Dir::new(&app).await;
        let r = dir.create(&base(&email_of(EMAIL_MAX))).await;
        r.assert_status(201);
        assert_eq!(r.json["email"].as_str().unwrap().chars().count(), EMAIL_MAX);
        let r = dir.create(&base(&email_of(EMAIL_MAX + 1))).await;
        assert_eq!(locs(&r), vec!["body.email".to_string()], "{}", r.text);
        let r = dir.create(&base("")).await;
        assert!(locs(&r).iter().all(|l| l == "body.email"), "{}", r.text);

        for (amount, ok) in [
            (json!(0), true),
            (json!(SALES_AMOUNT_MAX), true),
            (json!(SALES_AMOUNT_MAX + 1), false),
            (json!(-1), false),
        ] {
            let mut body = base(&format!("amount-{amount}@example.com"));
            body["sales_amount"] = amount.clone();
            let r = dir.create(&body).await;
            if ok {
                r.assert_status(201);
                assert_eq!(r.json["sales_amount"], amount);
            } else {
                assert_eq!(
                    locs(&r),
                    vec!["body.sales_amount".to_string()],
                    "{amount}: {}",
                    r.text
                );
            }
        }
        assert_eq!(
            dir.count().await,
            3,
            "only the accepted records were stored"
        );
    })
    .await;
}

/// A schema, following a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_states_the_published_limits() {
    for_each_backend(|app| async move {
        let doc = send(app.http.get(app.url("/openapi.json"))).await;
        doc.assert_status(200);
        let doc = doc.json;
        let body = &doc["paths"]["/v1/partners"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let props = &resolve(&doc, body)["properties"];
        for &(field, min, max) in TEXT_LIMITS {
            let schema = resolve(&doc, &props[field]);
            assert_eq!(schema["maxLength"], json!(max), "{field}: {schema}");
            assert_eq!(schema["minLength"], json!(min), "{field}: {schema}");
        }
        assert_eq!(props["email"]["maxLength"], json!(EMAIL_MAX), "{}", props["email"]);
        assert_eq!(props["sales_amount"]["minimum"], json!(0), "{}", props["sales_amount"]);
        assert_eq!(props["sales_amount"]["maximum"], json!(SALES_AMOUNT_MAX), "{}", props["sales_amount"]);

        let token = &doc["paths"]["/v1/oauth2/token"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let props = &resolve(&doc, token)["properties"];
        assert_eq!(props["client_id"]["maxLength"], json!(128), "{}", props["client_id"]);
        assert_eq!(props["client_id"]["minLength"], json!(1));
        assert_eq!(props["client_secret"]["maxLength"], json!(64), "{}", props["client_secret"]);
        assert_eq!(props["client_secret"]["minLength"], json!(1));

        for path in ["/v1/guest-invitations", "/v1/guest-connections", "/v1/host-connections", "/v1/guest-connections/{guest_org_id}", "/v1/guest-invitations/{invitation_token}/accept"] {
            assert!(doc["paths"].get(path).is_some(), "{path} is documented");
        }
    })
    .await;
}

/// The published answer to bad client credentials.
fn bad_credentials() -> Value {
    json!({"detail":[{"loc":[],"msg":"The client authentication failed!","type":"oauth","code":"oauth_invalid_client_credentials"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_credentials_take_the_published_lengths_and_bad_ones_the_published_answer() {
    for_each_backend(|app| async move {
        let owner = app.user("oauth-limits").await;
        let org = app.org(&owner.token, &unique("OAuth")).await;
        let client = app
            .cli(&[
                "client",
                "create",
                "--organization",
                &id_of(&org).to_string(),
            ])
            .await
            .json();
        let id = client["client_id"].as_str().unwrap().to_string();
        let secret = client["client_secret"].as_str().unwrap().to_string();
        assert!(
            secret.chars().count() <= 64,
            "a new secret fits the published 64: {secret}"
        );
        let token = |client_id: String, client_secret: String| {
            let app = app.clone();
            async move {
                app.rest(
                    Method::POST,
                    "/v1/oauth2/token",
                    Auth::None,
                    Some(&json!({"client_id": client_id, "client_secret": client_secret})),
                )
                .await
            }
        };
        token(id.clone(), secret.clone()).await.assert_status(200);

        // Wrong secret, unknown client, at the longest lengths allowed: 401, the body exactly.
        for (client_id, client_secret) in [
            (id.clone(), "wrong".to_string()),
            (id.clone(), "s".repeat(64)),
            ("c".repeat(128), secret.clone()),
        ] {
            let r = token(client_id, client_secret).await;
            r.assert_status(401);
            assert_eq!(r.json, bad_credentials(), "{}", r.text);
        }
        let form = send(
            app.http
                .post(app.url("/v1/oauth2/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=client_credentials&client_id={id}&client_secret=wrong"
                )),
        )
        .await;
        form.assert_status(401);
        assert_eq!(form.json, bad_credentials(), "{}", form.text);

        // Outside the published lengths: 422, naming the field.
        for (client_id, client_secret, field) in [
            ("c".repeat(129), secret.clone(), "client_id"),
            (String::new(), secret.clone(), "client_id"),
            (id.clone(), "s".repeat(65), "client_secret"),
            (id.clone(), String::new(), "client_secret"),
        ] {
            let r = token(client_id, client_secret).await;
            assert_eq!(locs(&r), vec![format!("body.{field}")], "{}", r.text);
        }
        // The client still works: none of those counted as a guess at its secret.
        token(id, secret).await.assert_status(200);
    })
    .await;
}
