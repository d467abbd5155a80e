//! What applications hold: legacy auth_tokens, OAuth codes, access and app
//! tokens (one table, told apart by kind, stored as hashes), and the
//! permissions users granted. Single-use kinds are consumed by one
//! conditional statement; a reused code revokes what was issued from it.

use std::sync::LazyLock;

use sqlx::AssertSqlSafe;

use super::apps::APP_COLUMNS;
use super::reads::Bind;
use super::row::{Columns, Fields, FromColumns};
use super::users::USER_COLUMNS;
use super::{App, Store, StoreError, User};
use crate::secrets::TokenHash;

/// Kinds of application tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppTokenKind {
    /// Legacy `auth.createToken` token, bound to a user by login.php.
    AuthToken,
    /// OAuth authorization code (single use).
    OauthCode,
    /// `/oauth/client_code` code (single use).
    ClientCode,
    /// User access token.
    AccessToken,
    /// `client_credentials` app token.
    AppToken,
}

super::values::stored_names!(AppTokenKind, "app_tokens.kind", {
    AuthToken => "auth_token",
    OauthCode => "oauth_code",
    ClientCode => "client_code",
    AccessToken => "access_token",
    AppToken => "app_token",
});

/// A stored application token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppToken {
    /// Row id.
    pub id: i64,
    /// What it is.
    pub kind: AppTokenKind,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Issuing application.
    pub app_id: i64,
    /// The user it speaks for, once bound.
    pub user_id: Option<i64>,
    /// JSON of kind-specific data (redirect_uri, scopes, next, machine_id).
    pub data: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, `None` for tokens that live until revoked.
    pub expires_at: Option<i64>,
    /// Unix seconds when a user was bound.
    pub bound_at: Option<i64>,
    /// Unix seconds when consumed.
    pub consumed_at: Option<i64>,
    /// Unix seconds when revoked (password change, disabling, app revocation).
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoked_reason: Option<RevokeReason>,
    /// The code or token it was issued from, if any.
    pub issued_from: Option<i64>,
}

impl AppToken {
    /// Reads a token whose columns a query selected with `prefix`.
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            kind: f.name("kind")?,
            token_hash: f.get("token_hash")?,
            app_id: f.get("app_id")?,
            user_id: f.get("user_id")?,
            data: f.get("data")?,
            created_at: f.get("created_at")?,
            expires_at: f.get("expires_at")?,
            bound_at: f.get("bound_at")?,
            consumed_at: f.get("consumed_at")?,
            revoked_at: f.get("revoked_at")?,
            revoked_reason: f.optional_name("revoked_reason")?,
            issued_from: f.get("issued_from")?,
        })
    }
}

super::row::plain_rows!(AppToken);

/// What issuing a token stores.
#[derive(Clone, Debug)]
pub struct NewAppToken<'a> {
    /// Kind.
    pub kind: AppTokenKind,
    /// Hash of the token.
    pub token_hash: &'a TokenHash,
    /// Application.
    pub app_id: i64,
    /// User, when known at issue.
    pub user_id: Option<i64>,
    /// JSON data.
    pub data: &'a str,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// The code or token (row id) it is issued from, so reusing that code
    /// revokes it.
    pub issued_from: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, kind, token_hash, app_id, user_id, data, created_at, expires_at, bound_at, \
                             consumed_at, revoked_at, revoked_reason, issued_from";

/// Why a token was revoked, as stored in `revoked_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// The user's password changed (OAuth subcode 460).
    PasswordChanged,
    /// The user was disabled.
    UserDisabled,
    /// The user or the app revoked it (`DELETE /me/permissions`, `auth.revokeAuthorization`).
    Revoked,
    /// The code it descends from was presented a second time (RFC 6749 §4.1.2).
    CodeReused,
}

super::values::stored_names!(RevokeReason, "app_tokens.revoked_reason", {
    PasswordChanged => "password_changed",
    UserDisabled => "user_disabled",
    Revoked => "revoked",
    CodeReused => "code_reused",
});

