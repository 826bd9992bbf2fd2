//! SQLite read connections held outside sqlx's pool.
//!
//! sqlx runs every SQLite connection on a worker thread of its own, so each statement is a
//! round trip between threads; a pooled connection adds another, the ping sqlx sends
//! whenever a connection goes back to its pool. On two cores the thread switches, not
//! SQLite, were most of the cost of a read (see issue 6). Reads here take a connection for
//! one statement and give it back without a ping: an embedded database has no link that
//! could have broken, and a statement cut short by a dropped request is reset by the
//! connection's worker before it runs the next one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::sea_query::Values;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, ConnectOptions};
use sea_orm::{DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

use super::READER_CACHE_KIB;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug)]
pub struct SqliteReaders {
    connections: Box<[Mutex<SqliteConnection>]>,
    /// Where the next statement starts looking for an idle connection.
    next: AtomicUsize,
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, sqlx::Sqlite, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

impl SqliteReaders {
    /// `count` read-only connections with `options`.
    pub async fn open(options: &SqliteConnectOptions, count: usize) -> Result<Self, DbErr> {
        let options = options
            .clone()
            .read_only(true)
            .pragma("cache_size", format!("-{READER_CACHE_KIB}"));
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let connection = options
                .connect()
                .await
                .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
            connections.push(Mutex::new(connection));
        }
        Ok(SqliteReaders {
            connections: connections.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    /// An idle connection if there is one, else a turn in one connection's queue.
    async fn connection(&self) -> MutexGuard<'_, SqliteConnection> {
        let n = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.connections[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.connections[start % n].lock().await
    }

    pub async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut connection = self.connection().await;
        Ok(query(&stmt)
            .fetch_optional(&mut *connection)
            .await
            .map_err(query_err)?
            .map(Into::into))
    }

    pub async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut connection = self.connection().await;
        Ok(query(&stmt)
            .fetch_all(&mut *connection)
            .await
            .map_err(query_err)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Statements that change nothing (a read connection refuses the others).
    pub async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut connection = self.connection().await;
        Ok(query(&stmt)
            .execute(&mut *connection)
            .await
            .map_err(query_err)?
            .into())
    }

    pub async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(Statement::from_string(DbBackend::Sqlite, sql))
            .await
    }
}
