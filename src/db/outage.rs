//! Database failures that are the storage's state, not a bug: the client may retry later,
//! and every surface answers them as 503 / UNAVAILABLE with a retry hint, never as 500.

use std::time::Duration;

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

/// Why the database cannot do what a request needs right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// The disk, or the configured size cap, is full (SQLITE_FULL, PostgreSQL 53100).
    StorageFull,
    /// The database accepts no writes (a read-only file, `--read-only`, a standby).
    ReadOnly,
    /// The database cannot be reached (connection refused or dropped, pool timed out).
    Unreachable,
    /// Another writer holds the lock longer than the busy timeout.
    Busy,
}

impl Outage {
    /// The stable `ErrorInfo.reason` of the outage.
    pub fn reason(self) -> &'static str {
        match self {
            Outage::StorageFull => "STORAGE_FULL",
            Outage::ReadOnly => "READ_ONLY",
            Outage::Unreachable => "DATABASE_UNAVAILABLE",
            Outage::Busy => "UNAVAILABLE",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Outage::StorageFull => "storage is full: writes are refused until space is freed",
            Outage::ReadOnly => "the database is read-only: writes are refused",
            Outage::Unreachable => "the database is unavailable, retry later",
            Outage::Busy => "the database is busy, retry later",
        }
    }

    /// How long a client should wait before trying again (`Retry-After`, `RetryInfo`).
    pub fn retry_after(self) -> Duration {
        match self {
            Outage::StorageFull => Duration::from_secs(30),
            Outage::ReadOnly => Duration::from_secs(60),
            Outage::Unreachable | Outage::Busy => Duration::from_secs(1),
        }
    }

    /// The outage a database error stands for, if it is one.
    pub fn of(e: &DbErr) -> Option<Outage> {
        match e {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)
            | DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => {
                Some(Outage::Unreachable)
            }
            DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => {
                of_runtime(runtime)
            }
            // Errors our own SQLite readers report as text (see `db_err`).
            DbErr::Custom(text) => of_text(text),
            _ => None,
        }
    }
}

fn of_runtime(e: &RuntimeErr) -> Option<Outage> {
    match e {
        RuntimeErr::SqlxError(sqlx) => of_sqlx(sqlx),
        RuntimeErr::Internal(text) => of_text(text),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn of_sqlx(e: &sea_orm::sqlx::Error) -> Option<Outage> {
    use sea_orm::sqlx::Error;
    match e {
        Error::Database(db) => db.code().and_then(|code| of_code(&code)),
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed
        | Error::Protocol(_) => Some(Outage::Unreachable),
        _ => None,
    }
}

/// SQLite's (extended) result codes are numbers, PostgreSQL's SQLSTATEs five characters.
fn of_code(code: &str) -> Option<Outage> {
    if let Ok(n) = code.parse::<i32>()
        && code.len() < 5
    {
        return match n & 0xff {
            13 => Some(Outage::StorageFull), // SQLITE_FULL
            8 => Some(Outage::ReadOnly),     // SQLITE_READONLY
            5 | 6 => Some(Outage::Busy),     // SQLITE_BUSY, SQLITE_LOCKED
            _ => None,
        };
    }
    match code {
        "53100" => Some(Outage::StorageFull), // disk_full
        "25006" => Some(Outage::ReadOnly),    // read_only_sql_transaction
        // admin_shutdown, crash_shutdown, cannot_connect_now, and the connection class.
        "57P01" | "57P02" | "57P03" => Some(Outage::Unreachable),
        _ if code.starts_with("08") => Some(Outage::Unreachable),
        _ => None,
    }
}

fn of_text(text: &str) -> Option<Outage> {
    if text.contains("database or disk is full") {
        Some(Outage::StorageFull)
    } else if text.contains("attempt to write a readonly database") {
        Some(Outage::ReadOnly)
    } else if text.contains("database is locked") {
        Some(Outage::Busy)
    } else if text.contains("pool timed out") || text.contains("PoolTimedOut") {
        Some(Outage::Unreachable)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_both_backends() {
        assert_eq!(of_code("13"), Some(Outage::StorageFull));
        assert_eq!(of_code("1032"), Some(Outage::ReadOnly)); // SQLITE_READONLY_DBMOVED
        assert_eq!(of_code("5"), Some(Outage::Busy));
        assert_eq!(of_code("19"), None); // a constraint is the request's fault
        assert_eq!(of_code("53100"), Some(Outage::StorageFull));
        assert_eq!(of_code("08006"), Some(Outage::Unreachable));
        assert_eq!(of_code("23505"), None);
    }
}
