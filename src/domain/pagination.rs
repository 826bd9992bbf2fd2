//! Keyset (cursor) pagination over `(created_at, id)`, as giosg's collections publish it:
//! `next` / `previous` links carrying an opaque `cursor`, `ordering` = `created_at` or
//! `-created_at`, a page size of 1..100 (default 25). Each page is found by comparing keys,
//! never by OFFSET, so rows inserted or deleted between requests neither duplicate nor skip
//! the rows that existed throughout.
//!
//! A cursor is the URL-safe base64 (no padding) of `v1:<d>:<created_at µs>:<id>`, where `<d>`
//! says which side of the key the page lies on: `a` after it, `b` before it (in display
//! order), capitalised when the key itself belongs to the page (an empty page's way back).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::error::{DomainError, DomainResult};

pub const DEFAULT_PAGE_SIZE: i32 = 25;
pub const MAX_PAGE_SIZE: i32 = 100;

/// What the client asked for, as sent.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub ordering: Option<String>,
    pub page_size: Option<i32>,
}

/// One page in display order, with the cursors of its neighbours (None: no such page).
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
            previous: self.previous,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    /// The page lies before the key in display order (else after it).
    before: bool,
    /// The key's own row belongs to the page.
    inclusive: bool,
    created_at_micros: i64,
    id: i64,
}

impl Position {
    fn encode(self) -> String {
        let d = match (self.before, self.inclusive) {
            (false, false) => 'a',
            (false, true) => 'A',
            (true, false) => 'b',
            (true, true) => 'B',
        };
        URL_SAFE_NO_PAD.encode(format!("v1:{d}:{}:{}", self.created_at_micros, self.id))
    }

    fn decode(cursor: &str) -> Option<Position> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        if parts.next()? != "v1" {
            return None;
        }
        let (before, inclusive) = match parts.next()? {
            "a" => (false, false),
            "A" => (false, true),
            "b" => (true, false),
            "B" => (true, true),
            _ => return None,
        };
        let created_at_micros = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        if parts.next().is_some()
            || DateTime::<Utc>::from_timestamp_micros(created_at_micros).is_none()
        {
            return None;
        }
        Some(Position {
            before,
            inclusive,
            created_at_micros,
            id,
        })
    }

    fn at(key: (DateTime<Utc>, i64), before: bool, inclusive: bool) -> Position {
        Position {
            before,
            inclusive,
            created_at_micros: key.0.timestamp_micros(),
            id: key.1,
        }
    }

    fn created_at(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_micros(self.created_at_micros).unwrap_or_default()
    }
}

/// The validated request: every bad parameter reported at once (400).
struct Plan {
    descending: bool,
    size: u64,
    position: Option<Position>,
}

fn plan(req: &PageRequest) -> DomainResult<Plan> {
    let mut violations = super::validate::Violations::default();
    let descending = match req.ordering.as_deref().map(str::trim) {
        None | Some("") | Some("created_at") => false,
        Some("-created_at") => true,
        Some(_) => {
            violations.add("ordering", "must be created_at or -created_at");
            false
        }
    };
    let size = req.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        violations.add(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        );
    }
    let position = match req.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
        None => None,
        Some(c) => match Position::decode(c) {
            Some(p) => Some(p),
            None => {
                violations.add("cursor", "Invalid cursor");
                None
            }
        },
    };
    violations.into_result()?;
    Ok(Plan {
        descending,
        size: size as u64,
        position,
    })
}

/// Rows whose key lies beyond `(t, id)`: greater keys when `greater`, else smaller.
fn beyond<C: ColumnTrait>(
    created: C,
    id_col: C,
    t: DateTime<Utc>,
    id: i64,
    greater: bool,
    inclusive: bool,
) -> Condition {
    let (strict, tie) = match (greater, inclusive) {
        (true, false) => (created.gt(t), id_col.gt(id)),
        (true, true) => (created.gt(t), id_col.gte(id)),
        (false, false) => (created.lt(t), id_col.lt(id)),
        (false, true) => (created.lt(t), id_col.lte(id)),
    };
    Condition::any()
        .add(strict)
        .add(Condition::all().add(created.eq(t)).add(tie))
}

