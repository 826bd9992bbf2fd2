use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub parent_id: Option<i64>,
    pub name: String,
    pub description: String,
    pub language: String,
    pub timezone: String,
    pub enforces_two_factor_auth: bool,
    pub data_retention_period: i64,
    /// JSON array of strings.
    pub tags: String,
    /// `trial`, `active` or `inactive` as billing set it; see `domain::organization::State`.
    pub state: String,
    pub trial_end_date: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Bumped on every avatar change (null: no avatar); part of avatarURL so caches refresh.
    pub avatar_version: Option<i64>,
    pub location_address: Option<String>,
    pub location_latitude: Option<f64>,
    pub location_longitude: Option<f64>,
    /// Lowercase; partnership invitations sent to it reach the organization's members.
    pub email: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
