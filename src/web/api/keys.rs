//! Key registration and management: `/api/v1/keys…`, `/api/v1/recovery-codes`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs_core::proto::CreationChallengeResponse;

use super::{ApiJson, ApiResult, b64, enc};
use crate::auth::AuthError;
use crate::auth::Credential;
use crate::auth::session::Caller;
use crate::clock::unix_now;
use crate::web::{AppState, ClientAddr};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/keys", get(list))
        .route("/api/v1/keys/register/start", post(register_start))
        .route("/api/v1/keys/register/finish", post(register_finish))
        .route("/api/v1/keys/webauthn/register/start", post(webauthn_register_start))
        .route("/api/v1/keys/webauthn/register/finish", post(webauthn_register_finish))
        .route("/api/v1/keys/{id}", patch(rename).delete(remove))
        .route("/api/v1/recovery-codes", post(recovery_codes))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterFinish {
    #[serde(rename = "registrationData")]
    registration_data: String,
    #[serde(rename = "clientData")]
    client_data: String,
    name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WebAuthnRegisterFinish {
    /// `PublicKeyCredential.toJSON()` of the new credential.
    #[schema(value_type = Object)]
    credential: Value,
    name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rename {
    name: String,
}

/// The §3 shape of a key.
pub(super) fn key_json(c: &Credential) -> Value {
    json!({
        "id": c.id.to_string(),
        "name": c.label,
        "created_at": c.created_at,
        "last_used_at": c.last_used_at,
        "counter": c.counter,
        "attestation_subject": c.attestation_subject,
        "transports": c.transports.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
    })
}

fn key_id(id: &str) -> Result<i64, AuthError> {
    id.parse().map_err(|_| AuthError::NotFound("key"))
}

/// The caller's keys.
#[utoipa::path(get, path = "/api/v1/keys", security(("bearer" = [])), responses(
    (status = 200, description = "{keys: [{id, name, created_at, last_used_at, counter, attestation_subject, transports}]}"),
    (status = 401, description = "unauthorized", body = super::ErrorBody),
    (status = 403, description = "enroll_only", body = super::ErrorBody),
))]
pub(super) async fn list(State(state): State<AppState>, token: super::BearerToken) -> ApiResult<Json<Value>> {
    let keys = state.auth.keys_of(&token.0, unix_now()).await?;
    Ok(Json(json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() })))
}

/// Starts enrolling a key.
#[utoipa::path(post, path = "/api/v1/keys/register/start", security(("bearer" = [])), responses(
    (status = 200, description = "appId, origin, registerRequests, registeredKeys"),
    (status = 401, description = "unauthorized", body = super::ErrorBody),
    (status = 403, description = "reauth_required: confirm with a key (POST /api/v1/reauth) and retry", body = super::ErrorBody),
))]
pub(super) async fn register_start(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let start = state.auth.register_start(&caller, unix_now()).await?;
    let settings = &state.auth.settings;
    Ok(Json(json!({
        "appId": settings.rp_id,
        "origin": settings.origin(),
        "registerRequests": [{ "version": "U2F_V2", "challenge": enc(&start.challenge) }],
        "registeredKeys": super::registered_keys(&settings.rp_id, &start.key_handles),
    })))
}

/// Finishes enrolling a key; the first key comes with recovery_codes.
#[utoipa::path(post, path = "/api/v1/keys/register/finish", security(("bearer" = [])), request_body = RegisterFinish, responses(
    (status = 200, description = "the key, plus recovery_codes for the first key"),
    (status = 400, description = "bad_client_data, bad_signature, invalid_request", body = super::ErrorBody),
))]
pub(super) async fn register_finish(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    ApiJson(req): ApiJson<RegisterFinish>,
) -> ApiResult<Json<Value>> {
    let registration_data = b64("registrationData", &req.registration_data)?;
    let client_data = b64("clientData", &req.client_data)?;
    let done = state
        .auth
        .register_finish(&caller, &registration_data, &client_data, &req.name, source, unix_now())
        .await?;
    let mut body = key_json(&done.credential);
    if let (Some(codes), Some(obj)) = (done.recovery_codes, body.as_object_mut()) {
        obj.insert("recovery_codes".into(), json!(codes));
    }
    Ok(Json(body))
}

/// Starts registering a security key from a browser (WebAuthn).
#[utoipa::path(post, path = "/api/v1/keys/webauthn/register/start", security(("bearer" = [])), responses(
    (status = 200, description = "{publicKey}: creation options for PublicKeyCredential.parseCreationOptionsFromJSON"),
    (status = 401, description = "unauthorized", body = super::ErrorBody),
    (status = 403, description = "enroll_only", body = super::ErrorBody),
))]
pub(super) async fn webauthn_register_start(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<CreationChallengeResponse>> {
    Ok(Json(state.auth.webauthn_register_start(&caller, unix_now()).await?))
}

/// Finishes a browser registration; the first key comes with recovery_codes.
#[utoipa::path(post, path = "/api/v1/keys/webauthn/register/finish", security(("bearer" = [])), request_body = WebAuthnRegisterFinish, responses(
    (status = 200, description = "the key, plus recovery_codes for the first key"),
    (status = 400, description = "bad_client_data, bad_signature, invalid_request", body = super::ErrorBody),
))]
pub(super) async fn webauthn_register_finish(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    ApiJson(req): ApiJson<WebAuthnRegisterFinish>,
) -> ApiResult<Json<Value>> {
    let credential = serde_json::from_value(req.credential)
        .map_err(|e| AuthError::InvalidRequest(format!("credential is not a registration response: {e}")))?;
    let done =
        state.auth.webauthn_register_finish(&caller, &credential, &req.name, source, unix_now()).await?;
    let mut body = key_json(&done.credential);
    if let (Some(codes), Some(obj)) = (done.recovery_codes, body.as_object_mut()) {
        obj.insert("recovery_codes".into(), json!(codes));
    }
    Ok(Json(body))
}

/// Renames a key.
#[utoipa::path(patch, path = "/api/v1/keys/{id}", security(("bearer" = [])), request_body = Rename, responses(
    (status = 200, description = "the key"),
    (status = 404, description = "not_found", body = super::ErrorBody),
))]
pub(super) async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Rename>,
) -> ApiResult<Json<Value>> {
    let key = state.auth.rename_key(&caller, key_id(&id)?, &req.name).await?;
    Ok(Json(key_json(&key)))
}

/// Removes a key; the last one only with a second factor from the last 5 minutes.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", security(("bearer" = [])), responses(
    (status = 204, description = "removed"),
    (status = 404, description = "not_found", body = super::ErrorBody),
    (status = 403, description = "reauth_required: the last key, without a recent second factor", body = super::ErrorBody),
))]
pub(super) async fn remove(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.auth.remove_key(&caller, key_id(&id)?, source, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes with 10 new ones, shown once; needs a
/// second factor from the last 5 minutes.
#[utoipa::path(post, path = "/api/v1/recovery-codes", security(("bearer" = [])), responses(
    (status = 200, description = "{recovery_codes: [...]}"),
    (status = 403, description = "reauth_required: confirm with a key (POST /api/v1/reauth) and retry", body = super::ErrorBody),
))]
pub(super) async fn recovery_codes(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let codes = state.auth.new_recovery_codes(&caller, source, unix_now()).await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}
