//! The legacy API's rules against the store: which app is calling, from
//! where, with which signature and session, within the app's rate limit
//! and `call_id` order; then the method itself. The HTTP handler decodes the
//! request and renders what this returns.

use std::net::IpAddr;

use super::{Call, ErrorCode, LegacyError, Method, Value};
use crate::secrets::{self, ServerKey, TokenHash, context};
use crate::store::{
    App, AppTokenKind, NewAppToken, NewSession, RevokeReason, Session, SessionKind, Store, StoreError,
};

/// How long an auth_token waits for its login.
const AUTH_TOKEN_SECS: i64 = 10 * 60;
/// How long a legacy session lasts.
const SESSION_SECS: i64 = 24 * 60 * 60;

/// Why a call failed: a refusal for the client, or a fault of ours.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Answered to the client as its error code.
    Refused(LegacyError),
    /// The database failed (error 2 when it is down, else 1).
    Store(StoreError),
    /// A fault of ours (error 1), with what went wrong for the log.
    Internal(String),
}

impl From<LegacyError> for Failure {
    fn from(e: LegacyError) -> Self {
        Self::Refused(e)
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Self::Refused(code.into())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The legacy methods over the store and the key that opens app and
/// session secrets, for one call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Service<'a> {
    /// The database.
    pub store: &'a Store,
    /// Opens sealed app and session secrets.
    pub server_key: &'a ServerKey,
}

impl Service<'_> {
    /// Checks the caller and runs the method.
    pub(crate) async fn run(&self, client: IpAddr, call: &Call, now: i64) -> Result<Value, Failure> {
        let store = self.store;
        // With a session_key, the app and the session come in one read.
        let (app, found) = match &call.session_key {
            Some(key) => store.app_and_session(&call.api_key, &TokenHash::of(key), now).await?,
            None => store.app_by_api_key(&call.api_key).await?.map(|app| (app, None)),
        }
        .ok_or(ErrorCode::InvalidApiKey)?;
        if !app.allows_source(client) {
            return Err(ErrorCode::UnauthorizedSource.into());
        }
        let session = if call.signed_with_session_secret {
            let session = live_session(&app, call, found)?;
            let sealed = session.secret_sealed.as_deref().ok_or(ErrorCode::IncorrectSignature)?;
            let secret = self.open(sealed, &context::session_secret(&TokenHash::of(session_key(call)?)))?;
            if !call.params.sig_matches(&secret) {
                return Err(ErrorCode::IncorrectSignature.into());
            }
            Some(session)
        } else {
            let secret = self.open(&app.secret_sealed, &context::app_secret(&app.api_key))?;
            if !call.params.sig_matches(&secret) {
                return Err(ErrorCode::IncorrectSignature.into());
            }
            if call.method.needs_session() { Some(live_session(&app, call, found)?) } else { None }
        };
        // Only signed calls count against the app's limit, so a stranger who
        // knows the public api_key cannot use up the app's allowance.
        if !store.count_app_call(&app, now).await? {
            return Err(ErrorCode::RequestLimit.into());
        }
        if let (Some(session), Some(call_id)) = (&session, &call.call_id)
            && !store.advance_call_id(session.id, &call_id.to_string(), |last| call_id.follows(last)).await?
        {
            return Err(ErrorCode::CallIdNotIncreasing.into());
        }
        match (call.method, session) {
            (Method::CreateToken, _) => self.create_token(&app, now).await,
            (Method::GetSession, _) => self.get_session(&app, call, now).await,
            (Method::ExpireSession, Some(session)) => {
                store.delete_session_by_token(&TokenHash::of(session_key(call)?)).await?;
                tracing::debug!(session = session.id, "legacy session expired by the app");
                Ok(Value::Bool(true))
            }
            (Method::PromoteSession, Some(session)) => {
                let secret = secrets::random_hex(16);
                let sealed = self
                    .server_key
                    .seal(secret.as_bytes(), &context::session_secret(&TokenHash::of(session_key(call)?)));
                store.set_session_secret(session.id, &sealed).await?;
                Ok(Value::Str(secret))
            }
            (Method::RevokeAuthorization, Some(session)) => {
                store.delete_app_sessions(session.user_id, app.id).await?;
                store.revoke_app_tokens(session.user_id, Some(app.id), RevokeReason::Revoked, now).await?;
                Ok(Value::Bool(true))
            }
            (Method::RevokeExtendedPermission, Some(session)) => {
                let permission =
                    call.params.get("perm").ok_or_else(|| LegacyError::invalid("perm is required"))?;
                store.revoke_permission(session.user_id, app.id, permission).await?;
                Ok(Value::Bool(true))
            }
            (Method::GetLoggedInUser, Some(session)) => Ok(Value::Int(session.user_id)),
            (method, _) => Err(Failure::Internal(format!("{} ran without a session", method.name()))),
        }
    }

