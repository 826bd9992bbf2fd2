//! The partner directory's `search_text`: a case-insensitive substring of the company name or
//! the email. The answer is always the escaped `LIKE '%term%'` on the column lowercased in
//! Rust; a trigram index (migration m0005) only narrows the rows that `LIKE` looks at, so an
//! index never changes a result, only how many rows are read to find it.
//!
//! - PostgreSQL: the pg_trgm GIN index serves that `LIKE` directly; nothing to add.
//! - SQLite: `LIKE` cannot use an index for `%term%`, so the ids are first restricted to the
//!   rows the FTS5 trigram table matches for the term as a phrase in the searched column.
//!   A trigram index knows only terms of 3 or more characters; shorter ones scan as before.

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::{Condition, DatabaseBackend};

use crate::entity::organization_partner as partner;

/// The FTS5 table of migration m0005 (external content over `organization_partners`).
const FTS_TABLE: &str = "organization_partners_search";

/// A trigram index matches only terms of at least this many characters.
const MIN_INDEXED_CHARS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchField {
    CompanyName,
    Email,
}

impl SearchField {
    fn column(self) -> partner::Column {
        match self {
            SearchField::CompanyName => partner::Column::CompanyNameFolded,
            SearchField::Email => partner::Column::EmailFolded,
        }
    }

    /// The column's name in the FTS table (the same as in the content table).
    fn fts_column(self) -> &'static str {
        match self {
            SearchField::CompanyName => "company_name_folded",
            SearchField::Email => "email_folded",
        }
    }
}

/// A directory query's organization filter together with its search, if any: they are one
/// rule because, when the SQLite trigram index narrows a search, the organization's own
/// indexes must not compete with it. Without statistics SQLite's planner takes
/// `organization_id = ?` for a selective index range and would walk the whole directory in
/// page order, testing each row against the index's ids; written `+organization_id` (the
/// documented way to keep a term off indexes) it is checked on the rows the index found.
pub fn scoped(
    backend: DatabaseBackend,
    organization: i64,
    search: Option<(SearchField, &str)>,
) -> Condition {
    let organization_column = Expr::col((partner::Entity, partner::Column::OrganizationId));
    let Some((field, text)) = search else {
        return Condition::all().add(organization_column.eq(organization));
    };
    let folded = text.to_lowercase();
    let like = Expr::col((partner::Entity, field.column()))
        .like(LikeExpr::new(like_pattern(&folded)).escape('\\'));
    if backend == DatabaseBackend::Sqlite && sqlite_indexable(&folded) {
        Condition::all()
            .add(Expr::cust_with_values(
                "+\"organization_partners\".\"organization_id\" = ?",
                [organization],
            ))
            .add(fts_candidates(field, &folded))
            .add(like)
    } else {
        Condition::all()
            .add(organization_column.eq(organization))
            .add(like)
    }
}

/// Whether the SQLite trigram index can narrow a search for `folded`: it is long enough, and
/// it has no NUL, which SQLite's `LIKE` takes as the end of the pattern while the trigram
/// tokenizer skips it, so the index could miss rows that `LIKE` matches.
fn sqlite_indexable(folded: &str) -> bool {
    folded.chars().count() >= MIN_INDEXED_CHARS && !folded.contains('\0')
}

/// `id IN (rows whose column contains the term)`, from the FTS5 index. The term is one
/// quoted phrase (so no character in it is FTS5 query syntax) restricted to the column.
fn fts_candidates(field: SearchField, folded: &str) -> SimpleExpr {
    let query = format!(
        "{} : \"{}\"",
        field.fts_column(),
        folded.replace('"', "\"\"")
    );
    Expr::cust_with_values(
        format!(
            "\"organization_partners\".\"id\" IN \
             (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
        ),
        [query],
    )
}

/// `%`, `_` and `\` match themselves in the search text.
fn like_pattern(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len() + 2);
    out.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
