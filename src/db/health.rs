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
        if self.read_only {
            return Err(Unready::new(
                "DATABASE_READ_ONLY",
                "served read-only (--read-only)",
            ));
        }
        match self.write_refusal().await {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(Unready::new("DATABASE_READ_ONLY", why)),
            Err(e) => Err(Unready::new("DATABASE_UNAVAILABLE", e.to_string())),
        }
    }

    /// Why the database takes no writes now, or None when it takes them; the one rule for
    /// start-up (which refuses such a database) and readiness.
    pub(super) async fn write_refusal(&self) -> Result<Option<String>, sea_orm::DbErr> {
        match self.backend() {
            DatabaseBackend::Postgres => {
                // `on` on a hot standby and under `default_transaction_read_only`.
                let row = self
                    .write
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        "SHOW transaction_read_only",
                    ))
                    .await?;
                let value: String = row
                    .map(|r| r.try_get_by_index(0))
                    .transpose()?
                    .unwrap_or_default();
                Ok((value != "off").then(|| format!("transaction_read_only is {value}")))
            }
            _ => {
                // `BEGIN IMMEDIATE` succeeds on a read-only file; rewriting the header's
                // user_version with its own value does not (`mode=ro`, `query_only`, a file
                // or directory without write permission), and is rolled back.
                let txn = self.begin_immediate().await?;
                let version: i64 = txn
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Sqlite,
                        "PRAGMA user_version",
                    ))
                    .await?
                    .map(|r| r.try_get_by_index(0))
                    .transpose()?
                    .unwrap_or(0);
                let probe = txn
                    .execute_unprepared(&format!("PRAGMA user_version = {version}"))
                    .await;
                let _ = txn.rollback().await;
                Ok(probe.err().map(|e| e.to_string()))
            }
        }
    }
}
