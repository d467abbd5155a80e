//! Rate-limit counters shared by every instance: fixed one-window counters
//! keyed by a bucket name (`pw:user:alice`, `pw:ip:192.0.2.1`, `app:42`),
//! incremented with one upsert so concurrent hits are all counted.

use super::{Store, StoreError};

/// The state of a bucket after a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitHit {
    /// Hits in the current window, this one included.
    pub hits: u32,
    /// Unix seconds when the current window ends (for Retry-After).
    pub window_ends: i64,
}

impl RateLimitHit {
    /// True when the hits exceed `limit` for this window.
    pub fn exceeds(&self, limit: u32) -> bool {
        self.hits > limit
    }
}

impl RateLimitHit {
    /// The fixed window of `window_secs` (at least 1) that contains `now`,
    /// with `hits` counted in it.
    fn in_window(hits: i64, window_secs: i64, now: i64) -> Result<Self, StoreError> {
        let window_ends = window_start(window_secs, now) + window_secs.max(1);
        Ok(Self { hits: super::to_u32(hits, "rate-limit hits")?, window_ends })
    }
}

/// The start of the fixed window of `window_secs` (at least 1) containing `now`.
fn window_start(window_secs: i64, now: i64) -> i64 {
    now - now.rem_euclid(window_secs.max(1))
}

impl Store {
    /// Counts one hit on `bucket` in the fixed window of `window_secs` that
    /// contains `now`, and returns the count so far.
    pub async fn rate_limit_hit(
        &self,
        bucket: &str,
        window_secs: i64,
        now: i64,
    ) -> Result<RateLimitHit, StoreError> {
        let window_start = window_start(window_secs, now);
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
                 hits = CASE WHEN rate_limits.window_start = excluded.window_start \
                             THEN rate_limits.hits + 1 ELSE 1 END, \
                 window_start = excluded.window_start \
             RETURNING hits",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        RateLimitHit::in_window(hits, window_secs, now)
    }

    /// The hits on `bucket` in the current window of `window_secs`, without
    /// counting one.
    pub(crate) async fn rate_limit_peek(
        &self,
        bucket: &str,
        window_secs: i64,
        now: i64,
    ) -> Result<RateLimitHit, StoreError> {
        let window_start = window_start(window_secs, now);
        let hits: Option<i64> =
            sqlx::query_scalar("SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2")
                .bind(bucket)
                .bind(window_start)
                .fetch_optional(self.read())
                .await?;
        RateLimitHit::in_window(hits.unwrap_or(0), window_secs, now)
    }

    /// Records that `user_id` signed in with the right password from
    /// `network` (see `known_networks` in the migrations).
    pub(crate) async fn remember_network(
        &self,
        user_id: i64,
        network: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO known_networks (user_id, network, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, network) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(user_id)
        .bind(network)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `user_id` signed in from `network` at or after `since`.
    pub(crate) async fn knows_network(
        &self,
        user_id: i64,
        network: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT seen_at FROM known_networks WHERE user_id = $1 AND network = $2 AND seen_at >= $3",
        )
        .bind(user_id)
        .bind(network)
        .bind(since)
        .fetch_optional(self.read())
        .await?;
        Ok(seen.is_some())
    }

    /// Clears a bucket (after a successful login, for instance).
    pub async fn rate_limit_reset(&self, bucket: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_limits WHERE bucket = $1").bind(bucket).execute(&self.pool).await?;
        Ok(())
    }
}
