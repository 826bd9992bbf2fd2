//! The partner directory's `search_text`: a case-insensitive substring of the company name or
//! the email. The answer is always the escaped `LIKE '%term%'` on the column lowercased in
//! Rust; a trigram index (migration m0005) only narrows the rows that `LIKE` looks at, so an
//! index never changes a result, only how many rows are read to find it.
//!
//! - PostgreSQL: the pg_trgm GIN index serves that `LIKE` directly, and the planner, which
//!   has statistics, chooses between it and the organization's indexes, planning each
//!   search for its own term (`plan_for_each_term`).
//! - SQLite: `LIKE` cannot use an index for `%term%`. When the FTS5 trigram table finds at
//!   most as many rows for the term (as a phrase in the searched column) as the
//!   organization's directory holds, and no more than `MAX_DRIVING_MATCHES`, the query reads
//!   just those rows by id; otherwise it scans the directory as before m0005. A trigram
//!   index knows only terms of 3 or more characters; shorter ones always scan.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Value};
use uuid::Uuid;

use crate::db::{Columns, Db};

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
    /// The lowercased column searched, the same in the FTS table as in the content table.
    fn column(self) -> &'static str {
        match self {
            SearchField::CompanyName => "company_name_folded",
            SearchField::Email => "email_folded",
        }
    }
}

/// A search of one field, and how it finds its rows.
#[derive(Clone, Debug)]
pub struct Search {
    field: SearchField,
    folded: String,
    /// SQLite: the ids (a JSON array) the trigram index found, when it drives the search.
    driving_ids: Option<String>,
}

impl Search {
    /// The search for `text` in `field` of the directory of the organization with the UUID
    /// `target`. On SQLite this reads the trigram index first (see [`narrowed`]); on
    /// PostgreSQL the planner chooses.
    pub async fn prepare(
        db: &Db,
        target: Uuid,
        field: SearchField,
        text: &str,
    ) -> Result<Search, DbErr> {
        let folded = text.to_lowercase();
        let driving_ids = if db.backend() == DatabaseBackend::Sqlite && sqlite_indexable(&folded) {
            narrowed(db, target, field, &folded).await?
        } else {
            None
        };
        Ok(Search {
            field,
            folded,
            driving_ids,
        })
    }
}

/// A directory query's organization filter together with its search, if any, as SQL over
/// `organization_partners p`, `organization` the SQL expression of the organization's id
/// and `bind` giving the placeholder of a value. They are one rule because when the SQLite
/// trigram index drives a search, the organization's own indexes must not compete with it:
/// without statistics SQLite's planner takes `organization_id = ?` for a selective index
/// range and would walk the whole directory in page order, testing each row against the
/// index's ids. Written `+organization_id` (the documented way to keep a term off indexes)
/// it is checked on the rows the index found.
pub fn scoped_sql(
    organization: &str,
    search: Option<&Search>,
    bind: &mut dyn FnMut(Value) -> String,
) -> String {
    let Some(search) = search else {
        return format!("p.organization_id = {organization}");
    };
    let like = format!(
        "p.{} LIKE {} ESCAPE '\\'",
        search.field.column(),
        bind(like_pattern(&search.folded).into())
    );
    match &search.driving_ids {
        Some(ids) => format!(
            "+p.organization_id = {organization} \
             AND p.id IN (SELECT value FROM json_each({})) AND {like}",
            bind(ids.clone().into())
        ),
        None => format!("p.organization_id = {organization} AND {like}"),
    }
}

/// Makes PostgreSQL plan the statements of this transaction for their actual values. Left to
/// itself, after five runs of a prepared statement on a connection it may switch to one
/// generic plan for any term and organization, costed with a default selectivity for the
/// unknown pattern: that plan reads the trigram index for every search, and for a term the
/// index knows nothing of (one or two characters, or no letters or digits) it reads the
/// whole index and rechecks every row: seconds for a one-character term in a small
/// directory. Planned for each term, the planner sees which terms the index serves.
pub async fn plan_for_each_term(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(())
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
    format!("{} : \"{}\"", field.column(), folded.replace('"', "\"\""))
}

/// The ids, as a JSON array, of every row (of any organization: the FTS table is one for
/// all) whose `field` contains `folded` by the trigram index, when they are few enough to
/// read instead of the directory of the organization `target`: at most
/// `MAX_DRIVING_MATCHES` and at most as many as the directory has rows. Both reads stop one
/// row past what the decision needs, so a broad term, or one common in other directories,
/// costs little before it scans this directory. The ids stay in SQLite as one JSON value
/// (one statement text whatever their number, and no row-by-row transfer) and the FTS query
/// runs once per request. Both reads are inline; they learn nothing a caller sees, so they
/// may come before the statement that checks access.
async fn narrowed(
    db: &Db,
    target: Uuid,
    field: SearchField,
    folded: &str,
) -> Result<Option<String>, DbErr> {
    let no_row = || DbErr::RecordNotFound("an aggregate returned no row".into());
    let sql = format!(
        "SELECT COUNT(*) AS n, json_group_array(rowid) AS ids FROM \
         (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH $1 {limit})",
        limit = crate::db::limit_sql("$2"),
    );
    let (count, ids) = db
        .read_one(
            &sql,
            vec![
                fts_query(field, folded).into(),
                (MAX_DRIVING_MATCHES + 1).into(),
            ],
            |row: &dyn Columns| Ok::<_, DbErr>((row.i64("n")?, row.string("ids")?)),
        )
        .await?
        .ok_or_else(no_row)?;
    if count > MAX_DRIVING_MATCHES {
        return Ok(None);
    }
    let directory = db
        .read_one(
            &format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM organization_partners \
                 WHERE organization_id = (SELECT id FROM organizations WHERE uuid = $1) {})",
                crate::db::limit_sql("$2")
            ),
            vec![target.into(), (count + 1).into()],
            |row: &dyn Columns| row.i64("n"),
        )
        .await?
        .ok_or_else(no_row)?;
    Ok((count <= directory).then_some(ids))
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
