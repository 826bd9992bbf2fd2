//! Partnership invitations, the only way partnerships come to exist. An organization's
//! admin sends one to an email naming the invited organization: its own email or one of its
//! members'. Its addressee (`access::invitation`) sees it as incoming and may, with settings
//! permission in the organization it answers for, accept it — creating the partnership on
//! both sides in the same transaction — or reject it. The sender may cancel it while it is
//! pending.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, Set, Statement,
};
use uuid::Uuid;

use super::access::invitation::Addressee;
use super::access::{self, Admin, Authorized, Need, Read};
use super::error::{DomainError, DomainResult};
use super::events::{self, types};
use super::giosg::{self, InvitationRef, OrganizationRef};
use super::organization::{State, effective_state};
use super::page_number::{self, NumberRequest, NumberedPage};
use super::pagination::{self, Page, PageRequest};
use super::partnership::{self, Patch};
use super::validate::{DESCRIPTION_MAX_CHARS, EMAIL_MAX_CHARS, Violations, is_email};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{organization, partnership_invitation as inv, user};

pub const PENDING: i32 = 0;
pub const ACCEPTED: i32 = 1;
pub const REJECTED: i32 = 2;

/// An invitation with the organizations and people it names; `key` only for the invited
/// side.
#[derive(Clone, Debug)]
pub struct InvitationView {
    pub model: inv::Model,
    pub incoming: bool,
    /// The sending organization (None only while it is being deleted).
    pub creator_company: Option<organization::Model>,
    pub creator_person: Option<user::Model>,
    pub resolver_company: Option<organization::Model>,
    pub resolver_person: Option<user::Model>,
}

#[derive(Clone, Debug, Default)]
pub struct InvitationInput {
    pub email: String,
    pub message: String,
    pub partner_display_name: Option<String>,
    /// The sender side's visibility once accepted (None: not said, v5).
    pub partner_visible_to_everyone: Option<bool>,
    /// JSON objects, stored as sent.
    pub room_shares: Vec<serde_json::Value>,
    pub team_shares: Vec<serde_json::Value>,
}

/// The most room or team shares one invitation may carry.
pub const MAX_SHARES: usize = 100;

/// What the accepting side says of its partnership; absent fields keep an existing
/// partnership's values (a new one: no display name, visible to everyone).
#[derive(Clone, Debug)]
pub struct Acceptance {
    pub display_name: Patch<String>,
    pub visible_to_everyone: Option<bool>,
}

/// Which invitations a list shows: `status` (0, 1 or 2) and a page.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<i32>,
    pub page: NumberRequest,
}

/// Every `ordering` a page-numbered invitation list takes (`""`: the default, created_at).
pub const ORDERINGS: &[&str] = &[
    "",
    "created_at",
    "-created_at",
    "status",
    "-status",
    "email",
    "-email",
    "resolved_at",
    "-resolved_at",
];

