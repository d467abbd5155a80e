//! The Graph token endpoints over the store: code exchange, long-lived and
//! app tokens, client codes, token inspection. Parameters come in as a map
//! and answers go out as JSON values or [`OAuthError`]s; the HTTP layer
//! (`web/oauth.rs`) only decodes requests and renders these.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Value, json};

use super::{AppCredentials, OAuthError, OAuthErrorKind};
use crate::secrets::{self, ServerKey, TokenHash, context};
use crate::store::{App, AppToken, AppTokenKind, NewAppToken, RevokeReason, Store, StoreError, User};

/// Short-lived user tokens from the dialog's code: two hours.
pub(super) const SHORT_TOKEN_SECS: i64 = 2 * 3600;
/// Long-lived tokens (`fb_exchange_token`, client codes): 60 days.
pub(super) const LONG_TOKEN_SECS: i64 = 60 * 24 * 3600;
/// Client codes live as long as dialog codes.
pub(super) const CLIENT_CODE_SECS: i64 = 600;

/// Decoded request parameters.
pub type Params = BTreeMap<String, String>;

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::new(OAuthErrorKind::Unavailable)
        } else {
            tracing::error!(error = %e, "store error in an OAuth call");
            Self::new(OAuthErrorKind::Internal)
        }
    }
}

fn param<'a>(params: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    params.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| OAuthError::missing(name))
}

/// A user token that passed every check, with what it speaks for.
#[derive(Clone, Debug)]
pub struct UserToken {
    /// The stored row.
    pub token: AppToken,
    /// Its user.
    pub user: User,
    /// Its app.
    pub app: App,
}

/// The token endpoints, over the store and the key that opens app secrets,
/// for one caller.
#[derive(Clone, Copy, Debug)]
pub struct Graph<'a> {
    /// The database.
    pub store: &'a Store,
    /// Opens sealed app secrets.
    pub server_key: &'a ServerKey,
    /// The caller's address, for the apps' allowed networks.
    pub source: IpAddr,
}

