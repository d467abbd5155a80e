//! Login and key management as plain functions over the store.
//!
//! The HTTP layer (`web::api`) only decodes requests and encodes answers; every
//! decision — password check, rate limits, challenge lifetime, U2F
//! verification, the counter rule, recovery codes, sessions — is taken here,
//! with `now` passed in so tests decide what time it is. Every refusal is an
//! [`AuthError`] variant the API maps to one §3 error code, and every
//! security-relevant outcome writes an audit entry.

pub(crate) mod app_request;
mod error;
pub(crate) mod keys;
pub(crate) mod login;
pub(crate) mod reauth;
pub(crate) mod recovery;
pub(crate) mod session;
pub(crate) mod webauthn;

use std::net::IpAddr;

/// The records the service hands to the surfaces it serves, so that they
/// render what the service returns without reaching into the store.
pub(crate) use crate::store::{App, Credential, Session};
pub(crate) use error::AuthError;

use crate::config::Config;
use crate::secrets::ServerKey;
use crate::store::{AuditEvent, ChallengePurpose, NewAuditEntry, NewChallenge, Store, StoreError};
use crate::verify::fast::KeyCache;
use crate::verify::{AttestationPolicy, CredentialKey, TrustRoots, VerifyError};

/// API sessions last 12 hours.
pub(crate) const SESSION_TTL_SECS: i64 = 12 * 3600;
/// Adding a key, new recovery codes and removing the last key need a second
/// factor (the login's, or a step-up) younger than this.
pub(crate) const STEP_UP_SECS: i64 = 5 * 60;

/// Limits on guessing, chosen so a person never meets them and a script soon does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Password attempts per account per window.
    pub per_account: u32,
    /// Window of the per-account counter, seconds.
    pub account_window_secs: i64,
    /// Password attempts per source address per window.
    pub per_address: u32,
    /// Window of the per-address counter, seconds.
    pub address_window_secs: i64,
    /// Failed second-factor (key or recovery code) attempts per login.
    pub second_factor_attempts: u32,
    /// IPv6 clients are counted per prefix of this length.
    pub ipv6_prefix: u8,
    /// Failed passwords per minute, all clients together, above which only
    /// users on a network they signed in from before are checked.
    pub failures_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_account: 10,
            account_window_secs: 300,
            per_address: 50,
            address_window_secs: 60,
            second_factor_attempts: 5,
            ipv6_prefix: 64,
            failures_per_minute: 600,
        }
    }
}

impl Limits {
    /// The configured attempt counts over the default windows.
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            per_account: config.login_attempts_per_account,
            per_address: config.login_attempts_per_address,
            second_factor_attempts: config.second_factor_attempts,
            ipv6_prefix: config.rate_limit_ipv6_prefix.min(128),
            failures_per_minute: config.password_failures_per_minute,
            ..Self::default()
        }
    }
}

/// What a challenge is opened for, with what only that ceremony carries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ceremony<'a> {
    /// A login's second factor, perhaps on behalf of an application (JSON).
    Login {
        /// The serialised application request.
        for_app: Option<&'a str>,
    },
    /// A step-up: a signed-in session confirming with a key again.
    Reauth {
        /// The session stepping up.
        session_id: i64,
    },
    /// A key enrolment by a signed-in session.
    Register {
        /// The session enrolling.
        session_id: i64,
        /// webauthn-rs's serialised registration state, for browsers.
        webauthn_state: Option<&'a str>,
    },
}

/// Everything the login logic needs besides the store: fixed at start-up.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// U2F app id = WebAuthn RP ID.
    pub rp_id: String,
    /// SHA-256 of `rp_id`, the U2F application parameter.
    pub app_param: [u8; 32],
    /// Origins accepted in clientData (the configured one).
    pub origins: Vec<String>,
    /// Lifetime of login and enrolment challenges, seconds.
    pub challenge_ttl_secs: i64,
    /// How new keys' attestation is judged.
    pub attestation: AttestationPolicy,
    /// Guessing limits.
    pub limits: Limits,
    /// Keys whose verification tables stay cached (`key_cache_size`).
    pub key_cache_size: std::num::NonZeroUsize,
}

impl Settings {
    /// Derives the settings from the configuration and the trust roots it
    /// names (read by the caller: see [`Config::trust_roots`]).
    pub(crate) fn from_config(config: &Config, roots: Option<TrustRoots>) -> Result<Self, VerifyError> {
        Ok(Self::with_policy(config, AttestationPolicy::new(config.attestation, roots)?))
    }