async fn views(
    conn: &impl ConnectionTrait,
    models: Vec<inv::Model>,
    incoming: bool,
) -> DomainResult<Vec<InvitationView>> {
    let org_ids: HashSet<i64> = models
        .iter()
        .flat_map(|m| [Some(m.organization_id), m.resolved_by_organization_id])
        .flatten()
        .collect();
    let user_ids: HashSet<i64> = models
        .iter()
        .flat_map(|m| [m.created_by_user_id, m.resolved_by_user_id])
        .flatten()
        .collect();
    let orgs: HashMap<i64, organization::Model> = if org_ids.is_empty() {
        HashMap::new()
    } else {
        organization::Entity::find()
            .filter(organization::Column::Id.is_in(org_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };
    let users: HashMap<i64, user::Model> = if user_ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect()
    };
    Ok(models
        .into_iter()
        .map(|model| InvitationView {
            incoming,
            creator_company: orgs.get(&model.organization_id).cloned(),
            creator_person: model
                .created_by_user_id
                .and_then(|id| users.get(&id).cloned()),
            resolver_company: model
                .resolved_by_organization_id
                .and_then(|id| orgs.get(&id).cloned()),
            resolver_person: model
                .resolved_by_user_id
                .and_then(|id| users.get(&id).cloned()),
            model,
        })
        .collect())
}

/// The invitations of `views` for models loaded by id (e.g. those that made partnerships).
pub(crate) async fn views_by_id(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, InvitationView>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let models = inv::Entity::find()
        .filter(inv::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(views(conn, models, false)
        .await?
        .into_iter()
        .map(|v| (v.model.id, v))
        .collect())
}

async fn view(
    conn: &impl ConnectionTrait,
    model: inv::Model,
    incoming: bool,
) -> DomainResult<InvitationView> {
    Ok(views(conn, vec![model], incoming).await?.remove(0))
}

pub async fn create(
    db: &Db,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
    input: InvitationInput,
) -> DomainResult<InvitationView> {
    access::require_user(principal)?;
    let txn = db.begin_write().await?;
    let (sender, sender_model) =
        access::giosg::acting_organization::<Admin>(&txn, principal, organization_id).await?;
    let email = input.email.trim().to_lowercase();
    let mut v = Violations::default();
    if !is_email(&email) {
        v.add("email", "Enter a valid email address.");
    }
    v.max_chars("email", &email, EMAIL_MAX_CHARS);
    v.max_chars("message", &input.message, DESCRIPTION_MAX_CHARS);
    if sender_model.email.as_deref() == Some(email.as_str()) {
        v.add("email", "An organization cannot invite itself.");
    }
    for (field, shares) in [
        ("room_shares", &input.room_shares),
        ("team_shares", &input.team_shares),
    ] {
        if shares.len() > MAX_SHARES {
            v.add(
                field,
                format!("Ensure this field has no more than {MAX_SHARES} elements."),
            );
        }
    }
    v.into_result()?;
    let display_name = partnership::validate_display_name(
        "partner_display_name",
        input.partner_display_name.as_deref(),
    )?;
    let (model, inserted) = insert_pending(
        &txn,
        &sender,
        Pending {
            email,
            message: input.message,
            partner_display_name: display_name,
            partner_visible_to_everyone: input.partner_visible_to_everyone,
            room_shares: serde_json::Value::Array(input.room_shares).to_string(),
            team_shares: serde_json::Value::Array(input.team_shares).to_string(),
        },
    )
    .await?;
    if inserted {
        record(
            &txn,
            principal,
            types::PARTNERSHIP_INVITATION_CREATED,
            &model,
        )
        .await?;
    }
    let view = view(&txn, model, false).await?;
    txn.commit().await?;
    Ok(view)
}

/// A new pending invitation's stored values, validated.
struct Pending {
    email: String,
    message: String,
    partner_display_name: Option<String>,
    partner_visible_to_everyone: Option<bool>,
    room_shares: String,
    team_shares: String,
}

/// Stores a new pending invitation from the organization the proof is for: sending one
/// needs settings permission there, whichever surface asks. One is pending per (sender,
/// email) — a unique index (m0006) settles concurrent senders — so a repeat returns the
/// invitation already pending, unchanged (and `false`: nothing was inserted).
async fn insert_pending(
    conn: &impl ConnectionTrait,
    sender: &Authorized<Admin>,
    pending: Pending,
) -> DomainResult<(inv::Model, bool)> {
    let Pending {
        email,
        message,
        partner_display_name,
        partner_visible_to_everyone,
        room_shares,
        team_shares,
    } = pending;
    let inserted = inv::Entity::insert(inv::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        key: Set(Uuid::new_v4().simple().to_string()),
        organization_id: Set(sender.organization_id()),
        created_by_user_id: Set(sender.user_id()),
        email: Set(email.clone()),
        message: Set(message),
        partner_display_name: Set(partner_display_name),
        status: Set(PENDING),
        created_at: Set(super::now()),
        partner_visible_to_everyone: Set(partner_visible_to_everyone),
        room_shares: Set(room_shares),
        team_shares: Set(team_shares),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([inv::Column::OrganizationId, inv::Column::Email])
            // Written out, not bound: SQLite matches the index by the predicate's text.
            .target_and_where(Expr::cust(format!("status = {PENDING}")))
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await
    .or_else(|e| match e {
        // The one already pending stands.
        DbErr::RecordNotInserted => Ok(0),
        e => Err(e),
    })?;
    let model = inv::Entity::find()
        .filter(inv::Column::OrganizationId.eq(sender.organization_id()))
        .filter(inv::Column::Email.eq(email))
        .filter(inv::Column::Status.eq(PENDING))
        .one(conn)
        .await?
        .ok_or_else(|| giosg::not_found("Invitation"))?;
    Ok((model, inserted > 0))
}

/// The event of a change to an invitation: it concerns the sender and, once resolved, the
/// organization that resolved it.
async fn record(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    kind: &'static str,
    model: &inv::Model,
) -> DomainResult<()> {
    let mut organizations = vec![model.organization_id];
    organizations.extend(model.resolved_by_organization_id);
    events::record(
        conn,
        principal,
        kind,
        &organizations,
        model.uuid,
        events::state::partnership_invitation(model),
    )
    .await?;
    Ok(())
}

/// Organizations among `ids` with an active subscription.
async fn active_only(conn: &impl ConnectionTrait, ids: Vec<i64>) -> DomainResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(ids);
    }
    let now = super::now();
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .filter(|o| effective_state(o, now) != State::Inactive)
        .map(|o| o.id)
        .collect())
}

