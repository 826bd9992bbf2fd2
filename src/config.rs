//! What a server needs to start: where to listen, which database to use, and the bounds a
//! deployment (or a test) may change.

use std::net::SocketAddr;

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
}

impl Config {
    pub fn new(listen: SocketAddr, database_url: String) -> Config {
        Config {
            listen,
            database_url,
            max_in_flight: crate::limits::DEFAULT_MAX_IN_FLIGHT,
            max_unpaged_items: crate::domain::validate::MAX_UNPAGED_ITEMS,
            sqlite_max_size_bytes: None,
            read_only: false,
        }
    }

    pub fn db_options(&self) -> crate::db::DbOptions {
        crate::db::DbOptions {
            sqlite_max_size_bytes: self.sqlite_max_size_bytes,
            read_only: self.read_only,
        }
    }
}
