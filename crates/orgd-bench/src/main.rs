//! orgd's benchmark: seeds data through the service's own code, starts `orgd serve` as a
//! separate process on a loopback port, drives it with bounded concurrent load over native
//! gRPC and REST (HTTP/1.1 keep-alive and h2c), and prints a table and one line of JSON.
//!
//!     cargo build --release -p orgd -p orgd-bench
//!     target/release/orgd-bench [--database-url URL] [--rows N] [--seconds S]

mod ceiling;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use orgd::auth::Principal;
use orgd::db::Db;
use orgd::domain::{organization, token, user};
use orgd::proto::v1::organization_service_client::OrganizationServiceClient;
use orgd::proto::v1::partnership_service_client::PartnershipServiceClient;
use orgd::proto::v1::{GetOrganizationRequest, GetPartnershipRequest};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tonic::metadata::MetadataValue;

#[derive(Parser, Debug, Clone)]
#[command(name = "orgd-bench", about = "Load-tests orgd and prints figures")]
struct Args {
    /// Database to seed and serve; default: a new SQLite file in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Organizations to seed (a hierarchy of roots with children).
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Duration of each measured case.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections (or gRPC streams) per case.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Upper bound on requests per case, whatever the duration.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: usize,
    /// Run only the cases whose key starts with one of these (repeatable), e.g. `grpc_get_org`
    /// while a profiler watches the server.
    #[arg(long = "case")]
    cases: Vec<String>,
}

