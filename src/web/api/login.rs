//! `POST /api/v1/login`, `/login/u2f`, `/login/recovery`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiResult, Failure, b64, enc};
use crate::auth::AuthError;
use crate::auth::app_request::AppRequest;
use crate::auth::login::{IssuedSession, LoginSuccess, PasswordOutcome, WebAuthnAssertion};
use crate::clock::unix_now;
use crate::web::{AppState, ClientAddr, cookies};

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
    login_id: String,
    #[serde(rename = "keyHandle")]
    key_handle: String,
    #[serde(rename = "signatureData")]
    signature_data: String,
    #[serde(rename = "clientData")]
    client_data: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WebAuthnFinish {
    login_id: String,
    /// `PublicKeyCredential.toJSON()` of the assertion.
    credential: AssertionJson,
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoveryFinish {
    login_id: String,
    code: String,
}

/// Counts the outcome of a login step for the metrics.
fn counted<T>(result: Result<T, AuthError>) -> Result<T, Failure> {
    result.map_err(|e| {
        metrics::counter!("keygate_login_total", "outcome" => e.code()).increment(1);
        Failure::from(e)
    })
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
    if !cookies::csrf_ok(headers) {
        body["session_token"] = json!(session.token);
        return Json(body).into_response();
    }
    let mut response = Json(body).into_response();
    let max_age = session.expires_at - unix_now();
    cookies::set_session(
        response.headers_mut(),
        &session.token,
        max_age,
        state.config.origin.starts_with("https://"),
    );
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
    let outcome = counted(
        state
            .auth
            .password_login(&req.username, &req.password, req.for_app.as_ref(), source, unix_now())
            .await,
    )?;
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
        PasswordOutcome::SecondFactor { login_id, challenge, key_handles } => Json(json!({
            "publicKey": {
                "challenge": enc(&challenge),
                "rpId": settings.rp_id,
                "timeout": settings.challenge_ttl_secs.saturating_mul(1000),
                "userVerification": "discouraged",
                "allowCredentials": key_handles
                    .iter()
                    .map(|h| json!({ "type": "public-key", "id": enc(h) }))
                    .collect::<Vec<_>>(),
            },
            "login_id": login_id,
            "second_factor": "u2f",
            "appId": settings.rp_id,
            "origin": settings.origin(),
            "challenge": enc(&challenge),
            "registeredKeys": key_handles
                .iter()
                .map(|h| json!({ "version": "U2F_V2", "keyHandle": enc(h), "appId": settings.rp_id }))
                .collect::<Vec<_>>(),
        }))
        .into_response(),
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
    let key_handle = b64("keyHandle", &req.key_handle)?;
    let signature_data = b64("signatureData", &req.signature_data)?;
    let client_data = b64("clientData", &req.client_data)?;
    let success = counted(
        state
            .auth
            .finish_u2f(&req.login_id, &key_handle, &signature_data, &client_data, source, unix_now())
            .await,
    )?;
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
    let credential = &req.credential;
    if credential.kind != "public-key" || credential.id != credential.raw_id {
        return Err(Failure::from(AuthError::InvalidRequest(
            "credential must be a public-key credential whose id equals rawId".to_owned(),
        )));
    }
    let credential_id = b64("credential.rawId", &credential.raw_id)?;
    let authenticator_data = b64("response.authenticatorData", &credential.response.authenticator_data)?;
    let client_data_json = b64("response.clientDataJSON", &credential.response.client_data_json)?;
    let signature = b64("response.signature", &credential.response.signature)?;
    let assertion = WebAuthnAssertion {
        credential_id: &credential_id,
        authenticator_data: &authenticator_data,
        client_data_json: &client_data_json,
        signature: &signature,
    };
    let success = counted(state.auth.finish_webauthn(&req.login_id, &assertion, source, unix_now()).await)?;
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
    let success = counted(state.auth.finish_recovery(&req.login_id, &req.code, source, unix_now()).await)?;
    Ok(success_json(&state, &headers, &success))
}
