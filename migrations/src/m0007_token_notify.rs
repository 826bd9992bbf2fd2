//! PostgreSQL tells every orgd instance when tokens change: a statement trigger on
//! `api_tokens` (deletes, including those cascading from a user or an organization, updates
//! and truncation) sends a notification on [`CHANNEL`], on which each instance drops the
//! tokens it resolved lately. The notification is sent at commit, only if the change commits.
//!
//! SQLite has no such channel: an instance keeps a resolved token for at most the cache's
//! few seconds, which remains the fallback on PostgreSQL too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// The channel name; `orgd::db::notify` listens on it.
pub const CHANNEL: &str = "orgd_tokens_changed";

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_token_notify"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION orgd_tokens_changed() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER api_tokens_changed AFTER UPDATE OR DELETE OR TRUNCATE ON api_tokens \
             FOR EACH STATEMENT EXECUTE FUNCTION orgd_tokens_changed()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS api_tokens_changed ON api_tokens")
            .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS orgd_tokens_changed()")
            .await?;
        Ok(())
    }
}
