//! A full disk, for real: the SQLite database on a small tmpfs (when the suite runs as root;
//! there SQLite fails the COMMIT itself, which once left the writer inside a dead transaction)
//! and on a database capped by `PRAGMA max_page_count` (`--sqlite-max-size`, anywhere).
//! While storage is full every write fails fast with 503 / UNAVAILABLE and a `Retry-After`,
//! reads keep answering, writes resume by themselves once space returns, and after a
//! restart every write that was acknowledged is there and nothing else is.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use orgd::proto::v1::{CreateOrganizationRequest, Organization};
use reqwest::Method;
use serde_json::{Value, json};

/// One organization write of a few KiB, so that a small disk fills in a few hundred writes.
fn big_org(name: &str) -> Value {
    json!({
        "name": name,
        "timezone": "Europe/Berlin",
        "language": "de",
        "description": "x".repeat(4000),
    })
}

struct Outcome {
    acknowledged: Vec<i64>,
}

/// Writes until storage refuses, checks the refusals and the reads while full, lets `free`
/// give space back, and checks that writes resume. Returns every acknowledged id.
/// `strict`: once full, every write is refused. PostgreSQL may still fit a row into space a
/// failed extension left behind, so there a write may succeed (and must then be kept).
async fn fill_and_recover(
    app: &App,
    token: &str,
    strict: bool,
    free: impl AsyncFnOnce() -> Vec<i64>,
) -> Outcome {
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..20_000 {
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(token),
                Some(&big_org(&format!("fill {i}"))),
            )
            .await;
        if r.status.as_u16() == 201 {
            acknowledged.push(id_of(&r.json));
        } else {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("storage filled up before 20,000 writes");
    assert_full(&refused);
    assert!(
        !acknowledged.is_empty(),
        "some writes fit before the disk filled"
    );

    // Still full: further writes are refused the same way (strict: every one of them).
    let mut refusals = 0;
    for i in 0..25 {
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(token),
                Some(&big_org(&format!("while full {i}"))),
            )
            .await;
        if !strict && r.status.as_u16() == 201 {
            acknowledged.push(id_of(&r.json));
            continue;
        }
        assert_full(&r);
        refusals += 1;
    }
    assert!(refusals > 0, "a full storage refuses writes");
    let mut grpc = app.organizations().await;
    let status = grpc
        .create_organization(bearer(
            CreateOrganizationRequest {
                organization: Some(Organization {
                    name: "grpc while full".into(),
                    timezone: "Europe/Berlin".into(),
                    language: "de".into(),
                    description: "y".repeat(4000),
                    ..Default::default()
                }),
            },
            token,
        ))
        .await;
    match status {
        Ok(created) if !strict => {
            acknowledged.push(created.into_inner().organization.unwrap().id);
        }
        Ok(_) => panic!("a gRPC write while storage is full fails"),
        Err(status) => assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}"),
    }

    // Reads keep working and see exactly what was acknowledged.
    assert_listed(app, token, &acknowledged).await;

    let (before, while_full) = (acknowledged.len(), refusals);
    let deleted = free().await;
    acknowledged.retain(|id| !deleted.contains(id));

    // Writes resume without a restart.
    let mut resumed = 0;
    for i in 0..5 {
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(token),
                Some(&json!({"name": format!("after {i}"), "timezone": "Europe/Berlin", "language": "de"})),
            )
            .await;
        r.assert_status(201);
        acknowledged.push(id_of(&r.json));
        resumed += 1;
    }
    assert_eq!(resumed, 5);
    eprintln!(
        "{before} writes acknowledged before the first refusal; {while_full} of 25 refused \
         while full; {resumed} of 5 acknowledged once space returned"
    );
    assert_listed(app, token, &acknowledged).await;
    Outcome { acknowledged }
}

#[track_caller]
fn assert_full(r: &Resp) {
    r.assert_error(503, "STORAGE_FULL");
    assert!(
        r.headers.get("retry-after").is_some(),
        "a refusal for full storage says when to retry: {:?}",
        r.headers
    );
}

/// The caller's organizations are exactly `ids` (plus none other).
async fn assert_listed(app: &App, token: &str, ids: &[i64]) {
    let r = app
        .rest(
            Method::GET,
            "/api/v1/organizations",
            Auth::Bearer(token),
            None,
        )
        .await;
    r.assert_status(200);
    let mut listed = ids_of(&r.json);
    listed.sort_unstable();
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(
        listed, expected,
        "the organizations listed are the ones acknowledged"
    );
}

async fn start(
    url: &str,
    configure: impl Fn(&mut orgd::config::Config),
) -> (orgd::server::Server, App) {
    let mut config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url.to_string());
    // One user fills the disk with organizations: its quota and write rate are not tested here.
    config.max_organizations_per_user = u64::MAX;
    config.write_rate = None;
    configure(&mut config);
    let server = orgd::server::Server::start(config)
        .await
        .expect("server starts");
    let app = App::for_server(Backend::Sqlite, server.local_addr(), url);
    (server, app)
}

