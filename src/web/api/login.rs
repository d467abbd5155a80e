//! `POST /api/v1/login`, `/login/u2f`, `/login/recovery`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiResult, Failure, b64};
use crate::auth::AuthError;
use crate::auth::app_request::AppRequest;
use crate::auth::login::{IssuedSession, LoginSuccess, PasswordOutcome, U2fSignResponse, WebAuthnAssertion};
use crate::clock::unix_now;
use crate::web::{AppState, ClientAddr};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(start))
        .route("/api/v1/login/u2f", post(finish_u2f))
        .route("/api/v1/login/recovery", post(finish_recovery))
        .route("/api/v1/login/webauthn", post(finish_webauthn))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginRequest {
    username: String,
    password: String,
    /// Sign-in on behalf of an application (login.php, the OAuth dialog).
    #[serde(rename = "for", default)]
    for_app: Option<AppRequest>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct U2fFinish {
    pub(super) login_id: String,
    #[serde(rename = "keyHandle")]
    pub(super) key_handle: String,
    #[serde(rename = "signatureData")]
    pub(super) signature_data: String,
    #[serde(rename = "clientData")]
    pub(super) client_data: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WebAuthnFinish {
    pub(super) login_id: String,
    /// `PublicKeyCredential.toJSON()` of the assertion.
    pub(super) credential: AssertionJson,
}

/// The fields of `PublicKeyCredential.toJSON()` the check needs; others a
/// browser adds (`authenticatorAttachment`, extension results) are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct AssertionJson {
    id: String,
    #[serde(rename = "rawId")]
    raw_id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AssertionResponseJson,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct AssertionResponseJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    signature: String,
}

/// A U2F response's fields, decoded from base64.
pub(super) struct DecodedU2f {
    key_handle: Vec<u8>,
    signature_data: Vec<u8>,
    client_data: Vec<u8>,
}

impl DecodedU2f {
    /// The view the login logic takes.
    pub(super) fn borrow(&self) -> U2fSignResponse<'_> {
        U2fSignResponse {
            key_handle: &self.key_handle,
            signature_data: &self.signature_data,
            client_data: &self.client_data,
        }
    }
}

impl U2fFinish {
    /// Decodes the response's base64 fields.
    pub(super) fn decode(&self) -> Result<DecodedU2f, Failure> {
        Ok(DecodedU2f {
            key_handle: b64("keyHandle", &self.key_handle)?,
            signature_data: b64("signatureData", &self.signature_data)?,
            client_data: b64("clientData", &self.client_data)?,
        })
    }
}

/// An assertion's fields, decoded from base64.
pub(super) struct DecodedAssertion {
    credential_id: Vec<u8>,
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
    signature: Vec<u8>,
}

impl DecodedAssertion {
    /// The view the verification core takes.
    pub(super) fn borrow(&self) -> WebAuthnAssertion<'_> {
        WebAuthnAssertion {
            credential_id: &self.credential_id,
            authenticator_data: &self.authenticator_data,
            client_data_json: &self.client_data_json,
            signature: &self.signature,
        }
    }
}

