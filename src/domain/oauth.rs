//! OAuth2 client credentials: operators create clients for an organization; a client trades
//! its id and secret for a short-lived bearer token acting for that organization.

use chrono::Duration;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use subtle::ConstantTimeEq;

use super::error::{DomainError, DomainResult};
use super::token;
use crate::auth::{Principal, token as secrets};
use crate::db::Db;
use crate::entity::oauth_client;

/// Lifetime of an access token, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// (client_id, client_secret); the secret is shown once and stored hashed.
pub async fn create_client(
    conn: &impl ConnectionTrait,
    organization_id: i64,
) -> DomainResult<(String, String)> {
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = secrets::generate();
    oauth_client::ActiveModel {
        client_id: Set(client_id.clone()),
        secret_hash: Set(secrets::hash(&secret)),
        organization_id: Set(organization_id),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((client_id, secret))
}

/// (access token, lifetime in seconds).
pub async fn token(
    db: &Db,
    client_id: &str,
    client_secret: &str,
    grant_type: &str,
) -> DomainResult<(String, i64)> {
    if !grant_type.is_empty() && grant_type != "client_credentials" {
        return Err(DomainError::invalid(
            "grant_type",
            "only client_credentials is supported",
        ));
    }
    let txn = db.begin_write().await?;
    let client = oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id.trim()))
        .one(&txn)
        .await?;
    // Compared in constant time; an unknown client costs the same hash as a known one.
    let presented = secrets::hash(client_secret);
    let valid = client
        .as_ref()
        .is_some_and(|c| bool::from(c.secret_hash.as_bytes().ct_eq(presented.as_bytes())));
    let Some(client) = client.filter(|_| valid) else {
        return Err(DomainError::Unauthenticated);
    };
    let expires_at = super::now() + Duration::seconds(TOKEN_LIFETIME_SECS);
    let access_token = token::issue(
        &txn,
        &Principal::Organization {
            organization_id: client.organization_id,
        },
        Some(expires_at),
    )
    .await?;
    txn.commit().await?;
    Ok((access_token, TOKEN_LIFETIME_SECS))
}
