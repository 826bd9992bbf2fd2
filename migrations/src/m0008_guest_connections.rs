//! MyCreditApp's host/guest connections: a host organization invites a guest by email
//! (`guest_invitations`), and the organization that accepts becomes its guest
//! (`guest_connections`, one row per host and guest). The connection, not a giosg
//! partnership, is what the Requester/Target headers check.
//!
//! One open (`sent`) invitation per host and email — a partial unique index, so a repeated
//! or concurrent invitation finds the one already there — and one connection per host and
//! guest, so concurrent accepts cannot connect the same pair twice.
//!
//! The published limits of a directory record are wider than m0004's columns for `address`
//! (500) and `company_registration_number` (255); PostgreSQL enforces a VARCHAR's length,
//! so they are widened there (SQLite does not enforce it).

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_guest_connections"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum GuestInvitations {
    Table,
    Id,
    Uuid,
    HostOrganizationId,
    Email,
    ParentOrganizationId,
    InvitationToken,
    Status,
    FirstInvitationSentAt,
    LastInvitationSentAt,
    ExpiredAt,
    Archived,
    ArchivedAt,
    AcceptedAt,
    GuestOrganizationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum GuestConnections {
    Table,
    Id,
    Uuid,
    HostOrganizationId,
    GuestOrganizationId,
    InvitationId,
    Archived,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

fn to_organization<T: IntoIden + Copy + 'static>(
    table: T,
    column: T,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(on_delete)
        .to_owned()
}

/// The partial index's predicate as `domain::guest` names it in its ON CONFLICT target:
/// SQLite matches the index by the predicate's text.
const ONE_OPEN: &str = "CREATE UNIQUE INDEX IF NOT EXISTS guest_invitations_one_open \
     ON guest_invitations (host_organization_id, email) WHERE status = 'sent'";

const WIDEN: &[&str] = &[
    "ALTER TABLE organization_partners ALTER COLUMN address TYPE VARCHAR(500)",
    "ALTER TABLE organization_partners ALTER COLUMN company_registration_number TYPE VARCHAR(255)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use GuestConnections as C;
        use GuestInvitations as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .if_not_exists()
                    .col(big_pk_auto(I::Id))
                    .col(uuid_uniq(I::Uuid))
                    .col(big_integer(I::HostOrganizationId))
                    .col(string_len(I::Email, 320))
                    .col(big_integer_null(I::ParentOrganizationId))
                    .col(string_len_uniq(I::InvitationToken, 64))
                    .col(string_len(I::Status, 16))
                    .col(timestamp_with_time_zone(I::FirstInvitationSentAt))
                    .col(timestamp_with_time_zone(I::LastInvitationSentAt))
                    .col(timestamp_with_time_zone(I::ExpiredAt))
                    .col(boolean(I::Archived).default(false))
                    .col(timestamp_with_time_zone_null(I::ArchivedAt))
                    .col(timestamp_with_time_zone_null(I::AcceptedAt))
                    .col(big_integer_null(I::GuestOrganizationId))
                    .col(timestamp_with_time_zone(I::CreatedAt))
                    .col(timestamp_with_time_zone(I::UpdatedAt))
                    .foreign_key(&mut to_organization(
                        I::Table,
                        I::HostOrganizationId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_organization(
                        I::Table,
                        I::ParentOrganizationId,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut to_organization(
                        I::Table,
                        I::GuestOrganizationId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        conn.execute_unprepared(ONE_OPEN).await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("guest_invitations_host")
                    .table(I::Table)
                    .col(I::HostOrganizationId)
                    .col(I::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .if_not_exists()
                    .col(big_pk_auto(C::Id))
                    .col(uuid_uniq(C::Uuid))
                    .col(big_integer(C::HostOrganizationId))
                    .col(big_integer(C::GuestOrganizationId))
                    .col(big_integer_null(C::InvitationId))
                    .col(boolean(C::Archived).default(false))
                    .col(timestamp_with_time_zone_null(C::ArchivedAt))
                    .col(timestamp_with_time_zone(C::CreatedAt))
                    .col(timestamp_with_time_zone(C::UpdatedAt))
                    .foreign_key(&mut to_organization(
                        C::Table,
                        C::HostOrganizationId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_organization(
                        C::Table,
                        C::GuestOrganizationId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(C::Table, C::InvitationId)
                            .to(I::Table, I::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, first, second, unique) in [
            (
                "guest_connections_pair",
                C::HostOrganizationId,
                C::GuestOrganizationId,
                true,
            ),
            (
                "guest_connections_guest",
                C::GuestOrganizationId,
                C::HostOrganizationId,
                false,
            ),
        ] {
            let mut index = Index::create()
                .if_not_exists()
                .name(name)
                .table(C::Table)
                .col(first)
                .col(second)
                .to_owned();
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        if conn.get_database_backend() == DatabaseBackend::Postgres {
            for sql in WIDEN {
                conn.execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(GuestConnections::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(GuestInvitations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
