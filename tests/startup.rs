//! What start-up refuses, and what it survives: a read-only database (refused unless
//! `--read-only`, then writes answer 503 READ_ONLY), a mistyped SQLite path (an error, not
//! a new empty database), a missing PostgreSQL database (named, with what to do), and any
//! number of instances starting on one fresh database at the same moment.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

fn config(url: &str) -> orgd::config::Config {
    orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url.to_string())
}

async fn start_error(config: orgd::config::Config) -> String {
    match orgd::server::Server::start(config).await {
        Ok(_) => panic!("the server must refuse to start"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_read_only_database_is_refused_unless_asked_for() {
    let dir = TempDir::new();
    let rw = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let ro = format!("sqlite://{}/orgd.db?mode=ro", dir.path().display());
    let user = run_cli(
        &rw,
        &[
            "user",
            "create",
            "--email",
            "ro@example.com",
            "--name",
            "Ro",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    {
        let server = orgd::server::Server::start(config(&rw)).await.unwrap();
        let app = App::for_server(Backend::Sqlite, server.local_addr(), &rw);
        app.org(&token, "Written").await;
        server.shutdown().await;
    }

    let message = start_error(config(&ro)).await;
    assert!(
        message.contains("read-only") && message.contains("--read-only"),
        "the refusal says why and what to do: {message}"
    );

    let mut asked = config(&ro);
    asked.read_only = true;
    let server = orgd::server::Server::start(asked)
        .await
        .expect("read-only serving starts");
    let app = App::for_server(Backend::Sqlite, server.local_addr(), &ro);
    let r = app
        .rest(
            Method::GET,
            "/api/v1/organizations",
            Auth::Bearer(&token),
            None,
        )
        .await;
    r.assert_status(200);
    assert_eq!(ids_of(&r.json).len(), 1);
    let r = app
        .rest(
            Method::POST,
            "/api/v1/organization",
            Auth::Bearer(&token),
            Some(&json!({"name": "Refused", "timezone": "Europe/Berlin", "language": "de"})),
        )
        .await;
    r.assert_error(503, "READ_ONLY");
    assert!(r.headers.contains_key("retry-after"));
    server.shutdown().await;

    // The binary says the same and exits non-zero.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["--database-url", &ro, "serve", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--read-only"), "{stderr}");
}

#[tokio::test]
async fn a_mistyped_sqlite_path_is_an_error_not_a_new_database() {
    let dir = TempDir::new();
    let path = dir.path().join("typo.db");
    let url = format!("sqlite://{}", path.display());
    let message = start_error(config(&url)).await;
    assert!(
        message.contains("mode=rwc"),
        "the error says how to create it: {message}"
    );
    assert!(!path.exists(), "no empty database was created");
    // With mode=rwc (as in the default URL) it is created.
    let server = orgd::server::Server::start(config(&format!("{url}?mode=rwc")))
        .await
        .unwrap();
    server.shutdown().await;
    assert!(path.exists());
}

#[tokio::test]
async fn a_missing_postgres_database_is_named_with_what_to_do() {
    let Ok(base) = std::env::var(PG_ENV) else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let name = format!("orgd_missing_{}", uuid::Uuid::new_v4().simple());
    let (head, _) = base.rsplit_once('/').unwrap();
    let url = format!("{head}/{name}");
    let message = start_error(config(&url)).await;
    assert!(message.contains(&name), "names the database: {message}");
    assert!(
        message.contains("127.0.0.1:5432"),
        "names the host: {message}"
    );
    assert!(
        message.contains("CREATE DATABASE"),
        "says what to do: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_on_a_fresh_database_all_come_up() {
    const ROUNDS: usize = 10;
    const INSTANCES: usize = 3;
    for backend in backends() {
        for round in 0..ROUNDS {
            let db = TestDatabase::create(backend).await;
            let starts = (0..INSTANCES).map(|_| {
                let url = db.url.clone();
                async move { common::process::serve(&url, 0, &[]).await }
            });
            let results = futures_join_all(starts).await;
            for (i, r) in results.iter().enumerate() {
                if let Err(e) = r {
                    panic!(
                        "[{}] round {round}: instance {i} did not come up: {e}",
                        backend.name()
                    );
                }
            }
            drop(results);
            db.destroy().await;
        }
    }
}

/// Runs the futures at once and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
