//! Signed-in sessions: API bearer sessions, browser cookies, and the legacy
//! `session_key`s applications hold. Only the SHA-256 of the token is stored;
//! a legacy session secret is kept sealed because `sig` checks need it back.

use std::sync::LazyLock;

use sqlx::AssertSqlSafe;

use super::apps::APP_COLUMNS;
use super::credentials::COLUMNS as CREDENTIAL_COLUMNS;
use super::reads::Bind;
use super::row::{Columns, Fields, FromColumns};
use super::users::USER_COLUMNS;
use super::{App, Credential, SessionKind, Store, StoreError, User};
use crate::secrets::TokenHash;

/// A stored session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Row id (the id `GET /api/v1/sessions` lists).
    pub id: i64,
    /// SHA-256 of the bearer token.
    pub token_hash: Vec<u8>,
    /// Owner.
    pub user_id: i64,
    /// What it may do.
    pub kind: SessionKind,
    /// The application a legacy session belongs to.
    pub app_id: Option<i64>,
    /// AES-GCM sealed session secret (legacy sessions).
    pub secret_sealed: Option<Vec<u8>>,
    /// Highest legacy `call_id` seen, as canonical decimal text.
    pub last_call_id: Option<String>,
    /// User agent at sign-in, for the sessions list.
    pub user_agent: Option<String>,
    /// Unix seconds of sign-in.
    pub created_at: i64,
    /// Unix seconds of the last second factor (the login's, or a later
    /// step-up); `None` for sessions that never passed one (enroll-only,
    /// legacy). Sensitive changes need it recent.
    pub verified_at: Option<i64>,
    /// Unix seconds of expiry.
    pub expires_at: i64,
    /// Unix seconds of the last use, to [`SEEN_RESOLUTION_SECS`].
    pub last_seen_at: i64,
}

impl Session {
    /// Reads a session whose columns a query selected with `prefix`.
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            token_hash: f.get("token_hash")?,
            user_id: f.get("user_id")?,
            kind: f.name("kind")?,
            app_id: f.get("app_id")?,
            secret_sealed: f.get("secret_sealed")?,
            last_call_id: f.get("last_call_id")?,
            user_agent: f.get("user_agent")?,
            created_at: f.get("created_at")?,
            verified_at: f.get("verified_at")?,
            expires_at: f.get("expires_at")?,
            last_seen_at: f.get("last_seen_at")?,
        })
    }
}

super::row::plain_rows!(Session);

/// What signing in stores.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// Hash of the bearer token handed to the client.
    pub token_hash: &'a TokenHash,
    /// Owner.
    pub user_id: i64,
    /// What it may do.
    pub kind: SessionKind,
    /// Application of a legacy session.
    pub app_id: Option<i64>,
    /// Sealed session secret.
    pub secret_sealed: Option<&'a [u8]>,
    /// User agent.
    pub user_agent: Option<&'a str>,
    /// When the login passed its second factor, if it did.
    pub verified_at: Option<i64>,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

impl<'a> NewSession<'a> {
    /// A session with no application, secret, user agent or second factor:
    /// set those that apply with struct update syntax.
    pub fn new(token_hash: &'a TokenHash, user_id: i64, kind: SessionKind, expires_at: i64) -> Self {
        Self {
            token_hash,
            user_id,
            kind,
            app_id: None,
            secret_sealed: None,
            user_agent: None,
            verified_at: None,
            expires_at,
        }
    }
}

/// How stale `last_seen_at` may be: a session used again within this is
/// checked by a read alone, so validations do not write.
pub const SEEN_RESOLUTION_SECS: i64 = 60;

const COLUMNS: &str = "id, token_hash, user_id, kind, app_id, secret_sealed, last_call_id, user_agent, \
                       created_at, verified_at, expires_at, last_seen_at";

impl Store {
    /// Stores a new session.
    pub async fn create_session(&self, new: &NewSession<'_>, now: i64) -> Result<Session, StoreError> {
        sqlx::query_as::<_, Session>(AssertSqlSafe(format!(
            "INSERT INTO sessions (token_hash, user_id, kind, app_id, secret_sealed, user_agent, \
                 created_at, expires_at, last_seen_at, verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9) RETURNING {COLUMNS}"
        )))
        .bind(new.token_hash.as_slice())
        .bind(new.user_id)
        .bind(new.kind.as_str())
        .bind(new.app_id)
        .bind(new.secret_sealed)
        .bind(new.user_agent)
        .bind(now)
        .bind(new.expires_at)
        .bind(new.verified_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::classify(e, "session"))
    }

