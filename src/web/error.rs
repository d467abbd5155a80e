//! The JSON error every API answer uses: `{"error":{"code","message"}}`.
//!
//! Handlers return [`ApiError`]; internal faults are logged here with their
//! detail and reach the client only as a generic `internal` error.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error answer: HTTP status, stable machine-readable code, human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stable code clients switch on (`bad_credentials`, `not_found`, …).
    pub code: &'static str,
    /// A sentence for people; never contains secrets.
    pub message: String,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `400 invalid_request`: the request cannot be served as sent.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// `503 unavailable`: the database (or another dependency) is down; retry later.
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the service is temporarily unavailable")
    }

    /// `500 internal`: logs the cause, shows the client nothing of it.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl From<StoreError> for ApiError {
    /// The generic mapping; services that give `NotFound` or `AlreadyUsed` a
    /// specific meaning (`unknown_login`, `challenge_used`) say so in their
    /// own errors first.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Self::unavailable()
            }
            StoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            // Only a challenge has codes of its own; any other used or
            // expired single-use row is a request that cannot be served.
            StoreError::AlreadyUsed(what @ "challenge") => {
                Self::new(StatusCode::CONFLICT, "challenge_used", format!("{what} was already used"))
            }
            StoreError::Expired(what @ "challenge") => {
                Self::new(StatusCode::GONE, "challenge_expired", format!("{what} expired"))
            }
            StoreError::AlreadyUsed(what) => Self::invalid(format!("{what} was already used")),
            StoreError::Expired(what) => Self::invalid(format!("{what} expired")),
            StoreError::Conflict(what) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", format!("{what} already exists"))
            }
            StoreError::Exhausted(what) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{what} has no attempts left"),
            ),
            StoreError::Pending(what) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", format!("{what} is not ready yet"))
            }
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_client_answers_not_500() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let cases = [
            (StoreError::Unavailable(io), 503, "unavailable"),
            (StoreError::NotFound("login"), 404, "not_found"),
            (StoreError::AlreadyUsed("challenge"), 409, "challenge_used"),
            (StoreError::Expired("challenge"), 410, "challenge_expired"),
            // Whatever else was used or expired is not a challenge.
            (StoreError::AlreadyUsed("oauth_code"), 400, "invalid_request"),
            (StoreError::Expired("auth_token"), 400, "invalid_request"),
            (StoreError::Conflict("user"), 400, "invalid_request"),
            (StoreError::Pending("auth_token"), 400, "invalid_request"),
            (StoreError::Internal(sqlx::Error::RowNotFound), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.code), (status, code));
        }
    }
}
