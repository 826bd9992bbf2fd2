//! MyCreditApp's surface under `/v1-beta` (issue 19): every call there is its `/v1` twin,
//! for every binding of the surface, whatever bindings are added later (the transcoder's
//! alias prefix, `orgd::surfaces::MYCREDITAPP_ALIAS`). SQLite and, when configured,
//! PostgreSQL.

use crate::common::*;
use orgd::surfaces::{Dialect, MYCREDITAPP_ALIAS};
use reqwest::Method;
use serde_json::{Value, json};

/// A call with the bearer token and both organization headers.
async fn call(
    app: &App,
    method: Method,
    path: &str,
    token: &str,
    org: &str,
    body: Option<&Value>,
) -> Resp {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .header("Requester-Organization-ID", org)
        .header("Target-Organization-ID", org);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    send(req).await
}

fn beta(path: &str) -> String {
    let (prefix, alias) = MYCREDITAPP_ALIAS;
    format!("{alias}{}", path.strip_prefix(prefix).expect("a /v1 path"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_beta_call_equals_its_v1_twin() {
    for_each_backend(|app| async move {
        let owner = app.user("beta").await;
        let org = app.org(&owner.token, &unique("beta")).await;
        let uuid = org["uuid"].as_str().expect("organization uuid").to_string();
        let t = owner.token.as_str();

        // Created under /v1-beta, read under both.
        let created = call(
            &app,
            Method::POST,
            &beta("/v1/partners"),
            t,
            &uuid,
            Some(&json!({
                "company_name": "Beta GmbH",
                "sales_amount": 10,
                "partner_type": "customer",
                "email": "beta@example.com",
                "frequency": "weekly",
                "payment_terms": "net 14",
                "city": "Hamburg",
                "country_code": "DE",
            })),
        )
        .await;
        created.assert_status(201);
        let id = created.json["id"].as_str().expect("partner id").to_string();
        for path in [
            format!("/v1/partners/{id}"),
            "/v1/partners?limit=5".to_string(),
            // Refusals too: a bad value, an unknown partner.
            "/v1/partners?limit=-1".to_string(),
            "/v1/partners/00000000-0000-0000-0000-000000000000".to_string(),
            "/v1/nothing".to_string(),
        ] {
            let v1 = call(&app, Method::GET, &path, t, &uuid, None).await;
            let v1_beta = call(&app, Method::GET, &beta(&path), t, &uuid, None).await;
            assert_eq!(
                v1.status, v1_beta.status,
                "{path}: {} / {}",
                v1.text, v1_beta.text
            );
            // The same body, but for the path an error message names.
            let named_alike: Value = serde_json::from_str(
                &v1_beta
                    .text
                    .replace(MYCREDITAPP_ALIAS.1, MYCREDITAPP_ALIAS.0),
            )
            .unwrap_or(Value::Null);
            assert_eq!(v1.json, named_alike, "{path}");
        }
        let gone = call(
            &app,
            Method::DELETE,
            &beta(&format!("/v1/partners/{id}")),
            t,
            &uuid,
            None,
        )
        .await;
        gone.assert_status(204);
        call(
            &app,
            Method::GET,
            &format!("/v1/partners/{id}"),
            t,
            &uuid,
            None,
        )
        .await
        .assert_status(404);
    })
    .await;
}

/// Every binding of the surface, as annotated: its `/v1-beta` path answers as its `/v1`
/// one does (a caller without a token: 401, or the public token endpoint's 422).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_binding_of_the_surface_is_served_under_the_alias() {
    for_each_backend(|app| async move {
        let bindings: Vec<_> = orgd::surfaces::bindings()
            .into_iter()
            .filter(|b| b.dialect == Dialect::MyCreditApp)
            .collect();
        assert!(bindings.len() >= 7, "{}", bindings.len());
        for b in bindings {
            // A value for every variable: {v0} -> a UUID-shaped id.
            let path = b
                .route
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        "00000000-0000-0000-0000-000000000001"
                    } else {
                        s
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(b.http_method.as_str().as_bytes()).unwrap();
            let v1 = send(app.http.request(method.clone(), app.url(&path))).await;
            let v1_beta = send(app.http.request(method, app.url(&beta(&path)))).await;
            assert_ne!(
                v1.status.as_u16(),
                404,
                "{} {path}: {}",
                b.http_method,
                v1.text
            );
            assert_eq!(v1.status, v1_beta.status, "{} {path}", b.http_method);
            assert_eq!(v1.json, v1_beta.json, "{} {path}", b.http_method);
        }
    })
    .await;
}
