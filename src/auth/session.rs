//! Bearer sessions: who is calling, their sessions, logout, password change.

use std::net::IpAddr;

use super::{Auth, AuthError, STEP_UP_SECS};
use crate::secrets::TokenHash;
use crate::store::{App, AuditEvent, Credential, Session, SessionKind, StoreError, User};

/// The caller behind a valid Bearer token.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The live session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

impl Caller {
    /// The caller of a live session found with its user: only API and
    /// enroll-only sessions of an enabled account are callers.
    pub(crate) fn checked(session: Session, user: User) -> Result<Self, AuthError> {
        if !session.kind.is_users_own() {
            return Err(AuthError::Unauthorized);
        }
        if user.is_disabled() {
            return Err(AuthError::AccountDisabled);
        }
        Ok(Self { session, user })
    }

    /// True for a session that may only enroll a first key.
    pub(crate) fn is_enroll_only(&self) -> bool {
        self.session.kind == SessionKind::Enroll
    }

    /// Refuses enroll-only sessions.
    pub(crate) fn require_full(&self) -> Result<(), AuthError> {
        if self.is_enroll_only() { Err(AuthError::EnrollOnly) } else { Ok(()) }
    }

    /// True when the session passed a second factor less than
    /// [`STEP_UP_SECS`] ago: a stolen cookie or Bearer token alone is not.
    pub(crate) fn has_fresh_factor(&self, now: i64) -> bool {
        self.session.verified_at.is_some_and(|at| now.saturating_sub(at) <= STEP_UP_SECS)
    }

    /// Refuses, with `reauth_required`, a change that needs a fresh second
    /// factor (`what` names it in the message).
    pub(crate) fn require_fresh_factor(&self, what: &'static str, now: i64) -> Result<(), AuthError> {
        if self.has_fresh_factor(now) { Ok(()) } else { Err(AuthError::ReauthRequired(what)) }
    }
}

impl Auth {
    /// The caller of a Bearer token, or `Unauthorized`.
    pub(crate) async fn authenticate(&self, token: &str, now: i64) -> Result<Caller, AuthError> {
        let (session, user) =
            self.store.session_and_user(&TokenHash::of(token), now).await?.ok_or(AuthError::Unauthorized)?;
        Caller::checked(session, user)
    }

    /// Ends the caller's session.
    pub(crate) async fn logout(&self, caller: &Caller) -> Result<(), AuthError> {
        self.store.delete_session(caller.user.id, caller.session.id).await?;
        Ok(())
    }

    /// The caller's keys, for an account page (an enroll-only session sees
    /// its empty list).
    pub(crate) async fn keys(&self, caller: &Caller) -> Result<Vec<Credential>, AuthError> {
        Ok(self.store.credentials_for_user(caller.user.id).await?)
    }

    /// The app a sign-in request's `client_id` names, if any.
    pub(crate) async fn app(&self, client_id: &str) -> Result<Option<App>, AuthError> {
        Ok(self.store.app_by_api_key(client_id).await?)
    }

    /// The caller's live API sessions.
    pub(crate) async fn sessions(&self, caller: &Caller, now: i64) -> Result<Vec<Session>, AuthError> {
        let all = self.store.sessions_for_user(caller.user.id, now).await?;
        Ok(all.into_iter().filter(|s| s.kind.is_users_own()).collect())
    }

    /// Ends one of the caller's sessions.
    pub(crate) async fn revoke_session(&self, caller: &Caller, id: i64) -> Result<(), AuthError> {
        caller.require_full()?;
        match self.store.delete_session(caller.user.id, id).await {
            Err(StoreError::NotFound(_)) => Err(AuthError::NotFound("session")),
            other => Ok(other?),
        }
    }

    /// Changes the password after checking the old one; every session and
    /// token of the user ends, so the caller logs in again.
    pub(crate) async fn change_password(
        &self,
        caller: &Caller,
        old: &str,
        new: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<(), AuthError> {
        caller.require_full()?;
        if new.is_empty() || new.len() > 1024 {
            return Err(AuthError::InvalidRequest("the new password must be 1 to 1024 bytes".into()));
        }
        let limits = self.settings.limits;
        self.limit(
            &format!("pw:user:{}", caller.user.name),
            limits.per_account,
            limits.account_window_secs,
            now,
        )
        .await?;
        let who = Some((caller.user.id, caller.user.name.as_str()));
        let stored = Some(caller.user.password_hash.clone());
        if !self.hasher.verify(stored, old.to_owned(), true).await? {
            self.audit(who, AuditEvent::PasswordChangeFailed, "wrong old password", Some(source), now).await;
            return Err(AuthError::BadCredentials);
        }
        let hash = self.hasher.hash(new.to_owned()).await?;
        self.store.set_password(caller.user.id, &hash, now).await?;
        self.audit(who, AuditEvent::PasswordChanged, "", Some(source), now).await;
        Ok(())
    }
}
