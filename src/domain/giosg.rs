//! giosg's identifiers: organization UUIDs and 404s in its words, and the organization
//! email partnership invitations reach. Who may call what is decided in
//! `access::giosg`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::access::service;
use super::error::{DomainError, DomainResult};
use crate::auth::Principal;
use crate::entity::organization;

/// How a giosg request names an organization: by UUID (v5) or by its integer id (v3).
#[derive(Clone, Copy, Debug)]
pub enum OrganizationRef<'a> {
    Uuid(&'a str),
    Id(i64),
}

/// How a giosg request names a partnership invitation it sent: by UUID (v5) or by its
/// integer id (v3).
#[derive(Clone, Copy, Debug)]
pub enum InvitationRef<'a> {
    Uuid(&'a str),
    Id(i64),
}

/// A path or query id that must be a UUID; anything else names nothing (404).
pub fn parse_uuid(s: &str, what: &str) -> DomainResult<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| not_found(what))
}

pub fn not_found(what: &str) -> DomainError {
    DomainError::NotFound(format!("{what} was not found."))
}

/// The organization a giosg UUID names; a malformed UUID names none (404).
pub async fn find_organization(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> DomainResult<Option<organization::Model>> {
    let uuid = parse_uuid(organization_id, "Organization")?;
    Ok(organization::Entity::find()
        .filter(organization::Column::Uuid.eq(uuid))
        .one(conn)
        .await?)
}

/// Sets (or, with an empty string, clears) an organization's email, to which partnership
/// invitations can be sent. Services only: the operator CLI acts as one.
pub async fn set_organization_email(
    db: &crate::db::Db,
    principal: &Principal,
    organization: &str,
    email: &str,
) -> DomainResult<organization::Model> {
    use sea_orm::{ActiveModelTrait, Set};
    service::require(principal, "only operators set an organization's email")?;
    let email = email.trim().to_lowercase();
    if !email.is_empty() && !super::validate::is_email(&email) {
        return Err(DomainError::invalid(
            "email",
            "must be a valid email address",
        ));
    }
    let key = super::keys::OrganizationKey::parse(organization).ok_or_else(|| {
        DomainError::invalid("organization", "must be an organization id or UUID")
    })?;
    let txn = db.begin_write().await?;
    let id = key.resolve(&txn).await?;
    let model = match id {
        Some(id) => organization::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    let mut active: organization::ActiveModel = model.into();
    active.email = Set((!email.is_empty()).then_some(email));
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    txn.commit().await?;
    Ok(model)
}
