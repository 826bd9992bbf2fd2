//! How operators and internal services name things: an int64 id, a UUID, or (users) an email.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::error::DomainResult;
use crate::entity::{organization, user};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrganizationKey {
    Id(i64),
    Uuid(Uuid),
}

impl OrganizationKey {
    pub fn parse(s: &str) -> Option<OrganizationKey> {
        let s = s.trim();
        if let Ok(id) = s.parse::<i64>() {
            return Some(OrganizationKey::Id(id));
        }
        Uuid::parse_str(s).ok().map(OrganizationKey::Uuid)
    }

    /// The row id, or None when no such organization exists.
    pub async fn resolve(&self, conn: &impl ConnectionTrait) -> DomainResult<Option<i64>> {
        let query = organization::Entity::find()
            .select_only()
            .column(organization::Column::Id);
        let query = match self {
            OrganizationKey::Id(id) => query.filter(organization::Column::Id.eq(*id)),
            OrganizationKey::Uuid(u) => query.filter(organization::Column::Uuid.eq(*u)),
        };
        Ok(query.into_tuple::<i64>().one(conn).await?)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserKey {
    Id(i64),
    Uuid(Uuid),
    Email(String),
}

impl UserKey {
    pub fn parse(s: &str) -> Option<UserKey> {
        let s = s.trim();
        if s.contains('@') {
            return Some(UserKey::Email(s.to_lowercase()));
        }
        if let Ok(id) = s.parse::<i64>() {
            return Some(UserKey::Id(id));
        }
        Uuid::parse_str(s).ok().map(UserKey::Uuid)
    }

    pub async fn find(&self, conn: &impl ConnectionTrait) -> DomainResult<Option<user::Model>> {
        let query = user::Entity::find();
        let query = match self {
            UserKey::Id(id) => query.filter(user::Column::Id.eq(*id)),
            UserKey::Uuid(u) => query.filter(user::Column::Uuid.eq(*u)),
            UserKey::Email(e) => query.filter(user::Column::Email.eq(e.as_str())),
        };
        Ok(query.one(conn).await?)
    }
}
