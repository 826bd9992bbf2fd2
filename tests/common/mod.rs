//! Shared harness for the integration tests: a real server on `127.0.0.1:0` over a fresh
//! database (SQLite always, PostgreSQL too when `ORGD_TEST_DATABASE_URL` is set), the
//! operator CLI for bootstrapping, and small REST / gRPC / grpc-web helpers.
//!
//! Every test body runs once per backend through [`for_each_backend`] (or the [`TestApp`]
//! builder it stands for). The library, by what each part holds:
//! - [`test_app`]: the server on port 0 over a fresh database, once per backend;
//! - [`principals`]: who calls, as typed values: an [`Org`] with its owner, admins and
//!   members, its API token and OAuth clients, and a [`Service`];
//! - this file: the [`App`] handle with the operator CLI, the GroupAlarm REST helpers
//!   (`/api/v1`) and the gRPC helpers ([`bearer`], [`assert_code`], service clients);
//! - [`giosg`] and [`mycreditapp`]: the calls and error bodies of those two published APIs;
//! - [`process`]: `orgd serve` as a process of its own; [`proxy`]: a TCP proxy a test cuts.
//!
//! A suite of many features is one test binary, `tests/<suite>/main.rs`, with a module per
//! feature; it reaches this library with `#[path = "../common/mod.rs"] mod common;`.

#![allow(dead_code)]

pub mod giosg;
pub mod mycreditapp;
pub mod principals;
pub mod process;
pub mod proxy;
pub mod raw_grpc;
pub mod test_app;

// Each test binary uses a part of the library; what it leaves is not a mistake.
#[allow(unused_imports)]
pub use principals::{OAuthClient, Org, Role, Service, member};
#[allow(unused_imports)]
pub use test_app::{Running, TestApp};

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use orgd::proto::v1::billing_service_client::BillingServiceClient;
use orgd::proto::v1::membership_service_client::MembershipServiceClient;
use orgd::proto::v1::organization_service_client::OrganizationServiceClient;

/// The environment variable naming a PostgreSQL server the suite may create databases on.
pub const PG_ENV: &str = "ORGD_TEST_DATABASE_URL";

// ---------------------------------------------------------------------------------------
// Temporary directories (no tempfile crate).

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("orgd-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------
// Databases.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The backends this run covers: SQLite always, PostgreSQL when [`PG_ENV`] is set.
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    if std::env::var(PG_ENV).is_ok_and(|v| !v.trim().is_empty()) {
        list.push(Backend::Postgres);
    }
    list
}

/// A database of its own for one test run on one backend.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    /// SQLite: the directory holding the file.
    dir: Option<TempDir>,
    /// PostgreSQL: the server URL and the database name, to drop it afterwards.
    pg: Option<(String, String)>,
}

/// `postgres://user@host:port/db?x` with the database replaced by `name`.
fn pg_url_with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let url = match head[scheme_end..].find('/') {
        Some(slash) => format!("{}/{name}", &head[..scheme_end + slash]),
        None => format!("{head}/{name}"),
    };
    match query {
        Some(q) => format!("{url}?{q}"),
        None => url,
    }
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new();
                let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
                TestDatabase {
                    backend,
                    url,
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                use sea_orm::ConnectionTrait;
                let base = std::env::var(PG_ENV).expect("ORGD_TEST_DATABASE_URL");
                let name = format!("orgd_test_{}", uuid::Uuid::new_v4().simple());
                let conn = sea_orm::Database::connect(base.as_str())
                    .await
                    .expect("connect to ORGD_TEST_DATABASE_URL");
                conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                let _ = conn.close().await;
                TestDatabase {
                    backend,
                    url: pg_url_with_database(&base, &name),
                    dir: None,
                    pg: Some((base, name)),
                }
            }
        }
    }

    /// Drops a PostgreSQL database (SQLite's directory goes with the value).
    pub async fn destroy(mut self) {
        if let Some((base, name)) = self.pg.take() {
            use sea_orm::ConnectionTrait;
            if let Ok(conn) = sea_orm::Database::connect(base.as_str()).await {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = conn.close().await;
            }
        }
        drop(self.dir.take());
    }
}

// ---------------------------------------------------------------------------------------
// The running application.

/// Everything a test body needs; cheap to clone. The server itself is owned by
/// [`for_each_backend`], which shuts it down after the body.
#[derive(Clone)]
pub struct App {
    pub backend: Backend,
    pub addr: SocketAddr,
    pub database_url: String,
    /// HTTP/1.1 client (reqwest speaks HTTP/1.1 to `http://` unless told otherwise).
    pub http: reqwest::Client,
    /// h2c client (HTTP/2 with prior knowledge).
    pub h2: reqwest::Client,
}

