use sea_orm::entity::prelude::*;

/// One side of a partnership: what `organization_id` knows of `partner_organization_id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partnerships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The partnership's id, the same on both sides' rows.
    pub uuid: Uuid,
    pub organization_id: i64,
    pub partner_organization_id: i64,
    /// None: show the partner's own name.
    pub display_name: Option<String>,
    /// Whether every user of `organization_id` sees the partner (giosg v3), this side's.
    pub visible_to_everyone: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
