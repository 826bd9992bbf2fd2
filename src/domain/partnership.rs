//! giosg's organization-centred views and partnerships: your organization and its users,
//! your partnerships (one stored row per side, each with its own display name), and
//! read-only views of your partners and their users. Partnerships are created only by
//! accepting an invitation (see `invitation`); removing one removes both sides.

use sea_orm::sea_query::{Expr, Query};
use std::collections::HashMap;

use std::sync::OnceLock;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    IdenStatic, Iterable, QueryFilter, Set, Statement,
};

use super::access::{self, Admin, Authorized, Need, Read};
use super::error::{DomainError, DomainResult};
use super::events::{self, types};
use super::giosg::{self, OrganizationRef};
use super::invitation::{self, InvitationView};
use super::organization::model_from_row as organization_model;
use super::page_number::{self, NumberRequest, NumberedPage};
use super::pagination::{self, Page, PageRequest};
use super::presence::{self, OrganizationPresence, UserView};
use super::validate::{NAME_MAX_CHARS, Violations};
use crate::auth::Principal;
use crate::db::{Columns, Db, Prefixed};
use crate::entity::{membership, organization, partnership, partnership_invitation, user};

/// One side of a partnership with both organizations embedded.
#[derive(Clone, Debug)]
pub struct PartnershipView {
    pub row: partnership::Model,
    pub organization: OrganizationPresence,
    pub partner: OrganizationPresence,
}

/// A JSON value that may be absent, explicitly null, or given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Patch<T> {
    Absent,
    Null,
    Value(T),
}

/// Whether the caller replaces the resource (PUT: every editable field is required) or
/// patches it (PATCH: absent fields keep their value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    Replace,
    Patch,
}

/// The caller's organization, with presence: one statement (see [`giosg_read`]).
pub async fn get_own_organization(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
) -> DomainResult<OrganizationPresence> {
    Ok(giosg_read(db, principal, organization_id, None).await?.0)
}

/// Users who are members of the organization, by their own `created_at`.
fn members_of(organization_id: i64) -> sea_orm::Select<user::Entity> {
    user::Entity::find().filter(
        user::Column::Id.in_subquery(
            Query::select()
                .column(membership::Column::UserId)
                .from(membership::Entity)
                .and_where(membership::Column::OrganizationId.eq(organization_id))
                .to_owned(),
        ),
    )
}

async fn user_page(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    page: &PageRequest,
) -> DomainResult<Page<UserView>> {
    let found = pagination::fetch(
        conn,
        members_of(organization_id),
        user::Column::CreatedAt,
        user::Column::Id,
        |u: &user::Model| (u.created_at, u.id),
        page,
    )
    .await?;
    let views = presence::users(conn, found.items.clone()).await?;
    Ok(Page {
        items: views,
        next: found.next,
        previous: found.previous,
    })
}

pub async fn list_users(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<UserView>> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    user_page(conn, grant.organization_id(), page).await
}

pub async fn get_user(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    user_id: &str,
) -> DomainResult<UserView> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let found = presence::find_member(conn, grant.organization_id(), user_id).await?;
    presence::user(conn, found).await
}

/// The partner organization and this side's row, or 404.
async fn find_partnership<N>(
    conn: &impl ConnectionTrait,
    grant: &Authorized<N>,
    partner_uuid: &str,
) -> DomainResult<(partnership::Model, organization::Model)> {
    let organization_id = grant.organization_id();
    let uuid = giosg::parse_uuid(partner_uuid, "Partner organization")?;
    let missing = || giosg::not_found("Partner organization");
    let partner = organization::Entity::find()
        .filter(organization::Column::Uuid.eq(uuid))
        .one(conn)
        .await?
        .ok_or_else(missing)?;
    let row = partnership::Entity::find()
        .filter(partnership::Column::OrganizationId.eq(organization_id))
        .filter(partnership::Column::PartnerOrganizationId.eq(partner.id))
        .one(conn)
        .await?
        .ok_or_else(missing)?;
    Ok((row, partner))
}