impl Args {
    fn runs(&self, key: &str) -> bool {
        self.cases.is_empty() || self.cases.iter().any(|c| key.starts_with(c.as_str()))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Seeded {
    token: String,
    organization_id: i64,
    /// UUIDs of the organizations with 1,000 and with `rows` partnerships and directory
    /// records.
    small: String,
    large: String,
    /// A user in 10 organizations (GroupAlarm GetOrganizations), and its token.
    ten_token: String,
    /// Users in no organization, one per write case: a user's organizations are counted
    /// against its quota on every create, so a case starting after another must not
    /// inherit that one's thousands.
    writer_tokens: [String; 2],
}

/// The seeding user owns more organizations than the server's default quota allows one
/// user to create through the API.
const SEEDING: organization::Quota = organization::Quota {
    max_children: u64::MAX,
    max_organizations_per_user: u64::MAX,
};

/// Rows per bulk INSERT: under SQLite's bound-parameter limit for the widest table.
const CHUNK: usize = 500;

/// `count` partner organizations, bulk-inserted; their ids.
async fn partner_organizations(db: &Db, count: usize) -> Result<Vec<i64>, BoxError> {
    use orgd::entity::organization as org;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
    let before: Option<i64> = org::Entity::find()
        .select_only()
        .column_as(org::Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db.read())
        .await?
        .flatten();
    let now = orgd::domain::now();
    for start in (0..count).step_by(CHUNK) {
        let txn = db.begin_write().await?;
        org::Entity::insert_many(
            (start..(start + CHUNK).min(count)).map(|i| org::ActiveModel {
                uuid: Set(uuid::Uuid::new_v4()),
                parent_id: Set(None),
                name: Set(format!("Partner organization {i}")),
                description: Set(String::new()),
                language: Set("en".into()),
                timezone: Set("UTC".into()),
                enforces_two_factor_auth: Set(false),
                data_retention_period: Set(0),
                tags: Set("[]".into()),
                state: Set("active".into()),
                trial_end_date: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                avatar_version: Set(None),
                location_address: Set(None),
                location_latitude: Set(None),
                location_longitude: Set(None),
                email: Set(None),
                ..Default::default()
            }),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    Ok(org::Entity::find()
        .select_only()
        .column(org::Column::Id)
        .filter(org::Column::Id.gt(before.unwrap_or(0)))
        .order_by_asc(org::Column::Id)
        .limit(count as u64)
        .into_tuple::<i64>()
        .all(db.read())
        .await?)
}

/// A member user in each of `organizations`, bulk-inserted: the users giosg lists as a
/// partner's users.
async fn partner_users(db: &Db, organizations: &[i64]) -> Result<(), BoxError> {
    use orgd::entity::{membership, user};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
    let now = orgd::domain::now();
    let run = uuid::Uuid::new_v4().simple().to_string();
    for chunk in organizations.chunks(CHUNK) {
        let txn = db.begin_write().await?;
        let emails: Vec<String> = chunk
            .iter()
            .map(|org| format!("user-{org}-{run}@partner.example"))
            .collect();
        user::Entity::insert_many(emails.iter().map(|email| user::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            email: Set(email.clone()),
            full_name: Set(format!("Partner user {email}")),
            created_at: Set(now),
            trial_started_at: Set(None),
            current_chat_count: Set(0),
            avatar_id: Set(None),
            avatar_url: Set(None),
            online_enabled: Set(true),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await?;
        let ids: std::collections::HashMap<String, i64> = user::Entity::find()
            .filter(user::Column::Email.is_in(emails.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|u| (u.email, u.id))
            .collect();
        membership::Entity::insert_many(chunk.iter().zip(&emails).map(|(org, email)| {
            membership::ActiveModel {
                organization_id: Set(*org),
                user_id: Set(ids[email]),
                role: Set("member".into()),
                created_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    Ok(())
}

const WORDS: [&str; 8] = [
    "Alpha",
    "Nordic",
    "Trading",
    "Logistics",
    "Foods",
    "Metal",
    "Textiles",
    "Digital",
];

/// The company name of the `i`th directory record.
fn company_name(i: usize) -> String {
    format!("{} {} {i}", WORDS[i % 8], WORDS[(i / 8) % 8])
}

/// The record whose name the selective search looks for; present in every directory.
const SEARCHED_RECORD: usize = 424;

/// Enough of a query-string encoding for the search terms used here.
fn urlencode(text: &str) -> String {
    text.replace(' ', "%20")
}

/// Partnerships of `organization` with each of `partners` (a row per side, as accepting an
/// invitation makes them), and as many customer/supplier records in its directory.
async fn partnerships_and_directory(
    db: &Db,
    organization: i64,
    partners: &[i64],
) -> Result<(), BoxError> {
    use orgd::entity::{organization_partner as dir, partnership};
    use sea_orm::{EntityTrait, Set};
    let started = orgd::domain::now();
    for (chunk_no, chunk) in partners.chunks(CHUNK / 2).enumerate() {
        let txn = db.begin_write().await?;
        let mut rows = Vec::with_capacity(chunk.len() * 2);
        for (j, partner) in chunk.iter().enumerate() {
            let pair = uuid::Uuid::new_v4();
            // Distinct creation times, as real partnerships have.
            let at = started + chrono::Duration::microseconds(((chunk_no * CHUNK) + j) as i64);
            for (a, b) in [(organization, *partner), (*partner, organization)] {
                rows.push(partnership::ActiveModel {
                    uuid: Set(pair),
                    organization_id: Set(a),
                    partner_organization_id: Set(b),
                    display_name: Set(None),
                    created_at: Set(at),
                    ..Default::default()
                });
            }
        }
        partnership::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        dir::Entity::insert_many(chunk.iter().enumerate().map(|(j, _)| {
            let i = chunk_no * (CHUNK / 2) + j;
            dir::ActiveModel {
                uuid: Set(uuid::Uuid::new_v4()),
                organization_id: Set(organization),
                company_name: Set(company_name(i)),
                company_name_folded: Set(company_name(i).to_lowercase()),
                sales_amount: Set(((i * 7919) % 1_000_000) as i64),
                partner_type: Set(if i.is_multiple_of(3) {
                    "supplier"
                } else {
                    "customer"
                }
                .into()),
                email: Set(format!("buyer{i}@partner{i}.example")),
                email_folded: Set(format!("buyer{i}@partner{i}.example")),
                frequency: Set(["weekly", "monthly", "yearly"][i % 3].into()),
                payment_terms: Set(["net30", "net60", "prepaid"][i % 3].into()),
                address: Set(None),
                city: Set(None),
                state: Set(None),
                postal_code: Set(None),
                country_code: Set(Some("DE".into())),
                company_registration_number: Set(None),
                invitation_status: Set(None),
                guest_organization_id: Set(None),
                created_at: Set(started),
                updated_at: Set(started),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Organizations made one by one through the domain: enough for a real hierarchy; the
/// partner organizations of the two directories make up the requested row count in bulk.
const HIERARCHY_MAX: usize = 1000;

/// Partner organizations per directory that get a member user.
const PARTNER_USERS_MAX: usize = 1000;

/// Users, a token and a hierarchy of organizations (roots with up to 9 children each), made
/// by the domain functions the service runs, so constraints and derived data are real; then
/// two directories (1,000 and `rows` partner organizations, partnerships and records).
async fn seed(url: &str, rows: usize) -> Result<Seeded, BoxError> {
    let db = Db::connect_and_migrate(url).await?;
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let txn = db.begin_write().await?;
    let owner = user::create(&txn, &email, "Bench Owner").await?;
    let token = token::issue(&txn, &Principal::User { user_id: owner.id }, None).await?;
    txn.commit().await?;
    let principal = Principal::User { user_id: owner.id };
    let mut root = None;
    let mut first = None;
    for i in 0..rows.clamp(1, HIERARCHY_MAX) {
        let parent = if i.is_multiple_of(10) { None } else { root };
        let view = organization::create_within(
            &db,
            &principal,
            organization::OrganizationInput {
                name: format!("Bench organization {i}"),
                parent_id: parent,
                timezone: "Europe/Berlin".into(),
                language: "de".into(),
                ..Default::default()
            },
            SEEDING,
        )
        .await?;
        if i.is_multiple_of(10) {
            root = Some(view.model.id);
        }
        first.get_or_insert(view.model.id);
    }
    let mut lists = Vec::new();
    for (name, size) in [
        ("Small directory", 1000),
        ("Large directory", rows.max(1000)),
    ] {
        let view = organization::create_within(
            &db,
            &principal,
            organization::OrganizationInput {
                name: name.into(),
                ..Default::default()
            },
            SEEDING,
        )
        .await?;
        let partners = partner_organizations(&db, size).await?;
        partnerships_and_directory(&db, view.model.id, &partners).await?;
        partner_users(&db, &partners[..partners.len().min(PARTNER_USERS_MAX)]).await?;
        lists.push(view.model.uuid.to_string());
    }
    let ten_token = {
        let email = format!("ten-{}@example.com", uuid::Uuid::new_v4().simple());
        let txn = db.begin_write().await?;
        let ten = user::create(&txn, &email, "Ten Organizations").await?;
        let token = token::issue(&txn, &Principal::User { user_id: ten.id }, None).await?;
        txn.commit().await?;
        for i in 0..10 {
            organization::create_within(
                &db,
                &Principal::User { user_id: ten.id },
                organization::OrganizationInput {
                    name: format!("One of ten {i}"),
                    ..Default::default()
                },
                SEEDING,
            )
            .await?;
        }
        token
    };
    let mut writer_tokens = Vec::new();
    for _ in 0..2 {
        let email = format!("writer-{}@example.com", uuid::Uuid::new_v4().simple());
        let txn = db.begin_write().await?;
        let writer = user::create(&txn, &email, "Bench Writer").await?;
        writer_tokens
            .push(token::issue(&txn, &Principal::User { user_id: writer.id }, None).await?);
        txn.commit().await?;
    }
    if db.backend() == sea_orm::DatabaseBackend::Postgres {
        // What autovacuum does a while after a bulk load: without statistics the planner
        // cannot tell a selective trigram search from a broad one.
        use sea_orm::ConnectionTrait;
        db.read().execute_unprepared("ANALYZE").await?;
    }
    Ok(Seeded {
        token,
        organization_id: first.expect("at least one organization"),
        large: lists.pop().expect("two lists"),
        small: lists.pop().expect("two lists"),
        ten_token,
        writer_tokens: writer_tokens.try_into().expect("two writers"),
    })
}

/// Organizations of 10,000-character descriptions whose GroupAlarm list (about 10.7 KB of
/// JSON each) is just under the default 16 MiB response budget, and a count just over it:
/// the most memory one list request can make the server use, answered and refused.
const WORST_ANSWERED: usize = 1_450;
const WORST_REFUSED: usize = 1_700;

/// A user owning `count` such organizations (past the default quota of 1,000 per user,
/// which a deployment may raise), and their token.
async fn seed_worst(url: &str, count: usize) -> Result<String, BoxError> {
    let db = Db::connect_and_migrate(url).await?;
    let email = format!("worst-{}@example.com", uuid::Uuid::new_v4().simple());
    let txn = db.begin_write().await?;
    let owner = user::create(&txn, &email, "Worst Case").await?;
    let principal = Principal::User { user_id: owner.id };
    let token = token::issue(&txn, &principal, None).await?;
    txn.commit().await?;
    for i in 0..count {
        organization::create_within(
            &db,
            &principal,
            organization::OrganizationInput {
                name: format!("Worst case {i}"),
                description: "d".repeat(orgd::domain::validate::DESCRIPTION_MAX_CHARS),
                timezone: "Europe/Berlin".into(),
                language: "de".into(),
                ..Default::default()
            },
            SEEDING,
        )
        .await?;
    }
    Ok(token)
}

struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
}

/// `orgd serve` from the same build directory as this binary.
async fn start_server(url: &str) -> Result<Server, BoxError> {
    start_server_with(url, &[]).await
}

/// [`start_server`] with extra `serve` flags.
async fn start_server_with(url: &str, flags: &[&str]) -> Result<Server, BoxError> {
    let exe = std::env::current_exe()?
        .parent()
        .ok_or("no build directory")?
        .join("orgd");
    if !exe.exists() {
        return Err(format!(
            "{} is missing: build it beside the bench (cargo build --release -p orgd -p orgd-bench)",
            exe.display()
        )
        .into());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let child = tokio::process::Command::new(exe)
        .args([
            "--database-url",
            url,
            "serve",
            "--listen",
            &addr.to_string(),
            // The write case measures the server, not the per-token write limit or the
            // per-user quota (one user creates every organization).
            "--writes-per-minute",
            "0",
            "--max-organizations-per-user",
            "1000000000",
        ])
        .args(flags)
        .env("ORGD_LOG", "warn,sqlx::query=error")
        .kill_on_drop(true)
        .spawn()?;
    for _ in 0..300 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(Server { child, addr });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("orgd serve did not start listening".into())
}

/// The ceiling server (`ceiling::serve`) as a process of its own on a loopback port.
async fn start_ceiling(url: &str) -> Result<Server, BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["ceiling-serve", url, &addr.to_string()])
        .kill_on_drop(true)
        .spawn()?;
    for _ in 0..300 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(Server { child, addr });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the ceiling server did not start listening".into())
}

/// Status and body of one GET.
async fn fetch(addr: SocketAddr, path: &str, auth: &str) -> Result<(u16, Bytes), BoxError> {
    let mut conn = HttpConn::open(addr, false).await?;
    let req = http::Request::get(path)
        .header("host", "localhost")
        .header("authorization", auth)
        .body(Full::new(Bytes::new()))?;
    let response = match &mut conn {
        HttpConn::H1(s) => s.send_request(req).await?,
        HttpConn::H2(s) => s.send_request(req).await?,
    };
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

/// Peak resident memory of a process so far (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[derive(Clone, Debug)]
struct Outcome {
    /// Stable key in the JSON summary.
    key: &'static str,
    name: &'static str,
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Outcome {
    fn named(self, key: &'static str, name: &'static str) -> Outcome {
        Outcome { key, name, ..self }
    }

    /// Slices of one case as one: their requests over their time, the slices' median
    /// percentiles.
    fn combined(slices: &[Outcome]) -> Outcome {
        let requests = slices.iter().map(|o| o.requests).sum::<usize>();
        let seconds: f64 = slices
            .iter()
            .filter(|o| o.rps > 0.0)
            .map(|o| o.requests as f64 / o.rps)
            .sum();
        let median = |f: fn(&Outcome) -> f64| {
            let mut v: Vec<f64> = slices.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        Outcome {
            key: "",
            name: "",
            requests,
            errors: slices.iter().map(|o| o.errors).sum(),
            rps: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: median(|o| o.p50_ms),
            p99_ms: median(|o| o.p99_ms),
        }
    }
}

/// Runs `workers` copies of `op` until the time or request budget is spent.
async fn measure<F, Fut>(
    key: &'static str,
    name: &'static str,
    workers: usize,
    seconds: u64,
    max_requests: usize,
    op: F,
) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send,
{
    let op = Arc::new(op);
    let budget = Arc::new(std::sync::atomic::AtomicUsize::new(max_requests));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let op = op.clone();
        let budget = budget.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                let t = Instant::now();
                match op(w).await {
                    Ok(()) => latencies.push(t.elapsed().as_micros() as u32),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(joined) = tasks.join_next().await {
        if let Ok((l, e)) = joined {
            all.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        if all.is_empty() {
            0.0
        } else {
            all[((all.len() - 1) as f64 * p) as usize] as f64 / 1000.0
        }
    };
    Outcome {
        key,
        name,
        requests: all.len(),
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// One HTTP connection per worker, kept alive (HTTP/1.1) or multiplexed (h2c).
enum HttpConn {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl HttpConn {
    async fn open(addr: SocketAddr, h2: bool) -> Result<HttpConn, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        // As real clients do (tonic, browsers): without it an h2 POST's HEADERS and DATA
        // frames wait on the peer's delayed ACK, about 40 ms each.
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        if h2 {
            let (send, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await?;
            tokio::spawn(conn);
            Ok(HttpConn::H2(send))
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Ok(HttpConn::H1(send))
        }
    }

    async fn send(&mut self, req: http::Request<Full<Bytes>>) -> Result<u16, BoxError> {
        let response = match self {
            HttpConn::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            HttpConn::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        };
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok(status)
    }
}

async fn rest_case(
    key: &'static str,
    name: &'static str,
    args: &Args,
    addr: SocketAddr,
    h2: bool,
    request: Arc<dyn Fn() -> http::Request<Full<Bytes>> + Send + Sync>,
    expect: u16,
) -> Result<Outcome, BoxError> {
    let mut conns = Vec::new();
    for _ in 0..args.connections {
        conns.push(Arc::new(tokio::sync::Mutex::new(
            HttpConn::open(addr, h2).await?,
        )));
    }
    let conns = Arc::new(conns);
    Ok(measure(
        key,
        name,
        args.connections,
        args.seconds,
        args.max_requests,
        move |w| {
            let conns = conns.clone();
            let request = request.clone();
            async move {
                let status = conns[w].lock().await.send(request()).await?;
                if status == expect {
                    Ok(())
                } else {
                    Err(format!("status {status}").into())
                }
            }
        },
    )
    .await)
}

type MakeRequest = Arc<dyn Fn() -> http::Request<Full<Bytes>> + Send + Sync>;

/// Two servers (address and request) measured in alternating one-second slices, A B B A
/// repeated, `args.seconds` slices each: what drifts during the run weighs on both alike.
async fn alternate(
    args: &Args,
    targets: [(SocketAddr, MakeRequest); 2],
    expect: u16,
) -> Result<[Outcome; 2], BoxError> {
    let slice = Args {
        seconds: 1,
        ..args.clone()
    };
    let mut slices: [Vec<Outcome>; 2] = [Vec::new(), Vec::new()];
    for i in 0..args.seconds as usize * 2 {
        let which = if matches!(i % 4, 0 | 3) { 0 } else { 1 };
        let (addr, request) = &targets[which];
        let outcome = rest_case("", "", &slice, *addr, false, request.clone(), expect).await?;
        slices[which].push(outcome);
    }
    Ok(slices.map(|s| Outcome::combined(&s)))
}

/// A GET of `path` with `headers`, made afresh for every request.
fn get_request(path: String, headers: Vec<(&'static str, String)>) -> MakeRequest {
    Arc::new(move || {
        let mut req = http::Request::get(path.as_str()).header("host", "localhost");
        for (name, value) in &headers {
            req = req.header(*name, value.as_str());
        }
        req.body(Full::new(Bytes::new())).expect("valid request")
    })
}

/// The hot reads the ceiling keys compare (issue 14): rates at full concurrency.
const HOT_READS: [&str; 12] = [
    "giosg_detail",
    "giosg_detail_h2c",
    "grpc_giosg_detail",
    "giosg_partnerships_page",
    "giosg_partners_page",
    "giosg_partner_users",
    "mca_partners",
    "mca_partners_search",
    "rest_get_org",
    "ga_children",
    "ga_get_organizations",
    "grpc_get_org",
];

/// The `next` link of a giosg page, as a path.
async fn giosg_next_page(addr: SocketAddr, first: &str, token: &str) -> Result<String, BoxError> {
    let mut conn = HttpConn::open(addr, false).await?;
    let req = http::Request::get(first)
        .header("host", "localhost")
        .header("authorization", format!("Token {token}"))
        .body(Full::new(Bytes::new()))?;
    let response = match &mut conn {
        HttpConn::H1(s) => s.send_request(req).await?,
        HttpConn::H2(s) => s.send_request(req).await?,
    };
    let body = response.into_body().collect().await?.to_bytes();
    let page: Value = serde_json::from_slice(&body)?;
    let next = page["next"]
        .as_str()
        .ok_or("the first page has a next link")?;
    let at = next.find("/api/").ok_or("next is an API URL")?;
    Ok(next[at..].to_string())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("ceiling-serve") {
        let (url, addr) = (argv.get(2).ok_or("URL")?, argv.get(3).ok_or("ADDR")?);
        let (url, addr) = (url.clone(), addr.parse()?);
        // Its own runtime, in a thread of its own: not inside the bench's.
        return std::thread::spawn(move || ceiling::serve(&url, addr).map_err(|e| e.to_string()))
            .join()
            .map_err(|_| "the ceiling panicked")?
            .map_err(Into::into);
    }
    if argv.get(1).map(String::as_str) == Some("watch") {
        return watch::run(watch::WatchArgs::parse_from(argv.iter().skip(1))).await;
    }
    let args = Args::parse();
    let temp = std::env::temp_dir().join(format!("orgd-bench-{}", uuid::Uuid::new_v4().simple()));
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&temp)?;
            format!("sqlite://{}/orgd.db?mode=rwc", temp.display())
        }
    };
    eprintln!("seeding: {} rows…", args.rows);
    let seeding = Instant::now();
    let seeded = seed(&url, args.rows).await?;
    let worst = if args.runs("worst_list") {
        Some((
            seed_worst(&url, WORST_ANSWERED).await?,
            seed_worst(&url, WORST_REFUSED).await?,
        ))
    } else {
        None
    };
    eprintln!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());
    let mut server = start_server(&url).await?;
    let addr = server.addr;
    let pid = server.child.id().ok_or("server exited")?;
    eprintln!(
        "orgd serving on {addr} (pid {pid}); {} s per case, {} connections",
        args.seconds, args.connections
    );

    // One connection per worker, as the REST cases have.
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(endpoint.connect().await?);
    }
    let channels = Arc::new(channels);
    let auth: MetadataValue<_> = format!("Bearer {}", seeded.token).parse()?;

    let mut outcomes = Vec::new();
    if args.runs("grpc_floor") {
        let channels = channels.clone();
        outcomes.push(
            measure(
                "grpc_floor",
                "grpc_floor (health Check)",
                args.connections,
                args.seconds,
                args.max_requests,
                move |w| {
                    let mut client =
                        tonic_health::pb::health_client::HealthClient::new(channels[w].clone());
                    async move {
                        client
                            .check(tonic_health::pb::HealthCheckRequest {
                                service: String::new(),
                            })
                            .await?;
                        Ok(())
                    }
                },
            )
            .await,
        );
    }
    if args.runs("grpc_get_org") {
        let channels = channels.clone();
        let auth = auth.clone();
        let id = seeded.organization_id;
        outcomes.push(
            measure(
                "grpc_get_org",
                "grpc_get_org",
                args.connections,
                args.seconds,
                args.max_requests,
                move |w| {
                    let mut client = OrganizationServiceClient::new(channels[w].clone());
                    let mut req = tonic::Request::new(GetOrganizationRequest {
                        organization_id: id,
                    });
                    req.metadata_mut().insert("authorization", auth.clone());
                    async move {
                        client.get_organization(req).await?;
                        Ok(())
                    }
                },
            )
            .await,
        );
    }
    let get_path = format!("/api/v1/organization/{}", seeded.organization_id);
    let bearer = format!("Bearer {}", seeded.token);
    let get = {
        let bearer = bearer.clone();
        Arc::new(move || {
            http::Request::get(get_path.as_str())
                .header("host", "localhost")
                .header("authorization", bearer.as_str())
                .body(Full::new(Bytes::new()))
                .expect("valid request")
        })
    };
    let create = |token: &str| -> MakeRequest {
        let bearer = format!("Bearer {token}");
        Arc::new(move || {
            http::Request::post("/api/v1/organization")
                .header("host", "localhost")
                .header("authorization", bearer.as_str())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(br#"{"name":"Bench write"}"#)))
                .expect("valid request")
        })
    };
    let throughput: [(&str, &str, bool, MakeRequest); 2] = [
        (
            "rest_get_org",
            "rest_get_org (HTTP/1.1)",
            false,
            get.clone(),
        ),
        ("rest_get_org_h2c", "rest_get_org (h2c)", true, get),
    ];
    for (key, name, h2, request) in throughput {
        if args.runs(key) {
            outcomes.push(rest_case(key, name, &args, addr, h2, request, 200).await?);
        }
    }
    if args.runs("write") {
        // The change log's cost (issue 18): the same writes on a second server of the same
        // build and database that appends no events, in alternating one-second slices
        // (A B B A ...), since write rates here drift by ±15 % between runs.
        let mut unlogged = start_server_with(&url, &["--change-log", "false"]).await?;
        let logged = (addr, create(&seeded.writer_tokens[0]));
        let off = (unlogged.addr, create(&seeded.writer_tokens[1]));
        let measured = alternate(&args, [logged, off], 201).await;
        let _ = unlogged.child.kill().await;
        let [with, without] = measured?;
        outcomes.push(with.named("write", "write (POST /api/v1/organization)"));
        outcomes.push(without.named("write_without_log", "write, change log off"));
    }

    // The hot reads (issue 14), at full concurrency; the giosg partnership detail also on
    // the ceiling server, over h2c and over gRPC. The detail names the first partnership of
    // the large directory, whose partner has a user.
    let giosg_auth = format!("Token {}", seeded.token);
    let (status, body) = fetch(
        addr,
        &format!(
            "/api/v5/orgs/{}/partnerships?ordering=created_at&page_size=25",
            seeded.large
        ),
        &giosg_auth,
    )
    .await?;
    if status != 200 {
        return Err(format!("the partnerships page answered {status}").into());
    }
    let page: Value = serde_json::from_slice(&body)?;
    let partner = page["results"][0]["partner_organization_id"]
        .as_str()
        .ok_or("the large directory has partnerships")?
        .to_string();
    let detail_path = format!("/api/v5/orgs/{}/partnerships/{partner}", seeded.large);
    let ceiling = if args.runs("giosg_detail") {
        let ceiling = start_ceiling(&url).await?;
        let orgd = fetch(addr, &detail_path, &giosg_auth).await?;
        let hand = fetch(ceiling.addr, &detail_path, &giosg_auth).await?;
        if orgd != hand {
            return Err(format!(
                "the ceiling answers otherwise than orgd:\n  orgd    {} {}\n  ceiling {} {}",
                orgd.0,
                String::from_utf8_lossy(&orgd.1),
                hand.0,
                String::from_utf8_lossy(&hand.1)
            )
            .into());
        }
        Some(ceiling)
    } else {
        None
    };
    let giosg = |path: String| get_request(path, vec![("authorization", giosg_auth.clone())]);
    let mca = |path: String| {
        get_request(
            path,
            vec![
                ("authorization", bearer.clone()),
                ("requester-organization-id", seeded.large.clone()),
                ("target-organization-id", seeded.large.clone()),
            ],
        )
    };
    let ga_ten = format!("Bearer {}", seeded.ten_token);
    let hot: Vec<(&'static str, &'static str, SocketAddr, bool, MakeRequest)> = [
        ceiling.as_ref().map(|c| {
            (
                "giosg_detail_ceiling",
                "giosg detail, ceiling (axum + hand SQL)",
                c.addr,
                false,
                giosg(detail_path.clone()),
            )
        }),
        Some((
            "giosg_detail",
            "giosg detail (HTTP/1.1)",
            addr,
            false,
            giosg(detail_path.clone()),
        )),
        Some((
            "giosg_detail_h2c",
            "giosg detail (h2c)",
            addr,
            true,
            giosg(detail_path.clone()),
        )),
        Some((
            "giosg_partnerships_page",
            "giosg partnerships, first page",
            addr,
            false,
            giosg(format!(
                "/api/v5/orgs/{}/partnerships?ordering=-created_at&page_size=25",
                seeded.large
            )),
        )),
        Some((
            "giosg_partners_page",
            "giosg partners, first page",
            addr,
            false,
            giosg(format!(
                "/api/v5/orgs/{}/partners?page_size=25",
                seeded.large
            )),
        )),
        Some((
            "giosg_partner_users",
            "giosg partner users, first page",
            addr,
            false,
            giosg(format!(
                "/api/v5/orgs/{}/partners/{partner}/users?page_size=25",
                seeded.large
            )),
        )),
        Some((
            "mca_partners",
            "MyCreditApp GET /v1/partners",
            addr,
            false,
            mca(
                "/v1/partners?partner_types=customer&partner_types=supplier&limit=25&offset=0"
                    .to_string(),
            ),
        )),
        Some((
            "mca_partners_search",
            "MyCreditApp GET /v1/partners, search_text",
            addr,
            false,
            mca(format!(
                "/v1/partners?partner_types=customer&partner_types=supplier&search_text={}\
                 &limit=25&offset=0",
                urlencode(&company_name(SEARCHED_RECORD))
            )),
        )),
        Some((
            "ga_children",
            "GroupAlarm children page",
            addr,
            false,
            get_request(
                format!("/api/v1/organization/{}/children", seeded.organization_id),
                vec![("authorization", bearer.clone())],
            ),
        )),
        Some((
            "ga_get_organizations",
            "GroupAlarm GetOrganizations (10 orgs)",
            addr,
            false,
            get_request(
                "/api/v1/organizations".to_string(),
                vec![("authorization", ga_ten)],
            ),
        )),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (key, name, target, h2, request) in hot {
        if args.runs(key) {
            outcomes.push(rest_case(key, name, &args, target, h2, request, 200).await?);
        }
    }
    if let Some(mut c) = ceiling {
        let _ = c.child.kill().await;
    }
    if args.runs("grpc_giosg_detail") {
        let channels = channels.clone();
        let auth = auth.clone();
        let (organization_id, partner_organization_id) = (seeded.large.clone(), partner.clone());
        outcomes.push(
            measure(
                "grpc_giosg_detail",
                "grpc GetPartnership",
                args.connections,
                args.seconds,
                args.max_requests,
                move |w| {
                    let mut client = PartnershipServiceClient::new(channels[w].clone());
                    let mut req = tonic::Request::new(GetPartnershipRequest {
                        organization_id: organization_id.clone(),
                        partner_organization_id: partner_organization_id.clone(),
                    });
                    req.metadata_mut().insert("authorization", auth.clone());
                    async move {
                        client.get_partnership(req).await?;
                        Ok(())
                    }
                },
            )
            .await,
        );
    }

    // The same detail over Connect (issue 17): a unary POST on h2c, as gRPC's, with the
    // message in protobuf and in JSON; the same service underneath.
    let connect_cases: [(&'static str, &'static str, &'static str, Bytes); 2] = [
        (
            "connect_detail_proto",
            "Connect GetPartnership (proto, h2c)",
            "application/proto",
            Bytes::from(prost::Message::encode_to_vec(&GetPartnershipRequest {
                organization_id: seeded.large.clone(),
                partner_organization_id: partner.clone(),
            })),
        ),
        (
            "connect_detail_json",
            "Connect GetPartnership (JSON, h2c)",
            "application/json",
            Bytes::from(serde_json::to_vec(&json!({
                "organization_id": seeded.large,
                "partner_organization_id": partner,
            }))?),
        ),
    ];
    for (key, name, content_type, body) in connect_cases {
        if args.runs(key) {
            let bearer = auth.to_str()?.to_string();
            let request: MakeRequest = Arc::new(move || {
                http::Request::post("/orgd.v1.PartnershipService/GetPartnership")
                    .header("host", "localhost")
                    .header("content-type", content_type)
                    .header("connect-protocol-version", "1")
                    .header("authorization", bearer.as_str())
                    .body(Full::new(body.clone()))
                    .expect("valid request")
            });
            outcomes.push(rest_case(key, name, &args, addr, true, request, 200).await?);
        }
    }

    // List pages, measured for latency at low concurrency: the first page and the page after
    // it (keyset), and a search with an order field and the total count.
    let latency_args = Args {
        connections: 4,
        ..args.clone()
    };
    for (key, name, uuid) in [
        (
            "giosg_page_small",
            "giosg partnership page (1k)",
            &seeded.small,
        ),
        (
            "giosg_page_large",
            "giosg partnership page (rows)",
            &seeded.large,
        ),
    ] {
        if !args.runs(key) {
            continue;
        }
        let first = format!("/api/v5/orgs/{uuid}/partnerships?ordering=-created_at&page_size=25");
        let next = giosg_next_page(addr, &first, &seeded.token).await?;
        let token = format!("Token {}", seeded.token);
        let pages = [first, next];
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let request = Arc::new(move || {
            let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            http::Request::get(pages[i % 2].as_str())
                .header("host", "localhost")
                .header("authorization", token.as_str())
                .body(Full::new(Bytes::new()))
                .expect("valid request")
        });
        outcomes.push(rest_case(key, name, &latency_args, addr, false, request, 200).await?);
    }
    // A user looks for one partner by a fragment of its name: a handful of matches at any
    // directory size, so the index decides the cost. The broad term matches about a quarter
    // of every directory; counting those matches grows with the directory whatever the
    // index, so it is reported beside the target, not as it.
    let selective = urlencode(&company_name(SEARCHED_RECORD));
    for (key, name, uuid, text) in [
        (
            "partners_search_small",
            "partners search (1k)",
            &seeded.small,
            selective.as_str(),
        ),
        (
            "partners_search_large",
            "partners search (rows)",
            &seeded.large,
            selective.as_str(),
        ),
        (
            "partners_search_broad_small",
            "partners search, broad term (1k)",
            &seeded.small,
            "dig",
        ),
        (
            "partners_search_broad_large",
            "partners search, broad term (rows)",
            &seeded.large,
            "dig",
        ),
    ] {
        if !args.runs(key) {
            continue;
        }
        let path = format!(
            "/v1/partners?partner_types=customer&partner_types=supplier&search_text={text}\
             &order_by=sales_amount&order_dir=desc&limit=25&offset=0"
        );
        let (bearer, uuid) = (bearer.clone(), uuid.clone());
        let request = Arc::new(move || {
            http::Request::get(path.as_str())
                .header("host", "localhost")
                .header("authorization", bearer.as_str())
                .header("requester-organization-id", uuid.as_str())
                .header("target-organization-id", uuid.as_str())
                .body(Full::new(Bytes::new()))
                .expect("valid request")
        });
        outcomes.push(rest_case(key, name, &latency_args, addr, false, request, 200).await?);
    }

    // Last, so that the peak before it is the other cases' own: every connection asks for
    // the largest list it may still get, or for one just past the budget.
    let rss_before_worst = peak_rss_mib(pid);
    if let Some((answered, refused)) = &worst {
        for (key, name, token, expect) in [
            (
                "worst_list_answered",
                "worst list, just under 16 MiB",
                answered,
                200,
            ),
            (
                "worst_list_refused",
                "worst list, just over 16 MiB",
                refused,
                409,
            ),
        ] {
            let bearer = format!("Bearer {token}");
            let request = Arc::new(move || {
                http::Request::get("/api/v1/organizations")
                    .header("host", "localhost")
                    .header("authorization", bearer.as_str())
                    .body(Full::new(Bytes::new()))
                    .expect("valid request")
            });
            outcomes.push(rest_case(key, name, &args, addr, false, request, expect).await?);
        }
    }
    let rss = peak_rss_mib(pid);
    let _ = server.child.kill().await;
    if args.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }

    println!(
        "{:<38} {:>10} {:>8} {:>12} {:>9} {:>9}",
        "case", "requests", "errors", "req/s", "p50 ms", "p99 ms"
    );
    for o in &outcomes {
        println!(
            "{:<38} {:>10} {:>8} {:>12.0} {:>9.3} {:>9.3}",
            o.name, o.requests, o.errors, o.rps, o.p50_ms, o.p99_ms
        );
    }
    let rps = |key: &str| outcomes.iter().find(|o| o.key == key).map(|o| o.rps);
    let p50 = |key: &str| outcomes.iter().find(|o| o.key == key).map(|o| o.p50_ms);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let mut p99 = serde_json::Map::new();
    for o in &outcomes {
        p99.insert(o.key.to_string(), json!(o.p99_ms));
    }
    let mut over_ceiling = serde_json::Map::new();
    let mut hot_rps = serde_json::Map::new();
    for key in HOT_READS {
        hot_rps.insert(format!("{key}_rps"), json!(rps(key)));
        over_ceiling.insert(
            format!("{key}_over_ceiling"),
            json!(ratio(rps(key), rps("giosg_detail_ceiling"))),
        );
    }
    let mut summary: Value = json!({
        "database": if url.starts_with("postgres") { "postgresql" } else { "sqlite" },
        "rows": args.rows,
        "connections": args.connections,
        "grpc_floor_rps": rps("grpc_floor"),
        "grpc_get_org_rps": rps("grpc_get_org"),
        "rest_get_org_rps": rps("rest_get_org"),
        "rest_get_org_h2c_rps": rps("rest_get_org_h2c"),
        "rest_over_grpc": ratio(rps("rest_get_org"), rps("grpc_get_org")),
        "get_org_over_floor": ratio(rps("grpc_get_org"), rps("grpc_floor")),
        "giosg_page_p50_ms_small": p50("giosg_page_small"),
        "giosg_page_p50_ms_large": p50("giosg_page_large"),
        "partners_search_p50_ms_small": p50("partners_search_small"),
        "partners_search_p50_ms_large": p50("partners_search_large"),
        "partners_search_broad_p50_ms_small": p50("partners_search_broad_small"),
        "partners_search_broad_p50_ms_large": p50("partners_search_broad_large"),
        "write_rps": rps("write"),
        "write_without_log_rps": rps("write_without_log"),
        "write_with_log_over_without": ratio(rps("write"), rps("write_without_log")),
        "p99_ms": p99,
        "server_peak_rss_mib": rss,
        "server_peak_rss_mib_before_worst_list": worst.as_ref().and(rss_before_worst),
        "worst_list_rps": rps("worst_list_answered"),
        "worst_list_refused_rps": rps("worst_list_refused"),
    });
    let object = summary.as_object_mut().expect("an object");
    object.insert(
        "giosg_detail_ceiling_rps".into(),
        json!(rps("giosg_detail_ceiling")),
    );
    object.extend(hot_rps);
    object.extend(over_ceiling);
    object.insert(
        "grpc_detail_over_rest".into(),
        json!(ratio(rps("grpc_giosg_detail"), rps("giosg_detail"))),
    );
    object.insert(
        "connect_proto_over_grpc".into(),
        json!(ratio(rps("connect_detail_proto"), rps("grpc_giosg_detail"))),
    );
    object.insert(
        "connect_json_over_grpc".into(),
        json!(ratio(rps("connect_detail_json"), rps("grpc_giosg_detail"))),
    );
    object.insert(
        "h2c_over_http1".into(),
        json!(ratio(rps("giosg_detail_h2c"), rps("giosg_detail"))),
    );
    println!("{summary}");
    Ok(())
}
