//! Who may do what to an organization. Every check asks permission before existence: a
//! caller without access gets PERMISSION_DENIED whether or not the organization exists.
//!
//! - A user's direct role gives `member` → Read, `admin` → Admin, `owner` → Own; owning any
//!   ancestor gives Own over the whole subtree.
//! - An organization API token has Own within its organization and descendants.
//! - A service has no level; each operation says whether services may perform it (on any
//!   organization, so they alone can learn that one does not exist).

use sea_orm::{ConnectionTrait, Statement};

use super::error::{DomainError, DomainResult};
use super::membership::Role;
use crate::auth::Principal;
use crate::db::Columns;

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
pub async fn level(
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

/// Ok when the principal may act at `need` on the organization; `organization_id` None
/// means the caller named an organization that does not exist.
pub async fn require(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: Option<i64>,
    need: Level,
    services: Services,
) -> DomainResult<()> {
    let (exists, level) = match organization_id {
        Some(id) => level(conn, principal, id).await?,
        None => (false, None),
    };
    decide(principal, exists, level, need, services)
}

/// The rule `require` applies, for a caller that already knows whether the organization
/// exists and the principal's level in it.
pub fn decide(
    principal: &Principal,
    exists: bool,
    level: Option<Level>,
    need: Level,
    services: Services,
) -> DomainResult<()> {
    match principal {
        Principal::Service { .. } if services == Services::Allowed => {
            if exists {
                Ok(())
            } else {
                Err(DomainError::NotFound("organization not found".into()))
            }
        }
        _ if level.is_some_and(|l| l >= need) => Ok(()),
        _ => Err(DomainError::PermissionDenied(
            "you have no access to this organization".into(),
        )),
    }
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