/// Starts a fresh server for each backend and runs `body` against it, once per backend.
/// A panic in the body is reported with the backend's name and re-raised after clean-up.
pub async fn for_each_backend<F, Fut>(body: F)
where
    F: Fn(App) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for_each_backend_with(|_| {}, body).await
}

/// As [`for_each_backend`], with the server's configuration changed by `configure` first
/// (a small bound, say, that would otherwise take thousands of rows to reach).
pub async fn for_each_backend_with<C, F, Fut>(configure: C, body: F)
where
    C: Fn(&mut orgd::config::Config),
    F: Fn(App) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    TestApp::new().configure(configure).run(body).await
}

/// A user created through the CLI.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub token: String,
}

/// One REST response, body parsed as JSON when it is JSON (`Value::Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
    pub version: reqwest::Version,
}

impl Resp {
    /// Asserts the GroupAlarm error body `{"message": "...", "error": REASON}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, reason: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected HTTP {status}, got {} with body {}",
            self.status,
            self.text
        );
        let message = self.json.get("message").and_then(Value::as_str);
        assert!(
            message.is_some_and(|m| !m.trim().is_empty()),
            "error body must carry a non-empty \"message\": {}",
            self.text
        );
        assert_eq!(
            self.json.get("error").and_then(Value::as_str),
            Some(reason),
            "error body must carry \"error\": {reason:?}: {}",
            self.text
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected HTTP {status}, got {} with body {}",
            self.status,
            self.text
        );
    }
}

/// How a REST request authenticates.
#[derive(Clone, Debug)]
pub enum Auth<'a> {
    None,
    Token(&'a str),
    Bearer(&'a str),
    PersonalAccessToken(&'a str),
    ApiToken(&'a str),
    /// Any raw header.
    Header(&'a str, &'a str),
}

impl Auth<'_> {
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Token(t) => req.header("Authorization", format!("Token {t}")),
            Auth::Bearer(t) => req.header("Authorization", format!("Bearer {t}")),
            Auth::PersonalAccessToken(t) => req.header("Personal-Access-Token", *t),
            Auth::ApiToken(t) => req.header("API-TOKEN", *t),
            Auth::Header(k, v) => req.header(*k, *v),
        }
    }
}

/// The output of one CLI run.
#[derive(Debug)]
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The single JSON line on stdout of a successful run.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert!(
            self.status.success(),
            "CLI failed ({}): stdout {:?} stderr {:?}",
            self.status,
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "CLI must print exactly one JSON line on stdout, got {:?}",
            self.stdout
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("CLI stdout is not JSON ({e}): {:?}", lines[0]))
    }
}

impl App {
    /// The clients of a server already listening on `addr` over `database_url`.
    pub fn for_server(backend: Backend, addr: SocketAddr, database_url: &str) -> App {
        App {
            backend,
            addr,
            database_url: database_url.to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .http1_only()
                .build()
                .unwrap(),
            h2: reqwest::Client::builder()
                .no_proxy()
                .http2_prior_knowledge()
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    // --- CLI -------------------------------------------------------------------------

    /// Runs `orgd --database-url URL <args>` (blocking work off the runtime threads).
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        run_cli(&self.database_url, args).await
    }

    pub async fn create_user(&self, email: &str, name: &str) -> User {
        let v = self
            .cli(&["user", "create", "--email", email, "--name", name])
            .await
            .json();
        User {
            id: v["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("user id is an int64: {v}")),
            uuid: v["uuid"].as_str().expect("user uuid").to_string(),
            email: v["email"].as_str().expect("user email").to_string(),
            token: v["token"].as_str().expect("user token").to_string(),
        }
    }

    /// A user with a unique email derived from `label`.
    pub async fn user(&self, label: &str) -> User {
        let email = format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple());
        self.create_user(&email, label).await
    }

    pub async fn service_token(&self, name: &str) -> String {
        token_of(
            self.cli(&["token", "create", "--service", name])
                .await
                .json(),
        )
    }

    pub async fn organization_token(&self, organization: i64) -> String {
        token_of(
            self.cli(&[
                "token",
                "create",
                "--organization",
                &organization.to_string(),
            ])
            .await
            .json(),
        )
    }

    pub async fn personal_token(&self, email: &str) -> String {
        token_of(
            self.cli(&["token", "create", "--email", email])
                .await
                .json(),
        )
    }

    /// `orgd member add`; returns the membership JSON.
    pub async fn member_add(&self, organization: i64, email: &str, role: &str) -> Value {
        self.cli(&[
            "member",
            "add",
            "--organization",
            &organization.to_string(),
            "--email",
            email,
            "--role",
            role,
        ])
        .await
        .json()
    }

    pub async fn set_state(&self, organization: &str, state: &str) -> Value {
        self.cli(&[
            "organization",
            "set-state",
            "--organization",
            organization,
            "--state",
            state,
        ])
        .await
        .json()
    }

    // --- REST ------------------------------------------------------------------------

    pub async fn rest(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> Resp {
        let req = self.http.request(method, self.url(path));
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => req,
        };
        send(auth.apply(req)).await
    }

    /// A request with a raw (possibly malformed) body.
    pub async fn rest_raw(&self, method: Method, path: &str, auth: Auth<'_>, body: &str) -> Resp {
        let req = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        send(auth.apply(req)).await
    }

    /// `POST /api/v1/organization` as `token` (Bearer); asserts 201 and returns the JSON.
    pub async fn create_org(&self, token: &str, body: Value) -> Value {
        let r = self
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(token),
                Some(&body),
            )
            .await;
        r.assert_status(201);
        r.json
    }

