//! Users' availability per organization: set by internal services, counted for the
//! organization and its subtree, and kept 14 days as daily history.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, Set};

use super::access::{self, Services};
use super::error::{DomainError, DomainResult};
use super::keys::{OrganizationKey, UserKey};
use super::membership;
use super::validate::PageBounds;
use crate::auth::Principal;
use crate::db::{Db, text_agg};
use crate::entity::{availability_sample, user_availability};

pub const HISTORY_DAYS: i64 = 14;
pub const HISTORY_PAGE: PageBounds = PageBounds {
    default_limit: HISTORY_DAYS as i32,
    max_limit: HISTORY_DAYS as i32,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Available,
    NotAvailable,
    InEvent,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::NotAvailable => "not_available",
            Status::InEvent => "in_event",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "available" => Some(Status::Available),
            "not_available" => Some(Status::NotAvailable),
            "in_event" => Some(Status::InEvent),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub available: i64,
    pub in_event: i64,
    pub not_available: i64,
}

impl Counts {
    fn add(&mut self, status: Status, n: i64) {
        match status {
            Status::Available => self.available += n,
            Status::InEvent => self.in_event += n,
            Status::NotAvailable => self.not_available += n,
        }
    }
}

/// Counts of the organization itself, and of it with all its descendants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Availability {
    pub in_root: Counts,
    pub total: Counts,
}

/// What an internal service reports. Recorded as the current status and as a sample for
/// the history; samples past the history window are pruned in the same transaction.
pub async fn set(
    db: &Db,
    principal: &Principal,
    organization: &str,
    user: &str,
    status: Status,
) -> DomainResult<()> {
    access::service::require(principal, "only internal services report availability")?;
    let org_key = OrganizationKey::parse(organization).ok_or_else(|| {
        DomainError::invalid("organization", "must be an organization id or UUID")
    })?;
    let user_key = UserKey::parse(user)
        .ok_or_else(|| DomainError::invalid("user", "must be an email, user id or UUID"))?;
    let txn = db.begin_write().await?;
    let organization_id = org_key
        .resolve(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    let user = user_key
        .find(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("user not found".into()))?;
    if membership::current_role(&txn, organization_id, user.id)
        .await?
        .is_none()
    {
        return Err(DomainError::Conflict {
            reason: "NOT_A_MEMBER",
            message: "the user is not a member of this organization".into(),
        });
    }
    let now = super::now();
    user_availability::Entity::insert(user_availability::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user.id),
        status: Set(status.as_str().to_string()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            user_availability::Column::OrganizationId,
            user_availability::Column::UserId,
        ])
        .update_columns([
            user_availability::Column::Status,
            user_availability::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    availability_sample::Entity::insert(availability_sample::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user.id),
        status: Set(status.as_str().to_string()),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    availability_sample::Entity::delete_many()
        .filter(availability_sample::Column::OrganizationId.eq(organization_id))
        .filter(availability_sample::Column::At.lt(window_start(now) - Duration::days(1)))
        .exec(&txn)
        .await?;
    super::events::record(
        &txn,
        principal,
        super::events::types::PRESENCE_AVAILABILITY_CHANGED,
        &[organization_id],
        user.id,
        serde_json::json!({
            "organization_id": organization_id,
            "user_id": user.id,
            "status": status.as_str(),
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A scalar subquery: the members' statuses counted over the subtree of the organization
/// whose id the SQL expression `root` gives, as text for [`parse_counts`]:
/// `status:in_root:n` groups joined by commas (NULL when nobody reported).
pub fn subtree_counts_sql(backend: DatabaseBackend, root: &str) -> String {
    // Depth 0 is the root itself (the root cannot be named inside the grouped subquery:
    // SQLite does not let a FROM-clause subquery refer to the enclosing row).
    let in_root = "CAST(sub.depth = 0 AS INTEGER)";
    let group = text_agg(backend, "grouped.g");
    format!(
        "(WITH RECURSIVE sub(id, depth) AS ( \
           SELECT id, 0 FROM organizations WHERE id = {root} \
           UNION ALL \
           SELECT down.id, sub.depth + 1 FROM organizations down \
             JOIN sub ON down.parent_id = sub.id WHERE sub.depth < 64 \
         ) \
         SELECT {group} FROM ( \
           SELECT ua.status || ':' || {in_root} || ':' || COUNT(*) AS g \
           FROM user_availability ua JOIN sub ON ua.organization_id = sub.id \
           JOIN memberships m ON m.organization_id = ua.organization_id \
             AND m.user_id = ua.user_id \
           GROUP BY ua.status, {in_root} \
         ) grouped)"
    )
}

/// The counts a [`subtree_counts_sql`] column holds.
pub fn parse_counts(text: Option<&str>) -> Availability {
    let mut out = Availability::default();
    for group in text.unwrap_or_default().split(',') {
        let mut parts = group.split(':');
        let (Some(status), Some(in_root), Some(n)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Some(status), Ok(n)) = (Status::parse(status), n.parse::<i64>()) else {
            continue;
        };
        out.total.add(status, n);
        if in_root == "1" {
            out.in_root.add(status, n);
        }
    }
    out
}

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// Midnight UTC of the first day of the 14-day window that ends today.
fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(now) - Duration::days(HISTORY_DAYS - 1)
}

#[derive(Clone, Debug)]
pub struct History {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// (midnight of the day, counts at the end of that day), oldest first.
    pub entries: Vec<(DateTime<Utc>, Counts)>,
}

/// One entry per day of the last 14 (today last), counting each member's status as of the
/// end of that day (now, for today).
pub async fn history(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    limit: Option<i32>,
    offset: Option<i32>,
) -> DomainResult<History> {
    let (limit, offset) = HISTORY_PAGE.check(limit, offset)?;
    let conn = db.read();
    let organization_id =
        access::require::<access::Read>(conn, principal, Some(organization_id), Services::Allowed)
            .await?
            .organization_id();
    let now = Utc::now();
    let start = window_start(now);
    let samples = availability_sample::Entity::find()
        .filter(availability_sample::Column::OrganizationId.eq(organization_id))
        .filter(availability_sample::Column::At.gte(start))
        .order_by_asc(availability_sample::Column::At)
        .order_by_asc(availability_sample::Column::Id)
        .all(conn)
        .await?;
    // A status set before the window holds until the user's first sample in it.
    let mut status: HashMap<i64, Status> = HashMap::new();
    for current in user_availability::Entity::find()
        .filter(user_availability::Column::OrganizationId.eq(organization_id))
        .filter(user_availability::Column::UpdatedAt.lt(start))
        .all(conn)
        .await?
    {
        if let Some(s) = Status::parse(&current.status) {
            status.insert(current.user_id, s);
        }
    }
    let mut samples = samples.into_iter().peekable();
    let mut entries = Vec::with_capacity(HISTORY_DAYS as usize);
    for day in 0..HISTORY_DAYS {
        let date = start + Duration::days(day);
        let end_of_day = (date + Duration::days(1)).min(now);
        while let Some(sample) = samples.next_if(|s| s.at < end_of_day) {
            if let Some(s) = Status::parse(&sample.status) {
                status.insert(sample.user_id, s);
            }
        }
        let mut counts = Counts::default();
        for s in status.values() {
            counts.add(*s, 1);
        }
        entries.push((date, counts));
    }
    let entries = entries
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(History {
        start,
        end: midnight(now),
        entries,
    })
}
