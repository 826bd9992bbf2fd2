//! MyCreditApp: each organization's directory of business partners, and OAuth2 clients.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_partner_directory"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrganizationPartners {
    Table,
    Id,
    Uuid,
    OrganizationId,
    CompanyName,
    CompanyNameFolded,
    SalesAmount,
    PartnerType,
    Email,
    EmailFolded,
    Frequency,
    PaymentTerms,
    Address,
    City,
    State,
    PostalCode,
    CountryCode,
    CompanyRegistrationNumber,
    InvitationStatus,
    GuestOrganizationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OauthClients {
    Table,
    Id,
    ClientId,
    SecretHash,
    OrganizationId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OrganizationPartners as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(big_pk_auto(P::Id))
                    .col(uuid_uniq(P::Uuid))
                    .col(big_integer(P::OrganizationId))
                    .col(string_len(P::CompanyName, 255))
                    // Lowercased in Rust (full Unicode; SQLite's lower() is ASCII only), for
                    // case-insensitive search on both backends.
                    .col(string_len(P::CompanyNameFolded, 255))
                    .col(big_integer(P::SalesAmount))
                    .col(string_len(P::PartnerType, 16))
                    .col(string_len(P::Email, 320))
                    .col(string_len(P::EmailFolded, 320))
                    .col(string_len(P::Frequency, 255))
                    .col(string_len(P::PaymentTerms, 255))
                    .col(string_len_null(P::Address, 255))
                    .col(string_len_null(P::City, 255))
                    .col(string_len_null(P::State, 255))
                    .col(string_len_null(P::PostalCode, 32))
                    .col(string_len_null(P::CountryCode, 2))
                    .col(string_len_null(P::CompanyRegistrationNumber, 64))
                    .col(string_len_null(P::InvitationStatus, 16))
                    .col(uuid_null(P::GuestOrganizationId))
                    .col(timestamp_with_time_zone(P::CreatedAt))
                    .col(timestamp_with_time_zone(P::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(P::Table, P::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One index per order field, each ending in the id tie-breaker, so a page is an
        // index range within the organization.
        for (name, column) in [
            ("organization_partners_company_name", P::CompanyName),
            ("organization_partners_sales_amount", P::SalesAmount),
            ("organization_partners_partner_type", P::PartnerType),
            ("organization_partners_email", P::Email),
            ("organization_partners_frequency", P::Frequency),
            ("organization_partners_payment_terms", P::PaymentTerms),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(P::Table)
                        .col(P::OrganizationId)
                        .col(column)
                        .col(P::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("organization_partners_invitation")
                    .table(P::Table)
                    .col(P::OrganizationId)
                    .col(P::Email)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .col(big_pk_auto(OauthClients::Id))
                    .col(string_len_uniq(OauthClients::ClientId, 64))
                    .col(string_len(OauthClients::SecretHash, 64))
                    .col(big_integer(OauthClients::OrganizationId))
                    .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthClients::Table, OauthClients::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthClients::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OrganizationPartners::Table).to_owned())
            .await
    }
}
