//! The login ceremony: password step, then the U2F signature or a recovery
//! code against one challenge shared by all the user's keys.

use std::net::IpAddr;
use std::time::Instant;

use super::app_request::AppRequest;
use super::{Auth, AuthError, Ceremony, SESSION_TTL_SECS};
use crate::secrets::{self, TokenHash};
use crate::store::{
    AuditEvent, Challenge, ChallengePurpose, CounterUpdate, Credential, KNOWN_NETWORK_KEEP_SECS, NewSession,
    Redemption, SessionKind, StoreError, User,
};
use crate::verify::{
    AssertionExpectation, ClientDataExpectation, CounterVerdict, U2fClientDataType, verify_assertion,
    verify_authentication,
};

/// A new session: the bearer token is shown once, only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IssuedSession {
    /// The bearer token.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

/// A completed login: the session, and for a sign-in on behalf of an
/// application, where the browser goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoginSuccess {
    /// The new session.
    pub session: IssuedSession,
    /// `next`, `/login.php/done` or the OAuth redirect with its code.
    pub redirect_to: Option<String>,
}

/// A U2F authentication response (FIDO U2F JavaScript API shape, decoded).
#[derive(Clone, Copy, Debug)]
pub(crate) struct U2fSignResponse<'a> {
    /// The key handle the key signed with.
    pub key_handle: &'a [u8],
    /// `signatureData`: flags, counter, signature.
    pub signature_data: &'a [u8],
    /// `clientData`: the JSON whose hash the key signed.
    pub client_data: &'a [u8],
}

/// The parts of a WebAuthn assertion (`PublicKeyCredential.toJSON()`,
/// decoded) that the core checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WebAuthnAssertion<'a> {
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
pub(crate) enum PasswordOutcome {
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
    pub(crate) async fn password_login(
        &self,
        username: &str,
        password: &str,
        for_app: Option<&AppRequest>,
        source: IpAddr,
        now: i64,
    ) -> Result<PasswordOutcome, AuthError> {
        counted(self.check_password(username, password, for_app, source, now).await)
    }