    /// Opens a sealed secret; one that does not open is a fault, not a refusal.
    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<String, Failure> {
        let plain = self
            .server_key
            .open(sealed, context)
            .map_err(|e| Failure::Internal(format!("sealed secret: {e}")))?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| Failure::Internal("sealed secret is not UTF-8".to_owned()))
    }

    async fn create_token(&self, app: &App, now: i64) -> Result<Value, Failure> {
        let token = secrets::random_hex(16);
        let new = NewAppToken {
            kind: AppTokenKind::AuthToken,
            token_hash: &TokenHash::of(&token),
            app_id: app.id,
            user_id: None,
            data: "{}",
            expires_at: Some(now + AUTH_TOKEN_SECS),
            issued_from: None,
        };
        self.store.create_app_token(&new, now).await?;
        Ok(Value::Str(token))
    }

    async fn get_session(&self, app: &App, call: &Call, now: i64) -> Result<Value, Failure> {
        let store = self.store;
        let token =
            call.params.get("auth_token").ok_or_else(|| LegacyError::invalid("auth_token is required"))?;
        let token_hash = TokenHash::of(token);
        let unusable =
            || LegacyError::invalid("auth_token is unknown, expired, used, or its login is not complete");
        // Another app's token is refused without consuming it.
        match store.find_app_token(AppTokenKind::AuthToken, &token_hash).await? {
            Some(found) if found.app_id == app.id => {}
            _ => return Err(unusable().into()),
        }
        let consumed = match store.consume_app_token(AppTokenKind::AuthToken, &token_hash, now).await {
            Ok(consumed) => consumed,
            Err(e @ StoreError::Unavailable(_)) => return Err(e.into()),
            Err(
                StoreError::NotFound(_)
                | StoreError::AlreadyUsed(_)
                | StoreError::Expired(_)
                | StoreError::Pending(_),
            ) => {
                return Err(unusable().into());
            }
            Err(e) => return Err(e.into()),
        };
        let user_id = consumed
            .user_id
            .ok_or_else(|| Failure::Internal("consumed auth_token has no user".to_owned()))?;
        let session_key = secrets::random_token(32);
        let session_hash = TokenHash::of(&session_key);
        let wants_secret =
            call.params.get("generate_session_secret").is_some_and(|v| v == "1" || v == "true");
        let secret = (wants_secret || app.desktop).then(|| secrets::random_hex(16));
        let sealed = secret
            .as_ref()
            .map(|s| self.server_key.seal(s.as_bytes(), &context::session_secret(&session_hash)));
        let expires = now + SESSION_SECS;
        let new = NewSession {
            app_id: Some(app.id),
            secret_sealed: sealed.as_deref(),
            ..NewSession::new(&session_hash, user_id, SessionKind::Legacy, expires)
        };
        store.create_session(&new, now).await?;
        let mut members = vec![
            ("session_key", Value::Str(session_key)),
            ("uid", Value::Int(user_id)),
            ("expires", Value::Int(expires)),
        ];
        if let Some(secret) = secret {
            members.push(("secret", Value::Str(secret)));
        }
        Ok(Value::Object(members))
    }
}

fn session_key(call: &Call) -> Result<&str, Failure> {
    call.session_key.as_deref().ok_or_else(|| LegacyError::invalid("session_key is required").into())
}

/// The call's session (`found` by its session_key), when it is live, a
/// legacy session, and the app's own.
fn live_session(app: &App, call: &Call, found: Option<Session>) -> Result<Session, Failure> {
    session_key(call)?;
    let session = found.ok_or(ErrorCode::InvalidSession)?;
    if session.kind != SessionKind::Legacy || session.app_id != Some(app.id) {
        return Err(ErrorCode::InvalidSession.into());
    }
    Ok(session)
}
