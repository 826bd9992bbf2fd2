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
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

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

/// A checked page request, as the parts of the one statement that reads the page (its
/// rows' condition and order, and whether rows lie on the other side of the cursor) and
/// the page its rows make ([`Keyset::page`]).
pub struct Keyset {
    plan: Plan,
}

/// The statement shapes a [`Keyset`] needs: a first page or a page at a cursor, scanned
/// ascending or descending (inclusive cursors are exclusive ones a key away, so they need
/// no shape of their own).
pub const KEYSET_SHAPES: usize = 4;

impl Keyset {
    /// Every bad parameter at once (400), then an unknown cursor (404).
    pub fn new(req: &PageRequest) -> DomainResult<Keyset> {
        Ok(Keyset { plan: plan(req)? })
    }

    fn before(&self) -> bool {
        self.plan.position.is_some_and(|p| p.before)
    }

    /// Display order is ascending unless descending; a page before the key is read
    /// backwards.
    fn scan_ascending(&self) -> bool {
        self.plan.descending == self.before()
    }

    /// Which of the [`KEYSET_SHAPES`] this request's statement has.
    pub fn shape(&self) -> usize {
        usize::from(!self.scan_ascending()) + 2 * usize::from(self.at_cursor())
    }

    /// The rows a page reads: one more than it shows tells whether there is a next one.
    pub fn limit(&self) -> i64 {
        self.plan.size as i64 + 1
    }

    /// `ORDER BY` of the scan over key columns `created`, `id`.
    pub fn order_sql(&self, created: &str, id: &str) -> String {
        let d = if self.scan_ascending() { "ASC" } else { "DESC" };
        format!("{created} {d}, {id} {d}")
    }

    /// Whether the page is read at a cursor (else it is a first page).
    pub fn at_cursor(&self) -> bool {
        self.plan.position.is_some()
    }

    /// Pushes the cursor's values after the statement's own (none on a first page): its
    /// time, the page's bound id and the other side's, which [`Keyset::rows_sql`] and
    /// [`Keyset::others_sql`] name from their `first` placeholder on. A row value, not `created > t OR (created = t AND id > x)`:
    /// PostgreSQL turns only the row value into a range of the (organization, created, id)
    /// index; with the OR it filtered a whole million-row collection to answer whether a
    /// page had a previous one (257 ms).
    pub fn bind(&self, values: &mut Vec<sea_orm::Value>) {
        let Some(p) = self.plan.position else { return };
        let scan = self.scan_ascending();
        // The page's bound and the other side's, both exclusive: `>= (t, id)` is
        // `> (t, id - 1)` for integer ids (saturating: no row has the extreme id).
        let (rows, others) = match (scan, p.inclusive) {
            (true, true) => (p.id.saturating_sub(1), p.id),
            (true, false) => (p.id, p.id.saturating_add(1)),
            (false, true) => (p.id.saturating_add(1), p.id),
            (false, false) => (p.id, p.id.saturating_sub(1)),
        };
        values.push(p.created_at().into());
        values.push(rows.into());
        values.push(others.into());
    }

    /// The condition on key columns `created`, `id` of the page's rows (`AND ...`, empty
    /// on a first page), with the cursor bound from `$first` (see [`Keyset::bind`]).
    pub fn rows_sql(&self, created: &str, id: &str, first: usize) -> String {
        match self.plan.position {
            None => String::new(),
            Some(_) => {
                let op = if self.scan_ascending() { ">" } else { "<" };
                format!(" AND ({created}, {id}) {op} (${first}, ${})", first + 1)
            }
        }
    }

    /// The condition of the rows on the other side of the cursor, those the page's link
    /// back leads to (None on a first page): the page's [`Keyset::page`] needs to know
    /// whether there are any.
    pub fn others_sql(&self, created: &str, id: &str, first: usize) -> Option<String> {
        self.plan.position?;
        let op = if self.scan_ascending() { "<" } else { ">" };
        Some(format!("({created}, {id}) {op} (${first}, ${})", first + 2))
    }

    /// The page of `rows` (read by [`Keyset::rows_sql`] in [`Keyset::order_sql`], at most
    /// [`Keyset::limit`]) with its neighbours' cursors; `others`: whether rows matched
    /// [`Keyset::others_sql`] (false on a first page).
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (DateTime<Utc>, i64),
        others: bool,
    ) -> Page<T> {
        let size = self.plan.size as usize;
        let more = rows.len() > size;
        rows.truncate(size);
        if self.before() {
            rows.reverse();
        }
        let first = rows.first().map(&key);
        let last = rows.last().map(&key);
        // The rows beyond the page's first (or last) row on the cursor's side are exactly
        // those beyond the cursor: no row lies between the cursor and the page.
        let (next, previous) = match self.plan.position {
            None => (
                last.filter(|_| more).map(|k| Position::at(k, false, false)),
                None,
            ),
            Some(p) if !p.before => {
                let next = last.filter(|_| more).map(|k| Position::at(k, false, false));
                let previous = others.then(|| match first {
                    Some(k) => Position::at(k, true, false),
                    None => Position::at((p.created_at(), p.id), true, !p.inclusive),
                });
                (next, previous)
            }
            Some(p) => {
                let previous = first.filter(|_| more).map(|k| Position::at(k, true, false));
                let next = others.then(|| match last {
                    Some(k) => Position::at(k, false, false),
                    None => Position::at((p.created_at(), p.id), false, !p.inclusive),
                });
                (next, previous)
            }
        };
        Page {
            items: rows,
            next: next.map(Position::encode),
            previous: previous.map(Position::encode),
        }
    }
}

/// One page of `select` (already filtered to the collection) ordered by `(created, id)`,
/// in two statements (the rows, and whether any lie beyond the cursor): for collections
/// that are not read in one statement yet.
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
    let keyset = Keyset::new(req)?;
    let key_of = || Expr::tuple([Expr::col(created), Expr::col(id)]);
    let mut cursor = Vec::new();
    keyset.bind(&mut cursor);
    let bound = |i: usize| Expr::val(cursor[i].clone());
    let ascending = keyset.scan_ascending();
    let order = if ascending { Order::Asc } else { Order::Desc };
    let mut query = select.clone();
    if !cursor.is_empty() {
        let at = Expr::tuple([bound(0), bound(1)]);
        query = query.filter(if ascending {
            key_of().gt(at)
        } else {
            key_of().lt(at)
        });
    }
    let rows = query
        .order_by(created, order.clone())
        .order_by(id, order)
        .limit(keyset.limit() as u64)
        .all(conn)
        .await?;
    let others = if cursor.is_empty() {
        false
    } else {
        let at = Expr::tuple([bound(0), bound(2)]);
        select
            .filter(if ascending {
                key_of().lt(at)
            } else {
                key_of().gt(at)
            })
            .one(conn)
            .await?
            .is_some()
    };
    Ok(keyset.page(rows, key, others))
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
