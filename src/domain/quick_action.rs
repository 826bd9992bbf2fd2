//! An organization's quick actions: read by members, replaced as a whole by owners.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::access::{self, Services};
use super::error::DomainResult;
use super::membership;
use super::validate::{NAME_MAX_CHARS, Violations};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::quick_action;

pub const MAX_ACTIONS: usize = 100;
pub const COLOR_MAX_CHARS: usize = 32;
pub const TEXT_MAX_CHARS: usize = 255;

/// What a client may set; ids and the organization are the server's.
#[derive(Clone, Debug, Default)]
pub struct QuickActionInput {
    pub name: String,
    pub color: String,
    pub icon: String,
    pub one_click: bool,
    pub resource: String,
    pub resource_id: i64,
}

async fn load(
    conn: &impl ConnectionTrait,
    organization_id: i64,
) -> DomainResult<Vec<quick_action::Model>> {
    Ok(quick_action::Entity::find()
        .filter(quick_action::Column::OrganizationId.eq(organization_id))
        .order_by_asc(quick_action::Column::Position)
        .all(conn)
        .await?)
}

pub async fn list(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<Vec<quick_action::Model>> {
    let conn = db.read();
    let organization_id =
        access::require::<access::Read>(conn, principal, Some(organization_id), Services::Allowed)
            .await?
            .organization_id();
    load(conn, organization_id).await
}

/// Replaces the whole list in one transaction: a reader sees the old list or the new one.
pub async fn replace(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    actions: Vec<QuickActionInput>,
) -> DomainResult<Vec<quick_action::Model>> {
    let mut v = Violations::default();
    if actions.len() > MAX_ACTIONS {
        v.add(
            "quick_actions",
            format!("at most {MAX_ACTIONS} quick actions"),
        );
    }
    for (i, a) in actions.iter().enumerate() {
        v.required_text(&format!("quick_actions.{i}.name"), &a.name, NAME_MAX_CHARS);
        v.max_chars(
            &format!("quick_actions.{i}.color"),
            &a.color,
            COLOR_MAX_CHARS,
        );
        v.max_chars(&format!("quick_actions.{i}.icon"), &a.icon, TEXT_MAX_CHARS);
        v.max_chars(
            &format!("quick_actions.{i}.resource"),
            &a.resource,
            TEXT_MAX_CHARS,
        );
    }
    let txn = db.begin_write().await?;
    let organization_id =
        access::require::<access::Own>(&txn, principal, Some(organization_id), Services::Denied)
            .await?
            .organization_id();
    v.into_result()?;
    // Two replaces must not interleave their delete and insert (PostgreSQL runs them
    // concurrently; SQLite has one writer anyway).
    membership::lock_organization(&txn, organization_id).await?;
    quick_action::Entity::delete_many()
        .filter(quick_action::Column::OrganizationId.eq(organization_id))
        .exec(&txn)
        .await?;
    if !actions.is_empty() {
        quick_action::Entity::insert_many(actions.into_iter().enumerate().map(|(i, a)| {
            quick_action::ActiveModel {
                organization_id: Set(organization_id),
                position: Set(i as i32),
                name: Set(a.name.trim().to_string()),
                color: Set(a.color),
                icon: Set(a.icon),
                one_click: Set(a.one_click),
                resource: Set(a.resource),
                resource_id: Set(a.resource_id),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    let stored = load(&txn, organization_id).await?;
    super::events::record(
        &txn,
        principal,
        super::events::types::ORGANIZATION_QUICK_ACTIONS_CHANGED,
        &[organization_id],
        organization_id,
        super::events::state::quick_actions(organization_id, &stored),
    )
    .await?;
    txn.commit().await?;
    Ok(stored)
}