    /// A root organization with a unique name.
    pub async fn org(&self, token: &str, name: &str) -> Value {
        self.create_org(
            token,
            serde_json::json!({"name": name, "timezone": "Europe/Berlin", "language": "de"}),
        )
        .await
    }

    /// A child organization of `parent`.
    pub async fn child_org(&self, token: &str, parent: i64, name: &str) -> Value {
        self.create_org(
            token,
            serde_json::json!({"name": name, "timezone": "Europe/Berlin", "language": "de", "parentID": parent}),
        )
        .await
    }

    pub async fn get_org(&self, auth: Auth<'_>, id: impl std::fmt::Display) -> Resp {
        self.rest(
            Method::GET,
            &format!("/api/v1/organization/{id}"),
            auth,
            None,
        )
        .await
    }

    /// Reads an organization with a service token, asserting 200.
    pub async fn get_org_json(&self, token: &str, id: i64) -> Value {
        let r = self.get_org(Auth::Bearer(token), id).await;
        r.assert_status(200);
        r.json
    }

    // --- gRPC ------------------------------------------------------------------------

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.endpoint())
            .unwrap()
            .connect()
            .await
            .expect("connect a gRPC channel")
    }

    pub async fn organizations(&self) -> OrganizationServiceClient<tonic::transport::Channel> {
        OrganizationServiceClient::connect(self.endpoint())
            .await
            .expect("connect OrganizationService")
    }

    pub async fn memberships(&self) -> MembershipServiceClient<tonic::transport::Channel> {
        MembershipServiceClient::connect(self.endpoint())
            .await
            .expect("connect MembershipService")
    }

    pub async fn billing(&self) -> BillingServiceClient<tonic::transport::Channel> {
        BillingServiceClient::connect(self.endpoint())
            .await
            .expect("connect BillingService")
    }
}

fn token_of(v: Value) -> String {
    let t = v["token"]
        .as_str()
        .unwrap_or_else(|| panic!("token JSON carries \"token\": {v}"))
        .to_string();
    assert!(!t.is_empty(), "token is not empty");
    t
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    send_answered(req.send().await.expect("HTTP request")).await
}