/// Embeds both organizations (with presence) into each row, in two queries.
async fn partnership_views(
    conn: &impl ConnectionTrait,
    rows: Vec<partnership::Model>,
) -> DomainResult<Vec<PartnershipView>> {
    let mut ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| [r.organization_id, r.partner_organization_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let orgs = if ids.is_empty() {
        Vec::new()
    } else {
        organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids))
            .all(conn)
            .await?
    };
    let orgs: HashMap<i64, OrganizationPresence> = presence::organizations(conn, orgs)
        .await?
        .into_iter()
        .map(|o| (o.model.id, o))
        .collect();
    let out = rows
        .into_iter()
        // An organization removed meanwhile takes its rows with it (cascade): skip it.
        .filter_map(|row| {
            let organization = orgs.get(&row.organization_id)?.clone();
            let partner = orgs.get(&row.partner_organization_id)?.clone();
            Some(PartnershipView {
                row,
                organization,
                partner,
            })
        })
        .collect();
    Ok(out)
}

async fn one_view(
    conn: &impl ConnectionTrait,
    row: partnership::Model,
) -> DomainResult<PartnershipView> {
    partnership_views(conn, vec![row])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| giosg::not_found("Partner organization"))
}

pub async fn list_partnerships(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<PartnershipView>> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let found = pagination::fetch(
        conn,
        partnership::Entity::find()
            .filter(partnership::Column::OrganizationId.eq(grant.organization_id())),
        partnership::Column::CreatedAt,
        partnership::Column::Id,
        |p: &partnership::Model| (p.created_at, p.id),
        page,
    )
    .await?;
    let views = partnership_views(conn, found.items).await?;
    Ok(Page {
        items: views,
        next: found.next,
        previous: found.previous,
    })
}

/// The columns of the one statement that reads a partnership: the caller's organization
/// (`o.*`), the principal's level in it, the partner organization (`p_*`), this side's row
/// (`s_*`), and both organizations' presence. Access, rows and derived fields in one
/// statement, written once per backend and kind of principal (ids are bound).
fn partnership_sql(principal: &Principal, backend: DatabaseBackend) -> &'static str {
    static SQL: [[OnceLock<String>; 3]; 2] = [const { [const { OnceLock::new() }; 3] }; 2];
    SQL[usize::from(backend == DatabaseBackend::Postgres)][principal.kind_index()].get_or_init(
        || {
            let partner: Vec<String> = organization::Column::iter()
                .map(|c| format!("p.{0} AS p_{0}", c.as_str()))
                .collect();
            let side: Vec<String> = partnership::Column::iter()
                .map(|c| format!("s.{0} AS s_{0}", c.as_str()))
                .collect();
            format!(
                "SELECT o.*, {level} AS access_level, {own} AS online, {partner}, \
                   {partner_presence} AS p_online, {side} \
                 FROM organizations o \
                 LEFT JOIN organizations p ON p.uuid = $3 \
                 LEFT JOIN partnerships s \
                   ON s.organization_id = o.id AND s.partner_organization_id = p.id \
                 WHERE o.uuid = $1",
                level = access::level_sql(principal, "o.id", "$2"),
                own = presence::organization_presence_sql("o.id", "$4"),
                partner = partner.join(", "),
                partner_presence = presence::organization_presence_sql("p.id", "$4"),
                side = side.join(", "),
            )
        },
    )
}

/// This side's row of a [`partnership_sql`] row, if the partnership exists.
fn side_from_row(row: &dyn Columns) -> Result<Option<partnership::Model>, DbErr> {
    let Some(id) = row.opt_i64("s_id")? else {
        return Ok(None);
    };
    Ok(Some(partnership::Model {
        id,
        uuid: row.uuid("s_uuid")?,
        organization_id: row.i64("s_organization_id")?,
        partner_organization_id: row.i64("s_partner_organization_id")?,
        display_name: row.opt_string("s_display_name")?,
        visible_to_everyone: row.bool("s_visible_to_everyone")?,
        created_at: row.datetime("s_created_at")?,
    }))
}

