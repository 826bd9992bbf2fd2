use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partnership_invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    /// The secret handle the invited side answers by.
    #[sea_orm(unique)]
    pub key: String,
    /// The sending organization.
    pub organization_id: i64,
    pub created_by_user_id: Option<i64>,
    /// Lowercase: an organization's email or a user's.
    pub email: String,
    pub message: String,
    pub partner_display_name: Option<String>,
    /// 0 pending, 1 accepted, 2 rejected.
    pub status: i32,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by_organization_id: Option<i64>,
    pub resolved_by_user_id: Option<i64>,
    pub partnership_uuid: Option<Uuid>,
    pub created_new_partnership: Option<bool>,
    /// The sender side's visibility once accepted; None: not said (v5).
    pub partner_visible_to_everyone: Option<bool>,
    /// JSON arrays of objects, as sent.
    pub room_shares: String,
    pub team_shares: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
