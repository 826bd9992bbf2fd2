//! The access rule every giosg (`/api/v5`) operation applies, in the published order:
//! no access to the organization (403), no active subscription (403), no settings
//! permission for writes (403), then existence (404). One helper, so no operation can
//! check them in another order or forget one.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::access::{self, Level};
use super::error::{DomainError, DomainResult};
use super::organization::{State, effective_state};
use crate::auth::Principal;
use crate::entity::{membership, organization};

/// What the operation needs in the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any member.
    Read,
    /// giosg's "settings permission": role admin or owner.
    Settings,
}

/// A path or query id that must be a UUID; anything else names nothing (404).
pub fn parse_uuid(s: &str, what: &str) -> DomainResult<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| not_found(what))
}

pub fn not_found(what: &str) -> DomainError {
    DomainError::NotFound(format!("{what} was not found."))
}

fn no_access() -> DomainError {
    DomainError::PermissionDenied("You do not have access to this organization.".into())
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

/// The organization named by a giosg UUID, once the caller passed every check. A malformed
/// UUID cannot name an organization: 404.
pub async fn authorize(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: &str,
    need: Need,
) -> DomainResult<organization::Model> {
    let id = find_organization(conn, organization_id)
        .await?
        .map(|o| o.id);
    authorize_id(conn, principal, id, need).await
}

/// As [`authorize`], for an organization row id (None: it does not exist). The published
/// giosg operations are for people and organization tokens: internal services call the
/// internal RPCs (presence), which resolve the organization themselves.
pub async fn authorize_id(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    id: Option<i64>,
    need: Need,
) -> DomainResult<organization::Model> {
    let (exists, level) = match id {
        Some(id) => access::level(conn, principal, id).await?,
        None => (false, None),
    };
    if matches!(principal, Principal::Service { .. }) {
        return Err(DomainError::PermissionDenied(
            "internal services call only the internal RPCs".into(),
        ));
    }
    if level.is_none() {
        return Err(no_access());
    }
    let model = match id.filter(|_| exists) {
        Some(id) => organization::Entity::find_by_id(id).one(conn).await?,
        None => None,
    }
    .ok_or_else(|| not_found("Organization"))?;
    if effective_state(&model, super::now()) == State::Inactive {
        return Err(DomainError::PermissionDenied(
            "Your organization does not have an active subscription.".into(),
        ));
    }
    if need == Need::Settings && level < Some(Level::Admin) {
        return Err(DomainError::PermissionDenied(
            "You do not have settings permission.".into(),
        ));
    }
    Ok(model)
}

/// Ids of the organizations the user belongs to directly, ascending.
pub async fn member_organization_ids(
    conn: &impl ConnectionTrait,
    principal: &Principal,
) -> DomainResult<Vec<i64>> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(match principal {
        Principal::User { user_id } => {
            membership::Entity::find()
                .select_only()
                .column(membership::Column::OrganizationId)
                .filter(membership::Column::UserId.eq(*user_id))
                .order_by_asc(membership::Column::OrganizationId)
                .into_tuple::<i64>()
                .all(conn)
                .await?
        }
        Principal::Organization { organization_id } => vec![*organization_id],
        Principal::Service { .. } => Vec::new(),
    })
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
    if !matches!(principal, Principal::Service { .. }) {
        return Err(DomainError::PermissionDenied(
            "only operators set an organization's email".into(),
        ));
    }
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
