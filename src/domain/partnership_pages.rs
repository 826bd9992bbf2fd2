//! giosg's list pages of an organization and its partners: its users, its partnerships, its
//! partners and a partner's users. Each page is one statement ([`page_sql`]): the access
//! rule of `access::giosg` (from `access::level_sql`), the page's rows in keyset order
//! (`pagination::Keyset`), their presence, and whether rows lie beyond the cursor.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::{IdenStatic, Iterable, Value};

use super::access::{self, Read};
use super::error::DomainResult;
use super::giosg;
use super::organization::model_from_row as organization_model;
use super::pagination::{KEYSET_SHAPES, Keyset, Page, PageRequest};
use super::partnership::{self, PartnershipView};
use super::presence::{self, OrganizationPresence, UserView};
use crate::auth::Principal;
use crate::db::{Columns, Db, Prefixed};
use crate::entity::{organization, partnership as side, user};

/// What a page lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Collection {
    Users,
    Partnerships,
    Partners,
    /// The members of the partner named by `$5`.
    PartnerUsers,
}

/// `table.column AS prefixcolumn, ...` for every column of an entity.
fn columns<C: Iterable + IdenStatic>(table: &str, prefix: &str) -> String {
    C::iter()
        .map(|c| format!("{table}.{0} AS {prefix}{0}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement of one page. `h` is the caller's organization (`$1`) with the principal's
/// level (`$2`) in it (and, per collection, its presence at `$3` or the partner `$5`);
/// the page's rows `r` (at most `$4`) are read only once the caller has access, their
/// presence beside them (computed for those rows only: outside the subquery that orders
/// and limits), and `others` says whether rows lie on the other side of the cursor. No
/// organization: no row at all; no rows on the page: one row, `r`'s columns NULL.
fn page_sql(collection: Collection, principal: &Principal, keyset: &Keyset) -> &'static str {
    type Shapes = [OnceLock<String>; KEYSET_SHAPES];
    static SQL: [[Shapes; 3]; 4] =
        [const { [const { [const { OnceLock::new() }; KEYSET_SHAPES] }; 3] }; 4];
    SQL[collection as usize][principal.kind_index()][keyset.shape()].get_or_init(|| {
        let (owner, cursor) = match collection {
            Collection::PartnerUsers => ("partner_id", 6),
            _ => ("id", 5),
        };
        let owner = format!("(SELECT h.{owner} FROM h WHERE h.access_level IS NOT NULL)");
        let head = match collection {
            Collection::Partnerships => {
                format!(
                    ", {} AS online",
                    presence::organization_presence_sql("o.id", "$3")
                )
            }
            Collection::PartnerUsers => ", (SELECT s.partner_organization_id FROM partnerships s \
                   JOIN organizations p ON p.id = s.partner_organization_id \
                   WHERE s.organization_id = o.id AND p.uuid = $5) AS partner_id"
                .to_string(),
            _ => String::new(),
        };
        // The collection (alias `t`) and its filter, what its rows join, the columns they
        // carry, what the outer query derives from them, and the key's names there.
        let members =
            format!("t.id IN (SELECT user_id FROM memberships WHERE organization_id = {owner})");
        let partner_presence = format!(
            "{} AS p_online",
            presence::organization_presence_sql("r.p_id", "$3")
        );
        let (from, filter, join, row_columns, derived, key, order_by) = match collection {
            Collection::Users | Collection::PartnerUsers => (
                "users t",
                members,
                "",
                columns::<user::Column>("t", "u_"),
                format!(
                    "{} AS u_present",
                    presence::user_presence_sql("r.u_id", "$3")
                ),
                ("r.u_created_at", "r.u_id"),
                ("t.created_at", "t.id"),
            ),
            Collection::Partnerships => (
                "partnerships t",
                format!("t.organization_id = {owner}"),
                " JOIN organizations p ON p.id = t.partner_organization_id",
                format!(
                    "{}, {}",
                    columns::<side::Column>("t", "s_"),
                    columns::<organization::Column>("p", "p_")
                ),
                partner_presence,
                ("r.s_created_at", "r.s_id"),
                ("t.created_at", "t.id"),
            ),
            // Walked through the sides' copy of the partner's `created_at` (migration
            // m0013): an index range, where the partners' own column needs a sort of all.
            Collection::Partners => (
                "partnerships s",
                format!("s.organization_id = {owner}"),
                " JOIN organizations t ON t.id = s.partner_organization_id",
                columns::<organization::Column>("t", "p_"),
                partner_presence,
                ("r.p_created_at", "r.p_id"),
                ("s.partner_created_at", "s.partner_organization_id"),
            ),
        };
        let others = match keyset.others_sql(order_by.0, order_by.1, cursor) {
            Some(others) => format!(
                ", CAST(CASE WHEN EXISTS (SELECT 1 FROM {from} WHERE {filter} AND {others}) \
                   THEN 1 ELSE 0 END AS BIGINT) AS others"
            ),
            None => String::new(),
        };
        format!(
            "WITH h AS MATERIALIZED ( \
               SELECT o.*, {level} AS access_level{head} FROM organizations o WHERE o.uuid = $1 \
             ) \
             SELECT h.*{others}, r.*, {derived} \
             FROM h LEFT JOIN ( \
               SELECT {row_columns} FROM {from}{join} WHERE {filter}{rows} \
               ORDER BY {order} {limit} \
             ) r ON 1 = 1 \
             ORDER BY {outer}",
            level = access::level_sql(principal, "o.id", "$2"),
            rows = keyset.rows_sql(order_by.0, order_by.1, cursor),
            order = keyset.order_sql(order_by.0, order_by.1),
            limit = crate::db::limit_sql("$4"),
            outer = keyset.order_sql(key.0, key.1),
        )
    })
}

/// What every row of a [`page_sql`] statement repeats; read from its first.
struct Head {
    level: Option<access::Level>,
    organization: organization::Model,
    /// Partnerships only: the caller's organization's presence.
    online: Option<i64>,
    /// A partner's users only: the partner's id, if it is a partner.
    partner_id: Option<i64>,
    others: bool,
}

fn head_from_row(row: &dyn Columns, collection: Collection, keyset: &Keyset) -> DomainResult<Head> {
    Ok(Head {
        level: access::level_from_row(row, "access_level")?,
        organization: organization_model(row)?,
        online: match collection {
            Collection::Partnerships => row.opt_i64("online")?,
            _ => None,
        },
        partner_id: match collection {
            Collection::PartnerUsers => row.opt_i64("partner_id")?,
            _ => None,
        },
        others: keyset.at_cursor() && row.i64("others")? > 0,
    })
}

/// What a page lists, read from a row of its [`page_sql`] statement.
trait Item: Sized {
    /// None: the page has no rows, and the row carries only the organization.
    fn from_row(row: &dyn Columns) -> DomainResult<Option<Self>>;
    /// The item's keyset key.
    fn key(&self) -> (DateTime<Utc>, i64);
}

impl Item for UserView {
    fn from_row(row: &dyn Columns) -> DomainResult<Option<Self>> {
        if row.opt_i64("u_id")?.is_none() {
            return Ok(None);
        }
        let model = presence::user_from_row(&Prefixed { row, prefix: "u_" })?;
        Ok(Some(presence::user_view(model, row.i64("u_present")?)))
    }

    fn key(&self) -> (DateTime<Utc>, i64) {
        (self.model.created_at, self.model.id)
    }
}

/// A partner organization, with presence.
impl Item for OrganizationPresence {
    fn from_row(row: &dyn Columns) -> DomainResult<Option<Self>> {
        if row.opt_i64("p_id")?.is_none() {
            return Ok(None);
        }
        Ok(Some(OrganizationPresence {
            model: organization_model(&Prefixed { row, prefix: "p_" })?,
            presence: presence::presence_from_column(row.opt_i64("p_online")?),
        }))
    }

    fn key(&self) -> (DateTime<Utc>, i64) {
        (self.model.created_at, self.model.id)
    }
}

/// This side of a partnership and its partner.
impl Item for (side::Model, OrganizationPresence) {
    fn from_row(row: &dyn Columns) -> DomainResult<Option<Self>> {
        let Some(this_side) = partnership::side_from_row(row)? else {
            return Ok(None);
        };
        Ok(OrganizationPresence::from_row(row)?.map(|partner| (this_side, partner)))
    }

    fn key(&self) -> (DateTime<Utc>, i64) {
        (self.0.created_at, self.0.id)
    }
}

/// One page of `collection` (`partner`: the partner whose users it lists) and the caller's
/// organization with presence (partnerships only). The rule's order holds: a malformed
/// organization UUID names nothing (404), then access and subscription (403), then the
/// partner (404), then the page's parameters (400, an unknown cursor 404).
async fn read_page<T: Item>(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner: Option<&str>,
    collection: Collection,
    req: &PageRequest,
) -> DomainResult<(OrganizationPresence, Page<T>)> {
    let uuid = giosg::parse_uuid(organization_id, "Organization")?;
    let partner = partner.and_then(|p| giosg::parse_uuid(p, "Partner organization").ok());
    let keyset = match Keyset::new(req) {
        Ok(keyset) => keyset,
        Err(e) => {
            // No page statement without a valid page: the detail's statement decides what
            // comes before the parameters.
            let (_, side) =
                partnership::giosg_read(db, principal, organization_id, partner).await?;
            if collection == Collection::PartnerUsers && side.is_none() {
                return Err(giosg::not_found("Partner organization"));
            }
            return Err(e);
        }
    };
    let mut values: Vec<Value> = vec![
        uuid.into(),
        access::principal_param(principal).into(),
        super::now().into(),
        keyset.limit().into(),
    ];
    if collection == Collection::PartnerUsers {
        values.push(Value::Uuid(partner));
    }
    keyset.bind(&mut values);
    let mut head = None;
    let rows = db
        .read_all(page_sql(collection, principal, &keyset), values, |row| {
            if head.is_none() {
                head = Some(head_from_row(row, collection, &keyset)?);
            }
            T::from_row(row)
        })
        .await?;
    let (level, model) = match &head {
        Some(h) => (h.level, Some(h.organization.clone())),
        None => (None, None),
    };
    let (_, model) = access::giosg::decide::<Read>(principal, level, model)?;
    let head = head.expect("the organization's row was read");
    if collection == Collection::PartnerUsers && head.partner_id.is_none() {
        return Err(giosg::not_found("Partner organization"));
    }
    let own = OrganizationPresence {
        model,
        presence: presence::presence_from_column(head.online),
    };
    let rows = rows.into_iter().flatten().collect();
    Ok((own, keyset.page(rows, T::key, head.others)))
}

/// The organization's members, by their own `created_at`.
pub async fn list_users(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<UserView>> {
    let users = Collection::Users;
    Ok(read_page(db, principal, organization_id, None, users, page)
        .await?
        .1)
}

/// This organization's sides of its partnerships, by their `created_at`, each with both
/// organizations and their presence.
pub async fn list_partnerships(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<PartnershipView>> {
    let partnerships = Collection::Partnerships;
    let (own, page) = read_page(db, principal, organization_id, None, partnerships, page).await?;
    Ok(page.map(|(row, partner)| PartnershipView {
        row,
        organization: own.clone(),
        partner,
    }))
}

/// Partner organizations, by their own `created_at`.
pub async fn list_partners(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<OrganizationPresence>> {
    let partners = Collection::Partners;
    Ok(
        read_page(db, principal, organization_id, None, partners, page)
            .await?
            .1,
    )
}

/// A partner's members, by their own `created_at`; a partner that is none is 404.
pub async fn list_partner_users(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    partner_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<UserView>> {
    let partner = Some(partner_id);
    let users = Collection::PartnerUsers;
    Ok(
        read_page(db, principal, organization_id, partner, users, page)
            .await?
            .1,
    )
}
