//! Crash safety: concurrent writes against an `orgd serve` process, SIGKILL at a random
//! moment, a restart on the same database; every write the server acknowledged is there
//! and (SQLite) the file passes `PRAGMA integrity_check`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database, Statement};

const ITERATIONS: usize = 3;
const WRITERS: usize = 4;

struct Running {
    child: tokio::process::Child,
    base: String,
}

async fn start(url: &str) -> Running {
    let port = common::process::free_port();
    // One token writes as fast as it can, into one user's organizations.
    let flags = [
        "--writes-per-minute",
        "0",
        "--max-organizations-per-user",
        "1000000",
    ];
    let child = common::process::serve(url, port, &flags)
        .await
        .unwrap_or_else(|e| panic!("orgd serve did not become ready: {e}"));
    Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        let user = run_cli(
            &db.url,
            &[
                "user",
                "create",
                "--email",
                "crash@example.com",
                "--name",
                "C",
            ],
        )
        .await
        .json();
        let token = user["token"].as_str().unwrap().to_string();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let acknowledged: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();

        for iteration in 0..ITERATIONS {
            let mut server = start(&db.url).await;
            let mut writers = tokio::task::JoinSet::new();
            for w in 0..WRITERS {
                let (client, base, token, acked) = (
                    client.clone(),
                    server.base.clone(),
                    token.clone(),
                    acknowledged.clone(),
                );
                writers.spawn(async move {
                    // Bounded: stops at the first failure (the kill) or after 10,000 writes.
                    for i in 0..10_000 {
                        let name = format!("crash-{iteration}-{w}-{i}");
                        let sent = client
                            .post(format!("{base}/api/v1/organization"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({ "name": name }))
                            .send()
                            .await;
                        let Ok(response) = sent else { break };
                        if response.status() != 201 {
                            break;
                        }
                        let Ok(body) = response.json::<serde_json::Value>().await else {
                            break;
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push((body["id"].as_i64().unwrap(), name));
                    }
                });
            }
            let delay = rand::rng().random_range(300..900);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            server.child.start_kill().expect("SIGKILL");
            let _ = server.child.wait().await;
            while writers.join_next().await.is_some() {}

            // Restarted on the same database, every acknowledged write is there.
            let mut restarted = start(&db.url).await;
            let expected = acknowledged.lock().unwrap().clone();
            assert!(
                !expected.is_empty(),
                "[{}] some writes were acknowledged",
                backend.name()
            );
            let listed: serde_json::Value = client
                .get(format!("{}/api/v1/organizations", restarted.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let present: std::collections::HashMap<i64, String> = listed
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["id"].as_i64().unwrap(),
                        o["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            for (id, name) in &expected {
                assert_eq!(
                    present.get(id),
                    Some(name),
                    "[{}] iteration {iteration}: acknowledged organization {id} ({name}) survives",
                    backend.name()
                );
            }
            println!(
                "[{}] iteration {iteration}: killed after {delay} ms, {} acknowledged writes present",
                backend.name(),
                expected.len()
            );
            restarted.child.start_kill().unwrap();
            let _ = restarted.child.wait().await;
        }

        if db.url.starts_with("sqlite:") {
            let conn = Database::connect(&db.url).await.unwrap();
            let row = conn
                .query_one_raw(Statement::from_string(
                    conn.get_database_backend(),
                    "PRAGMA integrity_check",
                ))
                .await
                .unwrap()
                .unwrap();
            let verdict: String = row.try_get_by_index(0).unwrap();
            assert_eq!(verdict, "ok");
            conn.close().await.unwrap();
        }
        db.destroy().await;
    }
}
