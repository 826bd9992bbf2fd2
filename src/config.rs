//! What a server needs to start: where to listen, which database to use, and the bounds a
//! deployment (or a test) may change.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::limits;
use crate::rate_limit::Rate;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Created and migrated on first start; WAL mode.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://orgd.db?mode=rwc";

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Requests in progress at once before the excess is refused with 503.
    pub max_in_flight: usize,
    /// The most items a list answers whole (see `domain::validate::MAX_UNPAGED_ITEMS`).
    pub max_unpaged_items: usize,
    /// SQLite: the most bytes the database may hold; past it writes answer 503 STORAGE_FULL.
    pub sqlite_max_size_bytes: Option<u64>,
    /// Serve a database that takes no writes (writes answer 503 READ_ONLY).
    pub read_only: bool,
    /// A connection with no request in progress (none sent yet, HTTP/1.1 keep-alive between
    /// requests, an h2 connection without streams) is closed after this long.
    pub idle_timeout: Duration,
    /// HTTP/2 pings an idle-looking peer this often, and drops it when a ping goes
    /// unanswered for [`Config::h2_keepalive_timeout`].
    pub h2_keepalive_interval: Duration,
    pub h2_keepalive_timeout: Duration,
    /// Open client connections at once; `None` derives it from `RLIMIT_NOFILE`
    /// (see [`limits::connection_cap`]).
    pub max_connections: Option<usize>,
    /// PEM certificate chain and private key: serve TLS (h2 and http/1.1 by ALPN) instead
    /// of cleartext.
    pub tls: Option<TlsFiles>,
    /// On shutdown, how long readiness reports draining while the listener still accepts
    /// (so a load balancer sees the 503 before connections are refused).
    pub drain_delay: Duration,
    /// On shutdown, how long open requests and streams get before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// The most bytes one response may have (`limits::DEFAULT_MAX_RESPONSE_BYTES`).
    pub max_response_bytes: usize,
    /// Writes each user or organization token may make (`limits::DEFAULT_WRITE_RATE`);
    /// `None`: unlimited.
    pub write_rate: Option<Rate>,
    /// Failed OAuth2 client-credential attempts per existing client id and per peer.
    pub oauth_failures_per_client: Rate,
    pub oauth_failures_per_peer: Rate,
    /// How often expired rows are deleted (`purge::DEFAULT_INTERVAL`).
    pub purge_interval: Duration,
    /// How long the change log keeps an event (`purge::DEFAULT_EVENT_RETENTION`).
    pub event_retention: Duration,
    /// Whether writes append to the change log (default on). Off only to measure what
    /// the log costs: watchers and the audit log then see nothing new.
    pub change_log: bool,
    /// Child organizations one organization may have (`limits::DEFAULT_MAX_CHILDREN`).
    pub max_children: u64,
    /// Organizations one user may belong to (`limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER`).
    pub max_organizations_per_user: u64,
    /// WatchEvents: heartbeat interval, buffer per stream, streams per caller and server.
    pub watch: crate::domain::watch::WatchConfig,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    pub fn new(listen: SocketAddr, database_url: String) -> Config {
        Config {
            listen,
            database_url,
            max_in_flight: limits::DEFAULT_MAX_IN_FLIGHT,
            max_unpaged_items: crate::domain::validate::MAX_UNPAGED_ITEMS,
            sqlite_max_size_bytes: None,
            read_only: false,
            idle_timeout: limits::DEFAULT_IDLE_TIMEOUT,
            h2_keepalive_interval: limits::DEFAULT_H2_KEEPALIVE_INTERVAL,
            h2_keepalive_timeout: limits::DEFAULT_H2_KEEPALIVE_TIMEOUT,
            max_connections: None,
            tls: None,
            drain_delay: Duration::ZERO,
            shutdown_timeout: limits::DEFAULT_SHUTDOWN_TIMEOUT,
            max_response_bytes: crate::limits::DEFAULT_MAX_RESPONSE_BYTES,
            write_rate: Some(crate::limits::DEFAULT_WRITE_RATE),
            oauth_failures_per_client: crate::domain::oauth::DEFAULT_FAILURES_PER_CLIENT,
            oauth_failures_per_peer: crate::domain::oauth::DEFAULT_FAILURES_PER_PEER,
            purge_interval: crate::purge::DEFAULT_INTERVAL,
            event_retention: crate::purge::DEFAULT_EVENT_RETENTION,
            change_log: true,
            max_children: crate::limits::DEFAULT_MAX_CHILDREN,
            max_organizations_per_user: crate::limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER,
            watch: crate::domain::watch::WatchConfig::default(),
        }
    }

    pub fn db_options(&self) -> crate::db::DbOptions {
        crate::db::DbOptions {
            sqlite_max_size_bytes: self.sqlite_max_size_bytes,
            read_only: self.read_only,
        }
    }
}

/// A listen address as operators write it: `host:port` with an IP or a host name (the first
/// address it resolves to), or `:port` for every interface.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    full.to_socket_addrs()
        .map_err(|e| format!("{text:?} is not host:port or :port ({e})"))?
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// A duration as `30s`, `500ms`, `2m` or plain seconds (`30`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(format!("{text:?}: the unit is one of ms, s, m, h, d")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}