impl AssertionJson {
    /// Checks the credential's type and ids and decodes its fields.
    pub(super) fn decode(&self) -> Result<DecodedAssertion, Failure> {
        if self.kind != "public-key" || self.id != self.raw_id {
            return Err(Failure::from(AuthError::InvalidRequest(
                "credential must be a public-key credential whose id equals rawId".to_owned(),
            )));
        }
        Ok(DecodedAssertion {
            credential_id: b64("credential.rawId", &self.raw_id)?,
            authenticator_data: b64("response.authenticatorData", &self.response.authenticator_data)?,
            client_data_json: b64("response.clientDataJSON", &self.response.client_data_json)?,
            signature: b64("response.signature", &self.response.signature)?,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoveryFinish {
    login_id: String,
    code: String,
}

fn success_json(state: &AppState, headers: &HeaderMap, success: &LoginSuccess) -> Response {
    let mut body = json!({ "expires_at": success.session.expires_at });
    if let Some(to) = &success.redirect_to {
        body["redirect_to"] = json!(to);
    }
    with_session(state, headers, body, &success.session)
}

/// A page (it sent the CSRF token) gets the session as an HttpOnly cookie
/// and never sees the token; other clients get it in the body.
fn with_session(state: &AppState, headers: &HeaderMap, mut body: Value, session: &IssuedSession) -> Response {
    let jar = state.cookies();
    if !jar.csrf_ok(headers) {
        body["session_token"] = json!(session.token);
        return Json(body).into_response();
    }
    let mut response = Json(body).into_response();
    let max_age = session.expires_at - unix_now();
    jar.set_session(response.headers_mut(), &session.token, max_age);
    response
}

/// Password step: a pending U2F login, or an enroll-only session.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest, responses(
    (status = 200, description = "login_id, challenge, registeredKeys (second_factor u2f) or session_token (second_factor none)"),
    (status = 401, description = "bad_credentials", body = super::ErrorBody),
    (status = 400, description = "invalid_request: unknown application, auth_token or redirect_uri in `for`", body = super::ErrorBody),
    (status = 403, description = "account_disabled; enroll_only when a user without a key signs in for an application", body = super::ErrorBody),
    (status = 429, description = "rate_limited, with Retry-After", body = super::ErrorBody),
))]
pub(super) async fn start(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let outcome = state
        .auth
        .password_login(&req.username, &req.password, req.for_app.as_ref(), source, unix_now())
        .await?;
    let settings = &state.auth.settings;
    Ok(match outcome {
        PasswordOutcome::EnrollOnly(session) => with_session(
            &state,
            &headers,
            json!({
                "second_factor": "none",
                "appId": settings.rp_id,
                "origin": settings.origin(),
                "expires_at": session.expires_at,
            }),
            &session,
        ),
        PasswordOutcome::SecondFactor { login_id, challenge, key_handles } => {
            Json(super::second_factor_request(settings, &login_id, &challenge, &key_handles)).into_response()
        }
    })
}

/// Second step with a U2F authentication response.
#[utoipa::path(post, path = "/api/v1/login/u2f", request_body = U2fFinish, responses(
    (status = 200, description = "session_token, expires_at; redirect_to when the login was for an application"),
    (status = 400, description = "unknown_key, bad_client_data, bad_signature, invalid_request", body = super::ErrorBody),
    (status = 403, description = "possible_clone", body = super::ErrorBody),
    (status = 404, description = "unknown_login", body = super::ErrorBody),
    (status = 409, description = "challenge_used", body = super::ErrorBody),
    (status = 410, description = "challenge_expired", body = super::ErrorBody),
))]
pub(super) async fn finish_u2f(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<U2fFinish>,
) -> ApiResult<Response> {
    let response = req.decode()?;
    let success = state.auth.finish_u2f(&req.login_id, &response.borrow(), source, unix_now()).await?;
    Ok(success_json(&state, &headers, &success))
}

/// Second step in a browser: a WebAuthn assertion, checked by the same core
/// and counter rule as the U2F answer.
#[utoipa::path(post, path = "/api/v1/login/webauthn", request_body = WebAuthnFinish, responses(
    (status = 200, description = "session_token, expires_at; redirect_to when the login was for an application"),
    (status = 400, description = "unknown_key, bad_client_data, bad_signature, invalid_request", body = super::ErrorBody),
    (status = 403, description = "possible_clone", body = super::ErrorBody),
    (status = 404, description = "unknown_login", body = super::ErrorBody),
    (status = 409, description = "challenge_used", body = super::ErrorBody),
    (status = 410, description = "challenge_expired", body = super::ErrorBody),
))]
pub(super) async fn finish_webauthn(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<WebAuthnFinish>,
) -> ApiResult<Response> {
    let assertion = req.credential.decode()?;
    let success = state.auth.finish_webauthn(&req.login_id, &assertion.borrow(), source, unix_now()).await?;
    Ok(success_json(&state, &headers, &success))
}

/// Second step with a one-time recovery code.
#[utoipa::path(post, path = "/api/v1/login/recovery", request_body = RecoveryFinish, responses(
    (status = 200, description = "session_token, expires_at; redirect_to when the login was for an application"),
    (status = 401, description = "bad_credentials", body = super::ErrorBody),
))]
pub(super) async fn finish_recovery(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RecoveryFinish>,
) -> ApiResult<Response> {
    let success = state.auth.finish_recovery(&req.login_id, &req.code, source, unix_now()).await?;
    Ok(success_json(&state, &headers, &success))
}
