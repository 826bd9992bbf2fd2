//! MyCreditApp's requester/target rule for the partner directory (`/v1/partners`).
//!
//! The caller must belong to the requester. The target is the requester itself (Self) or
//! an organization connected to it by a partnership (Host/Guest). MyCreditApp publishes
//! its matrix per endpoint — "create organization partner: Self ✓, Host ✗, Guest ✗" — and
//! orgd's own endpoints follow it: a connected party reads the target's directory and
//! never writes it or invites from it. Writing one's own directory takes any role in it;
//! inviting from it sends a partnership invitation from the organization, so it takes
//! settings permission (admin or owner) there, like every other invitation.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::super::error::{DomainError, DomainResult, Violation};
use super::{Admin, Authorized, Level};
use crate::auth::Principal;
use crate::entity::organization;

/// The two MyCreditApp headers as the client sent them (empty when absent).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub requester: String,
    pub target: String,
}

/// Reading the target's directory (Self, Host or Guest).
#[derive(Debug)]
pub struct ReadDirectory;
/// Writing one's own directory (Self only).
#[derive(Debug)]
pub struct WriteDirectory;

fn denied() -> DomainError {
    DomainError::PermissionDenied("you may not act on this organization".into())
}

/// The requester and target the headers name, with the caller's level in the requester.
/// Header problems come first (422), then permission (403).
async fn resolve(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<(organization::Model, Option<organization::Model>, Level)> {
    let mut bad = Vec::new();
    let mut parse = |field: &str, value: &str| -> Option<Uuid> {
        let parsed = Uuid::parse_str(value.trim()).ok();
        if parsed.is_none() {
            bad.push(Violation::new(
                field,
                if value.trim().is_empty() {
                    "field required"
                } else {
                    "must be a UUID"
                },
            ));
        }
        parsed
    };
    let requester = parse("requester_organization_id", &scope.requester);
    let target = parse("target_organization_id", &scope.target);
    let (Some(requester), Some(target)) = (requester, target) else {
        return Err(DomainError::Invalid(bad));
    };
    let find = |id: Uuid| {
        organization::Entity::find()
            .filter(organization::Column::Uuid.eq(id))
            .one(conn)
    };
    let requester_org = find(requester).await?.ok_or_else(denied)?;
    let (_, level) = super::level(conn, principal, requester_org.id).await?;
    let level = level.ok_or_else(denied)?;
    if requester == target {
        return Ok((requester_org, None, level));
    }
    let target_org = find(target).await?.ok_or_else(denied)?;
    Ok((requester_org, Some(target_org), level))
}

/// Reading: Self, or a target connected to the requester by a partnership.
pub async fn read(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Authorized<ReadDirectory>> {
    let (requester, target, _) = resolve(conn, principal, scope).await?;
    let target = match target {
        None => requester,
        Some(target) => {
            if !connected(conn, requester.id, target.id).await? {
                return Err(denied());
            }
            target
        }
    };
    Ok(Authorized::grant(principal, target.id))
}

/// Creating, changing or deleting records: Self only, any role.
pub async fn write(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Authorized<WriteDirectory>> {
    let (requester, target, _) = resolve(conn, principal, scope).await?;
    if target.is_some() {
        return Err(only_self());
    }
    Ok(Authorized::grant(principal, requester.id))
}

/// Inviting a record: a partnership invitation from the organization, so Self only and
/// settings permission in it.
pub async fn invite(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Authorized<Admin>> {
    let (requester, target, level) = resolve(conn, principal, scope).await?;
    if target.is_some() {
        return Err(only_self());
    }
    if level < Level::Admin {
        return Err(DomainError::PermissionDenied(
            "inviting a partner needs settings permission (admin or owner) in the organization"
                .into(),
        ));
    }
    Ok(Authorized::grant(principal, requester.id))
}

fn only_self() -> DomainError {
    DomainError::PermissionDenied(
        "only the organization itself writes its directory; a connected organization reads it"
            .into(),
    )
}

/// Whether two organizations are partners: the giosg partnerships, one row per side.
async fn connected(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    other_id: i64,
) -> DomainResult<bool> {
    use sea_orm::Statement;
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT 1 AS found FROM partnerships \
             WHERE organization_id = $1 AND partner_organization_id = $2",
            [organization_id.into(), other_id.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// The proofs that open a directory's records: read, write, or invite from it.
pub trait OpensDirectory {}
impl OpensDirectory for ReadDirectory {}
impl OpensDirectory for WriteDirectory {}
impl OpensDirectory for Admin {}
