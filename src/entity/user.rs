use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub full_name: String,
    pub created_at: DateTimeUtc,
    pub trial_started_at: Option<DateTimeUtc>,
    /// Chats the user has now, as internal services last reported (giosg).
    pub current_chat_count: i64,
    pub avatar_id: Option<Uuid>,
    pub avatar_url: Option<String>,
    /// Whether a present user counts as online (giosg's online switch).
    pub online_enabled: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
