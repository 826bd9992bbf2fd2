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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Admin,
    Own,
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

/// The organization's ancestor chain (itself at depth 0) with the user's role at each level;
/// the user id may be 0 for "no user". Placeholders are numbered in order of first
/// appearance, which SQLite and PostgreSQL both accept.
const CHAIN_SQL: &str = "WITH RECURSIVE chain(id, parent_id, depth) AS ( \
       SELECT id, parent_id, CAST(0 AS BIGINT) FROM organizations WHERE id = $1 \
       UNION ALL \
       SELECT o.id, o.parent_id, c.depth + 1 FROM organizations o \
         JOIN chain c ON o.id = c.parent_id WHERE c.depth < $2 \
     ) \
     SELECT c.id AS id, c.depth AS depth, m.role AS role FROM chain c \
     LEFT JOIN memberships m ON m.organization_id = c.id AND m.user_id = $3";

/// Whether the organization exists, and the caller's level in it (None: no access).
pub async fn level(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<(bool, Option<Level>)> {
    let user_id = match principal {
        Principal::User { user_id } => *user_id,
        _ => 0,
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            CHAIN_SQL,
            [organization_id.into(), MAX_DEPTH.into(), user_id.into()],
        ))
        .await?;
    if rows.is_empty() {
        return Ok((false, None));
    }
    let mut best: Option<Level> = None;
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        let depth: i64 = row.try_get("", "depth")?;
        let role: Option<String> = row.try_get("", "role")?;
        let here = match principal {
            Principal::User { .. } => role.as_deref().and_then(Role::parse).and_then(|r| {
                (depth == 0 || r == Role::Owner).then_some(if depth == 0 {
                    Level::from(r)
                } else {
                    Level::Own
                })
            }),
            Principal::Organization { organization_id } => {
                (id == *organization_id).then_some(Level::Own)
            }
            Principal::Service { .. } => None,
        };
        best = best.max(here);
    }
    Ok((true, best))
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
