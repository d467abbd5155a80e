//! The audit log: enrolments, removals, logins, failures, clone alarms and
//! admin actions. Rows name the user by id and by name so entries survive the
//! user's removal and `keygate audit --user NAME` needs no join.
//!
//! Readers page through it with a key (never `OFFSET`, never the whole
//! table): listings by time through [`AuditCursor`], followers by id through
//! [`Store::audit_entries_after_id`], both on indexed columns.

use sqlx::AssertSqlSafe;

use super::{Store, StoreError};

/// One audit entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// Row id (increasing in the order rows are written).
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
    /// Client address, or `cli:<OS user>` for admin commands.
    pub source: Option<String>,
}

impl AuditEntry {
    /// Where a listing that showed this entry goes on from.
    pub fn cursor(&self) -> AuditCursor {
        AuditCursor { at: self.at, id: self.id }
    }
}

/// What writing an entry needs.
#[derive(Clone, Debug, Default)]
pub struct NewAuditEntry<'a> {
    /// User concerned.
    pub user_id: Option<i64>,
    /// Their login name.
    pub user_name: Option<&'a str>,
    /// Event name: an [`super::AuditEvent`]'s (`AuditEvent::Login.as_str()`).
    /// Another name is stored as given but counted as `other` on `/metrics`.
    pub event: &'a str,
    /// Detail text.
    pub detail: &'a str,
    /// Client address or `cli:<OS user>`.
    pub source: Option<&'a str>,
}

/// An entry's place in time order (time, then id for entries of the same
/// second): where the next page of a listing starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    /// The entry's unix second.
    pub at: i64,
    /// Its id.
    pub id: i64,
}

/// Which way a listing runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditOrder {
    /// Newest first, as people read a log.
    #[default]
    NewestFirst,
    /// Oldest first, as a stream is replayed.
    OldestFirst,
}

/// Which entries to read, and in which order.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter<'a> {
    /// Only this user's.
    pub user_name: Option<&'a str>,
    /// Only at or after this unix second.
    pub since: Option<i64>,
    /// At most this many (the first ones in `order`).
    pub limit: Option<u32>,
    /// The listing's direction.
    pub order: AuditOrder,
    /// Only entries that come after this one in `order`: the next page.
    pub after: Option<AuditCursor>,
    /// Only entries with at most this id: what existed at some moment.
    pub up_to_id: Option<i64>,
}

/// The columns of [`AuditEntry`], in its order.
const COLUMNS: &str = "id, at, user_id, user_name, event, detail, source";

/// The listing's conditions besides the user's (`$1`) and the page key
/// (`$3`, `$4`); `$6` is the limit. The page key is a row comparison, which
/// both engines turn into a range on an index; absent bounds are bound as
/// extreme values rather than written `$n IS NULL OR …`, which would hide
/// the range from PostgreSQL's generic plans.
const LISTING_WHERE: &str = "at >= $2 AND id <= $5";

impl Store {
    /// Appends an entry, and counts it on `/metrics` by event.
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
        super::audit_event::count_written(entry.event);
        Ok(())
    }

    /// Entries matching the filter, in its order (by time, then id).
    pub async fn audit_entries(&self, filter: &AuditFilter<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        let (page, direction, start) = match filter.order {
            AuditOrder::NewestFirst => ("(at, id) < ($3, $4)", "DESC", i64::MAX),
            AuditOrder::OldestFirst => ("(at, id) > ($3, $4)", "ASC", i64::MIN),
        };
        // One user's entries come from the (user_name, at) index.
        let user = if filter.user_name.is_some() { "user_name = $1" } else { "CAST($1 AS TEXT) IS NULL" };
        let after = filter.after.unwrap_or(AuditCursor { at: start, id: start });
        Ok(sqlx::query_as::<_, AuditEntry>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {user} AND {LISTING_WHERE} AND {page} \
             ORDER BY at {direction}, id {direction} LIMIT $6"
        )))
        .bind(filter.user_name)
        .bind(filter.since.unwrap_or(i64::MIN))
        .bind(after.at)
        .bind(after.id)
        .bind(filter.up_to_id.unwrap_or(i64::MAX))
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(self.read())
        .await?)
    }

    /// Up to `limit` entries with an id above `after_id`, in id order (the
    /// order they were written): what a follower has not seen yet. One range
    /// on the primary key.
    pub async fn audit_entries_after_id(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as::<_, AuditEntry>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.read())
        .await?)
    }

    /// The entries among `ids` that exist, in id order: for ids a follower
    /// saw skipped, which a transaction still open may yet write (at most
    /// [`MAX_IDS_PER_QUERY`] ids, the rest are ignored).
    pub async fn audit_entries_with_ids(&self, ids: &[i64]) -> Result<Vec<AuditEntry>, StoreError> {
        let ids = &ids[..ids.len().min(MAX_IDS_PER_QUERY)];
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql =
            format!("SELECT {COLUMNS} FROM audit_log WHERE id IN ({}) ORDER BY id", placeholders.join(", "));
        let mut query = sqlx::query_as::<_, AuditEntry>(AssertSqlSafe(sql));
        for &id in ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(self.read()).await?)
    }

    /// The highest id written so far (0 for an empty log): where a follower
    /// starts.
    pub async fn audit_last_id(&self) -> Result<i64, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM audit_log").fetch_one(self.read()).await?;
        Ok(last.unwrap_or(0))
    }

    /// Deletes entries older than `before` (unix seconds), `batch` rows per
    /// statement, so that a large backlog never holds the write lock (the
    /// only writer on SQLite) for long: other writes go in between batches.
    /// Returns how many rows went.
    pub(super) async fn purge_audit_before(&self, before: i64, batch: u32) -> Result<u64, StoreError> {
        // The batch is part of the text, not a parameter: PostgreSQL's
        // generic plan guesses a tenth of the table for `LIMIT $n` and then
        // scans all of it for every batch; with the number it looks up each id.
        let sql = format!(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT {batch})"
        );
        let mut deleted = 0;
        loop {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected();
            deleted += done;
            if done < u64::from(batch) {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Most ids [`Store::audit_entries_with_ids`] asks for at once.
pub const MAX_IDS_PER_QUERY: usize = 100;
