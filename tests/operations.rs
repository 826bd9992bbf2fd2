//! What operators and load balancers rely on: liveness and readiness probes (HTTP and gRPC
//! health, one state), shutdown on SIGTERM (draining, streams ended, a hard deadline), the
//! forms `--listen` accepts, and help text naming every environment variable.

mod common;

use std::time::Duration;

use common::*;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const GUARD: Duration = Duration::from_secs(30);

/// Every service gRPC health answers for, and `""`.
const HEALTH_NAMES: &[&str] = &[
    "",
    "orgd.v1.OrganizationService",
    "orgd.v1.MembershipService",
    "orgd.v1.BillingService",
    "orgd.v1.AvailabilityService",
    "orgd.v1.PartnershipService",
    "orgd.v1.PartnershipInvitationService",
    "orgd.v1.PresenceService",
    "orgd.v1.OrganizationPartnerService",
    "orgd.v1.OAuthService",
];

async fn probe(client: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let r = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()["content-type"],
        "application/json",
        "{path} answers JSON"
    );
    (status, r.json().await.unwrap())
}

/// The status gRPC health reports for every name, checked to be one and the same.
async fn health_of_all(channel: tonic::transport::Channel) -> ServingStatus {
    let mut health = HealthClient::new(channel);
    let mut seen = Vec::new();
    for name in HEALTH_NAMES {
        let reply = health
            .check(HealthCheckRequest {
                service: name.to_string(),
            })
            .await
            .unwrap_or_else(|e| panic!("Health/Check {name:?}: {e}"))
            .into_inner();
        seen.push(reply.status());
    }
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "one state for \"\" and every service: {seen:?}"
    );
    seen[0]
}

/// Polls `/readyz` until it answers `status` (the checks run every second).
async fn readyz_becomes(app: &App, status: u16) -> Value {
    for _ in 0..100 {
        let (got, body) = probe(&app.http, &app.endpoint(), "/readyz").await;
        if got == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_a_token() {
    for_each_backend(|app| async move {
        let (status, body) = probe(&app.http, &app.endpoint(), "/healthz").await;
        assert_eq!((status, body), (200, json!({"status": "alive"})));
        let (status, body) = probe(&app.http, &app.endpoint(), "/readyz").await;
        assert_eq!((status, body), (200, json!({"status": "ready"})));
        // Also over h2c, and with a token that is not valid: probes never authenticate.
        let r = app
            .h2
            .get(app.url("/readyz"))
            .header("authorization", "Bearer not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            health_of_all(app.channel().await).await,
            ServingStatus::Serving
        );
    })
    .await;
}

/// Probes are not API traffic: a server at its in-flight limit still answers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_not_shed_with_the_api() {
    use tokio::io::AsyncWriteExt;
    for_each_backend_with(
        |c| c.max_in_flight = 1,
        |app| async move {
            let owner = app.user("shed").await;
            // One request in flight, its body half sent, holds the only place. Each try
            // opens a new one and waits before asking: a GET that arrived first would take
            // the place itself and shed the POST (whose 503 nobody reads), so the GET being
            // answered only says this try lost that race, not that nothing is shed.
            let mut held = None;
            for _ in 0..50 {
                let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
                stream
                    .write_all(
                        format!(
                            "POST /api/v1/organization HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
                             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
                            owner.token
                        )
                        .as_bytes(),
                    )
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                if app.get_org(Auth::Bearer(&owner.token), 1).await.status == 503 {
                    held = Some(stream);
                    break;
                }
            }
            let stream = held.expect("the API is at its limit");
            let (status, _) = probe(&app.http, &app.endpoint(), "/readyz").await;
            assert_eq!(status, 200, "readiness is answered while the API sheds load");
            let (status, _) = probe(&app.http, &app.endpoint(), "/healthz").await;
            assert_eq!(status, 200);
            drop(stream);
        },
    )
    .await;
}

/// A migration the running binary expects but the database lacks: not ready, with the
/// reason, on HTTP and gRPC health alike; ready again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_requires_current_migrations() {
    for_each_backend(|app| async move {
        let db = Database::connect(app.database_url.as_str()).await.unwrap();
        let backend = db.get_database_backend();
        let last = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT version, applied_at FROM seaql_migrations ORDER BY version DESC LIMIT 1",
            ))
            .await
            .unwrap()
            .expect("migrations were applied");
        let version: String = last.try_get_by_index(0).unwrap();
        let applied_at: i64 = last.try_get_by_index(1).unwrap();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM seaql_migrations WHERE version = $1",
            [version.clone().into()],
        ))
        .await
        .unwrap();

        let body = readyz_becomes(&app, 503).await;
        assert_eq!(body["status"], "unavailable", "{body}");
        assert_eq!(body["reason"], "MIGRATIONS_PENDING", "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains(&version),
            "the detail names the migration: {body}"
        );
        assert_eq!(
            health_of_all(app.channel().await).await,
            ServingStatus::NotServing
        );

        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ($1, $2)",
            [version.into(), applied_at.into()],
        ))
        .await
        .unwrap();
        readyz_becomes(&app, 200).await;
        assert_eq!(
            health_of_all(app.channel().await).await,
            ServingStatus::Serving
        );
        let _ = db.close().await;
    })
    .await;
}

