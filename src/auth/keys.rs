//! Registering, listing, renaming and removing a user's security keys.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::session::Caller;
use super::{Auth, AuthError, Ceremony};
use crate::secrets;
use crate::store::{
    AuditEvent, ChallengePurpose, Credential, Enrolment, KeyRemoval, NewCredential, StoreError, Transport,
};
use crate::verify::{ClientData, ClientDataExpectation, U2fClientDataType, verify_registration};

/// Longest key label accepted.
pub(crate) const MAX_LABEL_LEN: usize = 100;

/// A started enrolment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegisterStart {
    /// The challenge the new key signs.
    pub challenge: Vec<u8>,
    /// Key handles already registered (so a key is not enrolled twice).
    pub key_handles: Vec<Vec<u8>>,
}

/// A finished enrolment.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    /// The stored key.
    pub credential: Credential,
    /// The first recovery-code set, when this was the user's first key.
    pub recovery_codes: Option<Vec<String>>,
}

impl Auth {
    /// Starts an enrolment. The challenge's id is its own websafe base64, so
    /// the finish request finds it through the clientData alone.
    pub(crate) async fn register_start(&self, caller: &Caller, now: i64) -> Result<RegisterStart, AuthError> {
        let keys = self.may_add_key(caller, now).await?;
        let challenge = secrets::random_bytes(32);
        let id = URL_SAFE_NO_PAD.encode(&challenge);
        let ceremony = Ceremony::Register { session_id: caller.session.id, webauthn_state: None };
        self.open_challenge(&id, caller.user.id, ceremony, &challenge, now).await?;
        Ok(RegisterStart { challenge, key_handles: keys.into_iter().map(|k| k.key_handle).collect() })
    }

