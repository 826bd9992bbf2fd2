//! The change log (issue 18): one `events` row per committed change, and the organizations
//! each concerns in `event_organizations`, so that "organization X (or these organizations)
//! after position P" is one index range per organization.
//!
//! Positions grow strictly in commit order, which a reader of "position > P" relies on:
//! - SQLite has one writer, so an AUTOINCREMENT key (never reused, even after a purge)
//!   is assigned in commit order.
//! - On PostgreSQL a sequence is not: two transactions can take 7 and 8 and commit 8 first,
//!   and a reader that saw 8 would skip 7 for ever. The position is therefore taken from
//!   the one row of `event_positions`, updated in the writing transaction: its row lock is
//!   held to commit, so the next writer's update waits and gets the next number only after
//!   this one committed (or rolled back, leaving no gap). `orgd::domain::events::append`
//!   takes it as the write's last statement, so writers queue only on their commit.
//!
//! `state` is JSON text; `organization_ids` / `organization_uuids` are JSON arrays, kept
//! in the row (the join table only filters) because the organizations may be deleted.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_change_log"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Position,
    Type,
    OrganizationIds,
    OrganizationUuids,
    ResourceId,
    State,
    Actor,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EventOrganizations {
    Table,
    OrganizationId,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use EventOrganizations as O;
        use Events as E;
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        let position = if postgres {
            // No default: only the counter below may number an event.
            big_integer(E::Position).primary_key().to_owned()
        } else {
            big_pk_auto(E::Position)
        };
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .if_not_exists()
                    .col(position)
                    .col(string_len(E::Type, 64))
                    .col(text(E::OrganizationIds))
                    .col(text(E::OrganizationUuids))
                    .col(string_len(E::ResourceId, 64))
                    .col(text(E::State))
                    .col(string_len(E::Actor, 128))
                    .col(string_len(E::RequestId, 128))
                    .col(timestamp_with_time_zone(E::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("events_created_at")
                    .table(E::Table)
                    .col(E::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .if_not_exists()
                    .col(big_integer(O::OrganizationId))
                    .col(big_integer(O::Position))
                    .primary_key(Index::create().col(O::OrganizationId).col(O::Position))
                    .to_owned(),
            )
            .await?;
        // The purge deletes by position.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("event_organizations_position")
                    .table(O::Table)
                    .col(O::Position)
                    .to_owned(),
            )
            .await?;
        if postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE TABLE IF NOT EXISTS event_positions ( \
                   id SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1), \
                   last BIGINT NOT NULL)",
            )
            .await?;
            db.execute_unprepared(
                "INSERT INTO event_positions (id, last) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["event_positions", "event_organizations", "events"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}