    /// Records a passed step-up on a live session: its second factor is
    /// now `now`. [`StoreError::NotFound`] when the session ended meanwhile.
    pub async fn mark_session_verified(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET verified_at = $2 WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("session")) } else { Ok(()) }
    }

    /// The live session with this token hash and its user, in one read: what
    /// every bearer check needs. Checks are reads, so they never queue behind
    /// logins; the session's use is recorded at most once a
    /// [`SEEN_RESOLUTION_SECS`], and a failure to record it does not refuse
    /// a valid session.
    pub async fn session_and_user(
        &self,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<(Session, User)>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
                super::qualified(COLUMNS, "s", ""),
                super::qualified(USER_COLUMNS, "u", "u_"),
            )
        });
        let binds = [Bind::Blob(token_hash.as_slice()), Bind::Int(now)];
        let Some((mut session, user)) = self.read_optional::<(Session, User)>(&QUERY, &binds).await? else {
            return Ok(None);
        };
        self.record_use(&mut session, now).await;
        Ok(Some((session, user)))
    }

    /// The live session with this token hash, its user and the user's keys,
    /// in one read: what `GET /api/v1/keys` needs.
    pub async fn session_user_and_keys(
        &self,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<(Session, User, Vec<Credential>)>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                 LEFT JOIN credentials c ON c.user_id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2 ORDER BY c.id",
                super::qualified(COLUMNS, "s", ""),
                super::qualified(USER_COLUMNS, "u", "u_"),
                super::qualified(CREDENTIAL_COLUMNS, "c", "c_"),
            )
        });
        let binds = [Bind::Blob(token_hash.as_slice()), Bind::Int(now)];
        let rows: Vec<((Session, User), Option<Credential>)> = self.read_all(&QUERY, &binds).await?;
        let mut rows = rows.into_iter();
        let Some(((mut session, user), first_key)) = rows.next() else { return Ok(None) };
        let keys = first_key.into_iter().chain(rows.filter_map(|(_, key)| key)).collect();
        self.record_use(&mut session, now).await;
        Ok(Some((session, user, keys)))
    }

    /// The app with this api_key and the live session with this token hash,
    /// if there is one, in one read: what a legacy call with a `session_key`
    /// checks. The caller checks that the session is the app's.
    pub async fn app_and_session(
        &self,
        api_key: &str,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<(App, Option<Session>)>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM apps a \
                 LEFT JOIN sessions s ON s.token_hash = $2 AND s.expires_at > $3 WHERE a.api_key = $1",
                super::qualified(COLUMNS, "s", ""),
                super::qualified(APP_COLUMNS, "a", "a_"),
            )
        });
        let binds = [Bind::Text(api_key), Bind::Blob(token_hash.as_slice()), Bind::Int(now)];
        let Some((app, session)) = self.read_optional::<(App, Option<Session>)>(&QUERY, &binds).await? else {
            return Ok(None);
        };
        let Some(mut session) = session else { return Ok(Some((app, None))) };
        self.record_use(&mut session, now).await;
        Ok(Some((app, Some(session))))
    }

    /// Records that a session was used now, when its record is
    /// [`SEEN_RESOLUTION_SECS`] old; a failure is logged, never a refusal.
    async fn record_use(&self, session: &mut Session, now: i64) {
        if now - session.last_seen_at < SEEN_RESOLUTION_SECS {
            return;
        }
        let touched =
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
                .bind(session.id)
                .bind(now)
                .execute(&self.pool)
                .await;
        match touched {
            Ok(_) => session.last_seen_at = now,
            Err(e) => tracing::warn!(error = %e, session = session.id, "cannot record a session's use"),
        }
    }

    /// The user's live sessions, newest first.
    pub async fn sessions_for_user(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        Ok(sqlx::query_as::<_, Session>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY id DESC"
        )))
        .bind(user_id)
        .bind(now)
        .fetch_all(self.read())
        .await?)
    }

    /// Ends one of the user's sessions by id.
    pub(crate) async fn delete_session(&self, user_id: i64, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("session")) } else { Ok(()) }
    }

    /// Ends the session holding this token (logout, `auth.expireSession`).
    pub async fn delete_session_by_token(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of the user with one application; returns how many.
    pub async fn delete_app_sessions(&self, user_id: i64, app_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND app_id = $2")
            .bind(user_id)
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Stores a (new) sealed session secret (`auth.promoteSession`).
    pub async fn set_session_secret(&self, id: i64, secret_sealed: &[u8]) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET secret_sealed = $1 WHERE id = $2")
            .bind(secret_sealed)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("session")) } else { Ok(()) }
    }

    /// Records a legacy call's `call_id` (`new`) only if it follows the
    /// last one recorded; false means a replay (error 103). The caller
    /// judges the order: `follows(last)` says whether `new` comes after the
    /// recorded text, `None` when that text is unreadable. The write is a
    /// compare-and-set on the value read, so of concurrent calls with the
    /// same id exactly one advances.
    pub async fn advance_call_id(
        &self,
        id: i64,
        new: &str,
        follows: impl Fn(&str) -> Option<bool>,
    ) -> Result<bool, StoreError> {
        loop {
            let last: Option<Option<String>> =
                sqlx::query_scalar("SELECT last_call_id FROM sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.read())
                    .await?;
            let Some(last) = last else { return Err(StoreError::NotFound("session")) };
            if let Some(text) = &last {
                let after = follows(text).ok_or_else(|| StoreError::Corrupt {
                    what: "sessions.last_call_id",
                    detail: "not a call_id".to_owned(),
                })?;
                if !after {
                    return Ok(false);
                }
            }
            let done = sqlx::query(
                "UPDATE sessions SET last_call_id = $1 WHERE id = $2 \
                 AND (last_call_id = $3 OR (last_call_id IS NULL AND $3 IS NULL))",
            )
            .bind(new)
            .bind(id)
            .bind(last.as_deref())
            .execute(&self.pool)
            .await?;
            if done.rows_affected() > 0 {
                return Ok(true);
            }
            // Another call moved it in between: compare against the new value.
        }
    }
}

// The rows of the session reads above: a session (plain columns) joined
// with its user (`u_`), keys (`c_`) or app (`a_`).

impl FromColumns for (Session, User) {
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error> {
        Ok((Session::read(row, "")?, User::read(row, "u_")?))
    }
}

impl FromColumns for ((Session, User), Option<Credential>) {
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error> {
        let key = if Fields::new(row, "c_").present()? { Some(Credential::read(row, "c_")?) } else { None };
        Ok(((Session::read(row, "")?, User::read(row, "u_")?), key))
    }
}

impl FromColumns for (App, Option<Session>) {
    fn from_columns<R: Columns>(row: &R) -> Result<Self, sqlx::Error> {
        let session = if Fields::new(row, "").present()? { Some(Session::read(row, "")?) } else { None };
        Ok((App::read(row, "a_")?, session))
    }
}
