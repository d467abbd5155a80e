//! Sign-in on behalf of an application (`login.php`, `/dialog/oauth`): the
//! `for` field of the password step names the app and what it asked for. It
//! is checked when the login starts, kept with the login's challenge (so any
//! instance can finish it), and carried out when the second factor succeeds:
//! the legacy auth_token is bound to the user, or an OAuth code is issued,
//! and the browser is told where to go next.

use serde::{Deserialize, Serialize};

use super::{Auth, AuthError};
use crate::secrets::{self, TokenHash};
use crate::store::{App, AppTokenKind, AuditEvent, NewAppToken, User};

/// Where login.php sends the browser when `next` is absent or not allowed.
pub(crate) const LEGACY_DONE: &str = "/login.php/done";
/// OAuth codes live ten minutes, as Graph's do.
pub(crate) const OAUTH_CODE_TTL_SECS: i64 = 600;
/// The scope a dialog without `scope` asks for.
pub(crate) const DEFAULT_SCOPE: &str = "public_profile";

/// What an application asked the user to sign in for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum AppRequest {
    /// login.php of the legacy REST flow.
    Legacy(LegacyRequest),
    /// The Graph-style OAuth dialog.
    Oauth(OauthRequest),
}

/// login.php's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LegacyRequest {
    /// The app's api_key.
    pub api_key: String,
    /// The token from `auth.createToken` that this sign-in binds.
    pub auth_token: String,
    /// Where to go afterwards; only honoured on a host the app registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Comma-separated extended permissions the user grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_perms: Option<String>,
}

/// The OAuth dialog's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OauthRequest {
    /// The app's id.
    pub client_id: String,
    /// Must equal one the app registered.
    pub redirect_uri: String,
    /// Echoed back to the app, against CSRF on its side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Comma- or space-separated permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Splits a permission list (`email,user_posts` or `email user_posts`),
/// refusing names that are not plain identifiers.
pub(crate) fn parse_permissions(list: &str) -> Result<Vec<&str>, AuthError> {
    let mut out: Vec<&str> = Vec::new();
    for name in list.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let plain = name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(AuthError::InvalidRequest(format!("permission {name:?} is not a permission name")));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

impl AppRequest {
    /// The permissions this request grants on success.
    pub(crate) fn permissions(&self) -> Result<Vec<&str>, AuthError> {
        match self {
            Self::Legacy(r) => parse_permissions(r.req_perms.as_deref().unwrap_or("")),
            Self::Oauth(r) => match r.scope.as_deref().map(str::trim) {
                None | Some("") => Ok(vec![DEFAULT_SCOPE]),
                Some(scope) => parse_permissions(scope),
            },
        }
    }

    fn api_key(&self) -> &str {
        match self {
            Self::Legacy(r) => &r.api_key,
            Self::Oauth(r) => &r.client_id,
        }
    }
}

impl Auth {
    /// Checks an application request before any password is looked at:
    /// unknown app, unknown, expired or already bound auth_token and an
    /// unregistered redirect_uri are `invalid_request`.
    pub(crate) async fn check_app_request(&self, request: &AppRequest, now: i64) -> Result<App, AuthError> {
        let invalid = |m: &str| AuthError::InvalidRequest(m.to_owned());
        request.permissions()?;
        let app = self.store.app_by_api_key(request.api_key()).await?.ok_or(AuthError::UnknownApp)?;
        match request {
            AppRequest::Legacy(r) => {
                let token =
                    self.store.app_token(AppTokenKind::AuthToken, &TokenHash::of(&r.auth_token), now).await?;
                match token {
                    Some(t) if t.app_id == app.id && t.user_id.is_none() => {}
                    _ => return Err(invalid("unknown, expired or already used auth_token")),
                }
            }
            AppRequest::Oauth(r) => {
                crate::oauth::match_registered(&r.redirect_uri, &app.redirect_uris)
                    .map_err(|_| invalid("redirect_uri is not registered for this application"))?;
            }
        }
        Ok(app)
    }

    /// Carries out the request once the user passed both factors and returns
    /// where the browser goes next.
    pub(crate) async fn complete_app_request(
        &self,
        request: &AppRequest,
        user: &User,
        now: i64,
    ) -> Result<String, AuthError> {
        let app = self.check_app_request(request, now).await?;
        let redirect = match request {
            AppRequest::Legacy(r) => {
                let bound =
                    self.store.bind_auth_token(&TokenHash::of(&r.auth_token), app.id, user.id, now).await?;
                if !bound {
                    return Err(AuthError::InvalidRequest(
                        "the auth_token expired or was used meanwhile".into(),
                    ));
                }
                r.next
                    .as_deref()
                    .and_then(|next| crate::oauth::allowed_next(next, &app.redirect_uris))
                    .map_or_else(|| LEGACY_DONE.to_owned(), String::from)
            }
            AppRequest::Oauth(r) => {
                let code = secrets::random_token(32);
                let data =
                    serde_json::json!({ "redirect_uri": r.redirect_uri, "scope": request.permissions()? });
                let new = NewAppToken {
                    kind: AppTokenKind::OauthCode,
                    token_hash: &TokenHash::of(&code),
                    app_id: app.id,
                    user_id: Some(user.id),
                    data: &data.to_string(),
                    expires_at: Some(now.saturating_add(OAUTH_CODE_TTL_SECS)),
                    issued_from: None,
                };
                self.store.create_app_token(&new, now).await?;
                let mut params = vec![("code", code.as_str())];
                if let Some(state) = r.state.as_deref() {
                    params.push(("state", state));
                }
                crate::oauth::with_params(&r.redirect_uri, &params)
                    .map_err(|e| AuthError::InvalidRequest(e.to_string()))?
            }
        };
        self.store.grant_permissions(user.id, app.id, &request.permissions()?, now).await?;
        let detail = format!("signed in for application {} ({})", app.name, app.api_key);
        self.audit(Some((user.id, &user.name)), AuditEvent::AppSignIn, &detail, None, now).await;
        Ok(redirect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_for_field_has_the_documented_shape() {
        let legacy: AppRequest =
            serde_json::from_str(r#"{"legacy":{"api_key":"k","auth_token":"t","next":"https://a/x"}}"#)
                .unwrap();
        assert!(matches!(&legacy, AppRequest::Legacy(r) if r.next.as_deref() == Some("https://a/x")));
        let oauth: AppRequest = serde_json::from_str(
            r#"{"oauth":{"client_id":"1","redirect_uri":"https://a/cb","state":"s","scope":"email"}}"#,
        )
        .unwrap();
        assert_eq!(oauth.permissions().unwrap(), ["email"]);
        for bad in [
            r#"{"legacy":{"api_key":"k"}}"#,
            r#"{"other":{}}"#,
            r#"{"oauth":{"client_id":"1","redirect_uri":"u","x":1}}"#,
        ] {
            assert!(serde_json::from_str::<AppRequest>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions_are_plain_names() {
        assert_eq!(parse_permissions("email, user_posts email").unwrap(), ["email", "user_posts"]);
        assert!(parse_permissions("").unwrap().is_empty());
        for bad in ["Email", "a;b", "x<y>", &"a".repeat(65)] {
            assert!(parse_permissions(bad).is_err(), "{bad}");
        }
        let dialog =
            OauthRequest { client_id: "1".into(), redirect_uri: "u".into(), state: None, scope: None };
        assert_eq!(AppRequest::Oauth(dialog).permissions().unwrap(), [DEFAULT_SCOPE]);
    }
}
