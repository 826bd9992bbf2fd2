//! Database connections: SQLite (embedded default) or PostgreSQL, same code and migrations.

mod health;
mod notify;
mod outage;
mod row;
mod sqlite_inline;
mod sqlite_readers;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use health::Unready;
use migration::{Migrator, MigratorTrait};
pub use outage::Outage;
pub use row::{Columns, Prefixed};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult,
    QueryResult, SqliteTransactionMode, SqlxPostgresConnector, SqlxSqliteConnector, Statement,
    TransactionOptions, TransactionTrait, Value,
};
use sqlite_inline::InlineReaders;
use sqlite_readers::SqliteReaders;

use crate::observability::metrics::{Metrics, PoolStats, StatementPath};
use crate::observability::traces;

/// Reads go to `read()` (SQLite: read-only connections of their own; PostgreSQL: the pool);
/// writes go through `begin_write`. On SQLite the writer is a single connection that starts
/// transactions with `BEGIN IMMEDIATE`: SQLite serialises writers anyway, and queueing them
/// in-process avoids the busy-wait and the deadlock of two deferred transactions upgrading to
/// writers at once.
#[derive(Clone, Debug)]
pub struct Db {
    read: ReadConnection,
    /// SQLite files only: connections for [`Db::read_one`] on the calling thread.
    inline: Option<Arc<InlineReaders>>,
    write: DatabaseConnection,
    /// Serving a read-only database on purpose: every write is refused before it starts.
    read_only: bool,
    /// The server's metrics: every statement is timed into them.
    metrics: Arc<Metrics>,
    /// SQLite: bumped each time the writer connection comes back from a write, after its
    /// commit (the change log's watchers read then). Never bumped on PostgreSQL, whose
    /// commits are announced by NOTIFY to every instance.
    committed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// How to open a database, beyond its URL.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// SQLite: the most bytes the database may hold (`PRAGMA max_page_count` on the writer,
    /// in pages of 4 KiB); past it writes are refused as if the disk were full.
    pub sqlite_max_size_bytes: Option<u64>,
    /// Serve a database that takes no writes: writes answer 503 READ_ONLY. Without it such
    /// a database is refused at start-up.
    pub read_only: bool,
}

/// Why a database could not be opened for serving.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Worth waiting for: the server is not there (yet).
    #[error("{target}: {source}")]
    Unreachable { target: String, source: DbErr },
    /// Waiting will not help: the operator must change something.
    #[error("{0}")]
    Refused(String),
}

/// SQLite's page size unless a database was made with another.
const SQLITE_PAGE_BYTES: u64 = 4096;

/// Where reads go: SQLite's own read connections, or the pool (PostgreSQL, and an
/// in-memory SQLite database, which exists once per connection).
#[derive(Clone, Debug)]
pub enum ReadConnection {
    Pool(DatabaseConnection),
    Sqlite(Arc<SqliteReaders>, Arc<Metrics>),
}

/// Times a statement that has run into the metrics, and into a trace span when traces are
/// exported (`sql` is only needed then).
fn observe_statement(
    metrics: &Metrics,
    backend: DatabaseBackend,
    path: StatementPath,
    sql: Option<&str>,
    elapsed: Duration,
    failed: bool,
) {
    metrics.statement(path, elapsed, failed);
    if let Some(sql) = sql {
        let system = match backend {
            DatabaseBackend::Postgres => "postgresql",
            _ => "sqlite",
        };
        traces::statement(system, sql, elapsed, failed);
    }
}

/// The text of a statement, kept only while traces are exported.
fn traced(sql: &str) -> Option<String> {
    traces::exporting().then(|| sql.to_string())
}

/// Runs a statement on SQLite's read connections and observes it, as SeaORM's metric
/// callback does for the connections it owns.
async fn timed<T>(
    metrics: &Metrics,
    sql: Option<String>,
    statement: impl Future<Output = Result<T, DbErr>>,
) -> Result<T, DbErr> {
    let started = Instant::now();
    let result = statement.await;
    observe_statement(
        metrics,
        DatabaseBackend::Sqlite,
        StatementPath::SqliteReaders,
        sql.as_deref(),
        started.elapsed(),
        result.is_err(),
    );
    result
}

