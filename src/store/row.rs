//! One way to read a row, whichever driver fetched it: sqlx's `Any` rows
//! (PostgreSQL, and SQLite's writes and rarer reads) and rusqlite's rows
//! (SQLite's inline reads, see `inline`). Each table's decoder is written
//! once, against [`Columns`], so the two paths cannot read a row differently.

use std::str::FromStr;

use sqlx::Any;
use sqlx::any::AnyRow;

use super::values::{UnknownValue, corrupt};

/// A value both drivers can decode from a column.
pub(super) trait Column:
    for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

impl<T> Column for T where T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql {}

/// A fetched row, read by column name. Errors take sqlx's shape, so a value
/// of the wrong type or shape is `ColumnDecode` (the store's `Corrupt`) on
/// both paths.
pub(super) trait Columns {
    /// The column's value.
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl Columns for AnyRow {
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(self, name)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error> {
        self.get(name).map_err(|e| match e {
            rusqlite::Error::InvalidColumnName(name) => sqlx::Error::ColumnNotFound(name),
            other => sqlx::Error::ColumnDecode { index: name.to_owned(), source: Box::new(other) },
        })
    }
}

/// A type read from one row of a query.
pub(super) trait FromColumns: Sized {
    /// Decodes the row.
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error>;
}

/// The columns of one table in a row, selected under a name prefix (`u_id`
/// for `users.id` in a join, see `store::qualified`; empty for a plain
/// select).
pub(super) struct Fields<'r, R> {
    row: &'r R,
    prefix: &'r str,
    name: String,
}

impl<'r, R: Columns> Fields<'r, R> {
    /// The columns of `row` whose names start with `prefix`.
    pub(super) fn new(row: &'r R, prefix: &'r str) -> Self {
        Self { row, prefix, name: String::new() }
    }

    /// The value of column `name` (after the prefix).
    pub(super) fn get<T: Column>(&mut self, name: &str) -> Result<T, sqlx::Error> {
        if self.prefix.is_empty() {
            return self.row.column(name);
        }
        self.name.clear();
        self.name.push_str(self.prefix);
        self.name.push_str(name);
        self.row.column(&self.name)
    }

    /// A 0/1 column.
    pub(super) fn flag(&mut self, name: &str) -> Result<bool, sqlx::Error> {
        Ok(self.get::<i64>(name)? != 0)
    }

    /// A column of stored names (an enum's `as_str`).
    pub(super) fn name<T: FromStr<Err = UnknownValue>>(&mut self, name: &str) -> Result<T, sqlx::Error> {
        let text: String = self.get(name)?;
        text.parse().map_err(|e| corrupt(name, e))
    }

    /// A nullable column of stored names.
    pub(super) fn optional_name<T: FromStr<Err = UnknownValue>>(
        &mut self,
        name: &str,
    ) -> Result<Option<T>, sqlx::Error> {
        let text: Option<String> = self.get(name)?;
        text.map(|t| t.parse().map_err(|e| corrupt(name, e))).transpose()
    }

    /// Whether the row has this table's part at all: false for the empty
    /// side of a `LEFT JOIN`, whose id is NULL.
    pub(super) fn present(&mut self) -> Result<bool, sqlx::Error> {
        Ok(self.get::<Option<i64>>("id")?.is_some())
    }
}

/// Makes a table's `read(row, prefix)` decoder the way both drivers read its
/// plain rows (`FromColumns` for the inline path, sqlx's `FromRow` for
/// `query_as`), so each table has one decoder.
macro_rules! plain_rows {
    ($($table:ty),* $(,)?) => {$(
        impl $crate::store::row::FromColumns for $table {
            fn from_columns<R: $crate::store::row::Columns>(row: &R) -> Result<Self, sqlx::Error> {
                Self::read(row, "")
            }
        }

        impl sqlx::FromRow<'_, sqlx::any::AnyRow> for $table {
            fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                Self::read(row, "")
            }
        }
    )*};
}
pub(super) use plain_rows;
