//! Who may do what, decided here and nowhere else. Every other domain module asks this one
//! and gets back a proof ([`Authorized`]) that only this module can make; the operations
//! that read or change an organization's data take that proof, so an operation cannot
//! forget a check or pick a weaker one. `docs/AUTHORIZATION.md` lists every grant across
//! organizations and the rule here that decides it.
//!
//! Every check asks permission before existence: a caller without access gets
//! PERMISSION_DENIED whether or not the organization exists.
//!
//! - A user's direct role gives `member` → Read, `admin` → Admin, `owner` → Own; owning any
//!   ancestor gives Own over the whole subtree.
//! - An organization API token (and an OAuth client's token) has Own within its
//!   organization and descendants.
//! - A service has no level; each operation says whether services may perform it (on any
//!   organization, so they alone can learn that one does not exist). The rules for
//!   services are in [`service`].
//! - Being connected to an organization (a giosg partnership, or MyCreditApp's host/guest
//!   connection) lets a party read what the published APIs allow and never act as that
//!   organization ([`giosg`], [`directory`]).

pub mod directory;
pub mod events;
pub mod giosg;
pub mod invitation;
pub mod membership;
pub mod owner;
pub mod presence;
pub mod service;

use std::marker::PhantomData;

use sea_orm::{ConnectionTrait, Statement};

use super::error::{DomainError, DomainResult};
use super::membership::Role;
use crate::auth::Principal;
use crate::db::Columns;
use crate::entity::organization;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read = 1,
    Admin = 2,
    Own = 3,
}

impl Level {
    /// The number [`level_sql`] yields for this level.
    fn from_number(n: i32) -> Option<Level> {
        match n {
            1 => Some(Level::Read),
            2 => Some(Level::Admin),
            3 => Some(Level::Own),
            _ => None,
        }
    }
}

