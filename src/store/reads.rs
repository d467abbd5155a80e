//! Where the checks applications make on every request read: inline on an
//! SQLite file, through sqlx's pool otherwise.
//!
//! sqlx runs each SQLite statement on its connection's worker thread and
//! sends the rows back through a channel: two thread wake-ups per statement,
//! which on a loaded machine cost more CPU than the read itself (a token check
//! reads a few cached pages, a few microseconds). So the hot reads — a
//! session, an access token, an app — go through rusqlite connections on the
//! caller's thread instead. They are read-only (`query_only`) beside sqlx's
//! one writer on the same WAL file, and each statement is its own read
//! transaction: it sees every write that committed before it began, so a
//! revocation is refused by the very next check, as on the sqlx path.
//!
//! A read holds its thread while it runs. In WAL mode a reader never waits
//! for the writer; `busy_timeout` (the pool's acquire timeout) bounds the rare
//! waits there are (a WAL-index rebuild after a crash), after which the read
//! fails as `Unavailable`, as a pool timeout would.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Statement};
use sqlx::{Any, AssertSqlSafe};

use super::row::FromColumns;
use super::{Store, StoreError};

/// A query parameter, bound as `$1`, `$2`, … in order on both paths.
#[derive(Clone, Copy, Debug)]
pub(super) enum Bind<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes (token hashes).
    Blob(&'a [u8]),
}

/// Placeholder names SQLite gives `$n` parameters, for binding by name.
const PLACEHOLDERS: [&str; 8] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"];

impl Store {
    /// The row `sql` selects, if any, decoded as `T`.
    pub(super) async fn read_optional<T: FromColumns>(
        &self,
        sql: &'static str,
        binds: &[Bind<'_>],
    ) -> Result<Option<T>, StoreError> {
        if let Some(inline) = &self.inline {
            // A read that never waits is still a step of the task's budget,
            // so a loop of checks yields to the runtime as I/O would.
            tokio::task::consume_budget().await;
            return inline.read(sql, binds, |rows| Ok(rows.next()?.map(T::from_columns).transpose()?));
        }
        let row = sqlx_query(sql, binds).fetch_optional(self.read()).await?;
        Ok(row.as_ref().map(T::from_columns).transpose()?)
    }

    /// Every row `sql` selects, decoded as `T`.
    pub(super) async fn read_all<T: FromColumns>(
        &self,
        sql: &'static str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<T>, StoreError> {
        if let Some(inline) = &self.inline {
            tokio::task::consume_budget().await;
            return inline.read(sql, binds, |rows| {
                let mut all = Vec::new();
                while let Some(row) = rows.next()? {
                    all.push(T::from_columns(row)?);
                }
                Ok(all)
            });
        }
        let rows = sqlx_query(sql, binds).fetch_all(self.read()).await?;
        Ok(rows.iter().map(T::from_columns).collect::<Result<_, _>>()?)
    }
}

fn sqlx_query<'q>(
    sql: &'static str,
    binds: &[Bind<'q>],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    binds.iter().fold(sqlx::query(AssertSqlSafe(sql)), |query, bind| match *bind {
        Bind::Int(value) => query.bind(value),
        Bind::Text(value) => query.bind(value),
        Bind::Blob(value) => query.bind(value),
    })
}

/// SQLite's inline readers: a few idle rusqlite connections to the file.
#[derive(Debug)]
pub(super) struct InlineReads {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// Most idle connections kept; a burst beyond opens and closes more.
    keep: usize,
    open: AtomicU32,
    closed: AtomicBool,
}

/// What a read does with its rows: errors of either driver.
pub(super) enum ReadError {
    Sqlite(rusqlite::Error),
    Decode(sqlx::Error),
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> Self {
        Self::Decode(e)
    }
}

impl InlineReads {
    /// Readers of the SQLite file at `path`, which the writer has already
    /// created, migrated and switched to WAL. One connection is opened now,
    /// so a file that cannot be read fails start-up, not the first login.
    pub(super) fn open(path: &Path, busy_timeout: Duration, keep: usize) -> Result<Self, StoreError> {
        let reads = Self {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
            open: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        };
        let first = reads.connect().map_err(classify)?;
        reads.idle().push(first);
        Ok(reads)
    }

