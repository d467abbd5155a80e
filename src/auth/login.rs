//! The login ceremony: password step, then the U2F signature or a recovery
//! code against one challenge shared by all the user's keys.

use std::net::IpAddr;
use std::time::Instant;

use super::app_request::AppRequest;
use super::{Auth, AuthError, Ceremony, KIND_API, KIND_ENROLL, SESSION_TTL_SECS};
use crate::secrets::{self, TokenHash};
use crate::store::{Challenge, ChallengePurpose, CounterUpdate, Credential, NewSession, StoreError, User};
use crate::verify::{
    AssertionExpectation, ClientDataExpectation, CounterVerdict, U2fClientDataType, verify_assertion,
    verify_authentication,
};

/// A new session: the bearer token is shown once, only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedSession {
    /// The bearer token.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

/// A completed login: the session, and for a sign-in on behalf of an
/// application, where the browser goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginSuccess {
    /// The new session.
    pub session: IssuedSession,
    /// `next`, `/login.php/done` or the OAuth redirect with its code.
    pub redirect_to: Option<String>,
}

/// The parts of a WebAuthn assertion (`PublicKeyCredential.toJSON()`,
/// decoded) that the core checks.
#[derive(Clone, Copy, Debug)]
pub struct WebAuthnAssertion<'a> {
    /// `rawId`: the credential id, which is the U2F key handle.
    pub credential_id: &'a [u8],
    /// `response.authenticatorData`.
    pub authenticator_data: &'a [u8],
    /// `response.clientDataJSON`.
    pub client_data_json: &'a [u8],
    /// `response.signature` (DER).
    pub signature: &'a [u8],
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
    /// timing tells whether the name exists. `for_app` is checked before the
    /// password and kept with the login until its second factor.
    pub async fn password_login(
        &self,
        username: &str,
        password: &str,
        for_app: Option<&AppRequest>,
        source: IpAddr,
        now: i64,
    ) -> Result<PasswordOutcome, AuthError> {
        let limits = self.settings.limits;
        self.limit(&format!("pw:ip:{source}"), limits.per_address, limits.address_window_secs, now).await?;
        self.limit(&account_bucket(username), limits.per_account, limits.account_window_secs, now).await?;
        if let Some(request) = for_app {
            self.check_app_request(request, now).await?;
        }
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
        if keys.is_empty() && for_app.is_some() {
            // Applications get only users who can pass the second factor.
            self.audit(
                Some((user.id, &user.name)),
                "login_failed",
                "no key to sign in for an application",
                Some(source),
                now,
            )
            .await;
            return Err(AuthError::EnrollOnly);
        }
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
        let for_app = for_app
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| AuthError::InvalidRequest(e.to_string()))?;
        let ceremony = Ceremony::Login { for_app: for_app.as_deref() };
        self.open_challenge(&login_id, user.id, ceremony, &challenge, now).await?;
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
    ) -> Result<LoginSuccess, AuthError> {
        let (challenge, user) = self.pending_login(login_id, source, now).await?;
        let result = self.check_u2f(&challenge, key_handle, signature_data, client_data).await;
        self.finish_with_key(&challenge, &user, result, source, now).await
    }

    /// Finishes a login with a WebAuthn assertion (a browser), verified by
    /// the same core and counter rule as the U2F path: one credential store.
    pub async fn finish_webauthn(
        &self,
        login_id: &str,
        assertion: &WebAuthnAssertion<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let (challenge, user) = self.pending_login(login_id, source, now).await?;
        let result = self.check_webauthn(&challenge, assertion).await;
        self.finish_with_key(&challenge, &user, result, source, now).await
    }

    /// The part of a key login after the signature check: count a failure,
    /// or consume the challenge, apply the counter rule and succeed.
    async fn finish_with_key(
        &self,
        challenge: &Challenge,
        user: &User,
        checked: Result<(Credential, u32), AuthError>,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let who = Some((user.id, user.name.as_str()));
        let (credential, asserted) = match checked {
            Ok(found) => found,
            Err(e) => {
                self.audit(who, "login_failed", &e.to_string(), Some(source), now).await;
                self.count_failure(&challenge.id).await?;
                return Err(e);
            }
        };
        if let Err(e) = consume(&self.store, &challenge.id, now).await {
            self.audit(who, "login_failed", &e.to_string(), Some(source), now).await;
            return Err(e);
        }
        let stored = u32::try_from(credential.counter).unwrap_or(u32::MAX);
        let regressed = match CounterVerdict::judge(stored, asserted) {
            CounterVerdict::PossibleClone { .. } => true,
            _ if credential.is_possible_clone() => true,
            _ => matches!(
                self.store.update_counter(credential.id, asserted, now).await?,
                CounterUpdate::Regressed { .. }
            ),
        };
        if regressed {
            self.store.mark_possible_clone(credential.id).await?;
            let detail = format!(
                "clone alarm: key {} ({}) sent counter {} after {}",
                credential.id, credential.label, asserted, stored
            );
            self.audit(who, "clone_alarm", &detail, Some(source), now).await;
            metrics::counter!("keygate_login_total", "outcome" => "possible_clone").increment(1);
            return Err(AuthError::PossibleClone { stored, asserted });
        }
        let success = self.login_succeeded(challenge, user, now).await?;
        let detail = format!("password and key {} ({})", credential.id, credential.label);
        self.audit(who, "login", &detail, Some(source), now).await;
        metrics::counter!("keygate_login_total", "outcome" => "success").increment(1);
        Ok(success)
    }

    /// Finishes a login with a one-time recovery code instead of a key.
    pub async fn finish_recovery(
        &self,
        login_id: &str,
        code: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let (challenge, user) = self.pending_login(login_id, source, now).await?;
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
        let success = self.login_succeeded(&challenge, &user, now).await?;
        self.audit(who, "login", "password and recovery code", Some(source), now).await;
        metrics::counter!("keygate_login_total", "outcome" => "recovery").increment(1);
        Ok(success)
    }

    /// What every passed second factor leads to: the application's request
    /// carried out, if the login was for one, then the session.
    async fn login_succeeded(
        &self,
        challenge: &Challenge,
        user: &User,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let redirect_to = match challenge.for_app.as_deref() {
            Some(json) => {
                let request: AppRequest = serde_json::from_str(json)
                    .map_err(|e| AuthError::InvalidRequest(format!("stored application request: {e}")))?;
                Some(self.complete_app_request(&request, user, now).await?)
            }
            None => None,
        };
        let session = self.issue_session(user, KIND_API, now).await?;
        Ok(LoginSuccess { session, redirect_to })
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
    ) -> Result<(Credential, u32), AuthError> {
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
        Ok((credential, outcome.map_err(AuthError::BadSignature)?.counter))
    }

    /// Verifies a WebAuthn assertion with the core against the login's
    /// challenge, the RP ID and the allowed origins.
    async fn check_webauthn(
        &self,
        challenge: &Challenge,
        assertion: &WebAuthnAssertion<'_>,
    ) -> Result<(Credential, u32), AuthError> {
        let credential = self
            .store
            .credential_by_handle(&self.settings.rp_id, assertion.credential_id)
            .await?
            .filter(|c| c.user_id == challenge.user_id)
            .ok_or(AuthError::UnknownKey)?;
        let key = self.credential_key(&credential.public_key).map_err(AuthError::BadSignature)?;
        let expect = AssertionExpectation {
            rp_id_hash: &self.settings.app_param,
            client_data: ClientDataExpectation {
                challenge: &challenge.challenge,
                allowed_origins: &self.settings.origins,
            },
            user_verification_required: false,
        };
        let started = Instant::now();
        let outcome = verify_assertion(
            &key,
            assertion.authenticator_data,
            assertion.client_data_json,
            assertion.signature,
            &expect,
        );
        metrics::histogram!("keygate_u2f_verify_seconds").record(started.elapsed().as_secs_f64());
        Ok((credential, outcome.map_err(AuthError::from_verify)?.counter))
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
