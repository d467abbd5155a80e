//! The audit log: enrolments, removals, logins, failures, clone alarms and
//! admin actions. Rows name the user by id and by name so entries survive the
//! user's removal and `keygate audit --user NAME` needs no join.

use super::{Store, StoreError};

/// One audit entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// User concerned, if any.
    pub user_id: Option<i64>,
    /// Their login name at the time.
    pub user_name: Option<String>,
    /// Event name, one of [`super::AuditEvent`]'s for rows this keygate
    /// wrote (kept as text so rows of another version still read).
    pub event: String,
    /// Free text for people (never a secret).
    pub detail: String,
    /// Client address, or `cli` for admin commands.
    pub source: Option<String>,
}

/// What writing an entry needs.
#[derive(Clone, Debug, Default)]
pub struct NewAuditEntry<'a> {
    /// User concerned.
    pub user_id: Option<i64>,
    /// Their login name.
    pub user_name: Option<&'a str>,
    /// Event name: an [`super::AuditEvent`]'s (`AuditEvent::Login.as_str()`).
    pub event: &'a str,
    /// Detail text.
    pub detail: &'a str,
    /// Client address or `cli`.
    pub source: Option<&'a str>,
}

/// Which entries to read.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter<'a> {
    /// Only this user's.
    pub user_name: Option<&'a str>,
    /// Only at or after this unix second.
    pub since: Option<i64>,
    /// At most this many (newest).
    pub limit: Option<u32>,
}

impl Store {
    /// Appends an entry.
    pub async fn audit(&self, entry: &NewAuditEntry<'_>, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, user_name, event, detail, source) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now)
        .bind(entry.user_id)
        .bind(entry.user_name)
        .bind(entry.event)
        .bind(entry.detail)
        .bind(entry.source)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Entries matching the filter, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, user_id, user_name, event, detail, source FROM audit_log \
             WHERE ($1 IS NULL OR user_name = $1) AND ($2 IS NULL OR at >= $2) \
             ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(filter.user_name)
        .bind(filter.since)
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(self.read())
        .await?)
    }
}
