//! Removal of rows whose lifetime is over, and the periodic task that runs it.

use std::time::Duration;

use super::{Store, StoreError};

/// How many rows one purge removed, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired or used challenges.
    pub challenges: u64,
    /// Expired sessions.
    pub sessions: u64,
    /// Application tokens expired or revoked longer than [`TOKEN_KEEP_SECS`] ago.
    pub app_tokens: u64,
    /// Rate-limit windows that ended.
    pub rate_limits: u64,
    /// Known networks not seen for [`KNOWN_NETWORK_KEEP_SECS`].
    pub known_networks: u64,
    /// Audit entries older than the configured retention.
    pub audit_entries: u64,
}

/// A network a user signed in from is remembered this long after the last
/// sign-in from it.
pub(crate) const KNOWN_NETWORK_KEEP_SECS: i64 = 90 * 24 * 3600;

/// Expired and revoked tokens are kept this long, so token checks can still
/// say "expired" (subcode 463) or "password changed" (460) instead of "invalid".
pub const TOKEN_KEEP_SECS: i64 = 7 * 24 * 3600;

/// Audit entries deleted per statement: small enough that one batch holds
/// the write lock for milliseconds, large enough that a year of backlog goes
/// in a few hundred statements.
const AUDIT_PURGE_BATCH: u32 = 5000;

/// Rate-limit buckets are kept this long after their window started, which
/// covers every window length keygate uses.
const RATE_LIMIT_KEEP_SECS: i64 = 24 * 3600;

impl Store {
    /// One purge run: [`Store::purge_expired`], then the audit entries
    /// older than `audit_retention` before `now`, in batches.
    pub async fn purge(&self, now: i64, audit_retention: Duration) -> Result<PurgeReport, StoreError> {
        let mut report = self.purge_expired(now).await?;
        let retention = i64::try_from(audit_retention.as_secs()).unwrap_or(i64::MAX);
        report.audit_entries =
            self.purge_audit_before(now.saturating_sub(retention), AUDIT_PURGE_BATCH).await?;
        Ok(report)
    }

    /// Deletes every row whose lifetime (plus, for tokens, the keeping time) is over.
    pub async fn purge_expired(&self, now: i64) -> Result<PurgeReport, StoreError> {
        let challenges = sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        let app_tokens = sqlx::query(
            "DELETE FROM app_tokens WHERE (expires_at IS NOT NULL AND expires_at <= $1) \
             OR (revoked_at IS NOT NULL AND revoked_at <= $1)",
        )
        .bind(now - TOKEN_KEEP_SECS)
        .execute(&self.pool)
        .await?;
        let rate_limits = sqlx::query("DELETE FROM rate_limits WHERE window_start <= $1")
            .bind(now - RATE_LIMIT_KEEP_SECS)
            .execute(&self.pool)
            .await?;
        let known_networks = sqlx::query("DELETE FROM known_networks WHERE seen_at < $1")
            .bind(now - KNOWN_NETWORK_KEEP_SECS)
            .execute(&self.pool)
            .await?;
        Ok(PurgeReport {
            challenges: challenges.rows_affected(),
            sessions: sessions.rows_affected(),
            app_tokens: app_tokens.rows_affected(),
            rate_limits: rate_limits.rows_affected(),
            known_networks: known_networks.rows_affected(),
            audit_entries: 0,
        })
    }
}

/// Runs [`Store::purge`] every `every` until the runtime stops, keeping
/// audit entries for `audit_retention`. A failed run (database down) is
/// logged and retried at the next tick.
pub(crate) fn spawn_purge_task(
    store: Store,
    every: Duration,
    audit_retention: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every.max(Duration::from_secs(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.purge(crate::clock::unix_now(), audit_retention).await {
                Ok(report) => {
                    tracing::debug!(?report, "purged expired rows");
                    if report.audit_entries > 0 {
                        tracing::info!(
                            deleted = report.audit_entries,
                            "deleted audit entries older than the retention"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "purge of expired rows failed; will retry"),
            }
        }
    })
}
