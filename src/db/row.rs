//! One way to read a result row, whichever driver produced it: a decoder written against
//! [`Columns`] serves SeaORM's rows (PostgreSQL, pooled SQLite) and the inline SQLite
//! readers' alike.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult, TryGetable};
use uuid::Uuid;

/// Typed column reads by name.
pub trait Columns {
    fn i64(&self, column: &str) -> Result<i64, DbErr>;
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, DbErr>;
    /// PostgreSQL types an integer literal's column `integer`, which an i64 read refuses.
    fn opt_i32(&self, column: &str) -> Result<Option<i32>, DbErr>;
    fn opt_f64(&self, column: &str) -> Result<Option<f64>, DbErr>;
    fn bool(&self, column: &str) -> Result<bool, DbErr>;
    fn string(&self, column: &str) -> Result<String, DbErr>;
    fn opt_string(&self, column: &str) -> Result<Option<String>, DbErr>;
    fn uuid(&self, column: &str) -> Result<Uuid, DbErr>;
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, DbErr>;
    fn datetime(&self, column: &str) -> Result<DateTime<Utc>, DbErr>;
    fn opt_datetime(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbErr>;
}

fn seaorm<T: TryGetable>(row: &QueryResult, column: &str) -> Result<T, DbErr> {
    row.try_get("", column)
}

/// A statement's column names, read once per statement into one buffer (two allocations,
/// not one a name: a page row has about 80).
pub struct ColumnNames {
    text: String,
    ends: Vec<usize>,
}

impl ColumnNames {
    pub fn of(statement: &rusqlite::Statement<'_>) -> ColumnNames {
        let mut names = ColumnNames {
            text: String::new(),
            ends: Vec::with_capacity(statement.column_count()),
        };
        for name in statement.column_names() {
            names.text.push_str(name);
            names.ends.push(names.text.len());
        }
        names
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// A rusqlite row with its statement's column names, read once per statement: rusqlite
/// would ask SQLite for every column's name again on each read by name.
pub struct SqliteRow<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a ColumnNames,
    /// Where the next name is looked for first: decoders read columns mostly in order, so
    /// a lookup is one comparison, not a scan of every name (a page row has about 80).
    next: std::cell::Cell<usize>,
}

impl<'a> SqliteRow<'a> {
    /// `names`: the [`ColumnNames`] of the row's statement.
    pub fn new(row: &'a rusqlite::Row<'a>, names: &'a ColumnNames) -> Self {
        SqliteRow {
            row,
            names,
            next: std::cell::Cell::new(0),
        }
    }

    fn index(&self, column: &str) -> Result<usize, DbErr> {
        let n = self.names.len();
        let start = self.next.get();
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.names.get(i) == column)
            .inspect(|i| self.next.set(i + 1))
            .ok_or_else(|| DbErr::Type(format!("no column {column}")))
    }
}

fn sqlite<T: rusqlite::types::FromSql>(row: &SqliteRow<'_>, column: &str) -> Result<T, DbErr> {
    row.row
        .get(row.index(column)?)
        .map_err(|e| DbErr::Type(format!("column {column}: {e}")))
}

/// A stored time, as sqlx writes it (`2026-12-01 20:02:49.130259+00:00`) or in RFC 3339,
/// parsed by the RFC 3339 parser: rusqlite's own interprets a format string for every
/// value, a few per cent of a page's CPU (perf).
struct StoredTime(DateTime<Utc>);

impl rusqlite::types::FromSql for StoredTime {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        if let rusqlite::types::ValueRef::Text(text) = value
            && let Ok(text) = std::str::from_utf8(text)
            && let Ok(t) = DateTime::parse_from_rfc3339(text)
        {
            return Ok(StoredTime(t.with_timezone(&Utc)));
        }
        DateTime::<Utc>::column_result(value).map(StoredTime)
    }
}

fn sqlite_time(row: &SqliteRow<'_>, column: &str) -> Result<DateTime<Utc>, DbErr> {
    sqlite::<StoredTime>(row, column).map(|t| t.0)
}

fn sqlite_opt_time(row: &SqliteRow<'_>, column: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    sqlite::<Option<StoredTime>>(row, column).map(|t| t.map(|t| t.0))
}