/// What one [`partnership_sql`] row holds: the caller's level and organization, and the
/// partnership with its partner when it exists.
type PartnershipRow = (
    Option<access::Level>,
    OrganizationPresence,
    Option<(partnership::Model, OrganizationPresence)>,
);

fn partnership_from_row(row: &dyn Columns) -> DomainResult<PartnershipRow> {
    let level = access::level_from_row(row, "access_level")?;
    let own = OrganizationPresence {
        model: organization_model(row)?,
        presence: presence::presence_from_column(row.opt_i64("online")?),
    };
    let side = match side_from_row(row)? {
        Some(side) => {
            let partner = Prefixed { row, prefix: "p_" };
            Some((
                side,
                OrganizationPresence {
                    model: organization_model(&partner)?,
                    presence: presence::presence_from_column(row.opt_i64("p_online")?),
                },
            ))
        }
        None => None,
    };
    Ok((level, own, side))
}

/// The caller's organization (giosg UUID) and, when `partner` names one, this side's
/// partnership with it and the partner, with the access rule of `access::giosg` and both
/// organizations' presence: one statement, on the inline readers of an SQLite file. The
/// rule's order holds: a malformed organization UUID names nothing (404), then access and
/// subscription (403); what the caller does with a missing partnership is its own (404).
async fn giosg_read(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner: Option<uuid::Uuid>,
) -> DomainResult<(
    OrganizationPresence,
    Option<(partnership::Model, OrganizationPresence)>,
)> {
    let uuid = giosg::parse_uuid(organization_id, "Organization")?;
    let values = vec![
        uuid.into(),
        access::principal_param(principal).into(),
        sea_orm::Value::Uuid(partner),
        super::now().into(),
    ];
    let found = db
        .read_one(
            partnership_sql(principal, db.backend()),
            values,
            partnership_from_row,
        )
        .await?;
    let (level, own, side) = match found {
        Some((level, own, side)) => (level, Some(own), side),
        None => (None, None, None),
    };
    let presence = own.as_ref().map(|o| o.presence).unwrap_or_default();
    let (_, model) = access::giosg::decide::<Read>(principal, level, own.map(|o| o.model))?;
    Ok((OrganizationPresence { model, presence }, side))
}

/// One statement (see [`giosg_read`]); a partner that is none (or a malformed UUID) is 404.
pub async fn get_partnership(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
) -> DomainResult<PartnershipView> {
    let partner = giosg::parse_uuid(partner_id, "Partner organization").ok();
    let (organization, side) = giosg_read(db, principal, organization_id, partner).await?;
    let (row, partner) = side.ok_or_else(|| giosg::not_found("Partner organization"))?;
    Ok(PartnershipView {
        row,
        organization,
        partner,
    })
}

/// A display name as stored: trimmed, 1..=255 characters; None shows the partner's name.
pub fn validate_display_name(field: &str, value: Option<&str>) -> DomainResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let mut v = Violations::default();
    if value.trim().is_empty() {
        v.add(field, "This field may not be blank.");
    }
    v.max_chars(field, value, NAME_MAX_CHARS);
    v.into_result()?;
    Ok(Some(value.trim().to_string()))
}

/// What a change to one side of a partnership sets (absent: unchanged).
#[derive(Clone, Debug)]
pub struct Changes {
    pub display_name: Patch<String>,
    pub visible_to_everyone: Option<bool>,
}

/// Applies `changes` to this side's row (the partner's side keeps its own).
async fn change(
    conn: &impl ConnectionTrait,
    row: partnership::Model,
    changes: Changes,
) -> DomainResult<partnership::Model> {
    let new_name = match changes.display_name {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(s) => Some(validate_display_name("display_name", Some(&s))?),
    };
    if new_name.is_none() && changes.visible_to_everyone.is_none() {
        return Ok(row);
    }
    let mut active: partnership::ActiveModel = row.into();
    if let Some(name) = new_name {
        active.display_name = Set(name);
    }
    if let Some(visible) = changes.visible_to_everyone {
        active.visible_to_everyone = Set(visible);
    }
    Ok(active.update(conn).await?)
}

