//! MyCreditApp's host/guest connections. A host organization sends a guest invitation to an
//! email; an organization that accepts it (with the invitation's token, before
//! `expired_at`) becomes the host's guest, in the same transaction that marks the
//! invitation accepted and the host's directory records with that email `accepted`. The
//! host may archive a guest (disconnected: no access either way) and restore it. Who may
//! do each is `access::directory`'s matrix.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::access::Authorized;
use super::access::directory::{
    self as access, AcceptAsGuest, InviteGuests, ManageGuest, ReadConnections, Scope,
};
use super::error::{DomainError, DomainResult};
use super::events;
use super::partner_directory::{InvitationStatus, together};
use super::validate::{PageBounds, Violations, is_email, rule};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{guest_connection as conn_row, guest_invitation as inv, organization};

pub const SENT: &str = "sent";
pub const ACCEPTED: &str = "accepted";

/// Every list of this module: 50 unless asked, at most 100.
pub const PAGE: PageBounds = PageBounds {
    default_limit: 50,
    max_limit: 100,
};

/// Depth bound of the walk from a parent organization up to the host.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct InvitationInput {
    pub email: String,
    pub expired_at: Option<DateTime<Utc>>,
    pub parent_organization_id: Option<String>,
}

/// An invitation with the UUIDs and names its JSON shows.
#[derive(Clone, Debug)]
pub struct InvitationView {
    pub model: inv::Model,
    pub host: Uuid,
    pub parent: Option<(Uuid, String)>,
    /// `expired_at` has passed and it was never accepted.
    pub expired: bool,
}

#[derive(Clone, Debug)]
pub struct ConnectionView {
    pub model: conn_row::Model,
    pub host: (Uuid, String),
    pub guest: (Uuid, String),
    pub invitation: Option<Uuid>,
}

/// Which connections a guest lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    Disconnected,
}

fn not_found() -> DomainError {
    DomainError::NotFound("guest invitation not found".into())
}

async fn organizations(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, organization::Model>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}

async fn invitation_views(
    conn: &impl ConnectionTrait,
    models: Vec<inv::Model>,
) -> DomainResult<Vec<InvitationView>> {
    let mut ids = Vec::with_capacity(models.len() * 2);
    for m in &models {
        ids.push(m.host_organization_id);
        ids.extend(m.parent_organization_id);
    }
    let orgs = organizations(conn, ids).await?;
    let now = super::now();
    Ok(models
        .into_iter()
        .map(|model| InvitationView {
            host: orgs
                .get(&model.host_organization_id)
                .map(|o| o.uuid)
                .unwrap_or_default(),
            parent: model
                .parent_organization_id
                .and_then(|id| orgs.get(&id))
                .map(|o| (o.uuid, o.name.clone())),
            expired: model.status == SENT && model.expired_at <= now,
            model,
        })
        .collect())
}

async fn invitation_view(
    conn: &impl ConnectionTrait,
    model: inv::Model,
) -> DomainResult<InvitationView> {
    Ok(invitation_views(conn, vec![model]).await?.remove(0))
}

