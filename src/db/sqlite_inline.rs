//! SQLite read connections that run a statement on the calling thread.
//!
//! Every sqlx SQLite connection lives on a worker thread of its own, so each statement costs
//! two thread switches; on two cores those switches, not SQLite, were the largest cost of
//! the most frequent read (issue 6). The one-statement reads (GetOrganization; the giosg
//! partnership detail, partner and own organization; MyCreditApp's partner list and detail;
//! GroupAlarm's children page and GetOrganizations) run here instead, through rusqlite,
//! with statements prepared once per connection and kept. A statement here never awaits
//! while it holds its connection, so it keeps the calling worker thread for as long as
//! SQLite takes: only short, indexed reads belong here (GetOrganization's is microseconds;
//! its availability walk grows with the subtree: 3 ms for a root of 10,000 descendants).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{CachedStatement, Connection, OpenFlags, StatementStatus};
use sea_orm::{DbErr, RuntimeErr, Value};

use super::row::{ColumnNames, Columns, SqliteRow};
use super::{READER_CACHE_KIB, SQLITE_BUSY_TIMEOUT};
use crate::observability::metrics::Metrics;

/// Statements kept prepared per connection; a few shapes of a few reads.
const STATEMENT_CACHE: usize = 32;

#[derive(Debug)]
pub struct InlineReaders {
    connections: Box<[Mutex<Connection>]>,
    /// Where the next statement starts looking for an idle connection.
    next: AtomicUsize,
    metrics: Arc<Metrics>,
}

fn sqlite_err(e: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(format!("sqlite: {e}")))
}

/// The value rusqlite binds for a SeaORM value, encoded as sqlx-sqlite encodes it (so the
/// same statement compares the same way on either path): UUIDs as 16-byte blobs, times as
/// RFC 3339 text.
fn to_sqlite(value: &Value) -> Result<rusqlite::types::Value, DbErr> {
    use rusqlite::types::Value as V;
    Ok(match value {
        Value::BigInt(Some(n)) => V::Integer(*n),
        Value::Int(Some(n)) => V::Integer(i64::from(*n)),
        Value::String(Some(s)) => V::Text(s.clone()),
        Value::Uuid(Some(u)) => V::Blob(u.as_bytes().to_vec()),
        Value::ChronoDateTimeUtc(Some(t)) => {
            V::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }
        Value::BigInt(None)
        | Value::Int(None)
        | Value::String(None)
        | Value::Uuid(None)
        | Value::ChronoDateTimeUtc(None) => V::Null,
        other => {
            return Err(DbErr::Custom(format!(
                "no inline SQLite binding for {other:?}"
            )));
        }
    })
}

impl InlineReaders {
    /// `count` read-only connections to the database file at `path`.
    pub fn open(path: &Path, count: usize, metrics: Arc<Metrics>) -> Result<Self, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connections = (0..count.max(1))
            .map(|_| {
                let connection = Connection::open_with_flags(path, flags)?;
                connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
                connection.pragma_update(None, "cache_size", format!("-{READER_CACHE_KIB}"))?;
                // The recursive queries' work tables: in memory, not in temporary files.
                connection.pragma_update(None, "temp_store", "memory")?;
                connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                Ok(Mutex::new(connection))
            })
            .collect::<Result<Vec<_>, rusqlite::Error>>()
            .map_err(|e| DbErr::Conn(RuntimeErr::Internal(format!("sqlite: {e}"))))?;
        Ok(InlineReaders {
            connections: connections.into_boxed_slice(),
            next: AtomicUsize::new(0),
            metrics,
        })
    }

    /// An idle connection if there is one. There are more connections than threads and no
    /// statement waits while it holds one, so waiting here is rare and short.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        let n = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.connections[(start + i) % n].try_lock() {
                return guard;
            }
        }
        // A statement that panicked left nothing half-done: reads change nothing.
        self.connections[start % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The first row of `sql` with `values` bound to `$1`, `$2`, ..., read by `decode`.
    pub fn query_one<T, E: From<DbErr>>(
        &self,
        sql: &str,
        values: &[Value],
        decode: impl FnOnce(&dyn Columns) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(sql).map_err(sqlite_err)?;
        bind(&mut statement, sql, values)?;
        let names = ColumnNames::of(&statement);
        let mut rows = statement.raw_query();
        let first = match rows.next().map_err(sqlite_err)? {
            Some(row) => decode(&SqliteRow::new(row, &names)).map(Some),
            None => Ok(None),
        };
        drop(rows);
        self.count_reprepares(&statement);
        first
    }

    /// Every row of `sql` (bound as in [`InlineReaders::query_one`]), each read by `decode`.
    pub fn query_all<T, E: From<DbErr>>(
        &self,
        sql: &str,
        values: &[Value],
        mut decode: impl FnMut(&dyn Columns) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(sql).map_err(sqlite_err)?;
        bind(&mut statement, sql, values)?;
        let names = ColumnNames::of(&statement);
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_err)? {
            out.push(decode(&SqliteRow::new(row, &names))?);
        }
        drop(rows);
        self.count_reprepares(&statement);
        Ok(out)
    }

    /// A kept statement that SQLite compiles again when it runs costs its whole parse and
    /// plan each time (a page: 470 µs against 64 µs), as when a plan depends on a bound
    /// value (see `db::limit_sql`). Counted, so that it shows and a test can forbid it.
    fn count_reprepares(&self, statement: &CachedStatement<'_>) {
        let times = statement.reset_status(StatementStatus::RePrepare);
        if times > 0 {
            self.metrics.inline_reprepared(times as u64);
        }
    }
}

/// Binds `values` to `$1`, `$2`, ... SQLite numbers `$N` parameters in the order they first
/// appear in the text, not by N: each is bound by the number in its name, as sqlx does.
fn bind(
    statement: &mut rusqlite::CachedStatement<'_>,
    sql: &str,
    values: &[Value],
) -> Result<(), DbErr> {
    for index in 1..=statement.parameter_count() {
        let n = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=values.len()).contains(n))
            .ok_or_else(|| DbErr::Custom(format!("parameter {index} of {sql:?} unbound")))?;
        statement
            .raw_bind_parameter(index, to_sqlite(&values[n - 1])?)
            .map_err(sqlite_err)?;
    }
    Ok(())
}
