//! Memberships: a user in an organization with a role. Admins manage members and admins;
//! only owners (or services) make or unmake owners; an organization keeps at least one owner.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

use super::access::membership::{organization as authorize, role_change};
use super::access::{Admin, Authorized};
use super::error::{DomainError, DomainResult};
use super::events::{self, NewEvent};
use super::keys::UserKey;
use super::validate::{PageBounds, too_many_results};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{membership, user};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

#[derive(Clone, Debug)]
pub struct MembershipView {
    pub membership: membership::Model,
    pub organization_uuid: uuid::Uuid,
    pub user: user::Model,
    pub role: Role,
}

async fn find_user(conn: &impl ConnectionTrait, user: &str) -> DomainResult<user::Model> {
    let key = UserKey::parse(user)
        .ok_or_else(|| DomainError::invalid("user", "must be an email, user id or UUID"))?;
    key.find(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("user not found".into()))
}

/// Serialises changes to one organization's owners: on PostgreSQL a row lock; SQLite runs
/// one write transaction at a time already.
pub async fn lock_organization(conn: &impl ConnectionTrait, id: i64) -> DomainResult<()> {
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

pub(crate) async fn owner_count(
    conn: &impl ConnectionTrait,
    organization_id: i64,
) -> DomainResult<u64> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .count(conn)
        .await?)
}

pub(crate) fn last_owner() -> DomainError {
    DomainError::Conflict {
        reason: "LAST_OWNER",
        message: "an organization keeps at least one owner".into(),
    }
}

pub(crate) async fn current_role(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    user_id: i64,
) -> DomainResult<Option<membership::Model>> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(conn)
        .await?)
}

/// Adds the user to the organization with `role`, or changes their role.
pub async fn set(
    db: &Db,
    principal: &Principal,
    organization: &str,
    user: &str,
    role: Role,
) -> DomainResult<MembershipView> {
    let txn = db.begin_write().await?;
    let (grant, org) = authorize::<Admin>(&txn, principal, organization).await?;
    let user = find_user(&txn, user).await?;
    lock_organization(&txn, org.id).await?;
    let existing = current_role(&txn, org.id, user.id).await?;
    let from = existing.as_ref().and_then(|m| Role::parse(&m.role));
    role_change(&txn, principal, &grant, from, Some(role)).await?;
    if from == Some(Role::Owner) && role != Role::Owner && owner_count(&txn, org.id).await? <= 1 {
        return Err(last_owner());
    }
    upsert(&txn, org.id, user.id, role).await?;
    let membership = current_role(&txn, org.id, user.id)
        .await?
        .ok_or_else(|| DomainError::NotFound("membership vanished".into()))?;
    events::append(
        &txn,
        principal,
        NewEvent {
            kind: events::types::MEMBER_SET,
            organizations: vec![(&org).into()],
            resource_id: user.id.to_string(),
            state: events::state::membership(&membership),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(MembershipView {
        membership,
        organization_uuid: org.uuid,
        user,
        role,
    })
}

/// Inserts or updates in one statement, so concurrent adds leave one row.
pub async fn upsert(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    user_id: i64,
    role: Role,
) -> DomainResult<()> {
    membership::Entity::insert(membership::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user_id),
        role: Set(role.as_str().to_string()),
        created_at: Set(super::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            membership::Column::OrganizationId,
            membership::Column::UserId,
        ])
        .update_column(membership::Column::Role)
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn remove(
    db: &Db,
    principal: &Principal,
    organization: &str,
    user: &str,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let (grant, org) = authorize::<Admin>(&txn, principal, organization).await?;
    let user = find_user(&txn, user).await?;
    lock_organization(&txn, org.id).await?;
    let existing = current_role(&txn, org.id, user.id)
        .await?
        .ok_or_else(|| DomainError::NotFound("the user is not a member".into()))?;
    let from = Role::parse(&existing.role);
    role_change(&txn, principal, &grant, from, None).await?;
    if from == Some(Role::Owner) && owner_count(&txn, org.id).await? <= 1 {
        return Err(last_owner());
    }
    membership::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    events::append(
        &txn,
        principal,
        NewEvent {
            kind: events::types::MEMBER_REMOVED,
            organizations: vec![(&org).into()],
            resource_id: user.id.to_string(),
            state: events::state::role(org.id, user.id, &existing.role),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

const PAGE: PageBounds = PageBounds {
    default_limit: 50,
    max_limit: 100,
};

/// The memberships of an organization, oldest first, and how many it has in all: every one
/// (refused beyond `max_unpaged`, never cut short) unless the caller asks for a page with
/// `limit` or `offset`.
pub async fn list(
    db: &Db,
    principal: &Principal,
    organization: &str,
    limit: Option<i32>,
    offset: Option<i32>,
    max_unpaged: usize,
) -> DomainResult<(Vec<MembershipView>, u64)> {
    let conn = db.read();
    // Who belongs with which role is for the organization's managers, not every member.
    let (_, org): (Authorized<Admin>, _) = authorize(conn, principal, organization).await?;
    let page = PAGE.check_optional(limit, offset)?;
    let query = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org.id))
        .order_by_asc(membership::Column::Id);
    let (memberships, total) = match page {
        Some((limit, offset)) => {
            let total = query.clone().count(conn).await?;
            (query.limit(limit).offset(offset).all(conn).await?, total)
        }
        None => {
            // One row past the bound tells "too many" without counting them all.
            let rows = query.limit(max_unpaged as u64 + 1).all(conn).await?;
            if rows.len() > max_unpaged {
                return Err(too_many_results(
                    max_unpaged,
                    "memberships in the organization",
                    "page with limit and offset",
                ));
            }
            let total = rows.len() as u64;
            (rows, total)
        }
    };
    let user_ids: Vec<i64> = memberships.iter().map(|m| m.user_id).collect();
    let users: std::collections::HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let views = memberships
        .into_iter()
        .filter_map(|m| {
            let user = users.get(&m.user_id)?.clone();
            let role = Role::parse(&m.role)?;
            Some(MembershipView {
                membership: m,
                organization_uuid: org.uuid,
                user,
                role,
            })
        })
        .collect();
    Ok((views, total))
}
