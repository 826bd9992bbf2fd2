//! The change log (issue 18): every write that changes an organization, a partnership, an
//! invitation, a guest connection, a directory record or presence calls [`append`] in its
//! own transaction, as its last statement before commit. The event commits with the change
//! or not at all, and positions grow in commit order (migration m0011 says how).
//!
//! On PostgreSQL the same statement sends `NOTIFY` on [`CHANNEL`] with the position as
//! payload, delivered at commit to every instance: a wake-up for watchers, never the truth
//! (the table is). On SQLite, where one process owns the file, watchers are woken in-process.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::entity::{event, organization};

pub mod log;
pub mod state;

/// The PostgreSQL channel every committed event is announced on; payload: its position.
pub const CHANNEL: &str = "orgd_events";

/// Event types, `<resource>.<change>`. One constant per kind of write; filters name these.
pub mod types {
    pub const ORGANIZATION_CREATED: &str = "organization.created";
    /// Fields (name, description, tags, parent, email, ...).
    pub const ORGANIZATION_UPDATED: &str = "organization.updated";
    pub const ORGANIZATION_DELETED: &str = "organization.deleted";
    /// Billing state or trial.
    pub const ORGANIZATION_STATE_CHANGED: &str = "organization.state_changed";
    pub const ORGANIZATION_LOCATION_CHANGED: &str = "organization.location_changed";
    pub const ORGANIZATION_AVATAR_CHANGED: &str = "organization.avatar_changed";
    pub const ORGANIZATION_QUICK_ACTIONS_CHANGED: &str = "organization.quick_actions_changed";
    /// Owner and member events name the user by int64 id as resource.
    pub const OWNER_ADDED: &str = "owner.added";
    pub const OWNER_REMOVED: &str = "owner.removed";
    pub const OWNER_INVITATION_CREATED: &str = "owner_invitation.created";
    pub const OWNER_INVITATION_ACCEPTED: &str = "owner_invitation.accepted";
    pub const OWNER_INVITATION_REMOVED: &str = "owner_invitation.removed";
    pub const MEMBER_SET: &str = "member.set";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const PARTNERSHIP_CREATED: &str = "partnership.created";
    pub const PARTNERSHIP_UPDATED: &str = "partnership.updated";
    pub const PARTNERSHIP_DELETED: &str = "partnership.deleted";
    pub const PARTNERSHIP_INVITATION_CREATED: &str = "partnership_invitation.created";
    /// Accepted or rejected: `state.status` (1, 2) says which.
    pub const PARTNERSHIP_INVITATION_RESOLVED: &str = "partnership_invitation.resolved";
    /// Withdrawn by its sender while pending (the row is deleted).
    pub const PARTNERSHIP_INVITATION_CANCELLED: &str = "partnership_invitation.cancelled";
    /// Sent, or sent again (`state.last_invitation_sent_at`).
    pub const GUEST_INVITATION_SENT: &str = "guest_invitation.sent";
    pub const GUEST_INVITATION_ACCEPTED: &str = "guest_invitation.accepted";
    /// Made (or restored) by an accepted invitation.
    pub const GUEST_CONNECTION_CREATED: &str = "guest_connection.created";
    pub const GUEST_CONNECTION_UPDATED: &str = "guest_connection.updated";
    /// A directory record (organization partner); an invitation's progress updates it.
    pub const PARTNER_CREATED: &str = "partner.created";
    pub const PARTNER_UPDATED: &str = "partner.updated";
    pub const PARTNER_DELETED: &str = "partner.deleted";
    pub const PARTNER_INVITED: &str = "partner.invited";
    pub const PRESENCE_CLIENT_REGISTERED: &str = "presence.client_registered";
    pub const PRESENCE_CLIENT_REMOVED: &str = "presence.client_removed";
    pub const PRESENCE_STATUS_CHANGED: &str = "presence.status_changed";
    pub const PRESENCE_AVAILABILITY_CHANGED: &str = "presence.availability_changed";

    /// Every type, for validating filters.
    pub const ALL: &[&str] = &[
        ORGANIZATION_CREATED,
        ORGANIZATION_UPDATED,
        ORGANIZATION_DELETED,
        ORGANIZATION_STATE_CHANGED,
        ORGANIZATION_LOCATION_CHANGED,
        ORGANIZATION_AVATAR_CHANGED,
        ORGANIZATION_QUICK_ACTIONS_CHANGED,
        OWNER_ADDED,
        OWNER_REMOVED,
        OWNER_INVITATION_CREATED,
        OWNER_INVITATION_ACCEPTED,
        OWNER_INVITATION_REMOVED,
        MEMBER_SET,
        MEMBER_REMOVED,
        PARTNERSHIP_CREATED,
        PARTNERSHIP_UPDATED,
        PARTNERSHIP_DELETED,
        PARTNERSHIP_INVITATION_CREATED,
        PARTNERSHIP_INVITATION_RESOLVED,
        PARTNERSHIP_INVITATION_CANCELLED,
        GUEST_INVITATION_SENT,
        GUEST_INVITATION_ACCEPTED,
        GUEST_CONNECTION_CREATED,
        GUEST_CONNECTION_UPDATED,
        PARTNER_CREATED,
        PARTNER_UPDATED,
        PARTNER_DELETED,
        PARTNER_INVITED,
        PRESENCE_CLIENT_REGISTERED,
        PRESENCE_CLIENT_REMOVED,
        PRESENCE_STATUS_CHANGED,
        PRESENCE_AVAILABILITY_CHANGED,
    ];
}

/// An organization an event concerns, by both of its ids (GroupAlarm's and giosg's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgRef {
    pub id: i64,
    pub uuid: Uuid,
}

