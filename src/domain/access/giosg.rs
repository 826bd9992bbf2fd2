//! The rule every giosg (`/api/v5`) operation applies, in the published order: no access
//! to the organization (403), no active subscription (403), no settings permission for
//! writes (403), then existence (404). One function, so no operation can check them in
//! another order or forget one.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::error::{DomainError, DomainResult};
use super::super::giosg::{OrganizationRef, find_organization, not_found};
use super::super::organization::{State, effective_state};
use super::{Authorized, Level, Need, service};
use crate::auth::Principal;
use crate::entity::{membership, organization};

fn no_access() -> DomainError {
    DomainError::PermissionDenied("You do not have access to this organization.".into())
}

/// The organization named by a giosg UUID and the proof for it, once the caller passed
/// every check (`N`: [`super::Read`] for any member, [`super::Admin`] for settings
/// permission). A malformed UUID cannot name an organization: 404.
pub async fn organization<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: &str,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    let id = find_organization(conn, organization_id)
        .await?
        .map(|o| o.id);
    organization_by_id(conn, principal, id).await
}

/// As [`organization`], for an organization named either way.
pub async fn organization_ref<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization: OrganizationRef<'_>,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    match organization {
        OrganizationRef::Uuid(uuid) => self::organization(conn, principal, uuid).await,
        OrganizationRef::Id(id) => organization_by_id(conn, principal, Some(id)).await,
    }
}

/// As [`organization`], for an organization row id (None: it does not exist). Internal
/// services call the internal RPCs (presence), which resolve the organization themselves.
pub async fn organization_by_id<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    id: Option<i64>,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    let (exists, level) = match id {
        Some(id) => super::level(conn, principal, id).await?,
        None => (false, None),
    };
    // The row is only worth loading for a caller who may see it.
    let model = match id.filter(|_| exists && level.is_some()) {
        Some(id) => organization::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    decide(principal, level, model)
}

/// The rule of this module's header, for a caller that has the principal's level in the
/// organization and its row (None: it does not exist), read by [`organization_by_id`] or in
/// the same statement as what a read loads from it ([`super::level_sql`]).
pub fn decide<N: Need>(
    principal: &Principal,
    level: Option<Level>,
    model: Option<organization::Model>,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    service::refuse_published(principal)?;
    if level.is_none() {
        return Err(no_access());
    }
    let model = model.ok_or_else(|| not_found("Organization"))?;
    if effective_state(&model, super::super::now()) == State::Inactive {
        return Err(DomainError::PermissionDenied(
            "Your organization does not have an active subscription.".into(),
        ));
    }
    if N::LEVEL >= Level::Admin && level < Some(N::LEVEL) {
        return Err(DomainError::PermissionDenied(
            "You do not have settings permission.".into(),
        ));
    }
    Ok((Authorized::grant(principal, model.id), model))
}

/// A thing `organization_id` owns, addressed by its own id (an invitation it sent, its side
/// of a partnership): to a caller without a role there it does not exist (404, never 403
/// about an organization the caller did not name); then every check of [`organization`].
pub async fn owned_by<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
    what: &str,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    if !super::has_role(conn, principal, organization_id).await? {
        return Err(not_found(what));
    }
    organization_by_id(conn, principal, Some(organization_id)).await
}

/// Ids of the organizations the caller belongs to directly (an organization token: its
/// own), ascending: those it may act for without naming one.
pub async fn member_organization_ids(
    conn: &impl ConnectionTrait,
    principal: &Principal,
) -> DomainResult<Vec<i64>> {
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

/// The organization a caller acts for on the giosg invitation endpoints: the one named, or
/// the only one it belongs to (`candidates`, default: all it belongs to), with every check
/// of [`organization`].
pub async fn acting_organization<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    let candidates = member_organization_ids(conn, principal).await?;
    acting_among(conn, principal, organization_id, candidates).await
}

/// As [`acting_organization`], choosing among `candidates` when none is named.
pub(super) async fn acting_among<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
    candidates: Vec<i64>,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    if let Some(named) = organization_id {
        return organization_ref(conn, principal, named).await;
    }
    match candidates.as_slice() {
        [] => Err(no_access()),
        [only] => organization_by_id(conn, principal, Some(*only)).await,
        _ => Err(DomainError::invalid(
            "organization_id",
            "This field is required when you belong to several organizations.",
        )),
    }
}