/// After a restart on the same file, every acknowledged write is there.
async fn assert_durable(url: &str, token: &str, ids: &[i64]) {
    let (server, app) = start(url, |_| {}).await;
    assert_listed(&app, token, ids).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_database_refuses_writes_until_space_is_freed() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let user = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "cap@example.com",
            "--name",
            "Cap",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let (server, app) = start(&url, |c| c.sqlite_max_size_bytes = Some(1024 * 1024)).await;
    let outcome = fill_and_recover(&app, &token, true, async || {
        // Space comes back inside the cap: deleting organizations frees their pages.
        let r = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&token),
                None,
            )
            .await;
        let deleted: Vec<i64> = ids_of(&r.json).into_iter().take(20).collect();
        for &id in &deleted {
            let d = app
                .rest(
                    Method::DELETE,
                    &format!("/api/v1/organization/{id}"),
                    Auth::Bearer(&token),
                    None,
                )
                .await;
            assert!(
                d.status.is_success(),
                "delete {id}: {} {}",
                d.status,
                d.text
            );
        }
        deleted
    })
    .await;
    server.shutdown().await;
    assert_durable(&url, &token, &outcome.acknowledged).await;
}

/// A tmpfs of its own, unmounted on drop; None when this process may not mount.
struct Tmpfs {
    path: PathBuf,
    _dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = TempDir::new();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { path, _dir: dir })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Fills the filesystem with one file and gives `keep` bytes back, so the database is left
/// a little room to write into.
fn fill_leaving(dir: &Path, keep: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.flush();
    drop(f);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    f.set_len(written.saturating_sub(keep)).unwrap();
    filler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_filesystem_refuses_writes_until_space_returns() {
    let Some(fs) = Tmpfs::mount("8m") else {
        // Mounting needs root; the capped-database test covers the same rules everywhere.
        eprintln!("skipped: this process may not mount a tmpfs");
        return;
    };
    let url = format!("sqlite://{}/orgd.db?mode=rwc", fs.path().display());
    let user = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "fs@example.com",
            "--name",
            "Fs",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let (server, app) = start(&url, |_| {}).await;
    let filler = fill_leaving(fs.path(), 512 * 1024);
    let outcome = fill_and_recover(&app, &token, true, async || {
        std::fs::remove_file(&filler).unwrap();
        Vec::new()
    })
    .await;
    server.shutdown().await;
    assert_durable(&url, &token, &outcome.acknowledged).await;
    drop(fs);
}

/// PostgreSQL on a full disk: a database whose tablespace is a small tmpfs (root only; the
/// shared server keeps running, only this database's files live there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_on_a_full_tablespace_refuses_writes_until_space_returns() {
    use sea_orm::ConnectionTrait;
    let Some(base) = std::env::var(PG_ENV).ok().filter(|v| !v.trim().is_empty()) else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let Some(fs) = Tmpfs::mount("16m") else {
        eprintln!("skipped: this process may not mount a tmpfs");
        return;
    };
    // The server runs as `postgres`: the tablespace directory must be its own.
    let chown = std::process::Command::new("chown")
        .args(["postgres:postgres"])
        .arg(fs.path())
        .status()
        .unwrap();
    assert!(chown.success());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (tablespace, name) = (format!("orgd_full_{suffix}"), format!("orgd_full_{suffix}"));
    let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "CREATE TABLESPACE {tablespace} LOCATION '{}'",
            fs.path().display()
        ))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name} TABLESPACE {tablespace}"))
        .await
        .unwrap();
    let (head, _) = base.rsplit_once('/').unwrap();
    let url = format!("{head}/{name}");

    let mount = fs.path().to_path_buf();
    let db_url = url.clone();
    let outcome = async move {
        let (url, fs_path) = (db_url, mount);
        let user = run_cli(
            &url,
            &[
                "user",
                "create",
                "--email",
                "pg@example.com",
                "--name",
                "Pg",
            ],
        )
        .await
        .json();
        let token = user["token"].as_str().unwrap().to_string();
        let mut config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url.clone());
        config.max_in_flight = 64;
        config.max_organizations_per_user = u64::MAX;
        config.write_rate = None;
        let server = orgd::server::Server::start(config)
            .await
            .expect("server starts");
        let app = App::for_server(Backend::Postgres, server.local_addr(), &url);
        let filler = fill_leaving(&fs_path, 1024 * 1024);
        let outcome = fill_and_recover(&app, &token, false, async || {
            std::fs::remove_file(&filler).unwrap();
            Vec::new()
        })
        .await;
        server.shutdown().await;
        // A fresh server on the same database lists every acknowledged write.
        let mut config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url.clone());
        config.max_in_flight = 64;
        config.max_organizations_per_user = u64::MAX;
        config.write_rate = None;
        let server = orgd::server::Server::start(config).await.unwrap();
        let app = App::for_server(Backend::Postgres, server.local_addr(), &url);
        assert_listed(&app, &token, &outcome.acknowledged).await;
        server.shutdown().await;
    };
    let result = tokio::spawn(outcome).await;
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    let _ = admin
        .execute_unprepared(&format!("DROP TABLESPACE IF EXISTS {tablespace}"))
        .await;
    let _ = admin.close().await;
    drop(fs);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