/// A database that takes no writes (PostgreSQL: `default_transaction_read_only`, what a
/// standby or a full-disk policy looks like) is not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_requires_a_writable_database() {
    for_each_backend(|app| async move {
        if app.backend != Backend::Postgres {
            return;
        }
        let name = app.database_url.rsplit('/').next().unwrap().to_string();
        let admin = Database::connect(std::env::var(PG_ENV).unwrap().as_str())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{name}\" SET default_transaction_read_only = on"
            ))
            .await
            .unwrap();
        // The setting reaches new sessions: end the server's current ones.
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        let mut reason = Value::Null;
        for _ in 0..100 {
            let (status, body) = probe(&app.http, &app.endpoint(), "/readyz").await;
            if status == 503 && body["reason"] == "DATABASE_READ_ONLY" {
                reason = body["reason"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(reason, "DATABASE_READ_ONLY");
        assert_eq!(
            health_of_all(app.channel().await).await,
            ServingStatus::NotServing
        );

        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{name}\" SET default_transaction_read_only = off"
            ))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        readyz_becomes(&app, 200).await;
        let _ = admin.close().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The binary: shutdown, --listen, help.

struct Serving {
    child: tokio::process::Child,
    port: u16,
    log: tokio::sync::mpsc::UnboundedReceiver<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `orgd serve` on a fresh SQLite database in `dir`, once it has logged its ready line.
async fn serve(dir: &TempDir, listen: &str, port: u16, extra: &[&str]) -> Serving {
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["--database-url", &url, "serve", "--listen", listen])
        .args(extra)
        .env("ORGD_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("orgd serve starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(GUARD, lines.next_line())
            .await
            .expect("a ready line")
            .unwrap()
            .expect("orgd serve exited before it was ready");
        if line.contains("ready on http://") {
            break;
        }
    }
    let (tx, log) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    Serving { child, port, log }
}

impl Serving {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.base())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn sigterm(&self) {
        let pid = self.child.id().expect("running").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
    }

    async fn exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("orgd exits")
            .unwrap()
    }

    /// Everything logged so far (the process has exited).
    fn logged(&mut self) -> String {
        let mut all = String::new();
        while let Ok(line) = self.log.try_recv() {
            all.push_str(&line);
            all.push('\n');
        }
        all
    }
}

/// SIGTERM with a `Health/Watch` stream open: the stream hears NOT_SERVING at once,
/// readiness is 503 while the listener still accepts (drain delay), then the stream ends
/// cleanly and the process exits 0 without waiting for the shutdown timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_ends_open_streams() {
    let dir = TempDir::new();
    let port = free_port();
    let mut server = serve(
        &dir,
        &format!("127.0.0.1:{port}"),
        port,
        &["--drain-delay", "5s"],
    )
    .await;
    let channel = server.channel().await;
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("Health/Watch")
        .into_inner();
    let first = watch.message().await.unwrap().expect("a first status");
    assert_eq!(first.status(), ServingStatus::Serving);

    server.sigterm().await;
    let next = tokio::time::timeout(GUARD, watch.message())
        .await
        .expect("the stream hears of the shutdown")
        .unwrap()
        .expect("a status before the end");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // Within the drain delay: still accepting, not ready, health NOT_SERVING everywhere.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, body) = probe(&client, &server.base(), "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "DRAINING", "{body}");
    assert_eq!(health_of_all(channel).await, ServingStatus::NotServing);
    let (status, _) = probe(&client, &server.base(), "/healthz").await;
    assert_eq!(status, 200, "alive while draining");

    let end = tokio::time::timeout(GUARD, watch.message())
        .await
        .expect("the stream ends");
    assert!(
        matches!(end, Ok(None)),
        "the stream ends cleanly (status OK): {end:?}"
    );
    let status = server.exit().await;
    assert!(
        status.success(),
        "a clean exit, not the hard one: {status:?}"
    );
}

