//! Ceiling servers: what a careful engineer would write by hand for the giosg partnership
//! detail (`GET /api/v5/orgs/{o}/partnerships/{p}`), on the database the bench seeded, so
//! that the bench can say how far orgd is from it (`*_over_ceiling`). Each request does the
//! work orgd does, in the fewest statements, kept prepared per connection:
//!
//! 1. the token lookup, by its SHA-256 hex as orgd stores it;
//! 2. one statement: the caller's membership in the organization's ancestor chain (a direct
//!    role, or ownership above), the subscription state, the partnership with both
//!    organizations and their presence flags.
//!
//! Only what the bench asks is served (a user's token, the happy path and its refusals in
//! plain status codes); the body of a 200 is byte for byte orgd's, which the bench asserts
//! once before it measures.
//!
//! It runs as a process of its own (`orgd-bench ceiling-serve URL ADDR`), as orgd does, so
//! neither shares the load generator's threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use chrono::{DateTime, Datelike, Timelike, Utc};
use sea_orm::sqlx::{self, Row, postgres::PgPoolOptions};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Depth bound of the ancestor walk, as orgd's.
const MAX_DEPTH: i64 = 64;

/// The token's principal: this ceiling serves users' tokens.
const TOKEN_SQL: &str = "SELECT user_id, expires_at FROM api_tokens \
     WHERE token_hash = $1 AND kind = 'user'";

/// Presence of the organization `org`: NULL nobody present, 0 present, 1 online.
fn presence(org: &str) -> String {
    format!(
        "(SELECT MAX(CASE WHEN u.online_enabled THEN 1 ELSE 0 END) FROM memberships m \
           JOIN user_clients c ON c.user_id = m.user_id JOIN users u ON u.id = m.user_id \
           WHERE c.expires_at > $4 AND m.organization_id = {org})"
    )
}

/// Access, state, the partnership, both organizations and their presence: one statement.
/// The membership is looked up per ancestor (a subquery, not a join): joined, SQLite walked
/// all of the user's memberships, which for the bench's user are thousands (half the
/// ceiling's CPU, perf).
/// `$1` organization UUID, `$2` user id, `$3` partner UUID, `$4` now.
fn detail_sql() -> String {
    format!(
        "WITH RECURSIVE chain(id, parent_id, depth) AS ( \
           SELECT id, parent_id, 0 FROM organizations WHERE uuid = $1 \
           UNION ALL SELECT up.id, up.parent_id, c.depth + 1 FROM organizations up \
             JOIN chain c ON up.id = c.parent_id WHERE c.depth < {MAX_DEPTH}) \
         SELECT o.uuid, o.name, o.email, o.created_at, o.state, o.trial_end_date, \
           (SELECT COUNT((SELECT 1 FROM memberships m \
              WHERE m.organization_id = c.id AND m.user_id = $2 \
                AND (c.depth = 0 OR m.role = 'owner'))) FROM chain c) AS allowed, \
           {own} AS online, \
           p.uuid AS p_uuid, p.name AS p_name, p.email AS p_email, p.created_at AS p_created_at, \
           {partner} AS p_online, \
           s.id AS s_id, s.display_name AS s_display_name, s.created_at AS s_created_at \
         FROM organizations o \
         LEFT JOIN organizations p ON p.uuid = $3 \
         LEFT JOIN partnerships s ON s.organization_id = o.id AND s.partner_organization_id = p.id \
         WHERE o.uuid = $1",
        own = presence("o.id"),
        partner = presence("p.id"),
    )
}

fn sha256_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The token of `Authorization: Token <t>` or `Bearer <t>`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        .then_some(token.trim())
}

/// One organization as the detail embeds it.
struct Org {
    uuid: Uuid,
    name: String,
    email: Option<String>,
    created_at: DateTime<Utc>,
    online: Option<i64>,
}

/// What the detail statement read.
struct Detail {
    own: Org,
    state: String,
    trial_end_date: Option<DateTime<Utc>>,
    allowed: bool,
    partner: Option<Org>,
    side: Option<(Option<String>, DateTime<Utc>)>,
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string serializes"));
}

