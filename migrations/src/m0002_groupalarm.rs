//! The rest of the GroupAlarm Organization API: location, avatar and trial columns, owner
//! invitations, availability (current status and daily history), quick actions.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_groupalarm"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    TrialStartedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    AvatarVersion,
    LocationAddress,
    LocationLatitude,
    LocationLongitude,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrganizationAvatars {
    Table,
    OrganizationId,
    ContentType,
    Data,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OwnerInvitations {
    Table,
    Id,
    Uuid,
    OrganizationId,
    UserId,
    InvitedByUserId,
    CreatedAt,
    AcceptedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserAvailability {
    Table,
    OrganizationId,
    UserId,
    Status,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AvailabilitySamples {
    Table,
    Id,
    OrganizationId,
    UserId,
    Status,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum QuickActions {
    Table,
    Id,
    OrganizationId,
    Position,
    Name,
    Color,
    Icon,
    OneClick,
    Resource,
    ResourceId,
}

fn cascade_to_organization(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn cascade_to_user(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::TrialStartedAt))
                    .to_owned(),
            )
            .await?;
        for column in [
            big_integer_null(Organizations::AvatarVersion),
            string_len_null(Organizations::LocationAddress, 255),
            double_null(Organizations::LocationLatitude),
            double_null(Organizations::LocationLongitude),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }

        // Kept out of the organization row so that reading an organization never loads it.
        manager
            .create_table(
                Table::create()
                    .table(OrganizationAvatars::Table)
                    .col(big_integer(OrganizationAvatars::OrganizationId).primary_key())
                    .col(string_len(OrganizationAvatars::ContentType, 64))
                    .col(blob(OrganizationAvatars::Data))
                    .col(timestamp_with_time_zone(OrganizationAvatars::UpdatedAt))
                    .foreign_key(&mut cascade_to_organization(
                        OrganizationAvatars::Table,
                        OrganizationAvatars::OrganizationId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OwnerInvitations::Table)
                    .col(big_pk_auto(OwnerInvitations::Id))
                    .col(uuid_uniq(OwnerInvitations::Uuid))
                    .col(big_integer(OwnerInvitations::OrganizationId))
                    .col(big_integer(OwnerInvitations::UserId))
                    .col(big_integer_null(OwnerInvitations::InvitedByUserId))
                    .col(timestamp_with_time_zone(OwnerInvitations::CreatedAt))
                    .col(timestamp_with_time_zone_null(OwnerInvitations::AcceptedAt))
                    .foreign_key(&mut cascade_to_organization(
                        OwnerInvitations::Table,
                        OwnerInvitations::OrganizationId,
                    ))
                    .foreign_key(&mut cascade_to_user(
                        OwnerInvitations::Table,
                        OwnerInvitations::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        // At most one open invitation per user and organization, even under concurrency.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX owner_invitations_open ON owner_invitations \
                 (organization_id, user_id) WHERE accepted_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserAvailability::Table)
                    .col(big_integer(UserAvailability::OrganizationId))
                    .col(big_integer(UserAvailability::UserId))
                    .col(string_len(UserAvailability::Status, 16))
                    .col(timestamp_with_time_zone(UserAvailability::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(UserAvailability::OrganizationId)
                            .col(UserAvailability::UserId),
                    )
                    .foreign_key(&mut cascade_to_organization(
                        UserAvailability::Table,
                        UserAvailability::OrganizationId,
                    ))
                    .foreign_key(&mut cascade_to_user(
                        UserAvailability::Table,
                        UserAvailability::UserId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AvailabilitySamples::Table)
                    .col(big_pk_auto(AvailabilitySamples::Id))
                    .col(big_integer(AvailabilitySamples::OrganizationId))
                    .col(big_integer(AvailabilitySamples::UserId))
                    .col(string_len(AvailabilitySamples::Status, 16))
                    .col(timestamp_with_time_zone(AvailabilitySamples::At))
                    .foreign_key(&mut cascade_to_organization(
                        AvailabilitySamples::Table,
                        AvailabilitySamples::OrganizationId,
                    ))
                    .foreign_key(&mut cascade_to_user(
                        AvailabilitySamples::Table,
                        AvailabilitySamples::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("availability_samples_organization_at")
                    .table(AvailabilitySamples::Table)
                    .col(AvailabilitySamples::OrganizationId)
                    .col(AvailabilitySamples::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QuickActions::Table)
                    .col(big_pk_auto(QuickActions::Id))
                    .col(big_integer(QuickActions::OrganizationId))
                    .col(integer(QuickActions::Position))
                    .col(string_len(QuickActions::Name, 255))
                    .col(string_len(QuickActions::Color, 32))
                    .col(string_len(QuickActions::Icon, 255))
                    .col(boolean(QuickActions::OneClick))
                    .col(string_len(QuickActions::Resource, 255))
                    .col(big_integer(QuickActions::ResourceId))
                    .foreign_key(&mut cascade_to_organization(
                        QuickActions::Table,
                        QuickActions::OrganizationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("quick_actions_organization_position")
                    .table(QuickActions::Table)
                    .col(QuickActions::OrganizationId)
                    .col(QuickActions::Position)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            QuickActions::Table.into_iden(),
            AvailabilitySamples::Table.into_iden(),
            UserAvailability::Table.into_iden(),
            OwnerInvitations::Table.into_iden(),
            OrganizationAvatars::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
