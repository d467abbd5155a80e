//! The login ceremony: password step, then the U2F signature or a recovery
//! code against one challenge shared by all the user's keys.

use std::net::IpAddr;
use std::time::Instant;

use super::{Auth, AuthError, KIND_API, KIND_ENROLL, SESSION_TTL_SECS};
use crate::secrets::{self, TokenHash};
use crate::store::{Challenge, ChallengePurpose, CounterUpdate, NewSession, StoreError, User};
use crate::verify::{ClientDataExpectation, CounterVerdict, U2fClientDataType, verify_authentication};

/// A new session: the bearer token is shown once, only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedSession {
    /// The bearer token.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

/// The answer to the password step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// The user has keys: sign this challenge with one of them.
    SecondFactor {
        /// Id of the pending login.
        login_id: String,
        /// The challenge bytes.
        challenge: Vec<u8>,
        /// Key handles of the user's keys.
        key_handles: Vec<Vec<u8>>,
    },
    /// The user has no key yet: a session that can only enroll one.
    EnrollOnly(IssuedSession),
}

impl Auth {
    /// Checks user name and password. An unknown user costs one argon2 hash
    /// too and gets the same `BadCredentials`, so neither the answer nor its
    /// timing tells whether the name exists.
    pub async fn password_login(
        &self,
        username: &str,
        password: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<PasswordOutcome, AuthError> {
        let limits = self.settings.limits;
        self.limit(&format!("pw:ip:{source}"), limits.per_address, limits.address_window_secs, now).await?;
        self.limit(&account_bucket(username), limits.per_account, limits.account_window_secs, now).await?;
        let user = self.store.user_by_name(username).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = secrets::verify_password(stored, password.to_owned()).await?;
        let user = match (ok, user) {
            (true, Some(user)) => user,
            (_, user) => {
                let detail = if user.is_some() { "wrong password" } else { "unknown user" };
                self.audit(
                    user.as_ref().map(|u| (u.id, u.name.as_str())),
                    "login_failed",
                    detail,
                    Some(source),
                    now,
                )
                .await;
                return Err(AuthError::BadCredentials);
            }
        };
        if user.is_disabled() {
            self.audit(Some((user.id, &user.name)), "login_failed", "account disabled", Some(source), now)
                .await;
            return Err(AuthError::AccountDisabled);
        }
        self.store.rate_limit_reset(&account_bucket(username)).await?;
        let keys = self.store.credentials_for_user(user.id).await?;
        if keys.is_empty() {
            let session = self.issue_session(&user, KIND_ENROLL, now).await?;
            self.audit(
                Some((user.id, &user.name)),
                "login",
                "password only: enroll-only session",
                Some(source),
                now,
            )
            .await;
            return Ok(PasswordOutcome::EnrollOnly(session));
        }
        let challenge = secrets::random_bytes(32);
        let login_id = secrets::random_token(24);
        self.open_challenge(&login_id, ChallengePurpose::Login, user.id, None, &challenge, now).await?;
        Ok(PasswordOutcome::SecondFactor {
            login_id,
            challenge,
            key_handles: keys.into_iter().map(|k| k.key_handle).collect(),
        })
    }

    /// Finishes a login with a U2F authentication response. The signature is
    /// checked before the challenge is consumed, and the consumption is one
    /// conditional UPDATE: of many concurrent finishes exactly one wins.
    pub async fn finish_u2f(
        &self,
        login_id: &str,
        key_handle: &[u8],
        signature_data: &[u8],
        client_data: &[u8],
        source: IpAddr,
        now: i64,
    ) -> Result<IssuedSession, AuthError> {
        let (challenge, user) = self.pending_login(login_id, source, now).await?;
        let who = Some((user.id, user.name.as_str()));
        let result = self.check_u2f(&challenge, key_handle, signature_data, client_data).await;
        let (credential, outcome) = match result {
            Ok(found) => found,
            Err(e) => {
                self.audit(who, "login_failed", &e.to_string(), Some(source), now).await;
                self.count_failure(login_id).await?;
                return Err(e);
            }
        };
        if let Err(e) = consume(&self.store, login_id, now).await {
            self.audit(who, "login_failed", &e.to_string(), Some(source), now).await;
            return Err(e);
        }
        let stored = u32::try_from(credential.counter).unwrap_or(u32::MAX);
        let verdict = outcome.counter_verdict(stored);
        let regressed = match verdict {
            CounterVerdict::PossibleClone { .. } => true,
            _ if credential.is_possible_clone() => true,
            _ => matches!(
                self.store.update_counter(credential.id, outcome.counter, now).await?,
                CounterUpdate::Regressed { .. }
            ),
        };
        if regressed {
            self.store.mark_possible_clone(credential.id).await?;
            let detail = format!(
                "clone alarm: key {} ({}) sent counter {} after {}",
                credential.id, credential.label, outcome.counter, stored
            );
            self.audit(who, "clone_alarm", &detail, Some(source), now).await;
            metrics::counter!("keygate_login_total", "outcome" => "possible_clone").increment(1);
            return Err(AuthError::PossibleClone { stored, asserted: outcome.counter });
        }
        let session = self.issue_session(&user, KIND_API, now).await?;
        let detail = format!("password and key {} ({})", credential.id, credential.label);
        self.audit(who, "login", &detail, Some(source), now).await;
        metrics::counter!("keygate_login_total", "outcome" => "success").increment(1);
        Ok(session)
    }

    /// Finishes a login with a one-time recovery code instead of a key.
    pub async fn finish_recovery(
        &self,
        login_id: &str,
        code: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<IssuedSession, AuthError> {
        let (_challenge, user) = self.pending_login(login_id, source, now).await?;
        let who = Some((user.id, user.name.as_str()));
        let hash = TokenHash::of(&super::recovery::normalize(code));
        match self.store.consume_recovery_code(user.id, &hash, now).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_) | StoreError::AlreadyUsed(_)) => {
                self.audit(who, "login_failed", "wrong or used recovery code", Some(source), now).await;
                self.count_failure(login_id).await?;
                return Err(AuthError::BadCredentials);
            }
            Err(e) => return Err(e.into()),
        }
        consume(&self.store, login_id, now).await?;
        let session = self.issue_session(&user, KIND_API, now).await?;
        self.audit(who, "login", "password and recovery code", Some(source), now).await;
        metrics::counter!("keygate_login_total", "outcome" => "recovery").increment(1);
        Ok(session)
    }

    /// The pending login and its user, or the refusal for a missing, used,
    /// expired or exhausted one (audited when the login exists).
    async fn pending_login(
        &self,
        login_id: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<(Challenge, User), AuthError> {
        let challenge = match self.store.challenge(login_id).await? {
            Some(c) if c.purpose == ChallengePurpose::Login => c,
            _ => return Err(AuthError::UnknownLogin),
        };
        let user = self.store.user_by_id(challenge.user_id).await?.ok_or(AuthError::UnknownLogin)?;
        let refusal = if challenge.used_at.is_some() {
            Some(AuthError::ChallengeUsed)
        } else if challenge.expires_at <= now {
            Some(AuthError::ChallengeExpired)
        } else if challenge.attempts >= i64::from(self.settings.limits.second_factor_attempts) {
            metrics::counter!("keygate_rate_limited_total", "limit" => "second_factor").increment(1);
            Some(AuthError::RateLimited {
                retry_after: u64::try_from(challenge.expires_at - now).unwrap_or(0),
            })
        } else if user.is_disabled() {
            Some(AuthError::AccountDisabled)
        } else {
            None
        };
        match refusal {
            Some(e) => {
                self.audit(Some((user.id, &user.name)), "login_failed", &e.to_string(), Some(source), now)
                    .await;
                Err(e)
            }
            None => Ok((challenge, user)),
        }
    }

    /// Verifies clientData and the signature with the core.
    async fn check_u2f(
        &self,
        challenge: &Challenge,
        key_handle: &[u8],
        signature_data: &[u8],
        client_data: &[u8],
    ) -> Result<(crate::store::Credential, crate::verify::AuthenticationOutcome), AuthError> {
        let credential = self
            .store
            .credential_by_handle(&self.settings.rp_id, key_handle)
            .await?
            .filter(|c| c.user_id == challenge.user_id)
            .ok_or(AuthError::UnknownKey)?;
        let expect = ClientDataExpectation {
            challenge: &challenge.challenge,
            allowed_origins: &self.settings.origins,
        };
        let challenge_param =
            crate::verify::verify_u2f_client_data(client_data, U2fClientDataType::Authentication, &expect)
                .map_err(AuthError::from_verify)?;
        let key = self.credential_key(&credential.public_key).map_err(AuthError::BadSignature)?;
        let started = Instant::now();
        let outcome = verify_authentication(signature_data, &key, &self.settings.app_param, &challenge_param);
        metrics::histogram!("keygate_u2f_verify_seconds").record(started.elapsed().as_secs_f64());
        Ok((credential, outcome.map_err(AuthError::BadSignature)?))
    }

    async fn count_failure(&self, login_id: &str) -> Result<(), AuthError> {
        match self.store.record_challenge_failure(login_id).await {
            Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Counts a hit on a rate-limit bucket; over the limit is `RateLimited`.
    pub(crate) async fn limit(
        &self,
        bucket: &str,
        limit: u32,
        window: i64,
        now: i64,
    ) -> Result<(), AuthError> {
        let hit = self.store.rate_limit_hit(bucket, window, now).await?;
        if hit.exceeds(limit) {
            metrics::counter!("keygate_rate_limited_total", "limit" => "password").increment(1);
            return Err(AuthError::RateLimited {
                retry_after: u64::try_from(hit.window_ends - now).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Creates a session of `kind` for `user`.
    pub(crate) async fn issue_session(
        &self,
        user: &User,
        kind: &str,
        now: i64,
    ) -> Result<IssuedSession, AuthError> {
        let token = secrets::random_token(32);
        let expires_at = now.saturating_add(SESSION_TTL_SECS);
        let new = NewSession {
            token_hash: &TokenHash::of(&token),
            user_id: user.id,
            kind,
            app_id: None,
            secret_sealed: None,
            user_agent: None,
            expires_at,
        };
        self.store.create_session(&new, now).await?;
        Ok(IssuedSession { token, expires_at })
    }
}

fn account_bucket(username: &str) -> String {
    format!("pw:user:{username}")
}

/// Consumes a challenge, naming the loser's reason.
pub(crate) async fn consume(store: &crate::store::Store, id: &str, now: i64) -> Result<Challenge, AuthError> {
    store.consume_challenge(id, now).await.map_err(|e| match e {
        StoreError::AlreadyUsed(_) => AuthError::ChallengeUsed,
        StoreError::Expired(_) => AuthError::ChallengeExpired,
        StoreError::NotFound(_) => AuthError::UnknownLogin,
        other => AuthError::Store(other),
    })
}