macro_rules! columns_by {
    ($row:ty, $get:ident, $time:ident, $opt_time:ident) => {
        impl Columns for $row {
            fn i64(&self, column: &str) -> Result<i64, DbErr> {
                $get(self, column)
            }
            fn opt_i64(&self, column: &str) -> Result<Option<i64>, DbErr> {
                $get(self, column)
            }
            fn opt_i32(&self, column: &str) -> Result<Option<i32>, DbErr> {
                $get(self, column)
            }
            fn opt_f64(&self, column: &str) -> Result<Option<f64>, DbErr> {
                $get(self, column)
            }
            fn bool(&self, column: &str) -> Result<bool, DbErr> {
                $get(self, column)
            }
            fn string(&self, column: &str) -> Result<String, DbErr> {
                $get(self, column)
            }
            fn opt_string(&self, column: &str) -> Result<Option<String>, DbErr> {
                $get(self, column)
            }
            fn uuid(&self, column: &str) -> Result<Uuid, DbErr> {
                $get(self, column)
            }
            fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, DbErr> {
                $get(self, column)
            }
            fn datetime(&self, column: &str) -> Result<DateTime<Utc>, DbErr> {
                $time(self, column)
            }
            fn opt_datetime(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
                $opt_time(self, column)
            }
        }
    };
}

columns_by!(QueryResult, seaorm, seaorm, seaorm);
columns_by!(SqliteRow<'_>, sqlite, sqlite_time, sqlite_opt_time);

/// The columns of `row` whose names start with `prefix`, read by the names without it: one
/// decoder reads a table's columns whether they are a statement's own or a joined table's
/// (aliased `p_id`, `p_name`, ...).
pub struct Prefixed<'a> {
    pub row: &'a dyn Columns,
    pub prefix: &'static str,
}

/// `read` of `prefix` + `column`, spelled out on the stack: a page reads thousands of
/// prefixed columns, and a `String` each was a measurable share of its allocations.
fn prefixed_name<R>(prefix: &str, column: &str, read: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 64];
    let (p, c) = (prefix.as_bytes(), column.as_bytes());
    let len = p.len() + c.len();
    if len > buf.len() {
        return read(&format!("{prefix}{column}"));
    }
    buf[..p.len()].copy_from_slice(p);
    buf[p.len()..len].copy_from_slice(c);
    read(std::str::from_utf8(&buf[..len]).expect("two strings joined are one"))
}

/// Implements every read of [`Columns`] for [`Prefixed`] by the prefixed name.
macro_rules! prefixed {
    ($($name:ident -> $t:ty),* $(,)?) => {
        impl Columns for Prefixed<'_> {
            $(fn $name(&self, column: &str) -> Result<$t, DbErr> {
                prefixed_name(self.prefix, column, |name| self.row.$name(name))
            })*
        }
    };
}

prefixed!(
    i64 -> i64,
    opt_i64 -> Option<i64>,
    opt_i32 -> Option<i32>,
    opt_f64 -> Option<f64>,
    bool -> bool,
    string -> String,
    opt_string -> Option<String>,
    uuid -> Uuid,
    opt_uuid -> Option<Uuid>,
    datetime -> DateTime<Utc>,
    opt_datetime -> Option<DateTime<Utc>>,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Both spellings sqlx and orgd store take the RFC 3339 path (the fast one), and mean
    /// the same instant as rusqlite's own reading.
    #[test]
    fn stored_times_parse_as_rfc3339() {
        for text in [
            "2026-12-01 20:02:49.130259+00:00",
            "2026-12-01T20:02:49.130259Z",
            "2026-12-01T22:02:49.130259+02:00",
        ] {
            let fast = DateTime::parse_from_rfc3339(text).expect(text);
            let value = rusqlite::types::ValueRef::Text(text.as_bytes());
            let slow = <DateTime<Utc> as rusqlite::types::FromSql>::column_result(value).unwrap();
            let stored = <StoredTime as rusqlite::types::FromSql>::column_result(value).unwrap();
            assert_eq!(fast.with_timezone(&Utc), slow, "{text}");
            assert_eq!(stored.0, slow, "{text}");
        }
    }
}
