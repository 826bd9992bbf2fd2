use sea_orm::entity::prelude::*;

/// One committed change (migration m0011); `domain::events` writes and reads it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Strictly increasing in commit order on both backends (see m0011).
    #[sea_orm(primary_key)]
    pub position: i64,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    /// JSON array of int64 ids, the organization owning the resource first.
    pub organization_ids: String,
    /// JSON array of UUID strings, in the same order.
    pub organization_uuids: String,
    pub resource_id: String,
    /// JSON object.
    pub state: String,
    pub actor: String,
    pub request_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
