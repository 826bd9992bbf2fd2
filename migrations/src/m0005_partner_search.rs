//! Trigram indexes for the partner directory's substring search (`search_text`), so a
//! selective term finds its rows without scanning the organization's directory.
//!
//! SQLite: an FTS5 table with the trigram tokenizer over the two folded columns. It uses
//! external content (`content='organization_partners'`): it stores only the index, not a
//! second copy of the text, and unlike a contentless table it can be rebuilt from the table
//! (`'rebuild'`, used below for existing rows) and verified against it (`'integrity-check'`,
//! used by the tests). Triggers keep it in step with every write, whoever makes it.
//!
//! PostgreSQL: pg_trgm GIN indexes, which the existing `LIKE '%term%'` uses as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_partner_search"
    }
}

/// `case_sensitive 1`: the columns and the term are already lowercased in Rust (full
/// Unicode), so the index matches them as they are instead of folding them a second time by
/// SQLite's rules. `columnsize=0`: nothing ranks results, so the per-row token counts would
/// be dead weight. `detail` stays `full`: phrase queries need the token positions.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE organization_partners_search USING fts5(\
        company_name_folded, email_folded, \
        content='organization_partners', content_rowid='id', \
        tokenize='trigram case_sensitive 1', columnsize=0)",
    "CREATE TRIGGER organization_partners_search_insert \
     AFTER INSERT ON organization_partners BEGIN \
        INSERT INTO organization_partners_search(rowid, company_name_folded, email_folded) \
        VALUES (new.id, new.company_name_folded, new.email_folded); \
     END",
    // An external-content index forgets a row by being told the values it indexed.
    "CREATE TRIGGER organization_partners_search_delete \
     AFTER DELETE ON organization_partners BEGIN \
        INSERT INTO organization_partners_search(organization_partners_search, rowid, \
            company_name_folded, email_folded) \
        VALUES ('delete', old.id, old.company_name_folded, old.email_folded); \
     END",
    // Only writes that touch an indexed value (or the rowid) pay for reindexing.
    "CREATE TRIGGER organization_partners_search_update \
     AFTER UPDATE OF id, company_name_folded, email_folded ON organization_partners BEGIN \
        INSERT INTO organization_partners_search(organization_partners_search, rowid, \
            company_name_folded, email_folded) \
        VALUES ('delete', old.id, old.company_name_folded, old.email_folded); \
        INSERT INTO organization_partners_search(rowid, company_name_folded, email_folded) \
        VALUES (new.id, new.company_name_folded, new.email_folded); \
     END",
    // Indexes the rows written before this migration.
    "INSERT INTO organization_partners_search(organization_partners_search) VALUES ('rebuild')",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS organization_partners_search_update",
    "DROP TRIGGER IF EXISTS organization_partners_search_delete",
    "DROP TRIGGER IF EXISTS organization_partners_search_insert",
    "DROP TABLE IF EXISTS organization_partners_search",
];

/// pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX organization_partners_company_name_trgm ON organization_partners \
     USING gin (company_name_folded gin_trgm_ops)",
    "CREATE INDEX organization_partners_email_trgm ON organization_partners \
     USING gin (email_folded gin_trgm_ops)",
];

/// The extension stays: it belongs to the whole database, may have been there before this
/// migration (`IF NOT EXISTS`) and may serve other objects; without these indexes it is
/// unused by orgd.
const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS organization_partners_email_trgm",
    "DROP INDEX IF EXISTS organization_partners_company_name_trgm",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

fn statements(manager: &SchemaManager<'_>, up: bool) -> Result<&'static [&'static str], DbErr> {
    match (manager.get_database_backend(), up) {
        (DatabaseBackend::Sqlite, true) => Ok(SQLITE_UP),
        (DatabaseBackend::Sqlite, false) => Ok(SQLITE_DOWN),
        (DatabaseBackend::Postgres, true) => Ok(POSTGRES_UP),
        (DatabaseBackend::Postgres, false) => Ok(POSTGRES_DOWN),
        (other, _) => Err(DbErr::Migration(format!(
            "partner search indexes: unsupported backend {other:?}"
        ))),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, statements(manager, true)?).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, statements(manager, false)?).await
    }
}
