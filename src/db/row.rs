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

/// A rusqlite row with its column names read once: rusqlite would ask SQLite for every
/// column's name again on each read by name.
pub struct SqliteRow<'a> {
    row: &'a rusqlite::Row<'a>,
    names: Vec<&'a str>,
}

impl<'a> SqliteRow<'a> {
    pub fn new(row: &'a rusqlite::Row<'a>) -> Self {
        SqliteRow {
            row,
            names: row.as_ref().column_names(),
        }
    }
}

fn sqlite<T: rusqlite::types::FromSql>(row: &SqliteRow<'_>, column: &str) -> Result<T, DbErr> {
    let index = row
        .names
        .iter()
        .position(|name| *name == column)
        .ok_or_else(|| DbErr::Type(format!("no column {column}")))?;
    row.row
        .get(index)
        .map_err(|e| DbErr::Type(format!("column {column}: {e}")))
}

/// Implements every read of [`Columns`] with one generic getter.
macro_rules! columns_by {
    ($row:ty, $get:ident) => {
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
                $get(self, column)
            }
            fn opt_datetime(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
                $get(self, column)
            }
        }
    };
}

columns_by!(QueryResult, seaorm);
columns_by!(SqliteRow<'_>, sqlite);

/// The columns of `row` whose names start with `prefix`, read by the names without it: one
/// decoder reads a table's columns whether they are a statement's own or a joined table's
/// (aliased `p_id`, `p_name`, ...).
pub struct Prefixed<'a> {
    pub row: &'a dyn Columns,
    pub prefix: &'static str,
}

/// Implements every read of [`Columns`] for [`Prefixed`] by the prefixed name.
macro_rules! prefixed {
    ($($name:ident -> $t:ty),* $(,)?) => {
        impl Columns for Prefixed<'_> {
            $(fn $name(&self, column: &str) -> Result<$t, DbErr> {
                self.row.$name(&format!("{}{column}", self.prefix))
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