impl Graph<'_> {
    /// The app a `client_id` names (101 when none).
    async fn app(&self, client_id: &str) -> Result<App, OAuthError> {
        self.store.app_by_api_key(client_id).await?.ok_or_else(|| OAuthError::new(OAuthErrorKind::UnknownApp))
    }

    /// Whether `secret` is the app's secret, compared in constant time.
    fn secret_matches(&self, app: &App, secret: &str) -> Result<bool, OAuthError> {
        let plain =
            self.server_key.open(&app.secret_sealed, &context::app_secret(&app.api_key)).map_err(|e| {
                tracing::error!(error = %e, app = app.id, "app secret does not open");
                OAuthError::new(OAuthErrorKind::Internal)
            })?;
        Ok(secrets::ct_eq(&plain, secret.as_bytes()))
    }

    /// The app named by `client_id`, authenticated by `client_secret` (code 1).
    async fn authenticated_client(&self, params: &Params) -> Result<App, OAuthError> {
        let app = self.app(param(params, "client_id")?).await?;
        if !self.secret_matches(&app, param(params, "client_secret")?)? {
            return Err(OAuthError::new(OAuthErrorKind::BadClientSecret));
        }
        Ok(app)
    }

    /// [`Graph::authenticated_client`], admitted (see [`Graph::admit`]).
    async fn client(&self, params: &Params, now: i64) -> Result<App, OAuthError> {
        let app = self.authenticated_client(params).await?;
        self.admit(&app, now).await?;
        Ok(app)
    }

    /// The app's own controls, as the legacy API applies them, for a call
    /// authenticated as the app (by its secret, a code or a token): the
    /// caller's address must be allowed (code 5), and the call counts
    /// against the app's per-minute limit (code 4). Only authenticated
    /// calls count, so a stranger who knows the public client_id cannot
    /// use up an app's allowance.
    async fn admit(&self, app: &App, now: i64) -> Result<(), OAuthError> {
        if !app.allows_source(self.source) {
            return Err(OAuthError::new(OAuthErrorKind::UnauthorizedSource));
        }
        if !self.store.count_app_call(app, now).await? {
            metrics::counter!("keygate_rate_limited_total", "limit" => "app").increment(1);
            return Err(OAuthError::new(OAuthErrorKind::RequestLimit));
        }
        Ok(())
    }

    /// The app an app access token (`{id}|{token}` issued here, or
    /// `{id}|{secret}`) belongs to.
    pub(crate) async fn app_for_token(&self, token: &str, now: i64) -> Result<App, OAuthError> {
        let invalid = || OAuthError::new(OAuthErrorKind::TokenInvalid);
        let creds = AppCredentials::parse(token).ok_or_else(invalid)?;
        let app = self.store.app_by_api_key(creds.app_id).await?.ok_or_else(invalid)?;
        self.check_app_token(app, token, &creds, now).await
    }

    /// `app` when `token` (parsed as `creds`) is its secret or a live app
    /// token it issued since its last secret rotation.
    async fn check_app_token(
        &self,
        app: App,
        token: &str,
        creds: &AppCredentials<'_>,
        now: i64,
    ) -> Result<App, OAuthError> {
        if self.secret_matches(&app, creds.secret)? {
            return Ok(app);
        }
        match self.store.app_token(AppTokenKind::AppToken, &TokenHash::of(token), now).await? {
            Some(t) if t.app_id == app.id && t.created_at >= app.secret_rotated_at => Ok(app),
            _ => Err(OAuthError::new(OAuthErrorKind::TokenInvalid)),
        }
    }

    /// Looks a user token up and says precisely why it is unusable.
    pub async fn user_token(&self, token: &str, now: i64) -> Result<UserToken, OAuthError> {
        let invalid = || OAuthError::new(OAuthErrorKind::TokenInvalid);
        let found = self.store.app_token_with_owner(AppTokenKind::AccessToken, &TokenHash::of(token)).await?;
        let (row, app, user) = found.ok_or_else(invalid)?;
        judge_user_token(row, app, user, now)
    }

    /// A new user token, recorded as issued from the code or token
    /// `issued_from` (so reusing that code revokes it).
    async fn issue_user_token(
        &self,
        app_id: i64,
        user_id: i64,
        data: &Value,
        ttl: i64,
        issued_from: i64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let token = secrets::random_token(48);
        let new = NewAppToken {
            kind: AppTokenKind::AccessToken,
            token_hash: &TokenHash::of(&token),
            app_id,
            user_id: Some(user_id),
            data: &data.to_string(),
            expires_at: Some(now.saturating_add(ttl)),
            issued_from: Some(issued_from),
        };
        self.store.create_app_token(&new, now).await?;
        Ok(token)
    }

    /// `GET /oauth/access_token`, each grant by its parameters.
    pub async fn access_token(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        match params.get("grant_type").map(String::as_str) {
            Some("client_credentials") => self.app_token(params, now).await,
            Some("fb_exchange_token") => self.exchange(params, now).await,
            Some("authorization_code") | None if params.contains_key("client_secret") => {
                self.code_exchange(params, now).await
            }
            None => self.client_code_exchange(params, now).await,
            Some(other) => Err(OAuthError::with_message(
                OAuthErrorKind::InvalidParameter,
                format!("Unsupported grant_type: {other}"),
            )),
        }
    }

    async fn app_token(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let app = self.client(params, now).await?;
        let token = format!("{}|{}", app.api_key, secrets::random_token(27));
        let new = NewAppToken {
            kind: AppTokenKind::AppToken,
            token_hash: &TokenHash::of(&token),
            app_id: app.id,
            user_id: None,
            data: "{}",
            expires_at: None,
            issued_from: None,
        };
        self.store.create_app_token(&new, now).await?;
        Ok(json!({ "access_token": token, "token_type": "bearer" }))
    }

    async fn exchange(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let app = self.client(params, now).await?;
        let old = self.user_token(param(params, "fb_exchange_token")?, now).await?;
        if old.app.id != app.id {
            return Err(OAuthError::new(OAuthErrorKind::TokenInvalid));
        }
        let data = json!({ "scope": scopes(&old.token), "long_lived": true });
        let token =
            self.issue_user_token(app.id, old.user.id, &data, LONG_TOKEN_SECS, old.token.id, now).await?;
        Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": LONG_TOKEN_SECS }))
    }

    /// Consumes a single-use code of `kind` issued to `app`, after checking
    /// the redirect_uri it was issued for (36008 when it differs, and the
    /// code stays usable for the right one) and admitting the app's call.
    /// A code presented after its first use revokes every token issued from
    /// it (RFC 6749 §4.1.2).
    async fn take_code(
        &self,
        kind: AppTokenKind,
        app: &App,
        params: &Params,
        now: i64,
    ) -> Result<AppToken, OAuthError> {
        let bad_code = || {
            OAuthError::with_message(
                OAuthErrorKind::InvalidParameter,
                "Invalid verification code format or the code was used or expired.",
            )
        };
        let hash = TokenHash::of(param(params, "code")?);
        let found = self
            .store
            .find_app_token(kind, &hash)
            .await?
            .filter(|t| t.app_id == app.id)
            .ok_or_else(bad_code)?;
        let issued_for = data_str(&found, "redirect_uri");
        if issued_for.is_some() && issued_for.as_deref() != params.get("redirect_uri").map(String::as_str) {
            return Err(OAuthError::new(OAuthErrorKind::RedirectUriMismatch));
        }
        self.admit(app, now).await?;
        match self.store.consume_app_token(kind, &hash, now).await {
            Ok(code) => Ok(code),
            Err(StoreError::AlreadyUsed(_)) => {
                self.store.mark_code_reused(found.id, now).await?;
                let revoked = self.store.revoke_issued_from(found.id, now).await?;
                tracing::warn!(app = app.id, code = found.id, revoked, "an OAuth code was used twice");
                let entry = crate::store::NewAuditEntry {
                    user_id: found.user_id,
                    user_name: None,
                    event: crate::store::AuditEvent::OauthCodeReused.as_str(),
                    detail: &format!("app {}: code used twice, {revoked} tokens from it revoked", app.name),
                    source: Some(&self.source.to_string()),
                };
                if let Err(error) = self.store.audit(&entry, now).await {
                    tracing::warn!(%error, "audit entry not written");
                }
                Err(bad_code())
            }
            Err(e @ StoreError::Unavailable(_)) => Err(e.into()),
            Err(_) => Err(bad_code()),
        }
    }

    /// Issues the user token a consumed code buys, then makes sure the code
    /// was not presented again meanwhile: a reuse that ran before this token
    /// existed could not revoke it, so this call does.
    async fn token_from_code(
        &self,
        code: &AppToken,
        data: &Value,
        ttl: i64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let user_id = code.user_id.ok_or_else(|| OAuthError::new(OAuthErrorKind::TokenInvalid))?;
        let token = self.issue_user_token(code.app_id, user_id, data, ttl, code.id, now).await?;
        if self.store.code_reused(code.id).await? {
            self.store.revoke_issued_from(code.id, now).await?;
            return Err(OAuthError::with_message(
                OAuthErrorKind::InvalidParameter,
                "The code was used more than once; the tokens issued from it are revoked.",
            ));
        }
        Ok(token)
    }

    async fn code_exchange(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        // Admitted when the code is taken: one call counts once.
        let app = self.authenticated_client(params).await?;
        param(params, "redirect_uri")?;
        let code = self.take_code(AppTokenKind::OauthCode, &app, params, now).await?;
        let data = json!({ "scope": scopes(&code) });
        let token = self.token_from_code(&code, &data, SHORT_TOKEN_SECS, now).await?;
        Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": SHORT_TOKEN_SECS }))
    }

    async fn client_code_exchange(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let app = self.app(param(params, "client_id")?).await?;
        param(params, "redirect_uri")?;
        let code = self.take_code(AppTokenKind::ClientCode, &app, params, now).await?;
        let machine_id = match params.get("machine_id").filter(|m| !m.is_empty()) {
            Some(m)
                if m.len() <= 128
                    && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                m.clone()
            }
            Some(_) => return Err(OAuthError::missing("machine_id")),
            None => secrets::random_token(18),
        };
        let data = json!({ "scope": scopes(&code), "long_lived": true, "machine_id": machine_id });
        let token = self.token_from_code(&code, &data, LONG_TOKEN_SECS, now).await?;
        Ok(json!({ "access_token": token, "expires_in": LONG_TOKEN_SECS, "machine_id": machine_id }))
    }

    /// `GET /oauth/client_code`: a code a device trades for its own token.
    pub async fn client_code(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let app = self.client(params, now).await?;
        let redirect_uri = param(params, "redirect_uri")?;
        if super::match_registered(redirect_uri, &app.redirect_uris).is_err() {
            return Err(OAuthError::new(OAuthErrorKind::RedirectUriNotRegistered));
        }
        let token = self.user_token(param(params, "access_token")?, now).await?;
        if token.app.id != app.id || !data_bool(&token.token, "long_lived") {
            return Err(OAuthError::with_message(
                OAuthErrorKind::TokenInvalid,
                "A long-lived access token of this app is required.",
            ));
        }
        let code = secrets::random_token(32);
        let data = json!({ "redirect_uri": redirect_uri, "scope": scopes(&token.token) });
        let new = NewAppToken {
            kind: AppTokenKind::ClientCode,
            token_hash: &TokenHash::of(&code),
            app_id: app.id,
            user_id: Some(token.user.id),
            data: &data.to_string(),
            expires_at: Some(now.saturating_add(CLIENT_CODE_SECS)),
            issued_from: Some(token.token.id),
        };
        self.store.create_app_token(&new, now).await?;
        Ok(json!({ "code": code }))
    }

    /// `GET /debug_token`: what an input token is, answered (HTTP 200) even
    /// when it is invalid; only a bad app token is an error.
    pub async fn debug_token(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let invalid = || OAuthError::new(OAuthErrorKind::TokenInvalid);
        let access = param(params, "access_token")?;
        let input = param(params, "input_token")?;
        let creds = AppCredentials::parse(access).ok_or_else(invalid)?;
        // The caller's app and the input token come in one read; a token of
        // another app is not found, which is what it is to this one.
        let found = self
            .store
            .app_and_its_token(creds.app_id, AppTokenKind::AccessToken, &TokenHash::of(input))
            .await?;
        let (app, token) = found.ok_or_else(invalid)?;
        let app = self.check_app_token(app, access, &creds, now).await?;
        self.admit(&app, now).await?;
        if AppCredentials::parse(input).is_some() {
            let valid = self.app_for_token(input, now).await.is_ok_and(|a| a.id == app.id);
            return Ok(json!({ "data": {
                "app_id": app.api_key, "type": "APP", "application": app.name, "is_valid": valid,
            }}));
        }
        let judged =
            token.ok_or_else(invalid).and_then(|(row, user)| judge_user_token(row, app.clone(), user, now));
        match judged {
            Ok(t) if t.app.id == app.id => Ok(json!({ "data": {
                "app_id": app.api_key,
                "type": "USER",
                "application": app.name,
                "expires_at": t.token.expires_at.unwrap_or(0),
                "is_valid": true,
                "issued_at": t.token.created_at,
                "scopes": scopes(&t.token),
                "user_id": t.user.id.to_string(),
            }})),
            Ok(_) => Ok(invalid_input(&app, &OAuthError::new(OAuthErrorKind::TokenInvalid))),
            Err(e) if matches!(e.kind, OAuthErrorKind::Unavailable | OAuthErrorKind::Internal) => Err(e),
            Err(e) => Ok(invalid_input(&app, &e)),
        }
    }

    /// `GET /me`.
    pub async fn me(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let t = self.user_token(access_token(params)?, now).await?;
        self.admit(&t.app, now).await?;
        let name = t.user.display_name.clone().unwrap_or_else(|| t.user.name.clone());
        Ok(json!({ "id": t.user.id.to_string(), "name": name }))
    }

    /// `DELETE /me/permissions`: the user takes back everything the app got.
    pub async fn revoke(&self, params: &Params, now: i64) -> Result<Value, OAuthError> {
        let t = self.user_token(access_token(params)?, now).await?;
        self.admit(&t.app, now).await?;
        self.store
            .revoke_app_tokens(t.user.id, Some(t.app.id), crate::store::RevokeReason::Revoked, now)
            .await?;
        for permission in self.store.permissions(t.user.id, t.app.id).await? {
            self.store.revoke_permission(t.user.id, t.app.id, &permission).await?;
        }
        Ok(json!({ "success": true }))
    }
}

