//! The partner directory's `search_text`: a case-insensitive substring of the company name or
//! the email. The answer is always the escaped `LIKE '%term%'` on the column lowercased in
//! Rust; a trigram index (migration m0005) only narrows the rows that `LIKE` looks at, so an
//! index never changes a result, only how many rows are read to find it.
//!
//! - PostgreSQL: the pg_trgm GIN index serves that `LIKE` directly, and the planner, which
//!   has statistics, chooses between it and the organization's indexes.
//! - SQLite: `LIKE` cannot use an index for `%term%`. When the FTS5 trigram table finds at
//!   most as many rows for the term (as a phrase in the searched column) as the
//!   organization's directory holds, the ids are first restricted to those rows; otherwise
//!   the directory is scanned as before m0005. A trigram index knows only terms of 3 or more
//!   characters; shorter ones always scan.

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{Condition, ConnectionTrait, DatabaseBackend, DbErr, Statement};

use crate::entity::organization_partner as partner;

/// The FTS5 table of migration m0005 (external content over `organization_partners`).
const FTS_TABLE: &str = "organization_partners_search";

/// A trigram index matches only terms of at least this many characters.
const MIN_INDEXED_CHARS: usize = 3;

/// The most index matches for which the index drives a search. Above it the term is broad,
/// the directory scan finds a page quickly, and counting further would only cost time.
const MAX_DRIVING_MATCHES: i64 = 10_000;

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

/// A directory query's organization filter together with its search, if any. They are one
/// rule because when the SQLite trigram index drives a search, the organization's own
/// indexes must not compete with it: without statistics SQLite's planner takes
/// `organization_id = ?` for a selective index range and would walk the whole directory in
/// page order, testing each row against the index's ids. Written `+organization_id` (the
/// documented way to keep a term off indexes) it is checked on the rows the index found.
pub async fn scoped(
    conn: &impl ConnectionTrait,
    organization: i64,
    search: Option<(SearchField, &str)>,
) -> Result<Condition, DbErr> {
    let in_organization =
        || Expr::col((partner::Entity, partner::Column::OrganizationId)).eq(organization);
    let Some((field, text)) = search else {
        return Ok(Condition::all().add(in_organization()));
    };
    let folded = text.to_lowercase();
    let like = Expr::col((partner::Entity, field.column()))
        .like(LikeExpr::new(like_pattern(&folded)).escape('\\'));
    if conn.get_database_backend() == DatabaseBackend::Sqlite && sqlite_indexable(&folded) {
        let phrase = fts_query(field, &folded);
        if index_is_narrower(conn, organization, &phrase).await? {
            return Ok(Condition::all()
                .add(Expr::cust_with_values(
                    "+\"organization_partners\".\"organization_id\" = ?",
                    [organization],
                ))
                .add(Expr::cust_with_values(
                    format!(
                        "\"organization_partners\".\"id\" IN \
                         (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
                    ),
                    [phrase],
                ))
                .add(like));
        }
    }
    Ok(Condition::all().add(in_organization()).add(like))
}

/// Whether the SQLite trigram index can narrow a search for `folded`: it is long enough, and
/// it has no NUL, which SQLite's `LIKE` takes as the end of the pattern while the trigram
/// tokenizer skips it, so the index could miss rows that `LIKE` matches.
fn sqlite_indexable(folded: &str) -> bool {
    folded.chars().count() >= MIN_INDEXED_CHARS && !folded.contains('\0')
}

/// The FTS5 query for rows whose `field` contains `folded`: one quoted phrase (so no
/// character of the term is query syntax) restricted to the column.
fn fts_query(field: SearchField, folded: &str) -> String {
    format!(
        "{} : \"{}\"",
        field.fts_column(),
        folded.replace('"', "\"\"")
    )
}

/// Whether the index finds a few enough rows, across every organization (the FTS table is
/// one for all), to read them instead of the organization's directory: at most
/// [`MAX_DRIVING_MATCHES`] and at most as many as the directory has. Both counts stop one
/// past what the decision needs, so deciding costs little more than the cheaper plan; a
/// broad term, or one common in other directories, keeps the scan of this one.
async fn index_is_narrower(
    conn: &impl ConnectionTrait,
    organization: i64,
    phrase: &str,
) -> Result<bool, DbErr> {
    let matches = count(
        conn,
        format!("SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT ?"),
        vec![phrase.into(), (MAX_DRIVING_MATCHES + 1).into()],
    )
    .await?;
    if matches > MAX_DRIVING_MATCHES {
        return Ok(false);
    }
    let directory = count(
        conn,
        "SELECT 1 FROM organization_partners WHERE organization_id = ? LIMIT ?".into(),
        vec![organization.into(), (matches + 1).into()],
    )
    .await?;
    Ok(matches <= directory)
}

/// The number of rows `select` returns.
async fn count(
    conn: &impl ConnectionTrait,
    select: String,
    values: Vec<sea_orm::Value>,
) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            format!("SELECT COUNT(*) FROM ({select})"),
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("COUNT(*) returned no row".into()))?;
    row.try_get_by_index::<i64>(0)
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
