//! Step-up: `POST /api/v1/reauth` opens a challenge for the caller's keys,
//! `/reauth/u2f` and `/reauth/webauthn` answer it. A session that passes it
//! may, for 5 minutes, add a key, mint recovery codes or remove its last key.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::login::{U2fFinish, WebAuthnFinish};
use super::{ApiJson, ApiResult};
use crate::auth::session::Caller;
use crate::clock::unix_now;
use crate::web::{AppState, ClientAddr};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reauth", post(start))
        .route("/api/v1/reauth/u2f", post(finish_u2f))
        .route("/api/v1/reauth/webauthn", post(finish_webauthn))
}

/// Opens a step-up: the same request a login's second step gets.
#[utoipa::path(post, path = "/api/v1/reauth", security(("bearer" = [])), responses(
    (status = 200, description = "login_id, challenge, appId, origin, registeredKeys, publicKey"),
    (status = 401, description = "unauthorized", body = super::ErrorBody),
    (status = 403, description = "enroll_only", body = super::ErrorBody),
))]
pub(super) async fn start(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let started = state.auth.reauth_start(&caller, unix_now()).await?;
    let settings = &state.auth.settings;
    Ok(Json(super::second_factor_request(settings, &started.id, &started.challenge, &started.key_handles)))
}

/// Answers a step-up with a U2F authentication response.
#[utoipa::path(post, path = "/api/v1/reauth/u2f", security(("bearer" = [])), request_body = U2fFinish, responses(
    (status = 200, description = "{verified_at}: the session's second factor is now"),
    (status = 400, description = "unknown_key, bad_client_data, bad_signature", body = super::ErrorBody),
    (status = 429, description = "rate_limited: too many failed attempts on this step-up", body = super::ErrorBody),
))]
pub(super) async fn finish_u2f(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    ApiJson(req): ApiJson<U2fFinish>,
) -> ApiResult<Json<Value>> {
    let response = req.decode()?;
    let at = state.auth.reauth_u2f(&caller, &req.login_id, &response.borrow(), source, unix_now()).await?;
    Ok(Json(json!({ "verified_at": at })))
}

/// Answers a step-up with a WebAuthn assertion (a page).
#[utoipa::path(post, path = "/api/v1/reauth/webauthn", security(("bearer" = [])), request_body = WebAuthnFinish, responses(
    (status = 200, description = "{verified_at}: the session's second factor is now"),
    (status = 400, description = "unknown_key, bad_client_data, bad_signature", body = super::ErrorBody),
))]
pub(super) async fn finish_webauthn(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    ApiJson(req): ApiJson<WebAuthnFinish>,
) -> ApiResult<Json<Value>> {
    let assertion = req.credential.decode()?;
    let at =
        state.auth.reauth_webauthn(&caller, &req.login_id, &assertion.borrow(), source, unix_now()).await?;
    Ok(Json(json!({ "verified_at": at })))
}