async fn connection_views(
    conn: &impl ConnectionTrait,
    models: Vec<conn_row::Model>,
) -> DomainResult<Vec<ConnectionView>> {
    let mut ids = Vec::with_capacity(models.len() * 2);
    for m in &models {
        ids.extend([m.host_organization_id, m.guest_organization_id]);
    }
    let orgs = organizations(conn, ids).await?;
    let invitation_ids: Vec<i64> = models.iter().filter_map(|m| m.invitation_id).collect();
    let invitations: HashMap<i64, Uuid> = if invitation_ids.is_empty() {
        HashMap::new()
    } else {
        inv::Entity::find()
            .filter(inv::Column::Id.is_in(invitation_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|i| (i.id, i.uuid))
            .collect()
    };
    let named = |id: i64| {
        orgs.get(&id)
            .map(|o| (o.uuid, o.name.clone()))
            .unwrap_or_default()
    };
    Ok(models
        .into_iter()
        .map(|model| ConnectionView {
            host: named(model.host_organization_id),
            guest: named(model.guest_organization_id),
            invitation: model
                .invitation_id
                .and_then(|id| invitations.get(&id).copied()),
            model,
        })
        .collect())
}

impl InvitationInput {
    /// The email as stored and the expiry, or every violation at once.
    fn check(&self) -> DomainResult<(String, DateTime<Utc>)> {
        let mut v = Violations::default();
        let email = self.email.trim().to_lowercase();
        v.text(
            "email",
            rule("orgd.v1.GuestInvitationInput.email"),
            &self.email,
        );
        if !self.email.is_empty() && !is_email(&email) {
            v.add("email", "value is not a valid email address");
        }
        if self.expired_at.is_none() {
            v.add("expired_at", "field required");
        }
        let parent = self.parent_organization_id.as_deref().map(str::trim);
        if parent.is_some_and(|p| Uuid::parse_str(p).is_err()) {
            v.add("parent_organization_id", "must be a UUID");
        }
        v.into_result()?;
        Ok((email, self.expired_at.unwrap_or_default().trunc_subsecs(6)))
    }
}

/// The organization `parent` names, when it is the host or below it; else the violation
/// (the same for one that does not exist, so nothing is learnt of other tenants).
async fn parent_within(conn: &impl ConnectionTrait, host: i64, parent: &str) -> DomainResult<i64> {
    let refused = || {
        DomainError::invalid(
            "parent_organization_id",
            "must be the host organization or one below it",
        )
    };
    let id = Uuid::parse_str(parent.trim()).map_err(|_| refused())?;
    let found = organization::Entity::find()
        .filter(organization::Column::Uuid.eq(id))
        .one(conn)
        .await?
        .ok_or_else(refused)?;
    let mut current = Some(found.clone());
    for _ in 0..MAX_DEPTH {
        match current {
            Some(o) if o.id == host => return Ok(found.id),
            Some(o) => {
                current = match o.parent_id {
                    Some(up) => organization::Entity::find_by_id(up).one(conn).await?,
                    None => None,
                }
            }
            None => break,
        }
    }
    Err(refused())
}

/// Stores an open invitation from the host to `email`, or — one being open already (a
/// partial unique index settles concurrent senders, m0008) — sends that one again: its
/// `last_invitation_sent_at`, `expired_at` and parent change, its id and token stay. The
/// host's directory records with that email become `invited`.
pub(crate) async fn send(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    host: &Authorized<InviteGuests>,
    email: &str,
    expired_at: DateTime<Utc>,
    parent: Option<i64>,
) -> DomainResult<inv::Model> {
    let host_id = host.organization_id();
    let now = super::now();
    let email = email.trim().to_lowercase();
    let inserted = inv::Entity::insert(inv::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        host_organization_id: Set(host_id),
        email: Set(email.clone()),
        parent_organization_id: Set(parent),
        invitation_token: Set(Uuid::new_v4().simple().to_string()),
        status: Set(SENT.into()),
        first_invitation_sent_at: Set(now),
        last_invitation_sent_at: Set(now),
        expired_at: Set(expired_at),
        archived: Set(false),
        archived_at: Set(None),
        accepted_at: Set(None),
        guest_organization_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([inv::Column::HostOrganizationId, inv::Column::Email])
            // Written out, not bound: SQLite matches the index by the predicate's text.
            .target_and_where(Expr::cust(format!("status = '{SENT}'")))
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await
    .or_else(|e| match e {
        DbErr::RecordNotInserted => Ok(0),
        e => Err(e),
    })?;
    if inserted == 0 {
        inv::Entity::update_many()
            .col_expr(inv::Column::LastInvitationSentAt, Expr::value(now))
            .col_expr(inv::Column::ExpiredAt, Expr::value(expired_at))
            .col_expr(inv::Column::ParentOrganizationId, Expr::value(parent))
            .col_expr(inv::Column::UpdatedAt, Expr::value(now))
            .filter(inv::Column::HostOrganizationId.eq(host_id))
            .filter(inv::Column::Email.eq(email.as_str()))
            .filter(inv::Column::Status.eq(SENT))
            .exec(conn)
            .await?;
    }
    let model = inv::Entity::find()
        .filter(inv::Column::HostOrganizationId.eq(host_id))
        .filter(inv::Column::Email.eq(email.as_str()))
        .filter(inv::Column::Status.eq(SENT))
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    super::partner_directory::invitation_status_changed(
        conn,
        principal,
        host_id,
        &email,
        InvitationStatus::Invited,
        None,
    )
    .await?;
    events::record(
        conn,
        principal,
        events::types::GUEST_INVITATION_SENT,
        &[host_id],
        model.uuid,
        events::state::guest_invitation(&model),
    )
    .await?;
    Ok(model)
}

pub async fn create(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    input: InvitationInput,
) -> DomainResult<InvitationView> {
    let txn = db.begin_write().await?;
    let (host, (email, expired_at)) = together(
        access::check::<InviteGuests>(&txn, principal, scope).await,
        input.check(),
    )?;
    let host = host.proof;
    let parent = match input.parent_organization_id.as_deref() {
        Some(p) => Some(parent_within(&txn, host.organization_id(), p).await?),
        None => None,
    };
    let model = send(&txn, principal, &host, &email, expired_at, parent).await?;
    let view = invitation_view(&txn, model).await?;
    txn.commit().await?;
    Ok(view)
}

/// The host's invitations, newest first, and their number.
pub async fn list_invitations(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    limit: Option<i32>,
    offset: Option<i32>,
) -> DomainResult<(Vec<InvitationView>, u64)> {
    let conn = db.read();
    let (host, (limit, offset)) = together(
        access::check::<InviteGuests>(conn, principal, scope).await,
        PAGE.check(limit, offset),
    )?;
    let query = inv::Entity::find()
        .filter(inv::Column::HostOrganizationId.eq(host.proof.organization_id()));
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by(inv::Column::Id, Order::Desc)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await?;
    Ok((invitation_views(conn, rows).await?, total))
}

/// The requester (Requester = Target, settings permission there) accepts the invitation
/// `token` names. Accepting again for the same guest answers the accepted invitation.
pub async fn accept(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    token: &str,
) -> DomainResult<InvitationView> {
    let txn = db.begin_write().await?;
    let guest = access::check::<AcceptAsGuest>(&txn, principal, scope)
        .await?
        .proof;
    let guest_id = guest.organization_id();
    let model = by_token(&txn, token).await?;
    if model.host_organization_id == guest_id {
        return Err(DomainError::PermissionDenied(
            "an organization cannot accept its own guest invitation".into(),
        ));
    }
    let now = super::now();
    if model.status == ACCEPTED {
        accepted_by(&model, guest_id)?;
        let view = invitation_view(&txn, model).await?;
        txn.commit().await?;
        return Ok(view);
    }
    if model.expired_at <= now {
        return Err(DomainError::Conflict {
            reason: "INVITATION_EXPIRED",
            message: "the guest invitation expired; ask the host to send it again".into(),
        });
    }
    // Guarded by the status: of concurrent accepts, one changes the row and the others
    // read what it left.
    let changed = inv::Entity::update_many()
        .col_expr(inv::Column::Status, Expr::value(ACCEPTED))
        .col_expr(inv::Column::AcceptedAt, Expr::value(now))
        .col_expr(inv::Column::GuestOrganizationId, Expr::value(guest_id))
        .col_expr(inv::Column::UpdatedAt, Expr::value(now))
        .filter(inv::Column::Id.eq(model.id))
        .filter(inv::Column::Status.eq(SENT))
        .exec(&txn)
        .await?
        .rows_affected;
    let model = by_token(&txn, token).await?;
    if changed == 0 {
        accepted_by(&model, guest_id)?;
        let view = invitation_view(&txn, model).await?;
        txn.commit().await?;
        return Ok(view);
    }
    connect(&txn, model.host_organization_id, guest_id, model.id).await?;
    let guest_uuid = super::access::load(&txn, &guest).await?.uuid;
    super::partner_directory::invitation_status_changed(
        &txn,
        principal,
        model.host_organization_id,
        &model.email,
        InvitationStatus::Accepted,
        Some(guest_uuid),
    )
    .await?;
    let pair = [model.host_organization_id, guest_id];
    let connection = conn_row::Entity::find()
        .filter(conn_row::Column::HostOrganizationId.eq(pair[0]))
        .filter(conn_row::Column::GuestOrganizationId.eq(pair[1]))
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("guest connection not found".into()))?;
    events::record(
        &txn,
        principal,
        events::types::GUEST_CONNECTION_CREATED,
        &pair,
        connection.uuid,
        events::state::guest_connection(&connection),
    )
    .await?;
    events::record(
        &txn,
        principal,
        events::types::GUEST_INVITATION_ACCEPTED,
        &pair,
        model.uuid,
        events::state::guest_invitation(&model),
    )
    .await?;
    let view = invitation_view(&txn, model).await?;
    txn.commit().await?;
    Ok(view)
}

async fn by_token(conn: &impl ConnectionTrait, token: &str) -> DomainResult<inv::Model> {
    inv::Entity::find()
        .filter(inv::Column::InvitationToken.eq(token.trim()))
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// An accepted invitation answers its own guest again (accepting is idempotent); anyone
/// else learns it is taken.
fn accepted_by(model: &inv::Model, guest_id: i64) -> DomainResult<()> {
    if model.guest_organization_id == Some(guest_id) {
        Ok(())
    } else {
        Err(DomainError::Conflict {
            reason: "ALREADY_ACCEPTED",
            message: "the guest invitation was accepted by another organization".into(),
        })
    }
}

/// The connection of `host` and `guest`, made by invitation `invitation`: one row per pair
/// (a unique index), restored if the host had archived it.
async fn connect(
    conn: &impl ConnectionTrait,
    host: i64,
    guest: i64,
    invitation: i64,
) -> DomainResult<()> {
    let now = super::now();
    let inserted = conn_row::Entity::insert(conn_row::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        host_organization_id: Set(host),
        guest_organization_id: Set(guest),
        invitation_id: Set(Some(invitation)),
        archived: Set(false),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            conn_row::Column::HostOrganizationId,
            conn_row::Column::GuestOrganizationId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await
    .or_else(|e| match e {
        DbErr::RecordNotInserted => Ok(0),
        e => Err(e),
    })?;
    if inserted == 0 {
        // The invitation that restores an archived connection is the one it mirrors from
        // now on (its `archived`); the old one keeps its own.
        conn_row::Entity::update_many()
            .col_expr(conn_row::Column::InvitationId, Expr::value(invitation))
            .col_expr(conn_row::Column::Archived, Expr::value(false))
            .col_expr(
                conn_row::Column::ArchivedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(conn_row::Column::UpdatedAt, Expr::value(now))
            .filter(conn_row::Column::HostOrganizationId.eq(host))
            .filter(conn_row::Column::GuestOrganizationId.eq(guest))
            .filter(conn_row::Column::Archived.eq(true))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The host's guests, oldest connection first, and their number.
pub async fn list_guests(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    limit: Option<i32>,
    offset: Option<i32>,
) -> DomainResult<(Vec<ConnectionView>, u64)> {
    let conn = db.read();
    let (host, (limit, offset)) = together(
        access::check::<ReadConnections>(conn, principal, scope).await,
        PAGE.check(limit, offset),
    )?;
    let query = conn_row::Entity::find()
        .filter(conn_row::Column::HostOrganizationId.eq(host.proof.organization_id()));
    page_of(conn, query, limit, offset).await
}

/// The hosts the requester is a guest of, with the statuses asked for (all when none).
pub async fn list_hosts(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    statuses: &[ConnectionStatus],
    limit: Option<i32>,
    offset: Option<i32>,
) -> DomainResult<(Vec<ConnectionView>, u64)> {
    let conn = db.read();
    let (guest, (limit, offset)) = together(
        access::check::<ReadConnections>(conn, principal, scope).await,
        PAGE.check(limit, offset),
    )?;
    let mut query = conn_row::Entity::find()
        .filter(conn_row::Column::GuestOrganizationId.eq(guest.proof.organization_id()));
    let connected = statuses.contains(&ConnectionStatus::Connected);
    let disconnected = statuses.contains(&ConnectionStatus::Disconnected);
    if connected != disconnected {
        query = query.filter(conn_row::Column::Archived.eq(disconnected));
    }
    page_of(conn, query, limit, offset).await
}

async fn page_of(
    conn: &impl ConnectionTrait,
    query: sea_orm::Select<conn_row::Entity>,
    limit: u64,
    offset: u64,
) -> DomainResult<(Vec<ConnectionView>, u64)> {
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by(conn_row::Column::CreatedAt, Order::Asc)
        .order_by(conn_row::Column::Id, Order::Asc)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await?;
    Ok((connection_views(conn, rows).await?, total))
}

/// The host (Requester) archives or restores its guest (Target, and the path's
/// `guest_org_id`). The invitation that made the connection shows the same `archived`.
pub async fn update_guest(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    guest_org_id: &str,
    archived: Option<bool>,
) -> DomainResult<ConnectionView> {
    let txn = db.begin_write().await?;
    let mut v = Violations::default();
    if archived.is_none() {
        v.add("connection.archived", "field required");
    }
    let values = together(
        access::path_is_target(scope, "guest_org_id", guest_org_id),
        v.into_result(),
    );
    let (checked, _) = together(
        access::check::<ManageGuest>(&txn, principal, scope).await,
        values,
    )?;
    let (host, guest) = (checked.requester_id, checked.proof.organization_id());
    let row = conn_row::Entity::find()
        .filter(conn_row::Column::HostOrganizationId.eq(host))
        .filter(conn_row::Column::GuestOrganizationId.eq(guest))
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("guest connection not found".into()))?;
    let archived = archived.unwrap_or(row.archived);
    if archived != row.archived {
        let now = super::now();
        let archived_at = archived.then_some(now);
        if let Some(invitation) = row.invitation_id {
            inv::Entity::update_many()
                .col_expr(inv::Column::Archived, Expr::value(archived))
                .col_expr(inv::Column::ArchivedAt, Expr::value(archived_at))
                .col_expr(inv::Column::UpdatedAt, Expr::value(now))
                .filter(inv::Column::Id.eq(invitation))
                .exec(&txn)
                .await?;
        }
        let mut active = row.clone().into_active_model();
        active.archived = Set(archived);
        active.archived_at = Set(archived_at);
        active.updated_at = Set(now);
        let changed = active.update(&txn).await?;
        events::record(
            &txn,
            principal,
            events::types::GUEST_CONNECTION_UPDATED,
            &[host, guest],
            changed.uuid,
            events::state::guest_connection(&changed),
        )
        .await?;
    }
    let row = conn_row::Entity::find_by_id(row.id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("guest connection not found".into()))?;
    let view = connection_views(&txn, vec![row]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}