    /// Verifies a registration response against the caller's pending
    /// enrolment and stores the key; the first key comes with recovery codes.
    pub(crate) async fn register_finish(
        &self,
        caller: &Caller,
        registration_data: &[u8],
        client_data: &[u8],
        name: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<Registered, AuthError> {
        let label = check_label(name)?;
        let who = Some((caller.user.id, caller.user.name.as_str()));
        self.may_add_key(caller, now).await?;
        let parsed = ClientData::parse_u2f(client_data).map_err(AuthError::BadClientData)?;
        let pending = self.pending_registration(caller, &parsed.challenge, now).await?;
        let expect =
            ClientDataExpectation { challenge: &pending.challenge, allowed_origins: &self.settings.origins };
        let verified =
            crate::verify::verify_u2f_client_data(client_data, U2fClientDataType::Registration, &expect)
                .map_err(AuthError::from_verify)
                .and_then(|challenge_param| {
                    verify_registration(
                        registration_data,
                        &self.settings.app_param,
                        &challenge_param,
                        &self.settings.attestation,
                    )
                    .map_err(AuthError::from_verify)
                });
        let (data, attestation) = match verified {
            Ok(v) => v,
            Err(e) => {
                self.audit(who, AuditEvent::EnrollFailed, &e.to_string(), Some(source), now).await;
                return Err(e);
            }
        };
        super::login::consume(&self.store, &pending.id, now).await?;
        let new = NewCredential {
            user_id: caller.user.id,
            rp_id: &self.settings.rp_id,
            key_handle: &data.key_handle,
            public_key: data.user_public_key.sec1_bytes(),
            counter: 0,
            label: &label,
            attestation_subject: attestation.subject.as_deref(),
            transports: &[Transport::Usb],
            webauthn: None,
        };
        let how = format!("attested by {}", new.attestation_subject.unwrap_or("-"));
        self.store_new_key(caller, &new, &how, source, now).await
    }

    /// Whether the caller may add a key now, and the user's keys: an
    /// enroll-only session only a first one (exempt from the step-up), a
    /// full session only with a second factor from the last 5 minutes.
    pub(crate) async fn may_add_key(&self, caller: &Caller, now: i64) -> Result<Vec<Credential>, AuthError> {
        if !caller.is_enroll_only() {
            caller.require_fresh_factor("adding a security key", now)?;
        }
        let keys = self.store.credentials_for_user(caller.user.id).await?;
        if caller.is_enroll_only() && !keys.is_empty() {
            return Err(AuthError::EnrollOnly);
        }
        Ok(keys)
    }

    /// Stores a verified new key (refusing one already registered), with the
    /// first recovery-code set when it is the user's first key, in one
    /// transaction; an enroll-only session loses a race for the first key
    /// with `enroll_only`. Audited; `how` ends the audit line.
    pub(crate) async fn store_new_key(
        &self,
        caller: &Caller,
        new: &NewCredential<'_>,
        how: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<Registered, AuthError> {
        let set = self.recovery_code_set(caller.user.id);
        let enrolled = self.store.enroll_credential(new, caller.is_enroll_only(), &set.macs, now).await;
        let (credential, first) = match enrolled {
            Ok(Enrolment::Added { credential, first }) => (*credential, first),
            Ok(Enrolment::NotFirst) => return Err(AuthError::EnrollOnly),
            Err(StoreError::Conflict(_)) => {
                return Err(AuthError::InvalidRequest("this key is already registered".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let detail = format!("key {} ({}) {how}", credential.id, credential.label);
        let who = Some((caller.user.id, caller.user.name.as_str()));
        self.audit(who, AuditEvent::KeyEnrolled, &detail, Some(source), now).await;
        Ok(Registered { credential, recovery_codes: first.then_some(set.codes) })
    }

    /// The caller's open enrolment with this challenge id: started by this
    /// very session, unused and unexpired.
    pub(crate) async fn pending_registration(
        &self,
        caller: &Caller,
        challenge_id: &str,
        now: i64,
    ) -> Result<crate::store::Challenge, AuthError> {
        let pending = match self.store.challenge(challenge_id).await? {
            Some(c)
                if c.purpose == ChallengePurpose::Register
                    && c.user_id == caller.user.id
                    && c.session_id == Some(caller.session.id) =>
            {
                c
            }
            _ => return Err(AuthError::UnknownLogin),
        };
        if pending.used_at.is_some() {
            return Err(AuthError::ChallengeUsed);
        }
        if pending.expires_at <= now {
            return Err(AuthError::ChallengeExpired);
        }
        Ok(pending)
    }

    /// The keys of the caller holding `token`, checked as
    /// [`Auth::authenticate`] does, in one read.
    pub(crate) async fn keys_of(&self, token: &str, now: i64) -> Result<Vec<Credential>, AuthError> {
        let found = self.store.session_user_and_keys(&secrets::TokenHash::of(token), now).await?;
        let (session, user, keys) = found.ok_or(AuthError::Unauthorized)?;
        Caller::checked(session, user)?.require_full()?;
        Ok(keys)
    }

    /// Renames one of the caller's keys and returns it.
    pub(crate) async fn rename_key(
        &self,
        caller: &Caller,
        id: i64,
        name: &str,
    ) -> Result<Credential, AuthError> {
        caller.require_full()?;
        let label = check_label(name)?;
        match self.store.rename_credential(caller.user.id, id, &label).await {
            Err(StoreError::NotFound(_)) => return Err(AuthError::NotFound("key")),
            other => other?,
        }
        self.store.credential(caller.user.id, id).await?.ok_or(AuthError::NotFound("key"))
    }

    /// Removes one of the caller's keys; the last one only with a second
    /// factor from the last 5 minutes. Count and removal are one
    /// transaction: of two concurrent removals of the last two keys by a
    /// stale session exactly one succeeds.
    pub(crate) async fn remove_key(
        &self,
        caller: &Caller,
        id: i64,
        source: IpAddr,
        now: i64,
    ) -> Result<(), AuthError> {
        caller.require_full()?;
        let fresh = caller.has_fresh_factor(now);
        let key = match self.store.remove_credential(caller.user.id, id, fresh).await {
            Ok(KeyRemoval::Removed(key)) => key,
            Ok(KeyRemoval::LastKey) => return Err(AuthError::ReauthRequired("removing your last key")),
            Err(StoreError::NotFound(_)) => return Err(AuthError::NotFound("key")),
            Err(e) => return Err(e.into()),
        };
        let who = Some((caller.user.id, caller.user.name.as_str()));
        self.audit(
            who,
            AuditEvent::KeyRemoved,
            &format!("key {} ({})", key.id, key.label),
            Some(source),
            now,
        )
        .await;
        Ok(())
    }
}

/// A label: trimmed, non-empty, short, printable.
pub(crate) fn check_label(name: &str) -> Result<String, AuthError> {
    let label = name.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(AuthError::InvalidRequest(format!(
            "a key name must be 1 to {MAX_LABEL_LEN} printable characters"
        )));
    }
    Ok(label.to_owned())
}
