//! Who registers a user's live clients (giosg "user clients"): any member for themself,
//! settings permission for anyone else in the organization (asked before whether that user
//! exists), internal services for everyone.

use sea_orm::{ConnectionTrait, EntityTrait};

use super::super::error::DomainResult;
use super::super::giosg::{find_organization, not_found};
use super::super::presence::find_member;
use super::{Admin, Authorized, Read, service};
use crate::auth::Principal;
use crate::entity::user;

/// Proof that the caller may manage this user's clients.
#[derive(Debug)]
pub struct ClientsOf;

/// The member whose clients the caller may manage, and the proof.
pub async fn clients(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: &str,
    user_uuid: &str,
) -> DomainResult<(Authorized<ClientsOf>, user::Model)> {
    if service::is_service(principal) {
        let org = find_organization(conn, organization_id)
            .await?
            .ok_or_else(|| not_found("Organization"))?;
        let member = find_member(conn, org.id, user_uuid).await?;
        return Ok((Authorized::grant(principal, org.id), member));
    }
    let (read, _) = super::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let own = match principal {
        Principal::User { user_id } => user::Entity::find_by_id(*user_id)
            .one(conn)
            .await?
            .map(|u| u.uuid.to_string()),
        _ => None,
    };
    let is_self = own.is_some_and(|own| own.eq_ignore_ascii_case(user_uuid.trim()));
    if !is_self {
        let _: (Authorized<Admin>, _) =
            super::giosg::organization_by_id(conn, principal, Some(read.organization_id())).await?;
    }
    let member = find_member(conn, read.organization_id(), user_uuid).await?;
    Ok((Authorized::grant(principal, read.organization_id()), member))
}