impl Store {
    /// Issues a token.
    pub async fn create_app_token(&self, new: &NewAppToken<'_>, now: i64) -> Result<AppToken, StoreError> {
        sqlx::query_as::<_, AppToken>(AssertSqlSafe(format!(
            "INSERT INTO app_tokens (kind, token_hash, app_id, user_id, data, created_at, expires_at, bound_at, \
                 issued_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $4 IS NULL THEN NULL ELSE $6 END, $8) \
             RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(new.kind.as_str())
        .bind(new.token_hash.as_slice())
        .bind(new.app_id)
        .bind(new.user_id)
        .bind(new.data)
        .bind(now)
        .bind(new.expires_at)
        .bind(new.issued_from)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::classify(e, "token"))
    }

    /// Marks a consumed code as presented again. Returns nothing; whoever
    /// issued a token from it checks [`Store::code_reused`] afterwards, so a
    /// token issued while a reuse is being handled is revoked all the same.
    pub(crate) async fn mark_code_reused(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE app_tokens SET revoked_at = COALESCE(revoked_at, $2), \
                 revoked_reason = COALESCE(revoked_reason, $3) WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(RevokeReason::CodeReused.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the code `id` was presented again after its first use.
    pub(crate) async fn code_reused(&self, id: i64) -> Result<bool, StoreError> {
        let reason: Option<Option<String>> =
            sqlx::query_scalar("SELECT revoked_reason FROM app_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(self.read())
                .await?;
        Ok(reason.flatten().as_deref() == Some(RevokeReason::CodeReused.as_str()))
    }

    /// Revokes every live token issued from the code or token `id`, and
    /// those issued from them in turn (a long-lived token exchanged from a
    /// code's token); returns how many. For a reused OAuth code.
    pub(crate) async fn revoke_issued_from(&self, id: i64, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE app_tokens SET revoked_at = $2, revoked_reason = $3 \
             WHERE revoked_at IS NULL AND id IN ( \
                 WITH RECURSIVE issued(id) AS ( \
                     SELECT id FROM app_tokens WHERE issued_from = $1 \
                     UNION SELECT t.id FROM app_tokens t JOIN issued i ON t.issued_from = i.id \
                 ) SELECT id FROM issued)",
        )
        .bind(id)
        .bind(now)
        .bind(RevokeReason::CodeReused.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// A token of this kind in any state (expired, consumed, revoked), for
    /// answers that must say why a token is invalid (`debug_token`).
    pub async fn find_app_token(
        &self,
        kind: AppTokenKind,
        token_hash: &TokenHash,
    ) -> Result<Option<AppToken>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {TOKEN_COLUMNS} FROM app_tokens WHERE kind = $1 AND token_hash = $2")
        });
        self.read_optional(&QUERY, &[Bind::Text(kind.as_str()), Bind::Blob(token_hash.as_slice())]).await
    }

    /// A token of this kind with its app and, when bound, its user, in one
    /// read whatever its state (the caller says why it is unusable): what
    /// `/me` and `debug_token` check on every call.
    pub(crate) async fn app_token_with_owner(
        &self,
        kind: AppTokenKind,
        token_hash: &TokenHash,
    ) -> Result<Option<(AppToken, App, Option<User>)>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM app_tokens t JOIN apps a ON a.id = t.app_id \
                 LEFT JOIN users u ON u.id = t.user_id WHERE t.kind = $1 AND t.token_hash = $2",
                super::qualified(TOKEN_COLUMNS, "t", ""),
                super::qualified(APP_COLUMNS, "a", "a_"),
                super::qualified(USER_COLUMNS, "u", "u_"),
            )
        });
        self.read_optional(&QUERY, &[Bind::Text(kind.as_str()), Bind::Blob(token_hash.as_slice())]).await
    }

    /// The app with this api_key and, if it issued one, its token of this
    /// kind with the token's user, in one read whatever the token's state:
    /// what `debug_token` checks on every call (a token of another app is
    /// not found, which is what such a token is to this app).
    pub(crate) async fn app_and_its_token(
        &self,
        api_key: &str,
        kind: AppTokenKind,
        token_hash: &TokenHash,
    ) -> Result<Option<(App, Option<(AppToken, Option<User>)>)>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM apps a \
                 LEFT JOIN app_tokens t ON t.app_id = a.id AND t.kind = $2 AND t.token_hash = $3 \
                 LEFT JOIN users u ON u.id = t.user_id WHERE a.api_key = $1",
                super::qualified(TOKEN_COLUMNS, "t", ""),
                super::qualified(APP_COLUMNS, "a", "a_"),
                super::qualified(USER_COLUMNS, "u", "u_"),
            )
        });
        let binds = [Bind::Text(api_key), Bind::Text(kind.as_str()), Bind::Blob(token_hash.as_slice())];
        self.read_optional(&QUERY, &binds).await
    }

    /// A live (unexpired, unconsumed, unrevoked) token of this kind.
    pub async fn app_token(
        &self,
        kind: AppTokenKind,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<AppToken>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {TOKEN_COLUMNS} FROM app_tokens WHERE kind = $1 AND token_hash = $2 \
                 AND consumed_at IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
            )
        });
        let binds = [Bind::Text(kind.as_str()), Bind::Blob(token_hash.as_slice()), Bind::Int(now)];
        self.read_optional(&QUERY, &binds).await
    }

    /// The user's live (unexpired, unconsumed, unrevoked) tokens of every
    /// kind and app, newest first: what an administrator's view of the user
    /// lists. Callers show their kind, app and dates, never their hashes.
    pub async fn live_app_tokens_for_user(
        &self,
        user_id: i64,
        now: i64,
    ) -> Result<Vec<AppToken>, StoreError> {
        Ok(sqlx::query_as::<_, AppToken>(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM app_tokens WHERE user_id = $1 \
             AND consumed_at IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY id DESC"
        )))
        .bind(user_id)
        .bind(now)
        .fetch_all(self.read())
        .await?)
    }

    /// Binds an unbound, live auth_token of `app_id` to the user who just
    /// completed login.php; false when there was no such token.
    pub async fn bind_auth_token(
        &self,
        token_hash: &TokenHash,
        app_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE app_tokens SET user_id = $1, bound_at = $2 \
             WHERE kind = $3 AND token_hash = $4 AND app_id = $5 AND user_id IS NULL \
             AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(user_id)
        .bind(now)
        .bind(AppTokenKind::AuthToken.as_str())
        .bind(token_hash.as_slice())
        .bind(app_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Consumes a single-use token that is bound to a user: exactly one of any
    /// number of concurrent callers wins. Losers get `AlreadyUsed`, `Expired`,
    /// `Pending` (not bound yet: left untouched) or `NotFound`.
    pub async fn consume_app_token(
        &self,
        kind: AppTokenKind,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<AppToken, StoreError> {
        let won = sqlx::query_as::<_, AppToken>(AssertSqlSafe(format!(
            "UPDATE app_tokens SET consumed_at = $3 \
             WHERE kind = $1 AND token_hash = $2 AND consumed_at IS NULL AND revoked_at IS NULL \
             AND user_id IS NOT NULL AND (expires_at IS NULL OR expires_at > $3) RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(kind.as_str())
        .bind(token_hash.as_slice())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(token) = won {
            return Ok(token);
        }
        Err(match self.find_app_token(kind, token_hash).await? {
            None => StoreError::NotFound(kind.as_str()),
            Some(t) if t.consumed_at.is_some() => StoreError::AlreadyUsed(kind.as_str()),
            Some(t) if t.revoked_at.is_some() => StoreError::NotFound(kind.as_str()),
            Some(t) if t.expires_at.is_some_and(|e| e <= now) => StoreError::Expired(kind.as_str()),
            Some(_) => StoreError::Pending(kind.as_str()),
        })
    }

    /// Revokes every live token of the user for one app (or for all apps when
    /// `app_id` is `None`); returns how many. Rows stay, marked with the
    /// reason, until the purge removes them.
    pub async fn revoke_app_tokens(
        &self,
        user_id: i64,
        app_id: Option<i64>,
        reason: RevokeReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE app_tokens SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND ($2 IS NULL OR app_id = $2) AND revoked_at IS NULL AND consumed_at IS NULL",
        )
        .bind(user_id)
        .bind(app_id)
        .bind(now)
        .bind(reason.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Adds permissions to the user's grant set for an app (existing ones stay).
    pub async fn grant_permissions(
        &self,
        user_id: i64,
        app_id: i64,
        permissions: &[&str],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for permission in permissions {
            sqlx::query(
                "INSERT INTO permissions (user_id, app_id, permission, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, app_id, permission) DO NOTHING",
            )
            .bind(user_id)
            .bind(app_id)
            .bind(*permission)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The permissions the user granted the app, sorted.
    pub async fn permissions(&self, user_id: i64, app_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT permission FROM permissions WHERE user_id = $1 AND app_id = $2 ORDER BY permission",
        )
        .bind(user_id)
        .bind(app_id)
        .fetch_all(self.read())
        .await?)
    }

    /// Removes one granted permission; false when it was not granted.
    pub async fn revoke_permission(
        &self,
        user_id: i64,
        app_id: i64,
        permission: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM permissions WHERE user_id = $1 AND app_id = $2 AND permission = $3")
                .bind(user_id)
                .bind(app_id)
                .bind(permission)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

// The rows of the joined token reads above: a token (plain columns) with its
// app (`a_`) and, when bound, its user (`u_`).

impl FromColumns for (AppToken, App, Option<User>) {
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error> {
        let user = if Fields::new(row, "u_").present()? { Some(User::read(row, "u_")?) } else { None };
        Ok((AppToken::read(row, "")?, App::read(row, "a_")?, user))
    }
}

impl FromColumns for (App, Option<(AppToken, Option<User>)>) {
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error> {
        let app = App::read(row, "a_")?;
        if !Fields::new(row, "").present()? {
            return Ok((app, None));
        }
        let user = if Fields::new(row, "u_").present()? { Some(User::read(row, "u_")?) } else { None };
        Ok((app, Some((AppToken::read(row, "")?, user))))
    }
}
