//! Reading the log: one query for ListEvents pages and for watchers catching up, driven by
//! the `(organization_id, position)` key of `event_organizations`, so a page costs an index
//! range however long the log is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};

use super::{Event, types};
use crate::auth::Principal;
use crate::db::Db;
use crate::domain::access;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::giosg::OrganizationRef;
use crate::domain::validate::Violations;
use crate::entity::event;

pub const DEFAULT_PAGE_SIZE: i32 = 25;
pub const MAX_PAGE_SIZE: i32 = 100;
/// Longest actor filter: the column's width.
const ACTOR_MAX_CHARS: usize = 128;

/// Which events, after which position.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Events concerning any of these organizations; at least one.
    pub organizations: Vec<i64>,
    /// Only positions above this one (0: from the start).
    pub after: i64,
    /// Any of these types; empty: all.
    pub types: Vec<String>,
    pub actor: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Up to `limit` events matching `filter`, by position.
pub async fn read(
    conn: &impl ConnectionTrait,
    filter: &Filter,
    limit: u64,
) -> DomainResult<Vec<Event>> {
    if filter.organizations.is_empty() {
        return Ok(Vec::new());
    }
    let mut values: Vec<Value> = Vec::new();
    let mut param = |v: Value| {
        values.push(v);
        format!("${}", values.len())
    };
    let orgs: Vec<String> = filter
        .organizations
        .iter()
        .map(|id| param((*id).into()))
        .collect();
    let mut sql = format!(
        "SELECT e.* FROM events e WHERE e.position IN ( \
           SELECT o.position FROM event_organizations o \
           WHERE o.organization_id IN ({}) AND o.position > {})",
        orgs.join(", "),
        param(filter.after.into()),
    );
    if !filter.types.is_empty() {
        let list: Vec<String> = filter
            .types
            .iter()
            .map(|t| param(t.clone().into()))
            .collect();
        sql.push_str(&format!(" AND e.type IN ({})", list.join(", ")));
    }
    if let Some(actor) = &filter.actor {
        sql.push_str(&format!(" AND e.actor = {}", param(actor.clone().into())));
    }
    if let Some(since) = filter.since {
        sql.push_str(&format!(" AND e.created_at >= {}", param(since.into())));
    }
    if let Some(until) = filter.until {
        sql.push_str(&format!(" AND e.created_at < {}", param(until.into())));
    }
    sql.push_str(&format!(
        " ORDER BY e.position {}",
        crate::db::limit_sql(&param((limit as i64).into()))
    ));
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(event::Model::from_query_result(row, "")?.into()))
        .collect()
}

/// What a ListEvents caller asked for, as sent.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub cursor: Option<String>,
    pub page_size: Option<i32>,
    pub types: Vec<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One page of the audit log, oldest first; `next` is absent on the last page.
#[derive(Clone, Debug)]
pub struct LogPage {
    pub events: Vec<Event>,
    pub next: Option<String>,
}

fn encode_cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("e1:{position}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("e1:")?
        .parse()
        .ok()
        .filter(|p: &i64| *p >= 0)
}

/// A filter names only known types (else 400, naming the first unknown one).
pub fn check_types(v: &mut Violations, field: &str, requested: &[String]) {
    if let Some(unknown) = requested.iter().find(|t| !types::ALL.contains(&t.as_str())) {
        v.add(field, format!("unknown event type {unknown:?}"));
    }
}

/// The organization's audit log: admins and owners only (`access::events`).
pub async fn list(
    db: &Db,
    principal: &Principal,
    organization: OrganizationRef<'_>,
    request: ListRequest,
) -> DomainResult<LogPage> {
    let conn = db.read();
    let grant = access::events::audit_log(conn, principal, organization).await?;
    let mut v = Violations::default();
    let size = request.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        v.add(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        );
    }
    check_types(&mut v, "types", &request.types);
    if let Some(actor) = &request.actor {
        v.max_chars("actor", actor, ACTOR_MAX_CHARS);
    }
    // A start at or after the end is a range with nothing in it (an empty page), not a bad
    // request: no schema can say "after the other parameter".
    v.into_result()?;
    // As every cursor list (`pagination`): bad parameters first (400), then a cursor the
    // server never gave, which names no page (404).
    let after = match request.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            decode_cursor(c).ok_or_else(|| DomainError::NotFound("Invalid cursor".into()))?
        }
    };
    let filter = Filter {
        organizations: vec![grant.organization_id()],
        after,
        types: request.types,
        actor: request.actor.filter(|a| !a.is_empty()),
        since: request.since,
        until: request.until,
    };
    let mut events = read(conn, &filter, size as u64 + 1).await?;
    let next = if events.len() > size as usize {
        events.truncate(size as usize);
        events.last().map(|e| encode_cursor(e.position))
    } else {
        None
    };
    Ok(LogPage { events, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_others() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("nope"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("e1:-1")), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("v1:a:1:2")), None);
    }
}
