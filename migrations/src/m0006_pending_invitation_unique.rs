//! One pending partnership invitation per (sending organization, addressed email): a
//! partial unique index over the pending rows, so a repeated or concurrent invitation finds
//! the one already there instead of piling up (issue 12, item 9). Resolved invitations
//! stay as the record of what happened and are not constrained.
//!
//! Existing databases may hold duplicates; before the index is built, every pending
//! invitation with an older pending twin (same sender, same email) is removed, keeping the
//! oldest, which is the one an addressee saw first. Pending invitations have no answer
//! yet, so nothing that happened is lost.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_pending_invitation_unique"
    }
}

/// `status = 0` is pending (`domain::invitation::PENDING`); the same text on both backends.
const UP: &[&str] = &[
    "DELETE FROM partnership_invitations \
     WHERE status = 0 AND EXISTS ( \
       SELECT 1 FROM partnership_invitations older \
       WHERE older.status = 0 \
         AND older.organization_id = partnership_invitations.organization_id \
         AND older.email = partnership_invitations.email \
         AND older.id < partnership_invitations.id)",
    "CREATE UNIQUE INDEX partnership_invitations_one_pending \
     ON partnership_invitations (organization_id, email) WHERE status = 0",
];

const DOWN: &[&str] = &["DROP INDEX IF EXISTS partnership_invitations_one_pending"];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
