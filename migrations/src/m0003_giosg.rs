//! The giosg surface: organization email, user status (chat count, avatar, online switch),
//! partnerships (one row per side), partnership invitations and users' live clients.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_giosg"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CurrentChatCount,
    AvatarId,
    AvatarUrl,
    OnlineEnabled,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Email,
}

#[derive(DeriveIden)]
enum Partnerships {
    Table,
    Id,
    Uuid,
    OrganizationId,
    PartnerOrganizationId,
    DisplayName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PartnershipInvitations {
    Table,
    Id,
    Uuid,
    Key,
    OrganizationId,
    CreatedByUserId,
    Email,
    Message,
    PartnerDisplayName,
    Status,
    CreatedAt,
    ResolvedAt,
    ResolvedByOrganizationId,
    ResolvedByUserId,
    PartnershipUuid,
    CreatedNewPartnership,
}

#[derive(DeriveIden)]
enum UserClients {
    Table,
    Id,
    UserId,
    ClientId,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            big_integer(Users::CurrentChatCount).default(0).to_owned(),
            uuid_null(Users::AvatarId),
            string_len_null(Users::AvatarUrl, 2048),
            boolean(Users::OnlineEnabled).default(true).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(string_len_null(Organizations::Email, 320))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organizations_email")
                    .table(Organizations::Table)
                    .col(Organizations::Email)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Partnerships::Table)
                    .col(big_pk_auto(Partnerships::Id))
                    // Shared by the two sides' rows: the partnership's id.
                    .col(uuid(Partnerships::Uuid))
                    .col(big_integer(Partnerships::OrganizationId))
                    .col(big_integer(Partnerships::PartnerOrganizationId))
                    .col(string_len_null(Partnerships::DisplayName, 255))
                    .col(timestamp_with_time_zone(Partnerships::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Partnerships::Table, Partnerships::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Partnerships::Table, Partnerships::PartnerOrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per side: concurrent accepts cannot duplicate a partnership.
        manager
            .create_index(
                Index::create()
                    .name("partnerships_organization_partner")
                    .table(Partnerships::Table)
                    .col(Partnerships::OrganizationId)
                    .col(Partnerships::PartnerOrganizationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Keyset pagination of one organization's partnerships.
        manager
            .create_index(
                Index::create()
                    .name("partnerships_organization_created")
                    .table(Partnerships::Table)
                    .col(Partnerships::OrganizationId)
                    .col(Partnerships::CreatedAt)
                    .col(Partnerships::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnershipInvitations::Table)
                    .col(big_pk_auto(PartnershipInvitations::Id))
                    .col(uuid_uniq(PartnershipInvitations::Uuid))
                    .col(string_len_uniq(PartnershipInvitations::Key, 64))
                    .col(big_integer(PartnershipInvitations::OrganizationId))
                    .col(big_integer_null(PartnershipInvitations::CreatedByUserId))
                    .col(string_len(PartnershipInvitations::Email, 320))
                    .col(text(PartnershipInvitations::Message))
                    .col(string_len_null(
                        PartnershipInvitations::PartnerDisplayName,
                        255,
                    ))
                    .col(integer(PartnershipInvitations::Status))
                    .col(timestamp_with_time_zone(PartnershipInvitations::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        PartnershipInvitations::ResolvedAt,
                    ))
                    .col(big_integer_null(
                        PartnershipInvitations::ResolvedByOrganizationId,
                    ))
                    .col(big_integer_null(PartnershipInvitations::ResolvedByUserId))
                    .col(uuid_null(PartnershipInvitations::PartnershipUuid))
                    .col(boolean_null(PartnershipInvitations::CreatedNewPartnership))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PartnershipInvitations::Table,
                                PartnershipInvitations::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PartnershipInvitations::Table,
                                PartnershipInvitations::CreatedByUserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PartnershipInvitations::Table,
                                PartnershipInvitations::ResolvedByOrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PartnershipInvitations::Table,
                                PartnershipInvitations::ResolvedByUserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // Outgoing lists by sender, incoming lists by the addressed email, both keyset.
        manager
            .create_index(
                Index::create()
                    .name("partnership_invitations_sender_created")
                    .table(PartnershipInvitations::Table)
                    .col(PartnershipInvitations::OrganizationId)
                    .col(PartnershipInvitations::CreatedAt)
                    .col(PartnershipInvitations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("partnership_invitations_email_created")
                    .table(PartnershipInvitations::Table)
                    .col(PartnershipInvitations::Email)
                    .col(PartnershipInvitations::CreatedAt)
                    .col(PartnershipInvitations::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserClients::Table)
                    .col(big_pk_auto(UserClients::Id))
                    .col(big_integer(UserClients::UserId))
                    .col(string_len(UserClients::ClientId, 255))
                    .col(timestamp_with_time_zone(UserClients::ExpiresAt))
                    .col(timestamp_with_time_zone(UserClients::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserClients::Table, UserClients::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_clients_user_client")
                    .table(UserClients::Table)
                    .col(UserClients::UserId)
                    .col(UserClients::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_clients_user_expires")
                    .table(UserClients::Table)
                    .col(UserClients::UserId)
                    .col(UserClients::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UserClients::Table.into_iden(),
            PartnershipInvitations::Table.into_iden(),
            Partnerships::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("organizations_email")
                    .table(Organizations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::Email)
                    .to_owned(),
            )
            .await?;
        for column in [
            Users::CurrentChatCount.into_iden(),
            Users::AvatarId.into_iden(),
            Users::AvatarUrl.into_iden(),
            Users::OnlineEnabled.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
