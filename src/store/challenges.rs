//! Pending second-factor ceremonies: a login waiting for its key signature, or
//! a key enrolment waiting for its registration. All state lives here, none in
//! process memory, so any instance can finish what another started.

use std::sync::LazyLock;

use sqlx::AssertSqlSafe;

use super::reads::Bind;
use super::row::{Columns, Fields};
use super::{Store, StoreError};

/// What a challenge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// Second factor of a login (`login_id`).
    Login,
    /// Enrolment of a new key by a signed-in user.
    Register,
    /// A signed-in session's step-up: its second factor again.
    Reauth,
}

super::values::stored_names!(ChallengePurpose, "challenges.purpose", {
    Login => "login",
    Register => "register",
    Reauth => "reauth",
});

/// A stored challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Random public id (`login_id`).
    pub id: String,
    /// Login or enrolment.
    pub purpose: ChallengePurpose,
    /// Whose ceremony it is.
    pub user_id: i64,
    /// The session that started an enrolment.
    pub session_id: Option<i64>,
    /// The random challenge bytes the key signs over.
    pub challenge: Vec<u8>,
    /// JSON of the application request this login serves (`for` of the API).
    pub for_app: Option<String>,
    /// Serialised webauthn-rs ceremony state.
    pub state: Option<String>,
    /// Failed second-factor attempts so far.
    pub attempts: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// Unix seconds when consumed.
    pub used_at: Option<i64>,
}

impl Challenge {
    /// Reads a challenge whose columns a query selected with `prefix`.
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            purpose: f.name("purpose")?,
            user_id: f.get("user_id")?,
            session_id: f.get("session_id")?,
            challenge: f.get("challenge")?,
            for_app: f.get("for_app")?,
            state: f.get("state")?,
            attempts: f.get("attempts")?,
            created_at: f.get("created_at")?,
            expires_at: f.get("expires_at")?,
            used_at: f.get("used_at")?,
        })
    }
}

super::row::plain_rows!(Challenge);

/// What starting a ceremony stores.
#[derive(Clone, Debug)]
pub struct NewChallenge<'a> {
    /// Random public id.
    pub id: &'a str,
    /// Login or enrolment.
    pub purpose: ChallengePurpose,
    /// Whose ceremony.
    pub user_id: i64,
    /// Session that started an enrolment.
    pub session_id: Option<i64>,
    /// Challenge bytes.
    pub challenge: &'a [u8],
    /// Application request JSON.
    pub for_app: Option<&'a str>,
    /// webauthn-rs state JSON.
    pub state: Option<&'a str>,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

const COLUMNS: &str =
    "id, purpose, user_id, session_id, challenge, for_app, state, attempts, created_at, expires_at, used_at";

impl Store {
    /// Stores a new pending challenge.
    pub async fn create_challenge(&self, new: &NewChallenge<'_>, now: i64) -> Result<Challenge, StoreError> {
        sqlx::query_as::<_, Challenge>(AssertSqlSafe(format!(
            "INSERT INTO challenges (id, purpose, user_id, session_id, challenge, for_app, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
        )))
        .bind(new.id)
        .bind(new.purpose.as_str())
        .bind(new.user_id)
        .bind(new.session_id)
        .bind(new.challenge)
        .bind(new.for_app)
        .bind(new.state)
        .bind(now)
        .bind(new.expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::classify(e, "challenge"))
    }

    /// Reads a challenge without consuming it (to verify a signature first).
    pub async fn challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {COLUMNS} FROM challenges WHERE id = $1"));
        self.read_optional(&QUERY, &[Bind::Text(id)]).await
    }

    /// Consumes a challenge: exactly one caller gets it, however many race.
    /// Others get [`StoreError::AlreadyUsed`], [`StoreError::Expired`] or
    /// [`StoreError::NotFound`], never a database error.
    pub async fn consume_challenge(&self, id: &str, now: i64) -> Result<Challenge, StoreError> {
        let won = sqlx::query_as::<_, Challenge>(AssertSqlSafe(format!(
            "UPDATE challenges SET used_at = $2 \
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match won {
            Some(challenge) => Ok(challenge),
            None => Err(match self.challenge(id).await? {
                None => StoreError::NotFound("challenge"),
                Some(c) if c.used_at.is_some() => StoreError::AlreadyUsed("challenge"),
                Some(_) => StoreError::Expired("challenge"),
            }),
        }
    }

    /// Reserves one second-factor attempt on a pending challenge before it is
    /// judged, in one conditional UPDATE: of any number of concurrent
    /// attempts at most `limit` are ever granted. Returns the attempt's
    /// number (1-based); refusals are [`StoreError::Exhausted`],
    /// [`StoreError::AlreadyUsed`], [`StoreError::Expired`] or
    /// [`StoreError::NotFound`], and leave the row as it was.
    pub async fn reserve_attempt(&self, id: &str, limit: u32, now: i64) -> Result<u32, StoreError> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE challenges SET attempts = attempts + 1 \
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3 RETURNING attempts",
        )
        .bind(id)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(n) = attempts {
            return super::to_u32(n, "attempts");
        }
        Err(match self.challenge(id).await? {
            None => StoreError::NotFound("challenge"),
            Some(c) if c.used_at.is_some() => StoreError::AlreadyUsed("challenge"),
            Some(c) if c.expires_at <= now => StoreError::Expired("challenge"),
            Some(_) => StoreError::Exhausted("challenge"),
        })
    }
}