#[async_trait::async_trait]
impl ConnectionTrait for ReadConnection {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            ReadConnection::Pool(c) => c.get_database_backend(),
            ReadConnection::Sqlite(..) => DatabaseBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            ReadConnection::Pool(c) => c.execute_raw(stmt).await,
            ReadConnection::Sqlite(r, m) => timed(m, traced(&stmt.sql), r.execute(stmt)).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            ReadConnection::Pool(c) => c.execute_unprepared(sql).await,
            ReadConnection::Sqlite(r, m) => timed(m, traced(sql), r.execute_unprepared(sql)).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            ReadConnection::Pool(c) => c.query_one_raw(stmt).await,
            ReadConnection::Sqlite(r, m) => timed(m, traced(&stmt.sql), r.query_one(stmt)).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            ReadConnection::Pool(c) => c.query_all_raw(stmt).await,
            ReadConnection::Sqlite(r, m) => timed(m, traced(&stmt.sql), r.query_all(stmt)).await,
        }
    }
}

/// How long an SQLite connection, writer or reader, waits for a lock before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of each SQLite read connection, in KiB: smaller than SQLite's 2 MiB default,
/// because the readers outnumber the cores and the operating system caches the file for
/// all of them at once.
const READER_CACHE_KIB: u32 = 1024;