/// The organizations whose outgoing invitations (or partnerships) a caller lists: the one
/// named, or every one it belongs to with an active subscription.
pub(crate) async fn listed_organizations(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
) -> DomainResult<Vec<i64>> {
    Ok(match organization_id {
        Some(named) => vec![
            access::giosg::organization_ref::<Read>(conn, principal, named)
                .await?
                .0
                .organization_id(),
        ],
        None => {
            active_only(
                conn,
                access::giosg::member_organization_ids(conn, principal).await?,
            )
            .await?
        }
    })
}

/// The caller's organizations' invitations (or one organization's, when named).
pub async fn list_outgoing(
    db: &Db,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
    page: &PageRequest,
) -> DomainResult<Page<InvitationView>> {
    let conn = db.read();
    let senders = listed_organizations(conn, principal, organization_id).await?;
    let found = pagination::fetch(
        conn,
        inv::Entity::find().filter(inv::Column::OrganizationId.is_in(senders)),
        inv::Column::CreatedAt,
        inv::Column::Id,
        |m: &inv::Model| (m.created_at, m.id),
        page,
    )
    .await?;
    let items = views(conn, found.items, false).await?;
    Ok(Page {
        items,
        next: found.next,
        previous: found.previous,
    })
}

/// An outgoing invitation of one of the caller's organizations; someone else's is as
/// unknown as a missing one (404). Then the usual subscription and settings checks.
async fn find_outgoing<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    id: InvitationRef<'_>,
) -> DomainResult<(Authorized<N>, inv::Model)> {
    let missing = || giosg::not_found("Invitation");
    let found = match id {
        InvitationRef::Uuid(id) => {
            let uuid = giosg::parse_uuid(id, "Invitation")?;
            inv::Entity::find()
                .filter(inv::Column::Uuid.eq(uuid))
                .one(conn)
                .await?
        }
        InvitationRef::Id(id) => inv::Entity::find_by_id(id).one(conn).await?,
    };
    let model = found.ok_or_else(missing)?;
    let (proof, _) =
        access::giosg::owned_by(conn, principal, model.organization_id, "Invitation").await?;
    Ok((proof, model))
}

pub async fn get_outgoing(
    db: &Db,
    principal: &Principal,
    id: InvitationRef<'_>,
) -> DomainResult<InvitationView> {
    let conn = db.read();
    let (_, model) = find_outgoing::<Read>(conn, principal, id).await?;
    view(conn, model, false).await
}

