//! Recovery codes: ten single-use codes per user, stored as SHA-256 hashes,
//! replaced as a set, consumed atomically.

use super::{Store, StoreError};
use crate::secrets::TokenHash;

impl Store {
    /// Replaces the user's recovery codes with these hashes, in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        hashes: &[TokenHash],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for hash in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(hash.as_slice())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::classify(e, "recovery code"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Consumes one of the user's codes: exactly one concurrent caller wins;
    /// a used code is [`StoreError::AlreadyUsed`], a wrong one `NotFound`.
    pub async fn consume_recovery_code(
        &self,
        user_id: i64,
        hash: &TokenHash,
        now: i64,
    ) -> Result<(), StoreError> {
        let won: Option<i64> = sqlx::query_scalar(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING id",
        )
        .bind(user_id)
        .bind(hash.as_slice())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if won.is_some() {
            return Ok(());
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user_id)
                .bind(hash.as_slice())
                .fetch_optional(&self.pool)
                .await?;
        Err(if exists.is_some() {
            StoreError::AlreadyUsed("recovery code")
        } else {
            StoreError::NotFound("recovery code")
        })
    }

    /// How many unused codes the user has left.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<u32, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
        super::to_u32(n, "recovery code count")
    }
}
