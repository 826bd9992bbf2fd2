//! Who accepts an owner invitation: only the invited user. Someone who cannot manage the
//! organization learns nothing about its invitations (403 whether or not one exists).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::super::error::{DomainError, DomainResult};
use super::Authorized;
use crate::auth::Principal;
use crate::entity::owner_invitation;

/// Proof that the caller is the user an owner invitation names.
#[derive(Debug)]
pub struct Invitee;

/// The invitation the caller may accept, and the proof (for the organization).
pub async fn invitation(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
    invitation_id: &str,
) -> DomainResult<(Authorized<Invitee>, owner_invitation::Model)> {
    let user_id = super::require_user(principal)?;
    let found = match Uuid::parse_str(invitation_id.trim()) {
        Ok(uuid) => {
            owner_invitation::Entity::find()
                .filter(owner_invitation::Column::Uuid.eq(uuid))
                .filter(owner_invitation::Column::OrganizationId.eq(organization_id))
                .one(conn)
                .await?
        }
        Err(_) => None,
    };
    let only_invitee = || DomainError::PermissionDenied("only the invited user can accept".into());
    match found {
        Some(i) if i.user_id == user_id => Ok((Authorized::grant(principal, organization_id), i)),
        Some(_) => Err(only_invitee()),
        // Only those who manage the organization may learn that it does not exist.
        None if super::manages(conn, principal, organization_id).await? => {
            Err(DomainError::NotFound("no such invitation".into()))
        }
        None => Err(only_invitee()),
    }
}
