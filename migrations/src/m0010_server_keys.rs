//! Secrets the server keeps in its database rather than in its configuration, so that every
//! replica of one deployment uses the same ones: the key that signs avatar capability URLs
//! (`orgd::domain::avatar`), 32 random bytes as hex, made here once. Running again keeps
//! the key (`ON CONFLICT DO NOTHING`): a new one would break every URL handed out.

use rand::RngCore;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_server_keys"
    }
}

/// The row `orgd::domain::avatar` reads.
pub const AVATAR_URL_KEY: &str = "avatar-url";

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // The same text on both backends.
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS server_keys ( \
               name VARCHAR(64) NOT NULL PRIMARY KEY, \
               secret_hex VARCHAR(128) NOT NULL)",
        )
        .await?;
        db.execute_raw(Statement::from_sql_and_values(
            manager.get_database_backend(),
            "INSERT INTO server_keys (name, secret_hex) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
            [AVATAR_URL_KEY.into(), random_hex().into()],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS server_keys")
            .await?;
        Ok(())
    }
}