/// Without a drain delay the stream still hears NOT_SERVING before it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_without_drain_delay_still_reports_not_serving() {
    for _ in 0..5 {
        let dir = TempDir::new();
        let port = free_port();
        let mut server = serve(&dir, &format!("127.0.0.1:{port}"), port, &[]).await;
        let mut watch = HealthClient::new(server.channel().await)
            .watch(HealthCheckRequest {
                service: "orgd.v1.BillingService".into(),
            })
            .await
            .expect("Health/Watch")
            .into_inner();
        let first = watch.message().await.unwrap().expect("a first status");
        assert_eq!(first.status(), ServingStatus::Serving);
        server.sigterm().await;
        let next = tokio::time::timeout(GUARD, watch.message())
            .await
            .expect("the stream hears of the shutdown");
        assert!(
            matches!(&next, Ok(Some(r)) if r.status() == ServingStatus::NotServing),
            "NOT_SERVING before the end: {next:?}"
        );
        let end = tokio::time::timeout(GUARD, watch.message()).await.unwrap();
        assert!(matches!(end, Ok(None)), "then a clean end: {end:?}");
        assert!(server.exit().await.success());
    }
}

/// A stream the client never ends cannot hold the process: after `--shutdown-timeout` it
/// exits with status 1 and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_ends_the_process() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    let dir = TempDir::new();
    let port = free_port();
    let mut server = serve(
        &dir,
        &format!("127.0.0.1:{port}"),
        port,
        &["--shutdown-timeout", "1s"],
    )
    .await;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tx.send(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    })
    .unwrap();
    let mut reflection = ServerReflectionClient::new(server.channel().await)
        .server_reflection_info(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    reflection.message().await.unwrap().expect("a first reply");

    server.sigterm().await;
    let status = server.exit().await;
    assert_eq!(status.code(), Some(1), "the hard exit: {status:?}");
    assert!(
        server.logged().contains("shutdown timeout"),
        "the log says why"
    );
    drop(tx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_accepts_a_bare_port_and_host_names() {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for form in [":{port}", "localhost:{port}"] {
        let dir = TempDir::new();
        let port = free_port();
        let listen = form.replace("{port}", &port.to_string());
        let mut server = serve(&dir, &listen, port, &[]).await;
        let r = client
            .get(format!("http://localhost:{port}/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("--listen {listen}: {e}"));
        assert_eq!(r.status(), 200, "--listen {listen}");
        server.sigterm().await;
        assert!(server.exit().await.success());
    }
    let out = run_cli(
        "sqlite::memory:",
        &["serve", "--listen", "no-such-host.invalid:80"],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("no-such-host.invalid"),
        "the error names the address: {}",
        out.stderr
    );
}

/// Every command and subcommand has a description, and its help lists every environment
/// variable orgd reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_has_help_listing_the_environment() {
    use clap::CommandFactory;
    let tree = orgd::cli::Cli::command();
    let mut environment = vec!["ORGD_LOG".to_string()];
    let mut paths: Vec<Vec<String>> = vec![vec![]];
    fn walk(
        command: &clap::Command,
        path: Vec<String>,
        paths: &mut Vec<Vec<String>>,
        env: &mut Vec<String>,
    ) {
        for arg in command.get_arguments() {
            if let Some(e) = arg.get_env() {
                env.push(e.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            paths.push(p.clone());
            walk(sub, p, paths, env);
        }
    }
    walk(&tree, vec![], &mut paths, &mut environment);
    for expected in [
        "DATABASE_URL",
        "ORGD_LISTEN",
        "ORGD_MAX_IN_FLIGHT",
        "ORGD_MAX_CONNECTIONS",
        "ORGD_IDLE_TIMEOUT",
        "ORGD_TLS_CERT",
        "ORGD_TLS_KEY",
        "ORGD_DRAIN_DELAY",
        "ORGD_SHUTDOWN_TIMEOUT",
    ] {
        assert!(
            environment.iter().any(|e| e == expected),
            "{expected} is read"
        );
    }
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run_cli("sqlite::memory:", &args).await;
        assert!(out.status.success(), "orgd {args:?}: {}", out.stderr);
        let about = out.stdout.lines().next().unwrap_or_default();
        assert!(
            !about.trim().is_empty() && !about.starts_with("Usage:"),
            "orgd {args:?} --help starts with a description: {:?}",
            out.stdout
        );
        for name in &environment {
            assert!(
                out.stdout.contains(name.as_str()),
                "orgd {args:?} --help lists {name}: {}",
                out.stdout
            );
        }
    }
}