    /// Connections open now, and how many of them are idle.
    pub(super) fn stats(&self) -> (u32, usize) {
        (self.open.load(Ordering::Relaxed), self.idle().len())
    }

    /// Closes the idle connections; later reads fail as a closed pool does.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let closed = std::mem::take(&mut *self.idle());
        self.open.fetch_sub(u32::try_from(closed.len()).unwrap_or(0), Ordering::Relaxed);
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        // Opened read-write but `query_only`, as sqlx's readers are: a
        // read-only open could not create the WAL's shared-memory file.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        // One plan per statement whatever its values: without it, newer
        // SQLite plans a cached statement again after every rebinding.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.set_prepared_statement_cache_capacity(32);
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// Runs `sql` with `binds` on an idle connection (or a new one) and
    /// hands its rows to `take`; the statement is reset when `take`
    /// returns, which ends its read transaction.
    fn read<T>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        take: impl FnOnce(&mut rusqlite::Rows<'_>) -> Result<T, ReadError>,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolClosed));
        }
        let popped = self.idle().pop();
        let conn = match popped {
            Some(conn) => conn,
            None => self.connect().map_err(classify)?,
        };
        let result = run(&conn, sql, binds, take);
        let mut idle = self.idle();
        if idle.len() < self.keep && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        } else {
            drop(idle);
            drop(conn);
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        result.map_err(|e| match e {
            ReadError::Sqlite(e) => classify(e),
            ReadError::Decode(e) => StoreError::from(e),
        })
    }
}

fn run<T>(
    conn: &Connection,
    sql: &str,
    binds: &[Bind<'_>],
    take: impl FnOnce(&mut rusqlite::Rows<'_>) -> Result<T, ReadError>,
) -> Result<T, ReadError> {
    let mut statement = conn.prepare_cached(sql)?;
    bind(&mut statement, binds)?;
    let mut rows = statement.raw_query();
    take(&mut rows)
}

fn bind(statement: &mut Statement<'_>, binds: &[Bind<'_>]) -> rusqlite::Result<()> {
    if binds.len() > PLACEHOLDERS.len() {
        return Err(rusqlite::Error::InvalidParameterCount(binds.len(), PLACEHOLDERS.len()));
    }
    for (name, bind) in PLACEHOLDERS.iter().zip(binds) {
        let index = statement
            .parameter_index(name)?
            .ok_or_else(|| rusqlite::Error::InvalidParameterName((*name).to_owned()))?;
        match *bind {
            Bind::Int(value) => statement.raw_bind_parameter(index, value)?,
            Bind::Text(value) => statement.raw_bind_parameter(index, value)?,
            Bind::Blob(value) => statement.raw_bind_parameter(index, value)?,
        }
    }
    Ok(())
}

/// Sorts an SQLite error as [`StoreError::classify`] sorts sqlx's: a busy,
/// locked, unreadable or unopenable file is `Unavailable`, the rest `Internal`.
fn classify(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let transient = matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
        )
    );
    if transient {
        StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e)))
    } else {
        StoreError::Internal(sqlx::Error::AnyDriverError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached check is planned once: new token hashes and clock values
    /// reuse the plan instead of parsing the statement again.
    #[tokio::test]
    async fn cached_checks_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("k.db").display())).await.unwrap();
        let inline = store.inline.as_ref().unwrap();
        let sql = "SELECT id FROM sessions WHERE token_hash = $1 AND expires_at > $2";
        for n in 0..4u8 {
            let found = inline
                .read(sql, &[Bind::Blob(&[n; 32]), Bind::Int(n.into())], |rows| Ok(rows.next()?.is_some()));
            assert!(!found.unwrap());
        }
        let conn = inline.idle().pop().unwrap();
        let statement = conn.prepare_cached(sql).unwrap();
        assert_eq!(statement.get_status(rusqlite::StatementStatus::RePrepare), 0);
        assert_eq!(inline.stats().0, 1, "one connection served every read");
    }

    #[test]
    fn sqlite_errors_are_sorted_like_sqlx_errors() {
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), None);
        assert!(classify(busy).is_unavailable());
        let cannot_open = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(14), None);
        assert!(classify(cannot_open).is_unavailable());
        let syntax = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(1), None);
        assert!(matches!(classify(syntax), StoreError::Internal(_)));
    }
}
