//! Owners of an organization (GroupAlarm's ownerIDs): adding, removing, and invitations that
//! only the invited user can accept.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::access::{self, Authorized, Own, Services};
use super::error::{DomainError, DomainResult};
use super::events::{self, types};
use super::keys::UserKey;
use super::membership::{self, Role};
use super::organization::{self, OrganizationView};
use super::validate::{PageBounds, is_email, too_many_results};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{membership as membership_entity, owner_invitation, user};

#[derive(Clone, Debug)]
pub struct OwnerInvitationView {
    pub invitation: owner_invitation::Model,
    pub email: String,
}

async fn require_own(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    id: i64,
) -> DomainResult<Authorized<Own>> {
    access::require::<Own>(conn, principal, Some(id), Services::Denied).await
}

async fn user_by_id(conn: &impl ConnectionTrait, user_id: i64) -> DomainResult<user::Model> {
    UserKey::Id(user_id)
        .find(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("user not found".into()))
}

async fn is_owner(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<bool> {
    Ok(membership::current_role(conn, organization_id, user_id)
        .await?
        .is_some_and(|m| m.role == Role::Owner.as_str()))
}

pub const INVITATIONS_PAGE: PageBounds = PageBounds {
    default_limit: 50,
    max_limit: 100,
};

/// Open invitations, oldest first: all of them (refused beyond `max_unpaged`, never cut
/// short) unless the caller asks for a page with `limit` or `offset`.
pub async fn list_invitations(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    limit: Option<i32>,
    offset: Option<i32>,
    max_unpaged: usize,
) -> DomainResult<Vec<OwnerInvitationView>> {
    let conn = db.read();
    let organization_id = require_own(conn, principal, organization_id)
        .await?
        .organization_id();
    let page = INVITATIONS_PAGE.check_optional(limit, offset)?;
    let query = owner_invitation::Entity::find()
        .filter(owner_invitation::Column::OrganizationId.eq(organization_id))
        .filter(owner_invitation::Column::AcceptedAt.is_null())
        .order_by_asc(owner_invitation::Column::Id);
    let invitations = match page {
        Some((limit, offset)) => query.limit(limit).offset(offset).all(conn).await?,
        None => {
            // One row past the bound tells "too many" without counting them all.
            let rows = query.limit(max_unpaged as u64 + 1).all(conn).await?;
            if rows.len() > max_unpaged {
                return Err(too_many_results(
                    max_unpaged,
                    "open owner invitations",
                    "page with limit and offset",
                ));
            }
            rows
        }
    };
    // One query for every invitee, not one per invitation.
    let user_ids: Vec<i64> = invitations.iter().map(|i| i.user_id).collect();
    let emails: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(invitations
        .into_iter()
        .filter_map(|invitation| {
            let email = emails.get(&invitation.user_id)?.clone();
            Some(OwnerInvitationView { invitation, email })
        })
        .collect())
}

/// Invites an existing user, by email, to become an owner.
pub async fn invite(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    email: &str,
) -> DomainResult<OwnerInvitationView> {
    let email = email.trim().to_lowercase();
    let txn = db.begin_write().await?;
    let own = require_own(&txn, principal, organization_id).await?;
    if !is_email(&email) {
        return Err(DomainError::invalid(
            "email",
            "must be a valid email address",
        ));
    }
    let invitee = UserKey::Email(email.clone())
        .find(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound(format!("no user with email {email}")))?;
    if is_owner(&txn, organization_id, invitee.id).await? {
        return Err(DomainError::AlreadyExists {
            reason: "ALREADY_OWNER",
            message: "the user already owns this organization".into(),
        });
    }
    let exists = || DomainError::AlreadyExists {
        reason: "INVITATION_EXISTS",
        message: "the user has an open invitation already".into(),
    };
    let open = owner_invitation::Entity::find()
        .filter(owner_invitation::Column::OrganizationId.eq(organization_id))
        .filter(owner_invitation::Column::UserId.eq(invitee.id))
        .filter(owner_invitation::Column::AcceptedAt.is_null())
        .one(&txn)
        .await?;
    if open.is_some() {
        return Err(exists());
    }
    let inserted = owner_invitation::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        user_id: Set(invitee.id),
        invited_by_user_id: Set(own.user_id()),
        created_at: Set(super::now()),
        accepted_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let invitation = match inserted {
        Ok(m) => m,
        // The partial unique index settles a concurrent second invitation.
        Err(e) if organization::is_unique_violation(&e) => return Err(exists()),
        Err(e) => return Err(e.into()),
    };
    events::record(
        &txn,
        principal,
        types::OWNER_INVITATION_CREATED,
        &[organization_id],
        invitation.uuid,
        events::state::owner_invitation(&invitation),
    )
    .await?;
    txn.commit().await?;
    Ok(OwnerInvitationView {
        invitation,
        email: invitee.email,
    })
}

/// Only the invited user accepts; accepting again changes nothing. Someone who cannot
/// manage the organization learns nothing about its invitations (403 either way).
pub async fn accept(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    invitation_id: &str,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let (invitee, invitation) =
        access::owner::invitation(&txn, principal, organization_id, invitation_id).await?;
    membership::lock_organization(&txn, invitee.organization_id()).await?;
    membership::upsert(
        &txn,
        invitee.organization_id(),
        invitation.user_id,
        Role::Owner,
    )
    .await?;
    if invitation.accepted_at.is_none() {
        let mut active = invitation.into_active_model();
        active.accepted_at = Set(Some(super::now()));
        let accepted = active.update(&txn).await?;
        events::record(
            &txn,
            principal,
            types::OWNER_INVITATION_ACCEPTED,
            &[accepted.organization_id],
            accepted.uuid,
            events::state::owner_invitation(&accepted),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn remove_invitation(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let organization_id = require_own(&txn, principal, organization_id)
        .await?
        .organization_id();
    let open = owner_invitation::Entity::find()
        .filter(owner_invitation::Column::OrganizationId.eq(organization_id))
        .filter(owner_invitation::Column::UserId.eq(user_id))
        .filter(owner_invitation::Column::AcceptedAt.is_null())
        .all(&txn)
        .await?;
    let removed = owner_invitation::Entity::delete_many()
        .filter(owner_invitation::Column::Id.is_in(open.iter().map(|i| i.id)))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(DomainError::NotFound(
            "no open invitation for that user".into(),
        ));
    }
    for invitation in &open {
        events::record(
            &txn,
            principal,
            types::OWNER_INVITATION_REMOVED,
            &[organization_id],
            invitation.uuid,
            events::state::owner_invitation(invitation),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn add(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let organization_id = require_own(&txn, principal, organization_id)
        .await?
        .organization_id();
    user_by_id(&txn, user_id).await?;
    membership::lock_organization(&txn, organization_id).await?;
    membership::upsert(&txn, organization_id, user_id, Role::Owner).await?;
    events::record(
        &txn,
        principal,
        types::OWNER_ADDED,
        &[organization_id],
        user_id,
        events::state::role(organization_id, user_id, Role::Owner.as_str()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Never the last owner.
pub async fn remove(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let organization_id = require_own(&txn, principal, organization_id)
        .await?
        .organization_id();
    membership::lock_organization(&txn, organization_id).await?;
    let Some(row) = membership::current_role(&txn, organization_id, user_id)
        .await?
        .filter(|m| m.role == Role::Owner.as_str())
    else {
        return Err(DomainError::NotFound(
            "that user does not own this organization".into(),
        ));
    };
    if membership::owner_count(&txn, organization_id).await? <= 1 {
        return Err(membership::last_owner());
    }
    membership_entity::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    events::record(
        &txn,
        principal,
        types::OWNER_REMOVED,
        &[organization_id],
        user_id,
        events::state::role(organization_id, user_id, &row.role),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The topmost organization on the path from the root down to this one that the user owns
/// and the caller may read.
pub async fn topmost_owned(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<OrganizationView> {
    let conn = db.read();
    access::require::<access::Read>(conn, principal, Some(organization_id), Services::Allowed)
        .await?;
    let mut path = organization::ancestors_of(conn, organization_id).await?;
    path.reverse();
    // Owned organizations the caller cannot read are passed over, not revealed.
    for id in path {
        if is_owner(conn, id, user_id).await? && access::can_read(conn, principal, id).await? {
            return organization::get(db, principal, id).await;
        }
    }
    Err(DomainError::NotFound(
        "the user owns no organization on this path".into(),
    ))
}
