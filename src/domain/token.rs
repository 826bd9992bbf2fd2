//! Issuing tokens (shown once) and resolving a presented token to its principal.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::error::DomainResult;
use crate::auth::{Principal, token};
use crate::entity::api_token;

/// Stores the hash of a new token for `principal` and returns the token itself.
pub async fn issue(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> DomainResult<String> {
    let plain = token::generate();
    let (kind, user_id, organization_id, service_name) = match principal {
        Principal::User { user_id } => ("user", Some(*user_id), None, None),
        Principal::Organization { organization_id } => {
            ("organization", None, Some(*organization_id), None)
        }
        Principal::Service { name } => ("service", None, None, Some(name.clone())),
    };
    api_token::ActiveModel {
        token_hash: Set(token::hash(&plain)),
        kind: Set(kind.to_string()),
        user_id: Set(user_id),
        organization_id: Set(organization_id),
        service_name: Set(service_name),
        expires_at: Set(expires_at),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(plain)
}

/// The principal a stored token hash acts as and when the token expires; None when unknown
/// or expired.
pub async fn resolve_hash(
    conn: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<(Principal, Option<DateTime<Utc>>)>, sea_orm::DbErr> {
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if row.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Ok(None);
    }
    let principal = match (
        row.kind.as_str(),
        row.user_id,
        row.organization_id,
        row.service_name,
    ) {
        ("user", Some(user_id), _, _) => Principal::User { user_id },
        ("organization", _, Some(organization_id), _) => {
            Principal::Organization { organization_id }
        }
        ("service", _, _, Some(name)) => Principal::Service { name },
        _ => return Ok(None),
    };
    Ok(Some((principal, row.expires_at)))
}