    /// Settings whose attestation policy trusts no CA, so no key enrolls.
    pub(crate) fn fail_closed(config: &Config) -> Self {
        Self::with_policy(config, AttestationPolicy::TrustedCa(TrustRoots::default()))
    }

    fn with_policy(config: &Config, attestation: AttestationPolicy) -> Self {
        Self {
            rp_id: config.rp_id.clone(),
            app_param: crate::verify::app_param(&config.rp_id),
            origins: vec![config.origin.clone()],
            challenge_ttl_secs: i64::try_from(config.challenge_ttl_secs).unwrap_or(i64::MAX),
            attestation,
            limits: Limits::from_config(config),
            key_cache_size: std::num::NonZeroUsize::new(config.key_cache_size)
                .unwrap_or(crate::verify::fast::DEFAULT_CAPACITY),
        }
    }

    /// The origin non-browser clients put in clientData.
    pub(crate) fn origin(&self) -> &str {
        self.origins.first().map_or("", String::as_str)
    }
}

/// The login service: the store plus settings. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    /// The database.
    pub store: Store,
    /// Start-up settings.
    pub settings: std::sync::Arc<Settings>,
    /// The server key: recovery codes are stored as MACs under it.
    pub server_key: std::sync::Arc<ServerKey>,
    /// Every password check and hash goes through it: bounded memory and
    /// threads under a guessing storm.
    pub hasher: crate::secrets::PasswordHasher,
    /// Verifiers of the credential keys seen lately, with their tables:
    /// every login's signature check goes through it.
    pub keys: std::sync::Arc<KeyCache>,
}

impl Auth {
    /// Bundles store, settings, the server key and the password hasher.
    pub(crate) fn new(
        store: Store,
        settings: Settings,
        server_key: std::sync::Arc<ServerKey>,
        hasher: crate::secrets::PasswordHasher,
    ) -> Self {
        let keys = std::sync::Arc::new(KeyCache::new(settings.key_cache_size));
        Self { store, settings: std::sync::Arc::new(settings), server_key, hasher, keys }
    }

    /// The one place a stored credential's public key is parsed, so a cache
    /// of precomputed verifiers can be put behind it without touching callers.
    pub(crate) fn credential_key(&self, sec1: &[u8]) -> Result<CredentialKey, VerifyError> {
        let key = CredentialKey::cached(&self.keys, sec1);
        metrics::counter!("keygate_key_cache_hits_total").absolute(self.keys.hits());
        metrics::counter!("keygate_key_cache_misses_total").absolute(self.keys.misses());
        key
    }

    /// Stores a pending ceremony (login or enrolment) with the configured
    /// lifetime: one place decides how long a challenge lives.
    pub(crate) async fn open_challenge(
        &self,
        id: &str,
        user_id: i64,
        ceremony: Ceremony<'_>,
        challenge: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let (purpose, session_id, for_app, state) = match ceremony {
            Ceremony::Login { for_app } => (ChallengePurpose::Login, None, for_app, None),
            Ceremony::Reauth { session_id } => (ChallengePurpose::Reauth, Some(session_id), None, None),
            Ceremony::Register { session_id, webauthn_state } => {
                (ChallengePurpose::Register, Some(session_id), None, webauthn_state)
            }
        };
        let new = NewChallenge {
            id,
            purpose,
            user_id,
            session_id,
            challenge,
            for_app,
            state,
            expires_at: now.saturating_add(self.settings.challenge_ttl_secs),
        };
        self.store.create_challenge(&new, now).await.map(drop)
    }

    /// Writes an audit entry; a failing audit write is logged, never turned
    /// into a second error for the client.
    pub(crate) async fn audit(
        &self,
        user: Option<(i64, &str)>,
        event: AuditEvent,
        detail: &str,
        source: Option<IpAddr>,
        now: i64,
    ) {
        let source = source.map(|ip| ip.to_string());
        let entry = NewAuditEntry {
            user_id: user.map(|u| u.0),
            user_name: user.map(|u| u.1),
            event: event.as_str(),
            detail,
            source: source.as_deref(),
        };
        if let Err(error) = self.store.audit(&entry, now).await {
            tracing::warn!(%error, event = event.as_str(), "audit entry not written");
        }
    }
}