fn access_token(params: &Params) -> Result<&str, OAuthError> {
    params.get("access_token").map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| {
        OAuthError::with_message(
            OAuthErrorKind::ActiveTokenRequired,
            "An active access token must be used to query information about the current user.",
        )
    })
}

/// Whether a user token row found with its app and user is usable now, and
/// precisely why not (revoked, password changed, expired, user disabled).
fn judge_user_token(row: AppToken, app: App, user: Option<User>, now: i64) -> Result<UserToken, OAuthError> {
    let invalid = || OAuthError::new(OAuthErrorKind::TokenInvalid);
    match row.revoked_reason {
        Some(RevokeReason::PasswordChanged) => return Err(OAuthError::new(OAuthErrorKind::PasswordChanged)),
        Some(_) => return Err(invalid()),
        None if row.revoked_at.is_some() => return Err(invalid()),
        None => {}
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(OAuthError::new(OAuthErrorKind::TokenExpired));
    }
    let user = user.filter(|u| !u.is_disabled()).ok_or_else(invalid)?;
    Ok(UserToken { token: row, user, app })
}

fn invalid_input(app: &App, error: &OAuthError) -> Value {
    let (code, subcode) = error.kind.codes();
    json!({ "data": {
        "app_id": app.api_key,
        "application": app.name,
        "error": { "code": code, "message": error.message, "subcode": subcode },
        "is_valid": false,
        "scopes": [],
    }})
}

fn data_of(token: &AppToken) -> Value {
    serde_json::from_str(&token.data).unwrap_or(Value::Null)
}

fn data_str(token: &AppToken, key: &str) -> Option<String> {
    data_of(token).get(key).and_then(Value::as_str).map(str::to_owned)
}

fn data_bool(token: &AppToken, key: &str) -> bool {
    data_of(token).get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn scopes(token: &AppToken) -> Vec<String> {
    match data_of(token).get("scope") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}
