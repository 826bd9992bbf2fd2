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
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
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

/// Every `ordering` [`plan`] accepts (empty: the default, ascending).
pub const ORDERINGS: &[&str] = &["", "created_at", "-created_at"];

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
    violations.into_result()?;
    // A cursor is opaque: one the server did not issue names no page, a 404 as Django REST
    // framework's CursorPagination answers it, after the parameters a client does write.
    let position = match req.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
        None => None,
        Some(c) => Some(
            Position::decode(c).ok_or_else(|| DomainError::NotFound("Invalid cursor".into()))?,
        ),
    };
    Ok(Plan {
        descending,
        size: size as u64,
        position,
    })
}

/// Rows whose key lies beyond `(t, id)`: greater keys when `greater`, else smaller. A row
/// value, not `created > t OR (created = t AND id > x)`: PostgreSQL turns only the row value
/// into a range of the (organization, created, id) index; with the OR it filtered a whole
/// million-row collection to answer whether a page had a previous one (257 ms).
fn beyond<C: ColumnTrait>(
    created: C,
    id_col: C,
    t: DateTime<Utc>,
    id: i64,
    greater: bool,
    inclusive: bool,
) -> Expr {
    let key = Expr::tuple([Expr::col(created), Expr::col(id_col)]);
    let at = Expr::tuple([Expr::val(t), Expr::val(id)]);
    match (greater, inclusive) {
        (true, false) => key.gt(at),
        (true, true) => key.gte(at),
        (false, false) => key.lt(at),
        (false, true) => key.lte(at),
    }
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
        let toward = if greater { Order::Asc } else { Order::Desc };
        select
            .clone()
            .filter(beyond(created, id, k.0, k.1, greater, inclusive))
            .order_by(created, toward.clone())
            .order_by(id, toward)
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

    /// Walks a table whose timestamps tie and differ only in their fraction digits (SQLite
    /// stores them as text; the order must still be the instants' order), across deletes,
    /// in both orderings and both directions.
    #[tokio::test]
    async fn keyset_pages_over_ties_and_fraction_digits() {
        use crate::entity::user;
        use chrono::TimeZone;
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};

        let db = crate::db::Db::connect_and_migrate("sqlite::memory:")
            .await
            .unwrap();
        let base = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let offsets_us = [
            0, 0, 500_000, 500_001, 1_000_000, 1_000_000, 1_000_010, 2_100_000,
        ];
        let mut ids = Vec::new();
        for (i, us) in offsets_us.iter().enumerate() {
            let m = user::ActiveModel {
                uuid: Set(uuid::Uuid::new_v4()),
                email: Set(format!("u{i}@example.com")),
                full_name: Set(format!("u{i}")),
                created_at: Set(base + chrono::Duration::microseconds(*us)),
                ..Default::default()
            }
            .insert(db.read())
            .await
            .unwrap();
            ids.push(m.id);
        }
        let walk = |ordering: &'static str, size: i32| {
            let db = db.clone();
            async move {
                let mut seen = Vec::new();
                let mut pages = Vec::new();
                let mut cursor = None;
                loop {
                    let req = PageRequest {
                        cursor: cursor.clone(),
                        ordering: Some(ordering.into()),
                        page_size: Some(size),
                    };
                    let page = fetch(
                        db.read(),
                        user::Entity::find(),
                        user::Column::CreatedAt,
                        user::Column::Id,
                        |u: &user::Model| (u.created_at, u.id),
                        &req,
                    )
                    .await
                    .unwrap();
                    seen.extend(page.items.iter().map(|u| u.id));
                    pages.push(page.clone());
                    match page.next {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                (seen, pages)
            }
        };
        for size in 1..=4 {
            let (asc, pages) = walk("created_at", size).await;
            assert_eq!(asc, ids, "ascending with page size {size}");
            // Back from the last page.
            let mut back: Vec<i64> = Vec::new();
            let mut page = pages.last().unwrap().clone();
            loop {
                back.splice(0..0, page.items.iter().map(|u| u.id));
                let Some(previous) = page.previous.clone() else {
                    break;
                };
                page = fetch(
                    db.read(),
                    user::Entity::find(),
                    user::Column::CreatedAt,
                    user::Column::Id,
                    |u: &user::Model| (u.created_at, u.id),
                    &PageRequest {
                        cursor: Some(previous),
                        ordering: Some("created_at".into()),
                        page_size: Some(size),
                    },
                )
                .await
                .unwrap();
            }
            assert_eq!(back, ids, "backwards with page size {size}");
            let (desc, _) = walk("-created_at", size).await;
            let mut reversed = ids.clone();
            reversed.reverse();
            assert_eq!(desc, reversed, "descending with page size {size}");
        }

        // The row a cursor points at is deleted: the next page still starts right after it,
        // and an empty last page leads back to the rows before it.
        let req = |cursor: Option<String>| PageRequest {
            cursor,
            ordering: None,
            page_size: Some(3),
        };
        let find = || user::Entity::find();
        let key = |u: &user::Model| (u.created_at, u.id);
        let first = fetch(
            db.read(),
            find(),
            user::Column::CreatedAt,
            user::Column::Id,
            key,
            &req(None),
        )
        .await
        .unwrap();
        user::Entity::delete_by_id(ids[2])
            .exec(db.read())
            .await
            .unwrap();
        let second = fetch(
            db.read(),
            find(),
            user::Column::CreatedAt,
            user::Column::Id,
            key,
            &req(first.next.clone()),
        )
        .await
        .unwrap();
        assert_eq!(
            second.items.iter().map(|u| u.id).collect::<Vec<_>>(),
            ids[3..6]
        );
        for id in &ids[3..] {
            user::Entity::delete_by_id(*id)
                .exec(db.read())
                .await
                .unwrap();
        }
        let empty = fetch(
            db.read(),
            find(),
            user::Column::CreatedAt,
            user::Column::Id,
            key,
            &req(second.next.clone()),
        )
        .await
        .unwrap();
        assert!(empty.items.is_empty() && empty.next.is_none());
        let back = fetch(
            db.read(),
            find(),
            user::Column::CreatedAt,
            user::Column::Id,
            key,
            &req(empty.previous.clone()),
        )
        .await
        .unwrap();
        assert_eq!(
            back.items.iter().map(|u| u.id).collect::<Vec<_>>(),
            ids[..2]
        );
        assert!(back.previous.is_none());
    }
}
