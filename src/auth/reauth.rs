//! Step-up: a signed-in session confirms with one of the user's keys again,
//! so that adding a key, a new set of recovery codes or removing the last
//! key is never within reach of a stolen cookie or Bearer token alone. The
//! ceremony is a login's second step without the password: one challenge for
//! all of the user's keys, bound to the session that asked for it, the same
//! attempt limit and counter rule; passing it makes the session's second
//! factor "now".

use std::net::IpAddr;

use super::login::{Pending, U2fSignResponse, WebAuthnAssertion};
use super::session::Caller;
use super::{Auth, AuthError, Ceremony};
use crate::secrets;
use crate::store::AuditEvent;

/// A started step-up: sign `challenge` with one of these keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReauthStart {
    /// Id of the pending step-up (`login_id` in the API, as for a login).
    pub id: String,
    /// The challenge bytes.
    pub challenge: Vec<u8>,
    /// Key handles of the user's keys.
    pub key_handles: Vec<Vec<u8>>,
}

impl Auth {
    /// Opens a step-up for the caller's session.
    pub(crate) async fn reauth_start(&self, caller: &Caller, now: i64) -> Result<ReauthStart, AuthError> {
        caller.require_full()?;
        let keys = self.store.credentials_for_user(caller.user.id).await?;
        if keys.is_empty() {
            return Err(AuthError::InvalidRequest(
                "there is no security key to confirm with: sign in again with your password".into(),
            ));
        }
        let challenge = secrets::random_bytes(32);
        let id = secrets::random_token(24);
        let ceremony = Ceremony::Reauth { session_id: caller.session.id };
        self.open_challenge(&id, caller.user.id, ceremony, &challenge, now).await?;
        Ok(ReauthStart { id, challenge, key_handles: keys.into_iter().map(|k| k.key_handle).collect() })
    }

    /// Finishes a step-up with a U2F authentication response; returns the
    /// session's new `verified_at`.
    pub(crate) async fn reauth_u2f(
        &self,
        caller: &Caller,
        id: &str,
        response: &U2fSignResponse<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<i64, AuthError> {
        let ceremony = Pending::Reauth { session_id: caller.session.id };
        let (challenge, user) = self.pending(id, ceremony, source, now).await?;
        let result = self.check_u2f(&challenge, response).await;
        let key = self.passed_with_key(&challenge, &user, result, ceremony, source, now).await?;
        self.stepped_up(caller, &key, source, now).await
    }

    /// Finishes a step-up with a WebAuthn assertion (a page).
    pub(crate) async fn reauth_webauthn(
        &self,
        caller: &Caller,
        id: &str,
        assertion: &WebAuthnAssertion<'_>,
        source: IpAddr,
        now: i64,
    ) -> Result<i64, AuthError> {
        let ceremony = Pending::Reauth { session_id: caller.session.id };
        let (challenge, user) = self.pending(id, ceremony, source, now).await?;
        let result = self.check_webauthn(&challenge, assertion).await;
        let key = self.passed_with_key(&challenge, &user, result, ceremony, source, now).await?;
        self.stepped_up(caller, &key, source, now).await
    }

    async fn stepped_up(
        &self,
        caller: &Caller,
        key: &crate::store::Credential,
        source: IpAddr,
        now: i64,
    ) -> Result<i64, AuthError> {
        match self.store.mark_session_verified(caller.session.id, now).await {
            Err(crate::store::StoreError::NotFound(_)) => return Err(AuthError::Unauthorized),
            other => other?,
        }
        let who = Some((caller.user.id, caller.user.name.as_str()));
        let detail = format!("key {} ({})", key.id, key.label);
        self.audit(who, AuditEvent::StepUp, &detail, Some(source), now).await;
        Ok(now)
    }
}