fn required(field: &str) -> DomainError {
    DomainError::invalid(field, "This field is required.")
}

/// Changes this side's display name (v5: PUT requires it).
pub async fn update_partnership(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
    mode: UpdateMode,
    display_name: Patch<String>,
) -> DomainResult<PartnershipView> {
    let txn = db.begin_write().await?;
    let (grant, _) = access::giosg::organization::<Admin>(&txn, principal, organization_id).await?;
    let (row, _) = find_partnership(&txn, &grant, partner_id).await?;
    if mode == UpdateMode::Replace && display_name == Patch::Absent {
        return Err(required("display_name"));
    }
    let changes = Changes {
        display_name,
        visible_to_everyone: None,
    };
    let row = change(&txn, row, changes).await?;
    record(&txn, principal, types::PARTNERSHIP_UPDATED, &row).await?;
    let view = one_view(&txn, row).await?;
    txn.commit().await?;
    Ok(view)
}

/// The event of a change to one side's row, which concerns both organizations.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    kind: &'static str,
    row: &partnership::Model,
) -> DomainResult<()> {
    events::record(
        conn,
        principal,
        kind,
        &[row.organization_id, row.partner_organization_id],
        row.uuid,
        events::state::partnership(row),
    )
    .await?;
    Ok(())
}

/// Deletes both sides' rows of the partnership between two organizations.
async fn remove_pair(conn: &impl ConnectionTrait, a: i64, b: i64) -> DomainResult<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "DELETE FROM partnerships WHERE (organization_id = $1 AND partner_organization_id = $2) \
         OR (organization_id = $2 AND partner_organization_id = $1)",
        [a.into(), b.into()],
    ))
    .await?;
    Ok(())
}

/// Removes the partnership for both organizations.
pub async fn delete_partnership(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let (grant, org) =
        access::giosg::organization::<Admin>(&txn, principal, organization_id).await?;
    let (row, partner) = find_partnership(&txn, &grant, partner_id).await?;
    remove_pair(&txn, org.id, partner.id).await?;
    record(&txn, principal, types::PARTNERSHIP_DELETED, &row).await?;
    txn.commit().await?;
    Ok(())
}

/// A partnership as giosg's v3 network API shows it: with the invitation that made it, as
/// this side saw it (`incoming` when this side accepted it).
#[derive(Clone, Debug)]
pub struct NetworkPartnershipView {
    pub partnership: PartnershipView,
    pub invitation: Option<InvitationView>,
}

/// Every `ordering` the v3 partnership list takes (`""`: the default, created_at).
pub const ORDERINGS: &[&str] = &[
    "",
    "created_at",
    "-created_at",
    "partner_company_name",
    "-partner_company_name",
];

async fn network_views(
    conn: &impl ConnectionTrait,
    rows: Vec<partnership::Model>,
) -> DomainResult<Vec<NetworkPartnershipView>> {
    let uuids: Vec<uuid::Uuid> = rows.iter().map(|r| r.uuid).collect();
    let makers: Vec<(uuid::Uuid, i64)> = if uuids.is_empty() {
        Vec::new()
    } else {
        partnership_invitation::Entity::find()
            .filter(partnership_invitation::Column::PartnershipUuid.is_in(uuids))
            .filter(partnership_invitation::Column::CreatedNewPartnership.eq(true))
            .all(conn)
            .await?
            .into_iter()
            .filter_map(|i| Some((i.partnership_uuid?, i.id)))
            .collect()
    };
    let invitations =
        invitation::views_by_id(conn, makers.iter().map(|(_, id)| *id).collect()).await?;
    let maker: HashMap<uuid::Uuid, i64> = makers.into_iter().collect();
    Ok(partnership_views(conn, rows)
        .await?
        .into_iter()
        .map(|partnership| {
            let invitation = maker
                .get(&partnership.row.uuid)
                .and_then(|id| invitations.get(id))
                .cloned()
                .map(|mut v| {
                    v.incoming = v.model.organization_id != partnership.row.organization_id;
                    v
                });
            NetworkPartnershipView {
                partnership,
                invitation,
            }
        })
        .collect())
}

