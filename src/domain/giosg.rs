//! giosg's identifiers: organization UUIDs and 404s in its words. Who may call what is
//! decided in `access::giosg`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::error::{DomainError, DomainResult};
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