/// As [`send`], for a response that may be an endless stream (Server-Sent Events): an
/// error answer whole, a stream's status and what it sends first (its first chunk, or
/// nothing within a few seconds); the stream is then dropped.
pub async fn send_stream_start(req: reqwest::RequestBuilder) -> Resp {
    let mut resp = req.send().await.expect("HTTP request");
    if !resp.status().is_success() {
        return send_answered(resp).await;
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let version = resp.version();
    let first = tokio::time::timeout(std::time::Duration::from_secs(3), resp.chunk())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .unwrap_or_default();
    Resp {
        status,
        headers,
        text: String::from_utf8_lossy(&first).into_owned(),
        json: Value::Null,
        version,
    }
}

async fn send_answered(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let version = resp.version();
    let text = resp.text().await.expect("HTTP body");
    let json = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Resp {
        status,
        headers,
        text,
        json,
        version,
    }
}

/// Runs the orgd binary with `--database-url URL` before the subcommand.
pub async fn run_cli(database_url: &str, args: &[&str]) -> CliOutput {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_orgd"));
    cmd.arg("--database-url").arg(database_url).args(args);
    cmd.env_remove("DATABASE_URL").env("ORGD_LOG", "warn");
    let out: Output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join CLI task")
        .expect("run the orgd binary");
    CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// gRPC helpers.

/// A request carrying `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    with_metadata(message, "authorization", &format!("Bearer {token}"))
}

/// A request carrying one metadata entry.
pub fn with_metadata<T>(message: T, key: &'static str, value: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert(key, value.parse().expect("ASCII metadata value"));
    req
}

/// Asserts the call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
) {
    match result {
        Ok(r) => panic!("expected {code:?}, got OK: {:?}", r.get_ref()),
        Err(status) => assert_eq!(
            status.code(),
            code,
            "expected {code:?}, got {:?}: {}",
            status.code(),
            status.message()
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Organization JSON.

/// Every key of the GroupAlarm Organization JSON, always present.
pub const ORGANIZATION_KEYS: &[&str] = &[
    "id",
    "uuid",
    "name",
    "description",
    "parentID",
    "ownerIDs",
    "hasChildren",
    "language",
    "timezone",
    "enforcesTwoFactorAuth",
    "dataRetentionPeriod",
    "tags",
    "state",
    "avatarURL",
    "location",
    "availableUsers",
    "availableUsersTotal",
    "creationDate",
    "trialEndDate",
];

/// Parses an RFC 3339 timestamp that must be in UTC.
#[track_caller]
pub fn utc(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is a string: {value}"));
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("timestamp {s:?} is RFC 3339: {e}"));
    assert_eq!(
        parsed.offset().local_minus_utc(),
        0,
        "timestamp {s:?} is in UTC"
    );
    parsed.with_timezone(&chrono::Utc)
}

/// Checks the shape and types of an Organization JSON object.
#[track_caller]
pub fn assert_organization_shape(org: &Value) {
    let obj = org
        .as_object()
        .unwrap_or_else(|| panic!("organization is a JSON object: {org}"));
    for key in ORGANIZATION_KEYS {
        assert!(
            obj.contains_key(*key),
            "organization JSON lacks {key:?}: {org}"
        );
    }
    assert!(org["id"].is_i64(), "id is a JSON number: {org}");
    assert!(org["id"].as_i64().unwrap() > 0, "id is positive: {org}");
    let uuid = org["uuid"].as_str().expect("uuid is a string");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "uuid parses: {uuid}");
    assert!(org["name"].is_string(), "name is a string: {org}");
    assert!(
        org["description"].is_string(),
        "description is a string: {org}"
    );
    assert!(
        org["parentID"].is_i64(),
        "parentID is a number (0 without a parent): {org}"
    );
    let owners = org["ownerIDs"].as_array().expect("ownerIDs is an array");
    assert!(
        owners.iter().all(Value::is_i64),
        "ownerIDs are JSON numbers: {org}"
    );
    assert!(
        org["hasChildren"].is_boolean(),
        "hasChildren is a bool: {org}"
    );
    assert!(org["language"].is_string(), "language is a string: {org}");
    assert!(org["timezone"].is_string(), "timezone is a string: {org}");
    assert!(
        org["enforcesTwoFactorAuth"].is_boolean(),
        "enforcesTwoFactorAuth is a bool: {org}"
    );
    assert!(
        org["dataRetentionPeriod"].is_i64(),
        "dataRetentionPeriod is a JSON number: {org}"
    );
    assert!(org["tags"].is_array(), "tags is an array: {org}");
    let state = org["state"].as_str().expect("state is a string");
    assert!(
        ["trial", "active", "inactive"].contains(&state),
        "state is trial|active|inactive: {org}"
    );
    assert_eq!(org["avatarURL"], "", "avatarURL is \"\": {org}");
    assert_eq!(
        org["location"],
        serde_json::json!({"address": "", "latitude": 0.0, "longitude": 0.0}),
        "location is the zero object: {org}"
    );
    utc(&org["creationDate"]);
    if !org["trialEndDate"].is_null() {
        utc(&org["trialEndDate"]);
    }
}

/// The organization's id.
#[track_caller]
pub fn id_of(org: &Value) -> i64 {
    org["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("organization id is a JSON number: {org}"))
}

/// Ids of a JSON array of organizations.
#[track_caller]
pub fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("a JSON array: {list}"))
        .iter()
        .map(id_of)
        .collect()
}

/// A name unique within the run.
pub fn unique(label: &str) -> String {
    format!(
        "{label} {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Percent-encodes every byte outside the unreserved set (a query value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