/// Pending only: a resolved invitation stays as the record of what happened (403).
pub async fn cancel_outgoing(
    db: &Db,
    principal: &Principal,
    id: InvitationRef<'_>,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let (_, model) = find_outgoing::<Admin>(&txn, principal, id).await?;
    lock(&txn, model.id).await?;
    let model = inv::Entity::find_by_id(model.id)
        .one(&txn)
        .await?
        .ok_or_else(|| giosg::not_found("Invitation"))?;
    if model.status != PENDING {
        return Err(DomainError::PermissionDenied(
            "The invitation has already been resolved.".into(),
        ));
    }
    inv::Entity::delete_by_id(model.id).exec(&txn).await?;
    record(
        &txn,
        principal,
        types::PARTNERSHIP_INVITATION_CANCELLED,
        &model,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn list_incoming(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> DomainResult<Page<InvitationView>> {
    let conn = db.read();
    let addressee = Addressee::of(conn, principal).await?;
    let found = pagination::fetch(
        conn,
        inv::Entity::find().filter(addressee.condition()),
        inv::Column::CreatedAt,
        inv::Column::Id,
        |m: &inv::Model| (m.created_at, m.id),
        page,
    )
    .await?;
    let items = views(conn, found.items, true).await?;
    Ok(Page {
        items,
        next: found.next,
        previous: found.previous,
    })
}

/// One page-numbered page of invitations among `select`, filtered by `query.status`.
async fn numbered(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<inv::Entity>,
    query: &ListQuery,
    incoming: bool,
) -> DomainResult<NumberedPage<InvitationView>> {
    let mut v = Violations::default();
    let plan = page_number::plan(&query.page, ORDERINGS, page_number::INVITATIONS, &mut v);
    if let Some(status) = query.status
        && ![PENDING, ACCEPTED, REJECTED].contains(&status)
    {
        v.add(
            "status",
            format!("Select a valid choice. {status} is not one of the available choices."),
        );
    }
    v.into_result()?;
    let select = match query.status {
        Some(status) => select.filter(inv::Column::Status.eq(status)),
        None => select,
    };
    let column = |c: inv::Column| Expr::col((inv::Entity, c));
    let order = match plan.ordering.field {
        "status" => vec![column(inv::Column::Status)],
        "email" => vec![column(inv::Column::Email)],
        "resolved_at" => vec![
            page_number::nulls_as_greatest(column(inv::Column::ResolvedAt)),
            column(inv::Column::ResolvedAt),
        ],
        _ => vec![column(inv::Column::CreatedAt)],
    };
    let found = page_number::fetch(conn, select, &plan, order, inv::Column::Id).await?;
    Ok(NumberedPage {
        items: views(conn, found.items, incoming).await?,
        count: found.count,
        next: found.next,
        previous: found.previous,
    })
}

/// [`list_outgoing`], page-numbered (giosg v3).
pub async fn list_outgoing_numbered(
    db: &Db,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
    query: &ListQuery,
) -> DomainResult<NumberedPage<InvitationView>> {
    let conn = db.read();
    let senders = listed_organizations(conn, principal, organization_id).await?;
    let select = inv::Entity::find().filter(inv::Column::OrganizationId.is_in(senders));
    numbered(conn, select, query, false).await
}

/// [`list_incoming`], page-numbered (giosg v3).
pub async fn list_incoming_numbered(
    db: &Db,
    principal: &Principal,
    query: &ListQuery,
) -> DomainResult<NumberedPage<InvitationView>> {
    let conn = db.read();
    let addressee = Addressee::of(conn, principal).await?;
    let select = inv::Entity::find().filter(addressee.condition());
    numbered(conn, select, query, true).await
}

pub async fn get_incoming(
    db: &Db,
    principal: &Principal,
    key: &str,
) -> DomainResult<InvitationView> {
    let conn = db.read();
    let model = access::invitation::incoming(conn, principal, key).await?;
    view(conn, model, true).await
}

/// Serialises answers to one invitation: a row lock on PostgreSQL; SQLite runs one write
/// transaction at a time already.
async fn lock(conn: &impl ConnectionTrait, id: i64) -> DomainResult<()> {
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM partnership_invitations WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Accepts (`Some(acceptance)`) or rejects (`None`) in one transaction.
async fn answer(
    db: &Db,
    principal: &Principal,
    key: &str,
    organization_id: Option<OrganizationRef<'_>>,
    accept: Option<Acceptance>,
) -> DomainResult<InvitationView> {
    let txn = db.begin_write().await?;
    let (model, answerer, org) =
        access::invitation::answer(&txn, principal, key, organization_id).await?;
    lock(&txn, model.id).await?;
    // Read again under the lock: a concurrent answer may have resolved it meanwhile.
    let model = inv::Entity::find_by_id(model.id)
        .one(&txn)
        .await?
        .ok_or_else(|| giosg::not_found("Invitation"))?;
    if model.status != PENDING {
        return Err(access::invitation::already_resolved(&model, &org));
    }
    let mut partnership_changed = None;
    let mut active: inv::ActiveModel = model.clone().into();
    active.resolved_at = Set(Some(super::now()));
    active.resolved_by_organization_id = Set(Some(org.id));
    active.resolved_by_user_id = Set(answerer.user_id());
    match accept {
        Some(acceptance) => {
            if org.id == model.organization_id {
                return Err(DomainError::invalid(
                    "non_field_errors",
                    "An organization cannot partner with itself.",
                ));
            }
            let display_name = match acceptance.display_name {
                Patch::Value(name) => {
                    match partnership::validate_display_name("display_name", Some(&name))? {
                        Some(name) => Patch::Value(name),
                        None => Patch::Null,
                    }
                }
                other => other,
            };
            let sender = partnership::Side {
                organization_id: model.organization_id,
                display_name: match &model.partner_display_name {
                    Some(name) => Patch::Value(name.clone()),
                    None => Patch::Absent,
                },
                visible_to_everyone: model.partner_visible_to_everyone,
            };
            let accepter = partnership::Side {
                organization_id: org.id,
                display_name,
                visible_to_everyone: acceptance.visible_to_everyone,
            };
            let (pair, created) = partnership::ensure(&txn, sender, accepter).await?;
            partnership_changed = Some((pair, created));
            active.status = Set(ACCEPTED);
            active.partnership_uuid = Set(Some(pair));
            active.created_new_partnership = Set(Some(created));
        }
        None => active.status = Set(REJECTED),
    }
    let model = active.update(&txn).await?;
    if let Some((pair, created)) = partnership_changed {
        let kind = if created {
            types::PARTNERSHIP_CREATED
        } else {
            types::PARTNERSHIP_UPDATED
        };
        events::record(
            &txn,
            principal,
            kind,
            &[model.organization_id, org.id],
            pair,
            serde_json::json!({
                "uuid": pair,
                "organization_id": model.organization_id,
                "partner_organization_id": org.id,
                "invitation_uuid": model.uuid,
            }),
        )
        .await?;
    }
    record(
        &txn,
        principal,
        types::PARTNERSHIP_INVITATION_RESOLVED,
        &model,
    )
    .await?;
    let view = view(&txn, model, true).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn accept(
    db: &Db,
    principal: &Principal,
    key: &str,
    organization_id: Option<OrganizationRef<'_>>,
    acceptance: Acceptance,
) -> DomainResult<InvitationView> {
    answer(db, principal, key, organization_id, Some(acceptance)).await
}

pub async fn reject(
    db: &Db,
    principal: &Principal,
    key: &str,
    organization_id: Option<OrganizationRef<'_>>,
) -> DomainResult<InvitationView> {
    answer(db, principal, key, organization_id, None).await
}
