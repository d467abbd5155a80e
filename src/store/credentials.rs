//! Security keys: one row per credential, shared by the raw-U2F (CLI) and the
//! WebAuthn (browser) paths: `key_handle` is the U2F key handle and the
//! WebAuthn credential id, `rp_id` the string whose SHA-256 is both the U2F
//! application parameter and WebAuthn's rpIdHash.

use std::sync::LazyLock;

use sqlx::AssertSqlSafe;

use super::reads::Bind;
use super::row::{Columns, Fields};
use super::users::lock_user;
use super::values::{corrupt, decode_transports, encode_transports};
use super::{Store, StoreError, Transport};
use crate::secrets::CodeMac;

/// A stored security key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// Row id, shown to users as the key's id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// RP ID / U2F app id the key was registered for.
    pub rp_id: String,
    /// U2F key handle = WebAuthn credential id.
    pub key_handle: Vec<u8>,
    /// Uncompressed SEC1 P-256 point (65 bytes).
    pub public_key: Vec<u8>,
    /// Last signature counter seen.
    pub counter: i64,
    /// The user's name for the key.
    pub label: String,
    /// Subject of the attestation certificate, when there was one.
    pub attestation_subject: Option<String>,
    /// How browsers can reach it, possibly none known.
    pub transports: Vec<Transport>,
    /// Serialised webauthn-rs credential for the browser path, when registered there.
    pub webauthn: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last successful login.
    pub last_used_at: Option<i64>,
    /// Set once a counter regression was seen: the key may have been cloned and is refused.
    pub possible_clone: bool,
}

/// What enrolling a key stores.
#[derive(Clone, Debug)]
pub struct NewCredential<'a> {
    /// Owner.
    pub user_id: i64,
    /// RP ID / app id.
    pub rp_id: &'a str,
    /// Key handle / credential id.
    pub key_handle: &'a [u8],
    /// SEC1 public key.
    pub public_key: &'a [u8],
    /// Counter at registration (0 for U2F).
    pub counter: u32,
    /// Label.
    pub label: &'a str,
    /// Attestation certificate subject.
    pub attestation_subject: Option<&'a str>,
    /// How browsers can reach it.
    pub transports: &'a [Transport],
    /// Serialised webauthn-rs credential, if any.
    pub webauthn: Option<&'a str>,
}

/// Outcome of a compare-and-set counter update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterUpdate {
    /// The new counter was greater (or both were zero) and is stored.
    Advanced,
    /// The new counter was not greater than the stored one: a possible clone
    /// (or a concurrent login that already stored a later value).
    Regressed {
        /// The counter stored now.
        stored: u32,
    },
}

/// What removing a key did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRemoval {
    /// The key is gone; this was it.
    Removed(Box<Credential>),
    /// It is the user's last key and the caller may not remove that one:
    /// nothing changed.
    LastKey,
}

/// What enrolling a key did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Enrolment {
    /// The key is stored; `first` when it is the user's first, which then
    /// came with the first recovery-code set.
    Added {
        /// The stored key.
        credential: Box<Credential>,
        /// Whether it was the user's first key.
        first: bool,
    },
    /// The caller may only add a first key and the user has one already:
    /// nothing changed.
    NotFirst,
}

impl Credential {
    /// Reads a key whose columns a query selected with `prefix` (see
    /// `store::qualified`).
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            user_id: f.get("user_id")?,
            rp_id: f.get("rp_id")?,
            key_handle: f.get("key_handle")?,
            public_key: f.get("public_key")?,
            counter: f.get("counter")?,
            label: f.get("label")?,
            attestation_subject: f.get("attestation_subject")?,
            transports: decode_transports(&f.get::<String>("transports")?)
                .map_err(|e| corrupt("credentials.transports", e))?,
            webauthn: f.get("webauthn")?,
            created_at: f.get("created_at")?,
            last_used_at: f.get("last_used_at")?,
            possible_clone: f.flag("possible_clone")?,
        })
    }
}

super::row::plain_rows!(Credential);

pub(super) const COLUMNS: &str = "id, user_id, rp_id, key_handle, public_key, counter, label, attestation_subject, \
                       transports, webauthn, created_at, last_used_at, possible_clone";

impl Store {
    /// Stores a new key; [`StoreError::Conflict`] when the handle is already registered.
    pub async fn add_credential(&self, new: &NewCredential<'_>, now: i64) -> Result<Credential, StoreError> {
        let mut tx = self.pool.begin().await?;
        let credential = insert_credential(&mut tx, new, now).await?;
        tx.commit().await?;
        Ok(credential)
    }

