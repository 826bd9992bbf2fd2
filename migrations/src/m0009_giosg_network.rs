//! giosg's v3 network API: whether a partner is visible to everyone in the organization,
//! stored per side of a partnership (v3 and v5 read the same row), and what an invitation
//! asks of the partnership it creates (the sender side's visibility; the room and team
//! shares, as JSON arrays). A NULL `partner_visible_to_everyone` is an invitation that did
//! not say (sent over v5): the sender side keeps its setting, or is visible on a new one.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_giosg_network"
    }
}

#[derive(DeriveIden)]
enum Partnerships {
    Table,
    VisibleToEveryone,
}

#[derive(DeriveIden)]
enum PartnershipInvitations {
    Table,
    PartnerVisibleToEveryone,
    RoomShares,
    TeamShares,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager
            .has_column("partnerships", "visible_to_everyone")
            .await?
        {
            manager
                .alter_table(
                    Table::alter()
                        .table(Partnerships::Table)
                        .add_column(
                            boolean(Partnerships::VisibleToEveryone)
                                .default(true)
                                .to_owned(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        // SQLite alters one column per statement.
        let columns = [
            (
                "partner_visible_to_everyone",
                boolean_null(PartnershipInvitations::PartnerVisibleToEveryone),
            ),
            (
                "room_shares",
                text(PartnershipInvitations::RoomShares)
                    .default("[]")
                    .to_owned(),
            ),
            (
                "team_shares",
                text(PartnershipInvitations::TeamShares)
                    .default("[]")
                    .to_owned(),
            ),
        ];
        for (name, mut column) in columns {
            if manager.has_column("partnership_invitations", name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnershipInvitations::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            PartnershipInvitations::PartnerVisibleToEveryone.into_iden(),
            PartnershipInvitations::RoomShares.into_iden(),
            PartnershipInvitations::TeamShares.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnershipInvitations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Partnerships::Table)
                    .drop_column(Partnerships::VisibleToEveryone)
                    .to_owned(),
            )
            .await
    }
}
