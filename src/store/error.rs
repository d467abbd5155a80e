//! What can go wrong talking to the database, sorted by what the caller does
//! about it: retry later (`Unavailable`), tell the client (`NotFound`,
//! `Conflict`, `AlreadyUsed`), or log and answer 500 (`Internal`).

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached or refused to work right now (connection
    /// refused, server restarting, pool exhausted, lock timeout). HTTP maps it
    /// to 503 `unavailable`, the legacy API to error 2; it heals by itself.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The row the caller named does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value (user name, app name, key handle) is already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A single-use thing (challenge, code, token) was consumed before, or by a
    /// concurrent caller that won the race.
    #[error("{0} already used")]
    AlreadyUsed(&'static str),
    /// A single-use thing exists but its lifetime is over.
    #[error("{0} expired")]
    Expired(&'static str),
    /// A limited thing (a login's second-factor attempts) has none left; it
    /// was left untouched.
    #[error("{0} has no attempts left")]
    Exhausted(&'static str),
    /// A token exists but is not ready to be consumed (an auth_token whose
    /// login has not completed); it was left untouched.
    #[error("{0} not ready yet")]
    Pending(&'static str),
    /// The URL names no engine keygate supports.
    #[error("unsupported database URL {0:?}: use sqlite:PATH, a file path, or postgres://…")]
    UnsupportedUrl(String),
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not have the shape keygate wrote (hand-edited row, bug).
    #[error("corrupt {what} in the database: {detail}")]
    Corrupt {
        /// Which column or value.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// Any other database error: a bug or a broken database, never bad input.
    #[error("database error: {0}")]
    Internal(#[source] sqlx::Error),
}

impl StoreError {
    /// True when retrying later may succeed: the database is down or busy.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Sorts a driver error; `unique` names the thing a unique-key violation means.
    pub(crate) fn classify(e: sqlx::Error, unique: &'static str) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Self::Unavailable(e),
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    return Self::Conflict(unique);
                }
                let code = db.code().unwrap_or_default();
                // PostgreSQL: class 08 connection exception, 57P0x shutdown or
                // start-up, 53xxx out of resources. SQLite: 5 BUSY, 6 LOCKED
                // (after busy_timeout ran out), 10 IOERR, 14 CANTOPEN.
                let transient = code.starts_with("08")
                    || code.starts_with("57P0")
                    || code.starts_with("53")
                    || matches!(code.as_ref(), "5" | "6" | "10" | "14" | "261" | "517");
                if transient { Self::Unavailable(e) } else { Self::Internal(e) }
            }
            sqlx::Error::ColumnDecode { index, source } => {
                Self::Corrupt { what: "stored value", detail: format!("{index}: {source}") }
            }
            _ => Self::Internal(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::classify(e, "row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(StoreError::from(io).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_unavailable());
    }

    #[test]
    fn undecodable_values_are_corrupt() {
        let bad = "browser".parse::<super::super::SessionKind>().unwrap_err();
        let error = StoreError::from(super::super::values::corrupt("kind", bad));
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(error.to_string().contains(r#"sessions.kind holds "browser""#), "{error}");
    }
}