/// RFC 3339 UTC with 0, 3, 6 or 9 fraction digits, as orgd's JSON writes timestamps.
fn json_time(out: &mut String, t: DateTime<Utc>) {
    let (d, tm) = (t.date_naive(), t.time());
    out.push_str(&format!(
        "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        tm.hour(),
        tm.minute(),
        tm.second()
    ));
    let n = tm.nanosecond();
    if n != 0 {
        if n % 1_000_000 == 0 {
            out.push_str(&format!(".{:03}", n / 1_000_000));
        } else if n % 1_000 == 0 {
            out.push_str(&format!(".{:06}", n / 1_000));
        } else {
            out.push_str(&format!(".{n:09}"));
        }
    }
    out.push_str("Z\"");
}

fn json_org(out: &mut String, o: &Org) {
    out.push_str("{\"id\":\"");
    out.push_str(&o.uuid.to_string());
    out.push_str("\",\"name\":");
    json_string(out, &o.name);
    out.push_str(",\"email\":");
    match &o.email {
        Some(e) => json_string(out, e),
        None => out.push_str("null"),
    }
    out.push_str(",\"created_at\":");
    json_time(out, o.created_at);
    out.push_str(&format!(
        ",\"is_present\":{},\"is_online\":{}}}",
        o.online.is_some(),
        o.online.is_some_and(|n| n > 0)
    ));
}

/// The answer to a detail read: the status orgd gives, and orgd's body on success.
fn answer(detail: Option<Detail>) -> Response {
    let Some(d) = detail else {
        return StatusCode::FORBIDDEN.into_response();
    };
    if !d.allowed {
        return StatusCode::FORBIDDEN.into_response();
    }
    let now = Utc::now();
    let active = match d.state.as_str() {
        "active" => true,
        "trial" => d.trial_end_date.is_none_or(|end| end > now),
        _ => false,
    };
    if !active {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (Some(partner), Some((display_name, created_at))) = (&d.partner, &d.side) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut out = String::with_capacity(512);
    out.push_str("{\"partner_organization_id\":\"");
    out.push_str(&partner.uuid.to_string());
    out.push_str("\",\"partner_organization\":");
    json_org(&mut out, partner);
    out.push_str(",\"organization_id\":\"");
    out.push_str(&d.own.uuid.to_string());
    out.push_str("\",\"organization\":");
    json_org(&mut out, &d.own);
    out.push_str(",\"display_name\":");
    match display_name {
        Some(n) => json_string(&mut out, n),
        None => out.push_str("null"),
    }
    out.push_str(",\"created_at\":");
    json_time(&mut out, *created_at);
    out.push('}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// SQLite: read-only rusqlite connections, statements prepared once per connection and
/// kept, run on the calling thread (they are microseconds).
struct Sqlite {
    connections: Box<[Mutex<rusqlite::Connection>]>,
    next: AtomicUsize,
    detail: String,
}

impl Sqlite {
    fn open(path: &std::path::Path, count: usize) -> Result<Sqlite, BoxError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut connections = Vec::new();
        for _ in 0..count {
            let c = rusqlite::Connection::open_with_flags(path, flags)?;
            c.busy_timeout(Duration::from_secs(10))?;
            connections.push(Mutex::new(c));
        }
        Ok(Sqlite {
            connections: connections.into_boxed_slice(),
            next: AtomicUsize::new(0),
            // `?N` binds by number; SQLite numbers `$N` by first appearance instead.
            detail: detail_sql().replace('$', "?"),
        })
    }

    fn connection(&self) -> MutexGuard<'_, rusqlite::Connection> {
        let n = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.connections[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.connections[start % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn user(&self, hash: &str) -> rusqlite::Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        let c = self.connection();
        let mut st = c.prepare_cached(&TOKEN_SQL.replace('$', "?"))?;
        let found = st
            .query_row([hash], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<DateTime<Utc>>>(1)?))
            })
            .optional()?;
        Ok(found
            .filter(|(_, exp)| exp.is_none_or(|e| e > Utc::now()))
            .map(|(u, _)| u))
    }

    fn detail(
        &self,
        org: Uuid,
        user: i64,
        partner: Uuid,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<Option<Detail>> {
        use rusqlite::OptionalExtension;
        let c = self.connection();
        let mut st = c.prepare_cached(&self.detail)?;
        // Bound as sqlx binds them, so that the stored forms compare: UUID blobs, RFC 3339.
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        st.query_row(
            rusqlite::params![org.as_bytes(), user, partner.as_bytes(), now],
            |r| {
                let partner = match r.get::<_, Option<Uuid>>("p_uuid")? {
                    Some(uuid) => Some(Org {
                        uuid,
                        name: r.get("p_name")?,
                        email: r.get("p_email")?,
                        created_at: r.get("p_created_at")?,
                        online: r.get("p_online")?,
                    }),
                    None => None,
                };
                let side = match r.get::<_, Option<i64>>("s_id")? {
                    Some(_) => Some((r.get("s_display_name")?, r.get("s_created_at")?)),
                    None => None,
                };
                Ok(Detail {
                    own: Org {
                        uuid: r.get("uuid")?,
                        name: r.get("name")?,
                        email: r.get("email")?,
                        created_at: r.get("created_at")?,
                        online: r.get("online")?,
                    },
                    state: r.get("state")?,
                    trial_end_date: r.get("trial_end_date")?,
                    allowed: r.get::<_, i64>("allowed")? > 0,
                    partner,
                    side,
                })
            },
        )
        .optional()
    }
}

/// PostgreSQL: a pool of prepared statements (sqlx keeps each connection's), one round
/// trip per statement, no ping before a connection is reused.
struct Postgres {
    pool: sqlx::PgPool,
    detail: String,
}

impl Postgres {
    async fn user(&self, hash: &str) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(TOKEN_SQL)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => {
                let exp: Option<DateTime<Utc>> = r.try_get(1)?;
                exp.is_none_or(|e| e > Utc::now())
                    .then(|| r.try_get(0))
                    .transpose()?
            }
            None => None,
        })
    }

    async fn detail(
        &self,
        org: Uuid,
        user: i64,
        partner: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Detail>, sqlx::Error> {
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(self.detail.as_str()))
            .bind(org)
            .bind(user)
            .bind(partner)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let online = |c: &str| -> Result<Option<i64>, sqlx::Error> {
            Ok(r.try_get::<Option<i32>, _>(c)?.map(i64::from))
        };
        let partner = match r.try_get::<Option<Uuid>, _>("p_uuid")? {
            Some(uuid) => Some(Org {
                uuid,
                name: r.try_get("p_name")?,
                email: r.try_get("p_email")?,
                created_at: r.try_get("p_created_at")?,
                online: online("p_online")?,
            }),
            None => None,
        };
        let side = match r.try_get::<Option<i64>, _>("s_id")? {
            Some(_) => Some((r.try_get("s_display_name")?, r.try_get("s_created_at")?)),
            None => None,
        };
        Ok(Some(Detail {
            own: Org {
                uuid: r.try_get("uuid")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                created_at: r.try_get("created_at")?,
                online: online("online")?,
            },
            state: r.try_get("state")?,
            trial_end_date: r.try_get("trial_end_date")?,
            allowed: r.try_get::<i64, _>("allowed")? > 0,
            partner,
            side,
        }))
    }
}

enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

async fn partnership(
    State(store): State<Arc<Store>>,
    Path((org, partner)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = presented(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let hash = sha256_hex(token);
    let Ok(org) = Uuid::parse_str(&org) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // A malformed partner UUID names nothing: the nil UUID matches no organization.
    let partner = Uuid::parse_str(&partner).unwrap_or(Uuid::nil());
    let now = Utc::now();
    let result: Result<Option<Detail>, BoxError> = match &*store {
        Store::Sqlite(s) => match s.user(&hash) {
            Ok(Some(user)) => s.detail(org, user, partner, now).map_err(Into::into),
            Ok(None) => return StatusCode::UNAUTHORIZED.into_response(),
            Err(e) => Err(e.into()),
        },
        Store::Postgres(p) => match p.user(&hash).await {
            Ok(Some(user)) => p.detail(org, user, partner, now).await.map_err(Into::into),
            Ok(None) => return StatusCode::UNAUTHORIZED.into_response(),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(detail) => answer(detail),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The SQLite file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> std::path::PathBuf {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// Serves the ceiling on `addr` until killed (the bench's child process).
pub fn serve(url: &str, addr: SocketAddr) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let store = if url.starts_with("postgres") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
                .connect(url)
                .await?;
            Store::Postgres(Postgres {
                pool,
                detail: detail_sql(),
            })
        } else {
            Store::Sqlite(Sqlite::open(&sqlite_path(url), cores * 2)?)
        };
        let app = Router::new()
            .route(
                "/api/v5/orgs/{org}/partnerships/{partner}",
                get(partnership),
            )
            .with_state(Arc::new(store));
        // As orgd's connections do: without it, Nagle's algorithm holds small responses.
        let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await?;
        Ok(())
    })
}
