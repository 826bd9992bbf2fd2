//! Who manages memberships (the internal MembershipService): admins manage members and
//! admins; only owners (or internal services) make or unmake owners.

use sea_orm::{ConnectionTrait, EntityTrait};

use super::super::error::{DomainError, DomainResult};
use super::super::keys::OrganizationKey;
use super::super::membership::Role;
use super::{Authorized, Need, Own, Services, service};
use crate::auth::Principal;
use crate::entity::organization;

/// The organization an internal RPC names by id or UUID, and the proof for `N`. Services,
/// which act for every organization, learn that a key is malformed (400) or names nothing
/// (404); everyone else gets 403 first.
pub async fn organization<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization: &str,
) -> DomainResult<(Authorized<N>, organization::Model)> {
    let key = OrganizationKey::parse(organization);
    let id = match &key {
        Some(k) => k.resolve(conn).await?,
        None if service::is_service(principal) => {
            return Err(DomainError::invalid(
                "organization",
                "must be an organization id or UUID",
            ));
        }
        None => None,
    };
    let proof = super::require::<N>(conn, principal, id, Services::Allowed).await?;
    let model = organization::Entity::find_by_id(proof.organization_id())
        .one(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    Ok((proof, model))
}

/// Whether the principal may change a membership from `from` to `to` (None: absent).
pub async fn role_change<N>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization: &Authorized<N>,
    from: Option<Role>,
    to: Option<Role>,
) -> DomainResult<()> {
    if from == Some(Role::Owner) || to == Some(Role::Owner) {
        super::require::<Own>(
            conn,
            principal,
            Some(organization.organization_id()),
            Services::Allowed,
        )
        .await
        .map_err(|e| match e {
            DomainError::PermissionDenied(_) => {
                DomainError::PermissionDenied("only owners make or unmake owners".into())
            }
            other => other,
        })?;
    }
    Ok(())
}
