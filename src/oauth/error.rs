//! Graph-style OAuth errors: HTTP 400 with
//! `{"error":{"message","type":"OAuthException","code","error_subcode","fbtrace_id"}}`,
//! the shape facebook-sdk and other Graph clients raise from.

use serde_json::{Value, json};

/// Which OAuth error, with its code and subcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorKind {
    /// 1: the client secret does not belong to the client id.
    BadClientSecret,
    /// 100: a parameter is missing or malformed, or a code is unknown or used.
    InvalidParameter,
    /// 100 / 36008: the exchange's redirect_uri differs from the dialog's.
    RedirectUriMismatch,
    /// 101: the client id names no app.
    UnknownApp,
    /// 190 / 463: the token expired.
    TokenExpired,
    /// 190 / 460: the user changed their password since the token was issued.
    PasswordChanged,
    /// 190 / 467: the token is unknown, revoked or malformed.
    TokenInvalid,
    /// 191: the dialog's redirect_uri is not registered for the app.
    RedirectUriNotRegistered,
    /// 2500: a call about "me" without a user token.
    ActiveTokenRequired,
    /// 4: the app reached its calls-per-minute limit (HTTP 429).
    RequestLimit,
    /// 5: the call came from an address the app does not allow (HTTP 403).
    UnauthorizedSource,
    /// 2: the database is unreachable; retry later (HTTP 503).
    Unavailable,
    /// 1 with HTTP 500: a fault on this side, never bad input.
    Internal,
}

impl OAuthErrorKind {
    /// `(code, error_subcode)`.
    pub fn codes(self) -> (u32, Option<u32>) {
        match self {
            Self::BadClientSecret => (1, None),
            Self::InvalidParameter => (100, None),
            Self::RedirectUriMismatch => (100, Some(36008)),
            Self::UnknownApp => (101, None),
            Self::TokenExpired => (190, Some(463)),
            Self::PasswordChanged => (190, Some(460)),
            Self::TokenInvalid => (190, Some(467)),
            Self::RedirectUriNotRegistered => (191, None),
            Self::ActiveTokenRequired => (2500, None),
            Self::RequestLimit => (4, None),
            Self::UnauthorizedSource => (5, None),
            Self::Unavailable => (2, None),
            Self::Internal => (1, None),
        }
    }

    /// The message Graph clients show; specific errors add detail.
    pub(crate) fn default_message(self) -> &'static str {
        match self {
            Self::BadClientSecret => "Error validating client secret.",
            Self::InvalidParameter => "Invalid parameter.",
            Self::RedirectUriMismatch => {
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"
            }
            Self::UnknownApp => "Error validating application. Invalid application ID.",
            Self::TokenExpired => "Error validating access token: Session has expired.",
            Self::PasswordChanged => {
                "Error validating access token: The session has been invalidated because the user changed their password."
            }
            Self::TokenInvalid => "Invalid OAuth access token.",
            Self::RedirectUriNotRegistered => {
                "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings."
            }
            Self::ActiveTokenRequired => {
                "An active access token must be used to query information about the current user."
            }
            Self::RequestLimit => "(#4) Application request limit reached",
            Self::UnauthorizedSource => {
                "The request came from a remote address not allowed by this application."
            }
            Self::Unavailable => "Service temporarily unavailable. Please retry your request later.",
            Self::Internal => "An unexpected error has occurred. Please retry your request later.",
        }
    }

    /// The HTTP status: 400 for the caller's mistakes as Graph answers them,
    /// 503 and 500 for trouble on this side.
    pub fn status(self) -> u16 {
        match self {
            Self::Unavailable => 503,
            Self::Internal => 500,
            Self::RequestLimit => 429,
            Self::UnauthorizedSource => 403,
            _ => 400,
        }
    }
}

/// An OAuth error answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {})", .kind.codes().0)]
pub struct OAuthError {
    /// Which error.
    pub kind: OAuthErrorKind,
    /// The sentence for people.
    pub message: String,
}

impl OAuthError {
    /// The error with its default message.
    pub fn new(kind: OAuthErrorKind) -> Self {
        Self { kind, message: kind.default_message().to_owned() }
    }

    /// The error with a specific message (e.g. naming the missing parameter).
    pub(crate) fn with_message(kind: OAuthErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A missing or malformed parameter, named.
    pub fn missing(param: &str) -> Self {
        Self::with_message(OAuthErrorKind::InvalidParameter, format!("Missing or invalid parameter: {param}"))
    }

    /// The JSON body; `trace_id` correlates the answer with the server's log.
    pub fn body(&self, trace_id: &str) -> Value {
        let (code, subcode) = self.kind.codes();
        let mut error = json!({
            "message": self.message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": trace_id,
        });
        if let (Some(subcode), Some(map)) = (subcode, error.as_object_mut()) {
            map.insert("error_subcode".to_owned(), json!(subcode));
        }
        json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_graph_shape() {
        let body = OAuthError::new(OAuthErrorKind::TokenExpired).body("AbC123");
        assert_eq!(body["error"]["type"], "OAuthException");
        assert_eq!(body["error"]["code"], 190);
        assert_eq!(body["error"]["error_subcode"], 463);
        assert_eq!(body["error"]["fbtrace_id"], "AbC123");
        let plain = OAuthError::new(OAuthErrorKind::BadClientSecret).body("t");
        assert_eq!(plain["error"]["code"], 1);
        assert!(plain["error"].get("error_subcode").is_none());
    }
}
