//! What a server needs to start: where to listen, which database to use, and the bounds a
//! deployment (or a test) may change.

use std::net::SocketAddr;
use std::time::Duration;

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
    /// Child organizations one organization may have (`limits::DEFAULT_MAX_CHILDREN`).
    pub max_children: u64,
    /// Organizations one user may belong to (`limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER`).
    pub max_organizations_per_user: u64,
}

impl Config {
    pub fn new(listen: SocketAddr, database_url: String) -> Config {
        Config {
            listen,
            database_url,
            max_in_flight: crate::limits::DEFAULT_MAX_IN_FLIGHT,
            max_unpaged_items: crate::domain::validate::MAX_UNPAGED_ITEMS,
            max_response_bytes: crate::limits::DEFAULT_MAX_RESPONSE_BYTES,
            write_rate: Some(crate::limits::DEFAULT_WRITE_RATE),
            oauth_failures_per_client: crate::domain::oauth::DEFAULT_FAILURES_PER_CLIENT,
            oauth_failures_per_peer: crate::domain::oauth::DEFAULT_FAILURES_PER_PEER,
            purge_interval: crate::purge::DEFAULT_INTERVAL,
            max_children: crate::limits::DEFAULT_MAX_CHILDREN,
            max_organizations_per_user: crate::limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER,
        }
    }
}