impl From<Role> for Level {
    fn from(role: Role) -> Level {
        match role {
            Role::Member => Level::Read,
            Role::Admin => Level::Admin,
            Role::Owner => Level::Own,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Services {
    Allowed,
    Denied,
}

/// What an operation needs in an organization, as a type: the parameter of [`Authorized`].
pub trait Need: sealed::Sealed {
    const LEVEL: Level;
}

mod sealed {
    pub trait Sealed {}
}

/// Any role in the organization (or ownership above it).
#[derive(Debug)]
pub struct Read;
/// giosg's "settings permission": admin or owner.
#[derive(Debug)]
pub struct Admin;
/// Owner rights: an owner of the organization or of an ancestor, or its API token.
#[derive(Debug)]
pub struct Own;

impl sealed::Sealed for Read {}
impl sealed::Sealed for Admin {}
impl sealed::Sealed for Own {}
impl Need for Read {
    const LEVEL: Level = Level::Read;
}
impl Need for Admin {
    const LEVEL: Level = Level::Admin;
}
impl Need for Own {
    const LEVEL: Level = Level::Own;
}

/// Proof that the principal passed the rule `N` for one organization. The fields are
/// private and the only constructor is private to this module: holding one means the check
/// ran (lldap's `get_*_handler` after the check).
#[derive(Debug)]
pub struct Authorized<N> {
    organization_id: i64,
    user_id: Option<i64>,
    _need: PhantomData<N>,
}

impl<N> Authorized<N> {
    fn grant(principal: &Principal, organization_id: i64) -> Authorized<N> {
        Authorized {
            organization_id,
            user_id: match principal {
                Principal::User { user_id } => Some(*user_id),
                _ => None,
            },
            _need: PhantomData,
        }
    }

    /// The organization the proof is for.
    pub fn organization_id(&self) -> i64 {
        self.organization_id
    }

    /// The person who acted, recorded as the creator; None for tokens and services.
    pub fn user_id(&self) -> Option<i64> {
        self.user_id
    }
}

/// Depth guard for the ancestor walk; the tree is kept acyclic, this only bounds the cost.
const MAX_DEPTH: i64 = 64;

/// A scalar subquery: the principal's [`Level`] in the organization whose id the SQL
/// expression `organization` gives, as a number (NULL: no access). `principal_id` is the
/// placeholder bound to [`principal_param`]. The rule of this module's header, in SQL, so
/// that a read can check access in the same statement that loads the organization.
pub fn level_sql(principal: &Principal, organization: &str, principal_id: &str) -> String {
    let chain = format!(
        "WITH RECURSIVE chain(id, parent_id, depth) AS ( \
           SELECT id, parent_id, 0 FROM organizations WHERE id = {organization} \
           UNION ALL \
           SELECT up.id, up.parent_id, c.depth + 1 FROM organizations up \
             JOIN chain c ON up.id = c.parent_id WHERE c.depth < {MAX_DEPTH} \
         )"
    );
    let (owner, admin, member) = (
        Role::Owner.as_str(),
        Role::Admin.as_str(),
        Role::Member.as_str(),
    );
    let (own, adm, read) = (Level::Own as i32, Level::Admin as i32, Level::Read as i32);
    match principal {
        // The direct role counts at the organization itself; above it only ownership does.
        // One membership lookup per ancestor, as a subquery rather than a join: joined,
        // PostgreSQL cannot tell the chain is a few rows and hashes all of the user's
        // memberships instead (0.37 ms against 0.08 ms for a user in 1,000 organizations,
        // EXPLAIN ANALYZE).
        Principal::User { .. } => format!(
            "({chain} SELECT MAX((SELECT CASE \
               WHEN c.depth = 0 THEN CASE m.role WHEN '{owner}' THEN {own} \
                 WHEN '{admin}' THEN {adm} WHEN '{member}' THEN {read} END \
               WHEN m.role = '{owner}' THEN {own} END \
             FROM memberships m \
             WHERE m.organization_id = c.id AND m.user_id = {principal_id})) \
             FROM chain c)"
        ),
        Principal::Organization { .. } => format!(
            "({chain} SELECT MAX(CASE WHEN c.id = {principal_id} THEN {own} END) FROM chain c)"
        ),
        // Always NULL; the placeholder is still bound so every principal takes the same
        // parameters.
        Principal::Service { .. } => format!(
            "CAST(NULLIF(CAST({principal_id} AS BIGINT), CAST({principal_id} AS BIGINT)) AS INTEGER)"
        ),
    }
}

/// The value for `level_sql`'s `principal_id` placeholder.
pub fn principal_param(principal: &Principal) -> i64 {
    match principal {
        Principal::User { user_id } => *user_id,
        Principal::Organization { organization_id } => *organization_id,
        Principal::Service { .. } => 0,
    }
}

/// The level a [`level_sql`] column holds.
pub fn level_from_row(row: &dyn Columns, column: &str) -> DomainResult<Option<Level>> {
    Ok(row.opt_i32(column)?.and_then(Level::from_number))
}

/// Whether the organization exists, and the caller's level in it (None: no access).
async fn level(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<(bool, Option<Level>)> {
    let sql = format!(
        "SELECT {} AS access_level FROM organizations WHERE id = $1",
        level_sql(principal, "$1", "$2")
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [organization_id.into(), principal_param(principal).into()],
        ))
        .await?;
    match row {
        None => Ok((false, None)),
        Some(row) => Ok((true, level_from_row(&row, "access_level")?)),
    }
}

/// The proof that the principal may act at `N` on the organization; `organization_id`
/// None means the caller named an organization that does not exist.
pub async fn require<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: Option<i64>,
    services: Services,
) -> DomainResult<Authorized<N>> {
    let (exists, level) = match organization_id {
        Some(id) => level(conn, principal, id).await?,
        None => (false, None),
    };
    decide(
        principal,
        organization_id.unwrap_or(0),
        exists,
        level,
        services,
    )
}

/// The rule `require` applies, for a caller that already knows whether the organization
/// exists and the principal's level in it (read in the same statement as the row).
pub fn decide<N: Need>(
    principal: &Principal,
    organization_id: i64,
    exists: bool,
    level: Option<Level>,
    services: Services,
) -> DomainResult<Authorized<N>> {
    match principal {
        Principal::Service { .. } if services == Services::Allowed => {
            if exists {
                Ok(Authorized::grant(principal, organization_id))
            } else {
                Err(DomainError::NotFound("organization not found".into()))
            }
        }
        _ if level.is_some_and(|l| l >= N::LEVEL) && exists => {
            Ok(Authorized::grant(principal, organization_id))
        }
        _ => Err(DomainError::PermissionDenied(
            "you have no access to this organization".into(),
        )),
    }
}

/// Whether the principal may read the organization at all (services read any).
pub async fn can_read(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<bool> {
    Ok(matches!(principal, Principal::Service { .. })
        || level(conn, principal, organization_id).await?.1.is_some())
}

/// Whether the principal has any role in the organization (services have none): whether
/// things the organization owns, such as its invitations, exist for the caller at all.
pub async fn has_role(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<bool> {
    Ok(level(conn, principal, organization_id).await?.1.is_some())
}

/// Owner rights over the organization, as a yes or no (for choosing between answers that
/// reveal more or less, never as a grant).
pub async fn manages(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<bool> {
    Ok(level(conn, principal, organization_id)
        .await?
        .1
        .is_some_and(|l| l >= Level::Own))
}

/// Moving an organization to another parent: owner rights over the organization (the
/// proof), its current parent and the new parent, so no owner loses the subtree without
/// consenting and nobody grafts it into a tree they do not own.
pub async fn move_organization(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    _organization: &Authorized<Own>,
    current_parent: Option<i64>,
    new_parent: i64,
) -> DomainResult<Authorized<Own>> {
    let refused = || {
        DomainError::PermissionDenied(
            "moving an organization needs owner rights over it, its current parent and its \
             new parent"
                .into(),
        )
    };
    if let Some(current) = current_parent {
        require::<Own>(conn, principal, Some(current), Services::Denied)
            .await
            .map_err(|_| refused())?;
    }
    let parent = require::<Own>(conn, principal, Some(new_parent), Services::Denied)
        .await
        .map_err(|e| match e {
            DomainError::PermissionDenied(_) => refused(),
            other => other,
        })?;
    Ok(parent)
}

/// The organization row a proof is for (it may have been deleted since: 404).
pub async fn load<N>(
    conn: &impl ConnectionTrait,
    proof: &Authorized<N>,
) -> DomainResult<organization::Model> {
    use sea_orm::EntityTrait;
    organization::Entity::find_by_id(proof.organization_id)
        .one(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))
}

/// Only people may do this (creating organizations, accepting invitations, trials).
pub fn require_user(principal: &Principal) -> DomainResult<i64> {
    match principal {
        Principal::User { user_id } => Ok(*user_id),
        _ => Err(DomainError::PermissionDenied(
            "only a user's own token may do this".into(),
        )),
    }
}

/// Ids of every organization the principal can read, ascending.
pub async fn visible_organization_ids(
    conn: &impl ConnectionTrait,
    principal: &Principal,
) -> DomainResult<Vec<i64>> {
    let (sql, root) = match principal {
        Principal::User { user_id } => (
            "WITH RECURSIVE owned(id, depth) AS ( \
               SELECT organization_id, 0 FROM memberships WHERE user_id = $1 AND role = 'owner' \
               UNION \
               SELECT o.id, owned.depth + 1 FROM organizations o \
                 JOIN owned ON o.parent_id = owned.id WHERE owned.depth < $2 \
             ) \
             SELECT id FROM owned \
             UNION SELECT organization_id FROM memberships WHERE user_id = $1 \
             ORDER BY 1",
            *user_id,
        ),
        Principal::Organization { organization_id } => (
            "WITH RECURSIVE sub(id, depth) AS ( \
               SELECT id, 0 FROM organizations WHERE id = $1 \
               UNION \
               SELECT o.id, sub.depth + 1 FROM organizations o \
                 JOIN sub ON o.parent_id = sub.id WHERE sub.depth < $2 \
             ) \
             SELECT id FROM sub ORDER BY 1",
            *organization_id,
        ),
        Principal::Service { .. } => {
            return Err(DomainError::PermissionDenied(
                "services cannot list organizations".into(),
            ));
        }
    };
    tree_ids(conn, sql, root).await
}

/// Ids of the organizations the principal is an owner of (their ownerIDs hold it),
/// ascending: GroupAlarm's `GET /organizations/owner`. People only; owning an ancestor
/// gives Own over a subtree but does not make one an owner of its organizations.
pub async fn owned_organization_ids(
    conn: &impl ConnectionTrait,
    principal: &Principal,
) -> DomainResult<Vec<i64>> {
    let user_id = require_user(principal)?;
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT organization_id FROM memberships WHERE user_id = $1 AND role = $2 \
             ORDER BY organization_id",
            [user_id.into(), Role::Owner.as_str().into()],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(ids)
}

/// The ids one of the tree walks above selects (`$1` the root, `$2` the depth bound),
/// ascending and without repeats.
pub(super) async fn tree_ids(
    conn: &impl ConnectionTrait,
    sql: &str,
    root: i64,
) -> DomainResult<Vec<i64>> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [root.into(), MAX_DEPTH.into()],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    ids.dedup();
    Ok(ids)
}
