//! Migrations written as SQL, one list of statements per backend and direction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Statements for SQLite and for PostgreSQL.
pub struct Statements {
    pub sqlite: &'static [&'static str],
    pub postgres: &'static [&'static str],
}

pub struct SqlMigration {
    pub name: &'static str,
    pub up: Statements,
    pub down: Statements,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &self.down).await
    }
}

/// Runs the backend's statements, in order.
async fn run(manager: &SchemaManager<'_>, statements: &Statements) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DatabaseBackend::Sqlite => statements.sqlite,
        _ => statements.postgres,
    };
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