/// One page of `select` (already filtered to the collection) ordered by `(created, id)`.
pub async fn fetch<E, C>(
    conn: &C,
    select: Select<E>,
    created: E::Column,
    id: E::Column,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, i64),
    req: &PageRequest,
) -> DomainResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let plan = plan(req)?;
    let before = plan.position.is_some_and(|p| p.before);
    // Display order is ascending unless descending; a page before the key is read backwards.
    let scan_ascending = plan.descending == before;
    let order = if scan_ascending {
        Order::Asc
    } else {
        Order::Desc
    };
    let mut query = select.clone();
    if let Some(p) = plan.position {
        query = query.filter(beyond(
            created,
            id,
            p.created_at(),
            p.id,
            scan_ascending,
            p.inclusive,
        ));
    }
    let mut rows = query
        .order_by(created, order.clone())
        .order_by(id, order)
        .limit(plan.size + 1)
        .all(conn)
        .await?;
    let more = rows.len() as u64 > plan.size;
    rows.truncate(plan.size as usize);
    if before {
        rows.reverse();
    }

    // Whether any row lies beyond `k` in display order (after it when `after`).
    let exists = |k: (DateTime<Utc>, i64), after: bool, inclusive: bool| {
        let greater = after != plan.descending;
        select
            .clone()
            .filter(beyond(created, id, k.0, k.1, greater, inclusive))
            .one(conn)
    };
    let first = rows.first().map(&key);
    let last = rows.last().map(&key);
    let (next, previous) = match plan.position {
        None => (
            last.filter(|_| more).map(|k| Position::at(k, false, false)),
            None,
        ),
        Some(p) if !p.before => {
            let next = last.filter(|_| more).map(|k| Position::at(k, false, false));
            let previous = match first {
                Some(k) => exists(k, false, false)
                    .await?
                    .map(|_| Position::at(k, true, false)),
                None => {
                    let k = (p.created_at(), p.id);
                    exists(k, false, !p.inclusive)
                        .await?
                        .map(|_| Position::at(k, true, !p.inclusive))
                }
            };
            (next, previous)
        }
        Some(p) => {
            let previous = first.filter(|_| more).map(|k| Position::at(k, true, false));
            let next = match last {
                Some(k) => exists(k, true, false)
                    .await?
                    .map(|_| Position::at(k, false, false)),
                None => {
                    let k = (p.created_at(), p.id);
                    exists(k, true, !p.inclusive)
                        .await?
                        .map(|_| Position::at(k, false, !p.inclusive))
                }
            };
            (next, previous)
        }
    };
    Ok(Page {
        items: rows,
        next: next.map(Position::encode),
        previous: previous.map(Position::encode),
    })
}

/// The link a client follows: the request's absolute URL with `cursor` replaced, or (no URL
/// known, e.g. plain gRPC) the bare cursor.
pub fn link(request_url: Option<&str>, cursor: Option<String>) -> Option<String> {
    let cursor = cursor?;
    let Some(url) = request_url else {
        return Some(cursor);
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor"))
        .collect();
    let param = format!("cursor={cursor}");
    pairs.push(&param);
    Some(format!("{base}?{}", pairs.join("&")))
}

pub fn invalid_cursor() -> DomainError {
    DomainError::invalid("cursor", "Invalid cursor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let p = Position {
            before: true,
            inclusive: false,
            created_at_micros: 1_700_000_000_123_456,
            id: 42,
        };
        assert_eq!(Position::decode(&p.encode()), Some(p));
        for bad in [
            "",
            "x",
            "djE6YToxOjI6Mw",
            "!!!",
            &URL_SAFE_NO_PAD.encode("v2:a:1:2"),
        ] {
            assert_eq!(Position::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_replace_the_cursor() {
        assert_eq!(
            link(
                Some("http://h/api?ordering=-created_at&cursor=old"),
                Some("new".into())
            ),
            Some("http://h/api?ordering=-created_at&cursor=new".into())
        );
        assert_eq!(
            link(Some("http://h/api"), Some("c".into())),
            Some("http://h/api?cursor=c".into())
        );
        assert_eq!(link(None, Some("c".into())), Some("c".into()));
        assert_eq!(link(Some("http://h/api"), None), None);
    }
}