    async fn check_password(
        &self,
        username: &str,
        password: &str,
        for_app: Option<&AppRequest>,
        source: IpAddr,
        now: i64,
    ) -> Result<PasswordOutcome, AuthError> {
        let limits = self.settings.limits;
        let network = client_network(source, limits.ipv6_prefix).to_string();
        self.limit(&format!("pw:net:{network}"), limits.per_address, limits.address_window_secs, now).await?;
        self.limit(&account_bucket(username), limits.per_account, limits.account_window_secs, now).await?;
        if let Some(request) = for_app {
            self.check_app_request(request, now).await?;
        }
        let user = self.store.user_by_name(username).await?;
        // Known and unknown users take the same steps, so neither the answer
        // nor its timing nor being let through a storm tells them apart.
        let user_id = user.as_ref().map_or(0, |u| u.id);
        let known = self.store.knows_network(user_id, &network, now - KNOWN_NETWORK_KEEP_SECS).await?;
        let storm = self.store.rate_limit_peek(FAILURES_BUCKET, 60, now).await?;
        if storm.hits >= limits.failures_per_minute && !known {
            metrics::counter!("keygate_rate_limited_total", "limit" => "password_storm").increment(1);
            return Err(AuthError::RateLimited {
                retry_after: u64::try_from(storm.window_ends - now).unwrap_or(1),
            });
        }
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = self.hasher.verify(stored, password.to_owned(), known).await?;
        let user = match (ok, user) {
            (true, Some(user)) => user,
            (_, user) => {
                self.store.rate_limit_hit(FAILURES_BUCKET, 60, now).await?;
                let detail = if user.is_some() { "wrong password" } else { "unknown user" };
                self.audit(
                    user.as_ref().map(|u| (u.id, u.name.as_str())),
                    AuditEvent::LoginFailed,
                    detail,
                    Some(source),
                    now,
                )
                .await;
                return Err(AuthError::BadCredentials);
            }
        };
        self.store.remember_network(user.id, &network, now).await?;
        if user.is_disabled() {
            self.audit(
                Some((user.id, &user.name)),
                AuditEvent::LoginFailed,
                "account disabled",
                Some(source),
                now,
            )
            .await;
            return Err(AuthError::AccountDisabled);
        }
        self.store.rate_limit_reset(&account_bucket(username)).await?;
        let keys = self.store.credentials_for_user(user.id).await?;
        if keys.is_empty() && for_app.is_some() {
            // Applications get only users who can pass the second factor.
            self.audit(
                Some((user.id, &user.name)),
                AuditEvent::LoginFailed,
                "no key to sign in for an application",
                Some(source),
                now,
            )
            .await;
            return Err(AuthError::EnrollOnly);
        }
        if keys.is_empty() {
            let session = self.issue_session(&user, SessionKind::Enroll, None, now).await?;
            self.audit(
                Some((user.id, &user.name)),
                AuditEvent::Login,
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

    /// Finishes a login with a U2F authentication response. The attempt is
    /// reserved before the signature is judged, and the challenge consumed
    /// by one conditional UPDATE after: of many concurrent finishes at most
    /// `second_factor_attempts` are judged and exactly one wins.
    pub(crate) async fn finish_u2f(
        &self,
        login_id: &str,
        response: &U2fSignResponse<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        counted(self.finish_with_key(login_id, KeyAnswer::U2f(response), source, now).await)
    }

    /// Finishes a login with a WebAuthn assertion (a browser), verified by
    /// the same core and counter rule as the U2F path: one credential store.
    pub(crate) async fn finish_webauthn(
        &self,
        login_id: &str,
        assertion: &WebAuthnAssertion<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        counted(self.finish_with_key(login_id, KeyAnswer::WebAuthn(assertion), source, now).await)
    }

    /// Both key paths of a login's second step: reserve an attempt, judge
    /// the answer, consume the challenge, apply the counter rule, issue the
    /// session.
    async fn finish_with_key(
        &self,
        login_id: &str,
        answer: KeyAnswer<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let (challenge, user) = self.pending(login_id, Pending::Login, source, now).await?;
        let result = match answer {
            KeyAnswer::U2f(response) => self.check_u2f(&challenge, response).await,
            KeyAnswer::WebAuthn(assertion) => self.check_webauthn(&challenge, assertion).await,
        };
        let key = self.passed_with_key(&challenge, &user, result, Pending::Login, source, now).await?;
        let how = format!("password and key {} ({})", key.id, key.label);
        self.login_succeeded(&challenge, &user, source, &how, "success", now).await
    }

    /// The part of a key ceremony after the signature check: a refusal is
    /// audited (its attempt was reserved already), a pass consumes the
    /// challenge and applies the counter rule. Returns the key that passed.
    pub(crate) async fn passed_with_key(
        &self,
        challenge: &Challenge,
        user: &User,
        checked: Result<(Credential, u32), AuthError>,
        ceremony: Pending,
        source: IpAddr,
        now: i64,
    ) -> Result<Credential, AuthError> {
        let who = Some((user.id, user.name.as_str()));
        let failed = ceremony.failure_event();
        let (credential, asserted) = match checked {
            Ok(found) => found,
            Err(e) => {
                if !matches!(e, AuthError::Store(_)) {
                    self.audit(who, failed, &e.to_string(), Some(source), now).await;
                }
                return Err(e);
            }
        };
        if let Err(e) = consume(&self.store, &challenge.id, now).await {
            if !matches!(e, AuthError::Store(_)) {
                self.audit(who, failed, &e.to_string(), Some(source), now).await;
            }
            return Err(e);
        }
        let stored = u32::try_from(credential.counter).unwrap_or(u32::MAX);
        let regressed = match CounterVerdict::judge(stored, asserted) {
            CounterVerdict::PossibleClone { .. } => true,
            _ if credential.possible_clone => true,
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
            self.audit(who, AuditEvent::CloneAlarm, &detail, Some(source), now).await;
            return Err(AuthError::PossibleClone { stored, asserted });
        }
        Ok(credential)
    }

    /// Finishes a login with a one-time recovery code instead of a key. The
    /// code is burned in the same transaction that consumes the login, so a
    /// code sent for a login that is already finished or expired survives.
    pub(crate) async fn finish_recovery(
        &self,
        login_id: &str,
        code: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        counted(self.redeem(login_id, code, source, now).await)
    }

    async fn redeem(
        &self,
        login_id: &str,
        code: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<LoginSuccess, AuthError> {
        let (challenge, user) = self.pending(login_id, Pending::Login, source, now).await?;
        let who = Some((user.id, user.name.as_str()));
        let normalized = super::recovery::normalize(code);
        let mac = self.server_key.recovery_code_mac(user.id, &normalized);
        let legacy = TokenHash::of(&normalized);
        let refusal = match self.store.redeem_recovery_code(login_id, user.id, &mac, &legacy, now).await? {
            Redemption::Redeemed => None,
            Redemption::WrongCode | Redemption::UsedCode => Some(AuthError::BadCredentials),
            Redemption::LoginUsed => Some(AuthError::ChallengeUsed),
            Redemption::LoginExpired => Some(AuthError::ChallengeExpired),
            Redemption::NoLogin => Some(AuthError::UnknownLogin),
        };
        if let Some(e) = refusal {
            let detail = match e {
                AuthError::BadCredentials => "wrong or used recovery code".to_owned(),
                ref other => other.to_string(),
            };
            self.audit(who, AuditEvent::LoginFailed, &detail, Some(source), now).await;
            return Err(e);
        }
        self.login_succeeded(&challenge, &user, source, "password and recovery code", "recovery", now).await
    }

    /// What every passed second factor leads to: the application's request
    /// carried out, if the login was for one, then the session (whose second
    /// factor is now), the audit line (`how`) and the metric (`outcome`).
    async fn login_succeeded(
        &self,
        challenge: &Challenge,
        user: &User,
        source: IpAddr,
        how: &str,
        outcome: &'static str,
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
        let session = self.issue_session(user, SessionKind::Api, Some(now), now).await?;
        self.audit(Some((user.id, &user.name)), AuditEvent::Login, how, Some(source), now).await;
        metrics::counter!("keygate_login_total", "outcome" => outcome).increment(1);
        Ok(LoginSuccess { session, redirect_to })
    }

    /// The pending ceremony `id` and its user, with one second-factor attempt
    /// reserved on it; or the refusal for a missing, used, expired or
    /// exhausted one (audited when the ceremony exists).
    pub(crate) async fn pending(
        &self,
        id: &str,
        ceremony: Pending,
        source: IpAddr,
        now: i64,
    ) -> Result<(Challenge, User), AuthError> {
        let challenge = match self.store.challenge(id).await? {
            Some(c) if ceremony.owns(&c) => c,
            _ => return Err(AuthError::UnknownLogin),
        };
        let user = self.store.user_by_id(challenge.user_id).await?.ok_or(AuthError::UnknownLogin)?;
        let refusal = if user.is_disabled() {
            AuthError::AccountDisabled
        } else {
            let limit = self.settings.limits.second_factor_attempts;
            match self.store.reserve_attempt(id, limit, now).await {
                Ok(_) => return Ok((challenge, user)),
                Err(StoreError::AlreadyUsed(_)) => AuthError::ChallengeUsed,
                Err(StoreError::Expired(_)) => AuthError::ChallengeExpired,
                Err(StoreError::NotFound(_)) => AuthError::UnknownLogin,
                Err(StoreError::Exhausted(_)) => {
                    metrics::counter!("keygate_rate_limited_total", "limit" => "second_factor").increment(1);
                    AuthError::RateLimited {
                        retry_after: u64::try_from(challenge.expires_at - now).unwrap_or(0),
                    }
                }
                Err(other) => return Err(other.into()),
            }
        };
        let failed = ceremony.failure_event();
        self.audit(Some((user.id, &user.name)), failed, &refusal.to_string(), Some(source), now).await;
        Err(refusal)
    }

    /// Verifies clientData and the signature with the core.
    pub(crate) async fn check_u2f(
        &self,
        challenge: &Challenge,
        response: &U2fSignResponse<'_>,
    ) -> Result<(Credential, u32), AuthError> {
        let U2fSignResponse { key_handle, signature_data, client_data } = *response;
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
    pub(crate) async fn check_webauthn(
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

    /// Creates a session of `kind` for `user`; `verified_at` is when it
    /// passed its second factor, if it did.
    pub(crate) async fn issue_session(
        &self,
        user: &User,
        kind: SessionKind,
        verified_at: Option<i64>,
        now: i64,
    ) -> Result<IssuedSession, AuthError> {
        let token = secrets::random_token(32);
        let expires_at = now.saturating_add(SESSION_TTL_SECS);
        let hash = TokenHash::of(&token);
        let new = NewSession { verified_at, ..NewSession::new(&hash, user.id, kind, expires_at) };
        self.store.create_session(&new, now).await?;
        Ok(IssuedSession { token, expires_at })
    }
}

/// Which pending ceremony a second factor is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// A login's second step.
    Login,
    /// A step-up of this signed-in session.
    Reauth {
        /// The session that started it (and only it may finish it).
        session_id: i64,
    },
}

impl Pending {
    /// Whether the stored challenge is this ceremony's.
    fn owns(self, challenge: &Challenge) -> bool {
        match self {
            Self::Login => challenge.purpose == ChallengePurpose::Login,
            Self::Reauth { session_id } => {
                challenge.purpose == ChallengePurpose::Reauth && challenge.session_id == Some(session_id)
            }
        }
    }

    /// The audit event of a refusal.
    fn failure_event(self) -> AuditEvent {
        match self {
            Self::Login => AuditEvent::LoginFailed,
            Self::Reauth { .. } => AuditEvent::StepUpFailed,
        }
    }
}

/// The rate-limit bucket of failed passwords, all clients together.
const FAILURES_BUCKET: &str = "pw:failures";

/// The network a client is counted by: an IPv4 address, or the IPv6 prefix of
/// `v6_prefix` bits (one /64 is one client; an IPv4-mapped address is IPv4).
pub(crate) fn client_network(source: IpAddr, v6_prefix: u8) -> ipnet::IpNet {
    match source {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ipnet::IpNet::from(IpAddr::V4(v4)),
            None => ipnet::Ipv6Net::new(v6, v6_prefix.min(128))
                .map(|net| ipnet::IpNet::V6(net.trunc()))
                .unwrap_or_else(|_| ipnet::IpNet::from(source)),
        },
        IpAddr::V4(_) => ipnet::IpNet::from(source),
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

/// A key's answer to a login challenge, from the CLI (U2F) or a browser.
enum KeyAnswer<'a> {
    U2f(&'a U2fSignResponse<'a>),
    WebAuthn(&'a WebAuthnAssertion<'a>),
}

/// Counts a refused login step by its error code, once, whichever surface
/// asked (successes are counted where the session is issued).
fn counted<T>(result: Result<T, AuthError>) -> Result<T, AuthError> {
    if let Err(e) = &result {
        metrics::counter!("keygate_login_total", "outcome" => e.code()).increment(1);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_by_address_or_prefix() {
        let net = |ip: &str, prefix| client_network(ip.parse().unwrap(), prefix).to_string();
        assert_eq!(net("192.0.2.9", 64), "192.0.2.9/32");
        assert_eq!(net("2001:db8:a:b:c:d:e:f", 64), "2001:db8:a:b::/64");
        assert_eq!(net("2001:db8:a:b:c:d:e:f", 48), "2001:db8:a::/48");
        assert_eq!(net("2001:db8::1", 128), "2001:db8::1/128");
        assert_eq!(net("2001:db8::1", 200), "2001:db8::1/128", "an absurd prefix is clamped");
        assert_eq!(net("::ffff:192.0.2.9", 64), "192.0.2.9/32", "IPv4-mapped is IPv4");
    }
}