/// The caller's organizations' partnerships (or one organization's), page-numbered.
pub async fn list_network(
    db: &Db,
    principal: &Principal,
    organization_id: Option<OrganizationRef<'_>>,
    req: &NumberRequest,
) -> DomainResult<NumberedPage<NetworkPartnershipView>> {
    let conn = db.read();
    let mut v = Violations::default();
    let plan = page_number::plan(req, ORDERINGS, page_number::PARTNERSHIPS, &mut v);
    v.into_result()?;
    let owners = invitation::listed_organizations(conn, principal, organization_id).await?;
    let select =
        partnership::Entity::find().filter(partnership::Column::OrganizationId.is_in(owners));
    let order = match plan.ordering.field {
        "partner_company_name" => vec![Expr::cust(
            "(SELECT o.name FROM organizations o WHERE o.id = partnerships.partner_organization_id)",
        )],
        _ => vec![Expr::col((
            partnership::Entity,
            partnership::Column::CreatedAt,
        ))],
    };
    let found = page_number::fetch(conn, select, &plan, order, partnership::Column::Id).await?;
    Ok(NumberedPage {
        items: network_views(conn, found.items).await?,
        count: found.count,
        next: found.next,
        previous: found.previous,
    })
}

/// This side's row by its own id, once the caller passed the checks for its organization;
/// another organization's is as unknown as a missing one (404).
async fn find_network<N: Need>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    id: i64,
) -> DomainResult<partnership::Model> {
    let missing = || giosg::not_found("Partnership");
    let row = partnership::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(missing)?;
    access::giosg::owned_by::<N>(conn, principal, row.organization_id, "Partnership").await?;
    Ok(row)
}

async fn one_network_view(
    conn: &impl ConnectionTrait,
    row: partnership::Model,
) -> DomainResult<NetworkPartnershipView> {
    network_views(conn, vec![row])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| giosg::not_found("Partnership"))
}

pub async fn get_network(
    db: &Db,
    principal: &Principal,
    id: i64,
) -> DomainResult<NetworkPartnershipView> {
    let conn = db.read();
    let row = find_network::<Read>(conn, principal, id).await?;
    one_network_view(conn, row).await
}

/// Changes this side's display name and visibility (v3: PUT requires visible_to_everyone).
pub async fn update_network(
    db: &Db,
    principal: &Principal,
    id: i64,
    mode: UpdateMode,
    changes: Changes,
) -> DomainResult<NetworkPartnershipView> {
    let txn = db.begin_write().await?;
    let row = find_network::<Admin>(&txn, principal, id).await?;
    if mode == UpdateMode::Replace && changes.visible_to_everyone.is_none() {
        return Err(required("visible_to_everyone"));
    }
    let row = change(&txn, row, changes).await?;
    record(&txn, principal, types::PARTNERSHIP_UPDATED, &row).await?;
    let view = one_network_view(&txn, row).await?;
    txn.commit().await?;
    Ok(view)
}

/// Removes the partnership for both organizations.
pub async fn delete_network(db: &Db, principal: &Principal, id: i64) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let row = find_network::<Admin>(&txn, principal, id).await?;
    remove_pair(&txn, row.organization_id, row.partner_organization_id).await?;
    record(&txn, principal, types::PARTNERSHIP_DELETED, &row).await?;
    txn.commit().await?;
    Ok(())
}

/// Partner organizations of `organization_id`, by their own `created_at`.
fn partners_of(organization_id: i64) -> sea_orm::Select<organization::Entity> {
    organization::Entity::find().filter(
        organization::Column::Id.in_subquery(
            Query::select()
                .column(partnership::Column::PartnerOrganizationId)
                .from(partnership::Entity)
                .and_where(partnership::Column::OrganizationId.eq(organization_id))
                .to_owned(),
        ),
    )
}

pub async fn list_partners(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<OrganizationPresence>> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let found = pagination::fetch(
        conn,
        partners_of(grant.organization_id()),
        organization::Column::CreatedAt,
        organization::Column::Id,
        |o: &organization::Model| (o.created_at, o.id),
        page,
    )
    .await?;
    let views = presence::organizations(conn, found.items).await?;
    Ok(Page {
        items: views,
        next: found.next,
        previous: found.previous,
    })
}

