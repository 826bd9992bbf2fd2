//! Database connections: SQLite (embedded default) or PostgreSQL, same code and migrations.

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionOptions, TransactionTrait,
};

/// Reads go to a pool; writes go through `begin_write`. On SQLite the writer is a single
/// connection that starts transactions with `BEGIN IMMEDIATE`: SQLite serialises writers
/// anyway, and queueing them in-process avoids the busy-wait and the deadlock of two deferred
/// transactions upgrading to writers at once.
#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
}

fn db_err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbErr> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(db_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let write_pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(db_err)?;
            let write = SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool);
            // An in-memory database exists once per connection: readers must share the writer.
            let read = if in_memory {
                write.clone()
            } else {
                let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
                let read_pool = SqlitePoolOptions::new()
                    .max_connections(readers as u32)
                    .connect_with(options)
                    .await
                    .map_err(db_err)?;
                SqlxSqliteConnector::from_sqlx_sqlite_pool(read_pool)
            };
            Ok(Db { read, write })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(db_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(options)
                .await
                .map_err(db_err)?;
            let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
            Ok(Db {
                read: conn.clone(),
                write: conn,
            })
        } else {
            Err(DbErr::Custom(format!(
                "unsupported database URL {url:?}: use sqlite:... or postgres://..."
            )))
        }
    }

    /// Connects and applies every pending migration (idempotent).
    pub async fn connect_and_migrate(url: &str) -> Result<Db, DbErr> {
        let db = Db::connect(url).await?;
        Migrator::up(&db.write, None).await?;
        Ok(db)
    }

    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.get_database_backend()
    }

    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }
}
