//! Whether this instance can do its work: the database answers reads, takes writes, and has
//! every migration applied. The readiness probes (`/readyz`, gRPC health) ask here.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::Db;

/// Why an instance should get no traffic, as the probe reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unready {
    /// Stable, for machines: `DATABASE_UNAVAILABLE`, `DATABASE_READ_ONLY`,
    /// `MIGRATIONS_PENDING`, `DRAINING`.
    pub reason: &'static str,
    /// For people.
    pub detail: String,
}

impl Unready {
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Unready {
        Unready {
            reason,
            detail: detail.into(),
        }
    }
}

impl Db {
    /// Ok when a read answers, a write transaction may change the database, and no
    /// migration is pending. Writes nothing: the writer's probe is rolled back.
    pub async fn readiness(&self) -> Result<(), Unready> {
        let unavailable = |e: sea_orm::DbErr| Unready::new("DATABASE_UNAVAILABLE", e.to_string());
        self.read
            .query_one_raw(Statement::from_string(self.backend(), "SELECT 1"))
            .await
            .map_err(unavailable)?;
        self.writable().await?;
        let pending = Migrator::get_pending_migrations(&self.write)
            .await
            .map_err(unavailable)?;
        if !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
            return Err(Unready::new(
                "MIGRATIONS_PENDING",
                format!("not applied: {}", names.join(", ")),
            ));
        }
        Ok(())
    }

    async fn writable(&self) -> Result<(), Unready> {
        let read_only = |detail: String| Unready::new("DATABASE_READ_ONLY", detail);
        let unavailable = |e: sea_orm::DbErr| Unready::new("DATABASE_UNAVAILABLE", e.to_string());
        if self.read_only {
            return Err(read_only("served read-only (--read-only)".into()));
        }
        match self.backend() {
            DatabaseBackend::Postgres => {
                // `on` on a hot standby and under `default_transaction_read_only`.
                let row = self
                    .write
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        "SHOW transaction_read_only",
                    ))
                    .await
                    .map_err(unavailable)?;
                let value: String = row
                    .map(|r| r.try_get_by_index(0))
                    .transpose()
                    .map_err(unavailable)?
                    .unwrap_or_default();
                if value != "off" {
                    return Err(read_only(format!("transaction_read_only is {value}")));
                }
                Ok(())
            }
            _ => {
                // `BEGIN IMMEDIATE` succeeds on a read-only file; rewriting the header's
                // user_version with its own value does not (`mode=ro`, `query_only`, a file
                // or directory without write permission), and is rolled back.
                let txn = self.begin_immediate().await.map_err(unavailable)?;
                let version: i64 = txn
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Sqlite,
                        "PRAGMA user_version",
                    ))
                    .await
                    .map_err(unavailable)?
                    .map(|r| r.try_get_by_index(0))
                    .transpose()
                    .map_err(unavailable)?
                    .unwrap_or(0);
                let probe = txn
                    .execute_unprepared(&format!("PRAGMA user_version = {version}"))
                    .await;
                let _ = txn.rollback().await;
                probe.map(|_| ()).map_err(|e| read_only(e.to_string()))
            }
        }
    }
}
