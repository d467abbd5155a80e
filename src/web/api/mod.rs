//! The JSON API under `/api/v1` (U2F login and key management). Handlers
//! decode, call [`crate::auth`], encode; every refusal — including the
//! framework's own (bad JSON, wrong content type, oversize body) — answers in
//! the `{"error":{"code","message"}}` shape.

mod account;
mod keys;
mod login;
mod openapi;
mod reauth;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, cookies};
use crate::auth::AuthError;
use crate::auth::session::Caller;

/// Largest request body the API reads.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// All `/api/v1` routes with the body limit applied.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(login::router())
        .merge(keys::router())
        .merge(account::router())
        .merge(reauth::router())
        .merge(openapi::router())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// The error body every refusal carries (for the OpenAPI document).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// `code` and `message` of an error body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ErrorDetail {
    /// Stable machine-readable code (`bad_credentials`, `rate_limited`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// An API refusal: the JSON error plus, for `rate_limited`, a Retry-After.
#[derive(Debug)]
pub(crate) struct Failure {
    error: ApiError,
    retry_after: Option<u64>,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self { error, retry_after: None }
    }
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        let status = match &e {
            AuthError::BadCredentials | AuthError::Unauthorized => StatusCode::UNAUTHORIZED,
            AuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::AccountDisabled
            | AuthError::EnrollOnly
            | AuthError::Csrf
            | AuthError::ReauthRequired(_)
            | AuthError::PossibleClone { .. } => StatusCode::FORBIDDEN,
            AuthError::UnknownLogin | AuthError::NotFound(_) => StatusCode::NOT_FOUND,
            AuthError::ChallengeExpired => StatusCode::GONE,
            AuthError::ChallengeUsed => StatusCode::CONFLICT,
            AuthError::UnknownKey
            | AuthError::BadClientData(_)
            | AuthError::BadSignature(_)
            | AuthError::UnknownApp
            | AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::Store(_) | AuthError::Password(_) => return Self::from(store_or_internal(e)),
        };
        let retry_after = match &e {
            AuthError::RateLimited { retry_after } => Some((*retry_after).max(1)),
            _ => None,
        };
        Self { error: ApiError::new(status, e.code(), e.to_string()), retry_after }
    }
}

fn store_or_internal(e: AuthError) -> ApiError {
    match e {
        AuthError::Store(store) => ApiError::from(store),
        other => ApiError::internal(other),
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What API handlers return.
pub(super) type ApiResult<T> = Result<T, Failure>;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

/// `Json<T>` whose rejections are API errors: 415 without a JSON content
/// type, 413 over the body limit, 400 `invalid_request` for everything else.
#[derive(Debug)]
pub(super) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(Failure::from(json_rejection(&rejection))),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {BODY_LIMIT} bytes"),
        ),
        other => invalid(other.body_text()),
    }
}

/// The token a request presents (Bearer header, or a browser's session
/// cookie with its CSRF check for changes), not yet checked: for handlers
/// that check it together with what they read.
pub(super) struct BearerToken(pub(super) String);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256);
        let token = match bearer {
            Some(token) => token,
            None => {
                // A browser: its session cookie, and for changes the CSRF token.
                let jar = state.cookies();
                let token = jar.session(&parts.headers).ok_or(AuthError::Unauthorized)?;
                if cookies::changes_state(&parts.method) && !jar.csrf_ok(&parts.headers) {
                    return Err(AuthError::Csrf.into());
                }
                token
            }
        };
        Ok(Self(token.to_owned()))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        Ok(state.auth.authenticate(&token, crate::clock::unix_now()).await?)
    }
}

/// Decodes a websafe-base64 field (padding tolerated), naming it on failure.
pub(super) fn b64(field: &str, text: &str) -> Result<Vec<u8>, Failure> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| Failure::from(invalid(format!("{field} is not websafe base64"))))
}

/// Websafe base64 without padding.
pub(super) fn enc(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The FIDO U2F JavaScript API's `registeredKeys`: the user's key handles
/// under the RP ID.
pub(super) fn registered_keys(rp_id: &str, key_handles: &[Vec<u8>]) -> serde_json::Value {
    key_handles
        .iter()
        .map(|h| serde_json::json!({ "version": "U2F_V2", "keyHandle": enc(h), "appId": rp_id }))
        .collect()
}

/// What a client needs to sign a pending second factor (a login's second
/// step, or a step-up), for the U2F CLI and for a page's WebAuthn call: one
/// challenge for every listed key.
pub(super) fn second_factor_request(
    settings: &crate::auth::Settings,
    id: &str,
    challenge: &[u8],
    key_handles: &[Vec<u8>],
) -> serde_json::Value {
    serde_json::json!({
        "publicKey": {
            "challenge": enc(challenge),
            "rpId": settings.rp_id,
            "timeout": settings.challenge_ttl_secs.saturating_mul(1000),
            "userVerification": "discouraged",
            "allowCredentials": key_handles
                .iter()
                .map(|h| serde_json::json!({ "type": "public-key", "id": enc(h) }))
                .collect::<Vec<_>>(),
        },
        "login_id": id,
        "second_factor": "u2f",
        "appId": settings.rp_id,
        "origin": settings.origin(),
        "challenge": enc(challenge),
        "registeredKeys": registered_keys(&settings.rp_id, key_handles),
    })
}
