use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guest_invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    /// The inviting organization.
    pub host_organization_id: i64,
    /// Trimmed and lowercased.
    pub email: String,
    pub parent_organization_id: Option<i64>,
    /// The handle the guest accepts by.
    #[sea_orm(unique)]
    pub invitation_token: String,
    /// `sent` or `accepted`.
    pub status: String,
    pub first_invitation_sent_at: DateTimeUtc,
    pub last_invitation_sent_at: DateTimeUtc,
    pub expired_at: DateTimeUtc,
    pub archived: bool,
    pub archived_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
    /// The organization that accepted.
    pub guest_organization_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