fn db_err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Times every statement SeaORM runs on `conn` (transactions included) into `metrics`.
fn with_statement_metrics(
    mut conn: DatabaseConnection,
    metrics: &Arc<Metrics>,
) -> DatabaseConnection {
    let metrics = metrics.clone();
    let backend = conn.get_database_backend();
    conn.set_metric_callback(move |info| {
        let sql = traces::exporting().then_some(info.statement.sql.as_str());
        observe_statement(
            &metrics,
            backend,
            StatementPath::Pool,
            sql,
            info.elapsed,
            info.failed,
        )
    });
    conn
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbErr> {
        Db::connect_with(url, &DbOptions::default()).await
    }

    /// Opens the database: SQLite at once (its file is local), PostgreSQL lazily, so that a
    /// server can start, answer 503 and wait for a database that is not up yet.
    pub async fn connect_with(url: &str, db_options: &DbOptions) -> Result<Db, DbErr> {
        // Instances starting together on a new SQLite file race to switch it to WAL, which
        // takes the file's lock without waiting for it: the losers open again shortly.
        let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
        loop {
            match Db::connect_once(url, db_options).await {
                Err(e)
                    if Outage::of(&e) == Some(Outage::Busy)
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    async fn connect_once(url: &str, db_options: &DbOptions) -> Result<Db, DbErr> {
        let metrics = Metrics::new();
        if url.starts_with("sqlite:") {
            // `mode=rwc` (the default URL has it) creates a missing file; any other mode
            // makes a mistyped path an error instead of a new, empty database.
            let options = SqliteConnectOptions::from_str(url)
                .map_err(db_err)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            // An embedded database has no link to lose: sqlx's ping before every acquire
            // would be one more round trip to the connection's worker thread per query.
            let mut writer_options = options.clone();
            if let Some(bytes) = db_options.sqlite_max_size_bytes {
                let pages = bytes.div_ceil(SQLITE_PAGE_BYTES).max(1);
                writer_options = writer_options.pragma("max_page_count", pages.to_string());
            }
            let committed = Arc::new(tokio::sync::watch::channel(0).0);
            let write_pool = writer::sqlite_pool(committed.clone())
                .connect_with(writer_options)
                .await
                .map_err(|e| sqlite_open_error(&options, e))?;
            let write = with_statement_metrics(
                SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool),
                &metrics,
            );
            // An in-memory database exists once per connection: readers must share the writer.
            let (read, inline) = if in_memory {
                (ReadConnection::Pool(write.clone()), None)
            } else {
                // More readers than cores: each waits on its own worker thread, so while
                // one thread hands its rows back another can run. Measured on 2 cores when
                // GetOrganization still read here (orgd-bench --case grpc, the same run):
                // 1 reader 8.8k/s, 2 11.9k, 4 14.5k, 8 15.8k. Now that it reads inline, the
                // reads left here are fewer and longer, and each reader's page cache counts
                // against the memory target: twice the cores.
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let readers = SqliteReaders::open(&options, cores * 2).await?;
                // Twice the cores: one per runtime worker, and spares for blocking threads.
                let inline =
                    InlineReaders::open(options.get_filename(), cores * 2, metrics.clone())?;
                (
                    ReadConnection::Sqlite(Arc::new(readers), metrics.clone()),
                    Some(Arc::new(inline)),
                )
            };
            Ok(Db {
                read,
                inline,
                write,
                read_only: db_options.read_only,
                metrics,
                committed,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(db_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // No ping before each statement: it doubled every read's round trips (issue
                // 14). A connection that broke while idle fails the one statement that
                // finds out, answered 503 (`Outage`), and the pool replaces it.
                .test_before_acquire(false)
                // An unreachable database fails a request within this, as a 503, instead
                // of holding it until the request timeout.
                .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            let conn = with_statement_metrics(
                SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
                &metrics,
            );
            Ok(Db {
                read: ReadConnection::Pool(conn.clone()),
                inline: None,
                write: conn,
                read_only: db_options.read_only,
                metrics,
                committed: Arc::new(tokio::sync::watch::channel(0).0),
            })
        } else {
            Err(DbErr::Custom(format!(
                "unsupported database URL {url:?}: use sqlite:... or postgres://..."
            )))
        }
    }

    /// Connects and applies every pending migration (idempotent).
    pub async fn connect_and_migrate(url: &str) -> Result<Db, OpenError> {
        let db = Db::connect(url)
            .await
            .map_err(|e| OpenError::Refused(e.to_string()))?;
        db.prepare().await?;
        Ok(db)
    }

    /// Makes the database ready to serve: migrated, or (read-only on purpose) already
    /// current; a database that takes no writes is refused unless that was asked for.
    pub async fn prepare(&self) -> Result<(), OpenError> {
        let refusal = self.write_refusal().await.map_err(|e| self.open_error(e))?;
        if self.read_only {
            let pending = Migrator::get_pending_migrations(&self.read)
                .await
                .map_err(|e| self.open_error(e))?;
            if !pending.is_empty() {
                return Err(OpenError::Refused(format!(
                    "{}: {} migrations are pending and a read-only database cannot be migrated; \
                     run `orgd migrate` against a writable copy first",
                    self.target(),
                    pending.len()
                )));
            }
            return Ok(());
        }
        if let Some(why) = refusal {
            return Err(OpenError::Refused(format!(
                "{}: the database is read-only ({why}: file permissions, mode=ro, or a \
                 standby); make it writable, or pass --read-only to serve reads and refuse \
                 writes",
                self.target()
            )));
        }
        self.migrate().await.map_err(|e| self.open_error(e))
    }

    /// Applies every pending migration under a lock that other instances wait on, so any
    /// number of them can start on one database at once: SQLite's write lock (`BEGIN
    /// IMMEDIATE`), PostgreSQL's advisory lock, held by the transaction of the migration.
    async fn migrate(&self) -> Result<(), DbErr> {
        let txn = self.begin_immediate().await?;
        if self.backend() == DatabaseBackend::Postgres {
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
        }
        Migrator::up(&txn, None).await?;
        txn.commit().await
    }

    /// The host and database of this connection, for messages to the operator.
    pub fn target(&self) -> String {
        match self.backend() {
            DatabaseBackend::Postgres => {
                let o = self.write.get_postgres_connection_pool().connect_options();
                format!(
                    "PostgreSQL database {:?} on {}:{}",
                    o.get_database().unwrap_or("postgres"),
                    o.get_host(),
                    o.get_port()
                )
            }
            _ => "SQLite database".to_string(),
        }
    }

    fn open_error(&self, e: DbErr) -> OpenError {
        open_error(self.target(), e)
    }

    pub fn read(&self) -> &ReadConnection {
        &self.read
    }

    /// The first row of a short, indexed read (`$1`, `$2`, ... bound to `values`), read by
    /// `decode`: on the calling thread for an SQLite file (see `sqlite_inline`), else
    /// through [`Db::read`].
    pub async fn read_one<T, E: From<DbErr>>(
        &self,
        sql: &str,
        values: Vec<Value>,
        decode: impl FnOnce(&dyn Columns) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        match &self.inline {
            Some(inline) => self.observed_inline(sql, || inline.query_one(sql, &values, decode)),
            None => {
                let stmt = Statement::from_sql_and_values(self.backend(), sql, values);
                match self.read.query_one_raw(stmt).await? {
                    Some(row) => decode(&row).map(Some),
                    None => Ok(None),
                }
            }
        }
    }

    /// Every row of a read (bound as in [`Db::read_one`]), each read by `decode`: a page in
    /// one statement, on the calling thread for an SQLite file.
    pub async fn read_all<T, E: From<DbErr>>(
        &self,
        sql: &str,
        values: Vec<Value>,
        mut decode: impl FnMut(&dyn Columns) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        match &self.inline {
            Some(inline) => self.observed_inline(sql, || inline.query_all(sql, &values, decode)),
            None => {
                let stmt = Statement::from_sql_and_values(self.backend(), sql, values);
                let rows = self.read.query_all_raw(stmt).await?;
                rows.iter().map(|row| decode(row)).collect()
            }
        }
    }

    /// A read on the calling thread (`sqlite_inline`), timed and counted as every statement is.
    fn observed_inline<T, E>(
        &self,
        sql: &str,
        read: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = read();
        observe_statement(
            &self.metrics,
            DatabaseBackend::Sqlite,
            StatementPath::SqliteInline,
            traces::exporting().then_some(sql),
            started.elapsed(),
            result.is_err(),
        );
        result
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The sqlx pools' occupancy, for the metrics. SQLite's own read connections are a fixed
    /// set outside any pool, and so not listed.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let stats = |pool: &'static str, open: u32, idle: usize, max: u32| PoolStats {
            pool,
            open,
            idle: idle as u32,
            max,
        };
        let main = match self.backend() {
            DatabaseBackend::Postgres => {
                let p = self.write.get_postgres_connection_pool();
                stats(
                    "postgres",
                    p.size(),
                    p.num_idle(),
                    p.options().get_max_connections(),
                )
            }
            _ => {
                let p = self.write.get_sqlite_connection_pool();
                stats(
                    "sqlite_writer",
                    p.size(),
                    p.num_idle(),
                    p.options().get_max_connections(),
                )
            }
        };
        vec![main]
    }

    /// Changes after each write the SQLite writer committed (see the field).
    pub fn committed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.committed.subscribe()
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.get_database_backend()
    }

    /// A read-only snapshot for statements that must agree (a count and its page) or that
    /// set options for themselves (`SET LOCAL`): a transaction on the pool. None on SQLite's
    /// read connections, which run each statement on its own.
    pub async fn read_transaction(&self) -> Result<Option<DatabaseTransaction>, DbErr> {
        match &self.read {
            ReadConnection::Pool(pool) => Ok(Some(pool.begin().await?)),
            ReadConnection::Sqlite(..) => Ok(None),
        }
    }

    /// A write transaction; refused at once when serving a read-only database on purpose.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, crate::domain::DomainError> {
        if self.read_only {
            return Err(crate::domain::DomainError::Unavailable(Outage::ReadOnly));
        }
        Ok(self.begin_immediate().await?)
    }

    pub(super) async fn begin_immediate(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }
}

/// How long a request waits for a PostgreSQL connection, connecting included, before it
/// is answered 503: well inside the 2 s a client of an unreachable database should wait.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// The advisory lock instances take to migrate one PostgreSQL database ("orgd" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6f72_6764;

/// What an error at start-up means to the operator: wait (the server is not there) or stop
/// with a message that names the database and what to do.
fn open_error(target: String, e: DbErr) -> OpenError {
    if Outage::of(&e) == Some(Outage::Unreachable) {
        return OpenError::Unreachable { target, source: e };
    }
    let text = e.to_string();
    let advice = if text.contains("3D000") || text.contains("does not exist") {
        "create it (`createdb`, or CREATE DATABASE) or fix the URL"
    } else if text.contains("28P01") || text.contains("28000") || text.contains("password") {
        "check the user and password in the URL"
    } else {
        "check the URL and the database server's log"
    };
    OpenError::Refused(format!("{target}: {text}; {advice}"))
}

/// A SQLite file that cannot be opened, named with what to do about it.
fn sqlite_open_error(options: &SqliteConnectOptions, e: sea_orm::sqlx::Error) -> DbErr {
    let path = options.get_filename().display().to_string();
    DbErr::Custom(format!(
        "cannot open the SQLite database {path:?}: {e}; if it should be created, \
         add ?mode=rwc to the URL (as the default URL does)"
    ))
}

/// `LIMIT` a bound row count (`param`, e.g. `$4`). Never a bare placeholder: SQLite's
/// planner reads the value bound to a bare `LIMIT $n`, so every new binding expires the
/// plan, and a kept statement was parsed and planned again on every run (the giosg
/// partnerships page: 470 µs of SQLite against 64 µs, by `sqlite3_stmt_status`). An
/// expression is planned once; PostgreSQL takes it alike.
pub fn limit_sql(param: &str) -> String {
    format!("LIMIT CAST({param} AS BIGINT)")
}

/// An aggregate joining the values of `expr` over a group as text separated by commas.
pub fn text_agg(backend: DatabaseBackend, expr: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("string_agg(CAST({expr} AS TEXT), ',')"),
        _ => format!("group_concat({expr}, ',')"),
    }
}
