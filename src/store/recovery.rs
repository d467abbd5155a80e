//! Recovery codes: ten single-use codes per user, stored as MACs under the
//! server key (`scheme = 'hmac-sha256'`), replaced as a set, and redeemed in
//! the same transaction as the login they finish. Rows from before 0.2 are
//! unsalted SHA-256 (`scheme = 'sha256'`): still accepted until used or
//! replaced, never written again.

use super::{Store, StoreError};
use crate::secrets::{CodeMac, TokenHash};

/// The scheme of every code written now.
const SCHEME_HMAC: &str = "hmac-sha256";
/// The scheme of codes written before 0.2.
const SCHEME_SHA256: &str = "sha256";

/// What redeeming a recovery code for a login did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// The code is burned and the login consumed, together.
    Redeemed,
    /// No such code for the user: nothing changed.
    WrongCode,
    /// The code was used before: nothing changed.
    UsedCode,
    /// The login was finished already: no code was burned.
    LoginUsed,
    /// The login expired: no code was burned.
    LoginExpired,
    /// No pending login of this user has that id.
    NoLogin,
}

impl Store {
    /// Replaces the user's recovery codes with these, in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        codes: &[CodeMac],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        replace_codes(&mut tx, user_id, codes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finishes the pending login `login_id` of `user_id` with a recovery
    /// code, in one transaction: the login's challenge is consumed and the
    /// code is burned together, or neither is — a wrong code leaves the
    /// login pending, a finished or expired login burns no code. `legacy` is
    /// the code's unsalted SHA-256, for rows written before 0.2.
    pub async fn redeem_recovery_code(
        &self,
        login_id: &str,
        user_id: i64,
        mac: &CodeMac,
        legacy: &TokenHash,
        now: i64,
    ) -> Result<Redemption, StoreError> {
        let mut tx = self.pool.begin().await?;
        let consumed: Option<String> = sqlx::query_scalar(
            "UPDATE challenges SET used_at = $2 \
             WHERE id = $1 AND user_id = $3 AND purpose = 'login' AND used_at IS NULL AND expires_at > $2 \
             RETURNING id",
        )
        .bind(login_id)
        .bind(now)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if consumed.is_none() {
            tx.rollback().await?;
            return Ok(match self.challenge(login_id).await? {
                Some(c) if c.user_id == user_id && c.used_at.is_some() => Redemption::LoginUsed,
                Some(c) if c.user_id == user_id => Redemption::LoginExpired,
                _ => Redemption::NoLogin,
            });
        }
        let burned: Option<i64> = sqlx::query_scalar(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND used_at IS NULL \
               AND ((scheme = $4 AND code_hash = $2) OR (scheme = $6 AND code_hash = $5)) \
             RETURNING id",
        )
        .bind(user_id)
        .bind(mac.as_slice())
        .bind(now)
        .bind(SCHEME_HMAC)
        .bind(legacy.as_slice())
        .bind(SCHEME_SHA256)
        .fetch_optional(&mut *tx)
        .await?;
        if burned.is_none() {
            tx.rollback().await?;
            let used: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM recovery_codes WHERE user_id = $1 \
                 AND ((scheme = $3 AND code_hash = $2) OR (scheme = $5 AND code_hash = $4))",
            )
            .bind(user_id)
            .bind(mac.as_slice())
            .bind(SCHEME_HMAC)
            .bind(legacy.as_slice())
            .bind(SCHEME_SHA256)
            .fetch_optional(self.read())
            .await?;
            return Ok(if used.is_some() { Redemption::UsedCode } else { Redemption::WrongCode });
        }
        tx.commit().await?;
        Ok(Redemption::Redeemed)
    }

    /// How many unused codes the user has left.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<u32, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .fetch_one(self.read())
                .await?;
        super::to_u32(n, "recovery code count")
    }
}

/// Deletes the user's codes and writes `codes` in their place, inside the
/// caller's transaction.
pub(super) async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    codes: &[CodeMac],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    for code in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, scheme, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(code.as_slice())
        .bind(SCHEME_HMAC)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::classify(e, "recovery code"))?;
    }
    Ok(())
}
