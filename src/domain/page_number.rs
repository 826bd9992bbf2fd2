//! Page-number pagination, as giosg's v3 network API lists publish it (Django REST
//! framework's `PageNumberPagination`): `page` from 1 (default 1), `page_size` up to a
//! maximum per list, `ordering` by one of the list's fields (`-` first for descending), and
//! the envelope `{count, next, previous, results}` whose links are the request's URL with
//! `page` replaced. A page past the last one is 404 "Invalid page." (page 1 always exists).
//! These lists count and skip with OFFSET by design: a page number names a position.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryOrder, QuerySelect, Select,
};

use super::error::{DomainError, DomainResult};
use super::validate::Violations;

/// A list's page sizes: the default and the most one page may hold.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub default: i32,
    pub max: i32,
}

/// Outgoing and incoming invitations (published: default 50, max 200).
pub const INVITATIONS: Sizes = Sizes {
    default: 50,
    max: 200,
};

/// Partnerships (published: default 25, max 100).
pub const PARTNERSHIPS: Sizes = Sizes {
    default: 25,
    max: 100,
};

/// What the client asked for, as sent.
#[derive(Clone, Debug, Default)]
pub struct NumberRequest {
    pub ordering: Option<String>,
    pub page: Option<i32>,
    pub page_size: Option<i32>,
}

/// One page and the numbers of its neighbours (None: no such page).
#[derive(Clone, Debug)]
pub struct NumberedPage<T> {
    pub items: Vec<T>,
    pub count: u64,
    pub next: Option<u64>,
    pub previous: Option<u64>,
}

/// The order a request asked for: one of the list's fields, and whether descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ordering<'a> {
    pub field: &'a str,
    pub descending: bool,
}

/// The validated request.
pub struct Plan<'a> {
    pub ordering: Ordering<'a>,
    page: u64,
    size: u64,
}

/// Checks `ordering` against `orderings` (every accepted value, `""` for none; the first
/// field named is the default) and the page size against `sizes`, adding what is wrong to
/// `v` (every bad parameter is reported at once).
pub fn plan<'a>(
    req: &NumberRequest,
    orderings: &[&'a str],
    sizes: Sizes,
    v: &mut Violations,
) -> Plan<'a> {
    let parse = |value: &'a str| match value.strip_prefix('-') {
        Some(field) => Ordering {
            field,
            descending: true,
        },
        None => Ordering {
            field: value,
            descending: false,
        },
    };
    let default = parse(
        orderings
            .iter()
            .find(|o| !o.is_empty())
            .copied()
            .unwrap_or("id"),
    );
    let asked = req.ordering.as_deref().map(str::trim).unwrap_or("");
    let ordering = match orderings.iter().find(|o| **o == asked) {
        Some(&"") => default,
        Some(o) => parse(o),
        None => {
            let choices: Vec<&str> = orderings
                .iter()
                .copied()
                .filter(|o| !o.is_empty())
                .collect();
            v.add("ordering", format!("must be one of {}", choices.join(", ")));
            default
        }
    };
    let size = req.page_size.unwrap_or(sizes.default);
    if !(1..=sizes.max).contains(&size) {
        v.add("page_size", format!("must be between 1 and {}", sizes.max));
    }
    Plan {
        ordering,
        page: req.page.unwrap_or(1).max(0) as u64,
        size: size.max(1) as u64,
    }
}

fn invalid_page() -> DomainError {
    DomainError::NotFound("Invalid page.".into())
}

/// `ORDER BY` a column that may be NULL, the same on both backends: NULLs last when
/// ascending, first when descending (PostgreSQL's default; SQLite's is the opposite).
pub fn nulls_as_greatest(column: SimpleExpr) -> SimpleExpr {
    Expr::case(sea_orm::sea_query::ExprTrait::is_null(column), 1)
        .finally(0)
        .into()
}

/// The page `plan` names of `select`, ordered by `order` (ties broken by `id` in the same
/// direction, so every row has one place).
pub async fn fetch<E, C>(
    conn: &C,
    select: Select<E>,
    plan: &Plan<'_>,
    order: Vec<SimpleExpr>,
    id: E::Column,
) -> DomainResult<NumberedPage<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    E::Model: Sync,
{
    if plan.page < 1 {
        return Err(invalid_page());
    }
    let count = select.clone().count(conn).await?;
    let skip = (plan.page - 1).saturating_mul(plan.size);
    if plan.page > 1 && skip >= count {
        return Err(invalid_page());
    }
    let direction = if plan.ordering.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut query = select;
    for expr in order {
        query = query.order_by(expr, direction.clone());
    }
    let items = query
        .order_by(id, direction)
        .offset(skip)
        .limit(plan.size)
        .all(conn)
        .await?;
    Ok(NumberedPage {
        items,
        count,
        next: (skip + plan.size < count).then_some(plan.page + 1),
        previous: (plan.page > 1).then_some(plan.page - 1),
    })
}

/// The link a client follows to page `page`: the request's absolute URL with `page`
/// replaced (the first page without it, as Django REST framework writes it), or (no URL
/// known, e.g. plain gRPC) the bare number.
pub fn link(request_url: Option<&str>, page: Option<u64>) -> Option<String> {
    let page = page?;
    let Some(url) = request_url else {
        return Some(page.to_string());
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("page"))
        .map(str::to_string)
        .collect();
    if page > 1 {
        pairs.push(format!("page={page}"));
    }
    if pairs.is_empty() {
        Some(base.to_string())
    } else {
        Some(format!("{base}?{}", pairs.join("&")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_replace_the_page() {
        assert_eq!(
            link(Some("http://h/l?status=0&page=2&page_size=5"), Some(3)),
            Some("http://h/l?status=0&page_size=5&page=3".into())
        );
        assert_eq!(
            link(Some("http://h/l?page=2"), Some(1)),
            Some("http://h/l".into())
        );
        assert_eq!(link(None, Some(2)), Some("2".into()));
        assert_eq!(link(Some("http://h/l"), None), None);
    }

    #[test]
    fn orderings_and_sizes_are_checked() {
        let fields = ["", "created_at", "-created_at", "email", "-email"];
        let mut v = Violations::default();
        let p = plan(
            &NumberRequest {
                ordering: Some("-email".into()),
                page: None,
                page_size: None,
            },
            &fields,
            INVITATIONS,
            &mut v,
        );
        assert!(v.into_result().is_ok());
        assert_eq!(
            p.ordering,
            Ordering {
                field: "email",
                descending: true
            }
        );
        assert_eq!((p.page, p.size), (1, 50));
        let mut v = Violations::default();
        plan(
            &NumberRequest {
                ordering: Some("name".into()),
                page: Some(1),
                page_size: Some(201),
            },
            &fields,
            INVITATIONS,
            &mut v,
        );
        assert!(v.into_result().is_err());
    }
}
