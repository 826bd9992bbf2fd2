//! A user's 14-day trial, started once.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::access;
use super::error::{DomainError, DomainResult};
use super::keys::UserKey;
use super::organization::TRIAL_DAYS;
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::user;

#[derive(Clone, Debug)]
pub struct TrialStatus {
    pub user_id: i64,
    pub start: Option<DateTime<Utc>>,
    pub active: bool,
}

fn status(user_id: i64, start: Option<DateTime<Utc>>) -> TrialStatus {
    TrialStatus {
        user_id,
        start,
        active: start.is_some_and(|s| Utc::now() < s + Duration::days(TRIAL_DAYS)),
    }
}

pub async fn get(db: &Db, principal: &Principal) -> DomainResult<TrialStatus> {
    let user_id = access::require_user(principal)?;
    let found = UserKey::Id(user_id)
        .find(db.read())
        .await?
        .ok_or_else(|| DomainError::NotFound("user not found".into()))?;
    Ok(status(user_id, found.trial_started_at))
}

/// One conditional update, so two concurrent starts cannot both succeed.
pub async fn start(db: &Db, principal: &Principal) -> DomainResult<TrialStatus> {
    let user_id = access::require_user(principal)?;
    let now = super::now();
    let txn = db.begin_write().await?;
    let updated = user::Entity::update_many()
        .col_expr(user::Column::TrialStartedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::TrialStartedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(DomainError::AlreadyExists {
            reason: "TRIAL_ALREADY_STARTED",
            message: "your trial was started already".into(),
        });
    }
    txn.commit().await?;
    Ok(status(user_id, Some(now)))
}