/// The partner organization of a partnership, with presence: the partnership detail's read.
pub async fn get_partner(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
) -> DomainResult<OrganizationPresence> {
    Ok(get_partnership(db, principal, organization_id, partner_id)
        .await?
        .partner)
}

pub async fn list_partner_users(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<UserView>> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let (_, partner) = find_partnership(conn, &grant, partner_id).await?;
    user_page(conn, partner.id, page).await
}

pub async fn get_partner_user(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
    user_id: &str,
) -> DomainResult<UserView> {
    let conn = db.read();
    let (grant, _) = access::giosg::organization::<Read>(conn, principal, organization_id).await?;
    let (_, partner) = find_partnership(conn, &grant, partner_id).await?;
    let found = presence::find_member(conn, partner.id, user_id).await?;
    presence::user(conn, found).await
}

/// One side of a partnership being made: its organization and what it asked for (absent
/// fields: a new side has no display name and is visible to everyone; an existing side
/// keeps its values).
#[derive(Clone, Debug)]
pub struct Side {
    pub organization_id: i64,
    pub display_name: Patch<String>,
    pub visible_to_everyone: Option<bool>,
}

/// Creates both sides of the partnership between `a` and `b` unless it exists, inside the
/// caller's transaction; a side that exists already takes what its `Side` gives (accepting
/// from an existing partner overwrites, as giosg publishes). Rows are inserted in a fixed
/// order (lower organization id first) with ON CONFLICT DO NOTHING, so concurrent creators
/// on PostgreSQL wait on the unique index instead of deadlocking, and exactly one pair
/// survives. Returns the partnership's id and whether this call created it.
pub async fn ensure(
    conn: &impl ConnectionTrait,
    a: Side,
    b: Side,
) -> DomainResult<(uuid::Uuid, bool)> {
    let backend = conn.get_database_backend();
    let pair = uuid::Uuid::new_v4();
    let now = super::now();
    let (a_id, b_id) = (a.organization_id, b.organization_id);
    let (first, second) = if a_id <= b_id { (&a, &b) } else { (&b, &a) };
    let mut created = false;
    for (own, partner) in [(first, second), (second, first)] {
        let display_name = match &own.display_name {
            Patch::Value(name) => Some(name.clone()),
            _ => None,
        };
        let result = conn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO partnerships \
                   (uuid, organization_id, partner_organization_id, display_name, \
                    visible_to_everyone, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (organization_id, partner_organization_id) DO NOTHING",
                [
                    pair.into(),
                    own.organization_id.into(),
                    partner.organization_id.into(),
                    display_name.into(),
                    own.visible_to_everyone.unwrap_or(true).into(),
                    now.into(),
                ],
            ))
            .await?;
        if result.rows_affected() > 0 {
            created = true;
            continue;
        }
        let mut update = partnership::Entity::update_many()
            .filter(partnership::Column::OrganizationId.eq(own.organization_id))
            .filter(partnership::Column::PartnerOrganizationId.eq(partner.organization_id));
        let mut changed = false;
        match &own.display_name {
            Patch::Absent => {}
            Patch::Null => {
                update = update.col_expr(
                    partnership::Column::DisplayName,
                    Expr::value(Option::<String>::None),
                );
                changed = true;
            }
            Patch::Value(name) => {
                update = update.col_expr(partnership::Column::DisplayName, Expr::value(name));
                changed = true;
            }
        }
        if let Some(visible) = own.visible_to_everyone {
            update = update.col_expr(partnership::Column::VisibleToEveryone, Expr::value(visible));
            changed = true;
        }
        if changed {
            update.exec(conn).await?;
        }
    }
    let row = partnership::Entity::find()
        .filter(partnership::Column::OrganizationId.eq(a_id))
        .filter(partnership::Column::PartnerOrganizationId.eq(b_id))
        .one(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("partnership vanished".into()))?;
    Ok((row.uuid, created))
}