impl From<&organization::Model> for OrgRef {
    fn from(o: &organization::Model) -> OrgRef {
        OrgRef {
            id: o.id,
            uuid: o.uuid,
        }
    }
}

/// What a write appends; position, actor, request id and time are the log's to fill.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: &'static str,
    /// The organization owning the resource first; at least one.
    pub organizations: Vec<OrgRef>,
    pub resource_id: String,
    /// The resource's new state (for a removal, its last), never a secret.
    pub state: serde_json::Value,
}

/// A committed event as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub position: i64,
    pub kind: String,
    pub organization_ids: Vec<i64>,
    pub organization_uuids: Vec<Uuid>,
    pub resource_id: String,
    pub state: serde_json::Value,
    pub actor: String,
    pub request_id: String,
    pub time: DateTime<Utc>,
}

impl From<event::Model> for Event {
    fn from(m: event::Model) -> Event {
        Event {
            position: m.position,
            kind: m.kind,
            organization_ids: serde_json::from_str(&m.organization_ids).unwrap_or_default(),
            organization_uuids: serde_json::from_str(&m.organization_uuids).unwrap_or_default(),
            resource_id: m.resource_id,
            state: serde_json::from_str(&m.state).unwrap_or(serde_json::Value::Null),
            actor: m.actor,
            request_id: m.request_id,
            time: m.created_at,
        }
    }
}

/// The organizations `ids` (in that order) by both ids; a deleted one is left out.
pub async fn org_refs<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<Vec<OrgRef>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let found: Vec<(i64, Uuid)> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .column(organization::Column::Uuid)
        .filter(organization::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut refs = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((id, uuid)) = found.iter().find(|(f, _)| f == id)
            && !refs.iter().any(|r: &OrgRef| r.id == *id)
        {
            refs.push(OrgRef {
                id: *id,
                uuid: *uuid,
            });
        }
    }
    Ok(refs)
}

/// [`append`] for a write that knows its organizations by int64 id only.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    principal: &Principal,
    kind: &'static str,
    organization_ids: &[i64],
    resource_id: impl ToString,
    state: serde_json::Value,
) -> Result<i64, DbErr> {
    let organizations = org_refs(txn, organization_ids).await?;
    append(
        txn,
        principal,
        NewEvent {
            kind,
            organizations,
            resource_id: resource_id.to_string(),
            state,
        },
    )
    .await
}

/// Off only when the operator turned the log off to measure its cost (`--change-log
/// false`): a process-wide switch because it is one, set once at start-up.
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// How Event.actor names a principal.
pub fn actor(principal: &Principal) -> String {
    match principal {
        Principal::User { user_id } => format!("user:{user_id}"),
        Principal::Organization { organization_id } => format!("organization:{organization_id}"),
        Principal::Service { name } => format!("service:{name}"),
    }
}

/// Appends `event` in `txn`, made by `principal`; its position. Call it as the write's last
/// statement: on PostgreSQL it locks the position counter until commit.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    principal: &Principal,
    event: NewEvent,
) -> Result<i64, DbErr> {
    if !ENABLED.load(Ordering::Relaxed) {
        return Ok(0);
    }
    let NewEvent {
        kind,
        organizations,
        resource_id,
        state,
    } = event;
    if organizations.is_empty() {
        return Err(DbErr::Custom(format!(
            "a {kind} event concerns no organization"
        )));
    }
    let ids: Vec<i64> = organizations.iter().map(|o| o.id).collect();
    let uuids: Vec<String> = organizations.iter().map(|o| o.uuid.to_string()).collect();
    let mut values: Vec<Value> = vec![
        kind.into(),
        serde_json::to_string(&ids).expect("ids serialize").into(),
        serde_json::to_string(&uuids)
            .expect("uuids serialize")
            .into(),
        resource_id.into(),
        state.to_string().into(),
        actor(principal).into(),
        crate::observability::request_id::current().into(),
        super::now().into(),
    ];
    let backend = txn.get_database_backend();
    let position = match backend {
        DatabaseBackend::Postgres => {
            // One round trip: number, row, index rows and notification.
            let mut orgs = String::new();
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    orgs.push_str(", ");
                }
                orgs.push_str(&format!("(${}::bigint)", values.len() + 1));
                values.push((*id).into());
            }
            let sql = format!(
                "WITH p AS (UPDATE event_positions SET last = last + 1 WHERE id = 1 \
                   RETURNING last), \
                 e AS (INSERT INTO events (position, type, organization_ids, \
                   organization_uuids, resource_id, state, actor, request_id, created_at) \
                   SELECT last, $1, $2, $3, $4, $5, $6, $7, $8 FROM p RETURNING position), \
                 o AS (INSERT INTO event_organizations (organization_id, position) \
                   SELECT DISTINCT v.id, e.position FROM e, (VALUES {orgs}) AS v(id)) \
                 SELECT e.position FROM e \
                   CROSS JOIN LATERAL (SELECT pg_notify('{CHANNEL}', e.position::text)) AS n"
            );
            txn.query_one_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?
                .ok_or_else(|| DbErr::Custom("event_positions has no row (m0011)".into()))?
                .try_get::<i64>("", "position")?
        }
        _ => {
            // One statement: the trigger of migration m0012 writes the event's
            // `event_organizations` rows from its `organization_ids`.
            txn.query_one_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO events (type, organization_ids, organization_uuids, \
                   resource_id, state, actor, request_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position",
                values,
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("INSERT returned no position".into()))?
            .try_get::<i64>("", "position")?
        }
    };
    Ok(position)
}