    /// Enrols a verified key in one transaction under the user's lock: when
    /// it is the user's first key, `first_codes` become their recovery codes
    /// in the same commit; with `only_first`, a user who already has a key
    /// gets [`Enrolment::NotFirst`]. Of concurrent first enrolments exactly
    /// one stores a key and a code set. [`StoreError::Conflict`] when the
    /// handle is already registered.
    pub(crate) async fn enroll_credential(
        &self,
        new: &NewCredential<'_>,
        only_first: bool,
        first_codes: &[CodeMac],
        now: i64,
    ) -> Result<Enrolment, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_user(&mut tx, new.user_id).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE user_id = $1")
            .bind(new.user_id)
            .fetch_one(&mut *tx)
            .await?;
        let first = count == 0;
        if only_first && !first {
            return Ok(Enrolment::NotFirst);
        }
        let credential = insert_credential(&mut tx, new, now).await?;
        if first {
            super::recovery::replace_codes(&mut tx, new.user_id, first_codes, now).await?;
        }
        tx.commit().await?;
        Ok(Enrolment::Added { credential: Box::new(credential), first })
    }

    /// The user's keys, oldest first.
    pub async fn credentials_for_user(&self, user_id: i64) -> Result<Vec<Credential>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {COLUMNS} FROM credentials WHERE user_id = $1 ORDER BY id"));
        self.read_all(&QUERY, &[Bind::Int(user_id)]).await
    }

    /// The key with this handle for this RP ID.
    pub async fn credential_by_handle(
        &self,
        rp_id: &str,
        key_handle: &[u8],
    ) -> Result<Option<Credential>, StoreError> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {COLUMNS} FROM credentials WHERE rp_id = $1 AND key_handle = $2")
        });
        self.read_optional(&QUERY, &[Bind::Text(rp_id), Bind::Blob(key_handle)]).await
    }

    /// One of the user's keys by id (another user's key is not found).
    pub async fn credential(&self, user_id: i64, id: i64) -> Result<Option<Credential>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {COLUMNS} FROM credentials WHERE user_id = $1 AND id = $2"));
        self.read_optional(&QUERY, &[Bind::Int(user_id), Bind::Int(id)]).await
    }

    /// How many keys the user has.
    pub async fn credential_count(&self, user_id: i64) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.read())
            .await?;
        super::to_u32(count, "key count")
    }

    /// Renames one of the user's keys.
    pub async fn rename_credential(&self, user_id: i64, id: i64, label: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE credentials SET label = $1 WHERE user_id = $2 AND id = $3")
            .bind(label)
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("security key")) } else { Ok(()) }
    }

    /// Removes one of the user's keys in one transaction under the user's
    /// lock; unless `last_allowed`, the last key stays ([`KeyRemoval::LastKey`]).
    /// Of concurrent removals of a user's last two keys exactly one wins.
    pub async fn remove_credential(
        &self,
        user_id: i64,
        id: i64,
        last_allowed: bool,
    ) -> Result<KeyRemoval, StoreError> {
        let mut tx = self.pool.begin().await?;
        match lock_user(&mut tx, user_id).await {
            Err(StoreError::NotFound(_)) => return Err(StoreError::NotFound("security key")),
            other => other?,
        }
        let key = sqlx::query_as::<_, Credential>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM credentials WHERE user_id = $1 AND id = $2"
        )))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("security key"))?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count <= 1 && !last_allowed {
            return Ok(KeyRemoval::LastKey);
        }
        sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(KeyRemoval::Removed(Box::new(key)))
    }

    /// Stores `counter` only if it is greater than the stored one (or both are
    /// zero, for keys without a counter), in one conditional UPDATE: concurrent
    /// logins can only move the counter forwards. A flagged key never advances.
    pub async fn update_counter(&self, id: i64, counter: u32, now: i64) -> Result<CounterUpdate, StoreError> {
        let counter = i64::from(counter);
        let advanced: Option<i64> = sqlx::query_scalar(
            "UPDATE credentials SET counter = $1, last_used_at = $2 \
             WHERE id = $3 AND possible_clone = 0 AND (counter < $1 OR (counter = 0 AND $1 = 0)) \
             RETURNING id",
        )
        .bind(counter)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if advanced.is_some() {
            return Ok(CounterUpdate::Advanced);
        }
        let stored: Option<i64> = sqlx::query_scalar("SELECT counter FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(self.read())
            .await?;
        match stored {
            Some(stored) => Ok(CounterUpdate::Regressed { stored: super::to_u32(stored, "counter")? }),
            None => Err(StoreError::NotFound("security key")),
        }
    }

    /// Flags a key as possibly cloned: it is refused until an administrator
    /// clears the flag ([`Store::clear_possible_clone`]) or resets the keys.
    pub async fn mark_possible_clone(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET possible_clone = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears one of the user's keys' possible-clone flag, once an
    /// administrator has found the alarm harmless: true when the flag was
    /// set, false when the key was not flagged (nothing changed). The stored
    /// counter stays, so whichever device next sends a counter at or below
    /// the highest one seen is flagged again.
    pub async fn clear_possible_clone(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let cleared = sqlx::query(
            "UPDATE credentials SET possible_clone = 0 WHERE user_id = $1 AND id = $2 AND possible_clone <> 0",
        )
        .bind(user_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if cleared.rows_affected() > 0 {
            return Ok(true);
        }
        match self.credential(user_id, id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound("security key")),
        }
    }
}

async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewCredential<'_>,
    now: i64,
) -> Result<Credential, StoreError> {
    sqlx::query_as::<_, Credential>(AssertSqlSafe(format!(
        "INSERT INTO credentials (user_id, rp_id, key_handle, public_key, counter, label, \
             attestation_subject, transports, webauthn, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(new.user_id)
    .bind(new.rp_id)
    .bind(new.key_handle)
    .bind(new.public_key)
    .bind(i64::from(new.counter))
    .bind(new.label)
    .bind(new.attestation_subject)
    .bind(encode_transports(new.transports))
    .bind(new.webauthn)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::classify(e, "security key"))
}
