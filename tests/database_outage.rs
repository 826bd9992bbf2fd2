//! A PostgreSQL outage, for real: orgd reaches the shared server through a loopback proxy
//! that the test cuts and restores. While the database is unreachable every request fails
//! fast with 503 + `Retry-After` / UNAVAILABLE, never 500 and never a hang; service comes
//! back by itself; and a server started while the database is down listens, answers 503,
//! and migrates and serves once it is up.

mod common;

use std::time::Duration;

use common::proxy::{TcpProxy, pg_addr, pg_url_via};
use common::*;
use orgd::proto::v1::GetOrganizationsRequest;
use reqwest::Method;
use serde_json::json;

/// A hang guard, not a timing: a request that waits for the 30 s request timeout fails here.
const NO_HANG: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(NO_HANG)
        .build()
        .unwrap()
}

async fn assert_unavailable(app: &App, token: &str) {
    let http = client();
    for (method, path, body) in [
        (Method::GET, "/api/v1/organizations", None),
        (
            Method::POST,
            "/api/v1/organization",
            Some(json!({"name": "During", "timezone": "Europe/Berlin", "language": "de"})),
        ),
        (Method::GET, "/api/v5/incoming_invitations", None),
    ] {
        let mut req = http
            .request(method.clone(), app.url(path))
            .header("Authorization", format!("Bearer {token}"));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} answers while the database is down: {e}"));
        assert_eq!(
            r.status().as_u16(),
            503,
            "{method} {path}: {:?}",
            r.text().await
        );
        assert!(r.headers().contains_key("retry-after"), "{method} {path}");
    }
    // A Connect call hears a Connect error, whether the gate or the RPC refuses it.
    let r = http
        .post(app.url("/orgd.v1.OrganizationService/GetOrganizations"))
        .header("Authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .body("{}")
        .send()
        .await
        .expect("Connect answers while the database is down");
    assert_eq!(r.status().as_u16(), 503, "Connect");
    assert!(r.headers().contains_key("retry-after"), "Connect");
    let body: serde_json::Value = r.json().await.expect("a Connect error is JSON");
    assert_eq!(body["code"], "unavailable", "Connect: {body}");
    let mut grpc = app.organizations().await;
    let status = tokio::time::timeout(
        NO_HANG,
        grpc.get_organizations(bearer(GetOrganizationsRequest {}, token)),
    )
    .await
    .expect("gRPC answers while the database is down")
    .expect_err("gRPC fails while the database is down");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

/// Polls until a write through `app` succeeds (the database is back).
async fn until_writes_work(app: &App, token: &str) -> i64 {
    let http = client();
    for _ in 0..100 {
        let r = http
            .post(app.url("/api/v1/organization"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&json!({"name": "After", "timezone": "Europe/Berlin", "language": "de"}))
            .send()
            .await;
        if let Ok(r) = r {
            let status = r.status().as_u16();
            assert!(
                status == 201 || status == 503,
                "only 201 or 503 while recovering: {status}"
            );
            if status == 201 {
                return r.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_i64()
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("writes did not resume within 10 s of the database's return");
}

fn pg_base() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|v| !v.trim().is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_503_and_service_resumes_by_itself() {
    let Some(base) = pg_base() else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let db = TestDatabase::create(Backend::Postgres).await;
    let proxy = TcpProxy::start(pg_addr(&base)).await;
    let via = pg_url_via(&db.url, proxy.addr());
    let user = run_cli(
        &db.url,
        &["user", "create", "--email", "o@example.com", "--name", "O"],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), via.clone());
    let server = orgd::server::Server::start(config).await.expect("starts");
    let app = App::for_server(Backend::Postgres, server.local_addr(), &via);
    let before = app.org(&token, "Before").await;

    proxy.cut().await;
    for _ in 0..3 {
        assert_unavailable(&app, &token).await;
    }
    proxy.restore().await;
    let after = until_writes_work(&app, &token).await;
    let r = app
        .rest(
            Method::GET,
            "/api/v1/organizations",
            Auth::Bearer(&token),
            None,
        )
        .await;
    r.assert_status(200);
    let ids = ids_of(&r.json);
    assert!(
        ids.contains(&id_of(&before)) && ids.contains(&after),
        "{ids:?}"
    );
    server.shutdown().await;
    db.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_while_the_database_is_down_waits_for_it() {
    let Some(base) = pg_base() else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let db = TestDatabase::create(Backend::Postgres).await;
    let proxy = TcpProxy::start(pg_addr(&base)).await;
    let via = pg_url_via(&db.url, proxy.addr());
    proxy.cut().await;
    let config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), via.clone());
    let server = tokio::time::timeout(NO_HANG, orgd::server::Server::start(config))
        .await
        .expect("start-up does not wait for the database")
        .expect("a server starts while its database is down");
    let app = App::for_server(Backend::Postgres, server.local_addr(), &via);
    // Nothing is migrated yet, so no token can exist: any token gets 503, not 401 or 500.
    assert_unavailable(&app, "not-yet-a-token").await;
    proxy.restore().await;
    // The database is fresh: the server migrates it once it answers, then serves.
    let mut migrated = false;
    for _ in 0..100 {
        let probe = client()
            .get(app.url("/api/v1/organizations"))
            .header("Authorization", "Bearer x")
            .send()
            .await
            .unwrap();
        if probe.status().as_u16() == 401 {
            migrated = true;
            break;
        }
        assert_eq!(probe.status().as_u16(), 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        migrated,
        "the server serves within 10 s of the database's return"
    );
    let user = run_cli(
        &db.url,
        &["user", "create", "--email", "w@example.com", "--name", "W"],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    until_writes_work(&app, &token).await;
    server.shutdown().await;
    db.destroy().await;
}
