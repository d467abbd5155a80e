//! Password change, sessions and logout.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiResult};
use crate::auth::AuthError;
use crate::auth::session::Caller;
use crate::clock::unix_now;
use crate::web::{AppState, ClientAddr};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/password", post(password))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{id}", delete(revoke))
        .route("/api/v1/logout", post(logout))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordChange {
    old: String,
    new: String,
}

/// Changes the password; every session ends.
#[utoipa::path(post, path = "/api/v1/password", security(("bearer" = [])), request_body = PasswordChange, responses(
    (status = 204, description = "changed"),
    (status = 401, description = "bad_credentials", body = super::ErrorBody),
))]
pub(super) async fn password(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state.auth.change_password(&caller, &req.old, &req.new, source, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's sessions.
#[utoipa::path(get, path = "/api/v1/sessions", security(("bearer" = [])), responses(
    (status = 200, description = "{sessions: [{id, kind, created_at, expires_at, last_seen_at, current}]}"),
))]
pub(super) async fn sessions(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let list = state.auth.sessions(&caller, unix_now()).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "kind": s.kind.as_str(),
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "last_seen_at": s.last_seen_at,
                "current": s.id == caller.session.id,
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": items })))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", security(("bearer" = [])), responses(
    (status = 204, description = "ended"),
    (status = 404, description = "not_found", body = super::ErrorBody),
))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id.parse().map_err(|_| AuthError::NotFound("session"))?;
    state.auth.revoke_session(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/api/v1/logout", security(("bearer" = [])), responses(
    (status = 204, description = "logged out"),
))]
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, HeaderMap)> {
    state.auth.logout(&caller).await?;
    let mut headers = HeaderMap::new();
    state.cookies().clear_session(&mut headers);
    Ok((StatusCode::NO_CONTENT, headers))
}
