//! Accounts: creation, password changes, disabling, and the admin listing.
//! Changing a password or disabling an account ends every session and token
//! of that user in the same transaction, so no old bearer outlives it.

use sqlx::AssertSqlSafe;

use std::sync::LazyLock;

use super::reads::Bind;
use super::row::{Columns, Fields};
use super::{RevokeReason, Store, StoreError};

/// A user account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Numeric id: the `uid` applications see.
    pub id: i64,
    /// Login name, unique.
    pub name: String,
    /// Name shown to applications (`/me`); the login name when absent.
    pub display_name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last password change: tokens issued before are void.
    pub password_changed_at: i64,
    /// Unix seconds when disabled, `None` while active.
    pub disabled_at: Option<i64>,
}

impl User {
    /// Reads a user whose columns a query selected with `prefix` (see
    /// `store::qualified`), beside another table's columns of the same names.
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            name: f.get("name")?,
            display_name: f.get("display_name")?,
            password_hash: f.get("password_hash")?,
            created_at: f.get("created_at")?,
            password_changed_at: f.get("password_changed_at")?,
            disabled_at: f.get("disabled_at")?,
        })
    }

    /// True when the account may not log in.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

super::row::plain_rows!(User);

/// What creating a user needs.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    /// Login name.
    pub name: &'a str,
    /// Optional display name.
    pub display_name: Option<&'a str>,
    /// argon2id PHC string (see [`crate::secrets::hash_password`]).
    pub password_hash: &'a str,
}

/// One line of `keygate user list`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UserSummary {
    /// Numeric id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds when disabled.
    pub disabled_at: Option<i64>,
    /// Security keys enrolled.
    pub key_count: i64,
}

pub(super) const USER_COLUMNS: &str =
    "id, name, display_name, password_hash, created_at, password_changed_at, disabled_at";

impl Store {
    /// Creates a user; [`StoreError::Conflict`] when the name is taken.
    pub async fn create_user(&self, new: &NewUser<'_>, now: i64) -> Result<User, StoreError> {
        sqlx::query_as::<_, User>(AssertSqlSafe(format!(
            "INSERT INTO users (name, display_name, password_hash, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"
        )))
        .bind(new.name)
        .bind(new.display_name)
        .bind(new.password_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::classify(e, "user"))
    }

    /// The user with this login name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"));
        self.read_optional(&QUERY, &[Bind::Text(name)]).await
    }

    /// The user with this numeric id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
        self.read_optional(&QUERY, &[Bind::Int(id)]).await
    }

    /// Every user with their key count, by name.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        Ok(sqlx::query_as::<_, UserSummary>(
            "SELECT u.id, u.name, u.created_at, u.disabled_at, \
                    (SELECT COUNT(*) FROM credentials c WHERE c.user_id = u.id) AS key_count \
             FROM users u ORDER BY u.name",
        )
        .fetch_all(self.read())
        .await?)
    }

    /// Sets a new password hash and ends every session and token of the user
    /// (returns how many were ended).
    pub async fn set_password(&self, user_id: i64, password_hash: &str, now: i64) -> Result<u64, StoreError> {
        let update =
            sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(user_id);
        self.change_and_end_everything(update, user_id, RevokeReason::PasswordChanged, now).await
    }

    /// Disables the account and ends every session and token (returns how many).
    /// Disabling a disabled user keeps the first date.
    pub async fn disable_user(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        let update = sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2")
            .bind(now)
            .bind(user_id);
        self.change_and_end_everything(update, user_id, RevokeReason::UserDisabled, now).await
    }

    /// Runs `update` (a change to one user's row) and ends every session
    /// and token of the user in one transaction, so no check sees the change
    /// without the revocation; returns how many were ended.
    async fn change_and_end_everything<'q>(
        &self,
        update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        user_id: i64,
        reason: RevokeReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        if update.execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        let ended = end_everything(&mut tx, user_id, reason, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Lets a disabled user log in again: true when the user was disabled,
    /// false when they were active already (nothing changed). Sessions and
    /// tokens ended by the disabling stay ended.
    pub async fn enable_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let updated =
            sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if updated.rows_affected() > 0 {
            return Ok(true);
        }
        match self.user_by_id(user_id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound("user")),
        }
    }

    /// Ends every session and token of the user and leaves the account as
    /// it is (an administrator revoking a lost key, whose sessions are not
    /// told apart from the others'); returns how many were ended.
    pub async fn end_sessions_and_tokens(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = end_everything(&mut tx, user_id, RevokeReason::Revoked, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Removes every security key and recovery code of the user, and pending
    /// challenges that named them; returns (keys, codes) removed.
    pub async fn reset_keys(&self, user_id: i64) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let keys =
            sqlx::query("DELETE FROM credentials WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM challenges WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok((keys.rows_affected(), codes.rows_affected()))
    }
}

/// Takes the user's row lock for the rest of the transaction, before it
/// reads anything: a conditional write on PostgreSQL locks the row, and on
/// SQLite a transaction whose first statement writes holds the one write
/// lock. Transactions that check-then-change a user's keys or codes (the
/// last key, the first key) so run one after another, each seeing what the
/// previous one committed. [`StoreError::NotFound`] when there is no such user.
pub(super) async fn lock_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
) -> Result<(), StoreError> {
    let locked = sqlx::query("UPDATE users SET disabled_at = disabled_at WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() == 0 { Err(StoreError::NotFound("user")) } else { Ok(()) }
}

/// Deletes the user's sessions and pending challenges and revokes their live
/// app tokens (kept with the reason, so OAuth can answer subcode 460).
async fn end_everything(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    reason: RevokeReason,
    now: i64,
) -> Result<u64, StoreError> {
    let sessions =
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    let tokens = sqlx::query(
        "UPDATE app_tokens SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND consumed_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .bind(reason.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM challenges WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(sessions.rows_affected() + tokens.rows_affected())
}
