//! Why a login or key operation was refused. One variant per refusal of the
//! JSON API, so the mapping to `{"error":{"code"}}` is a plain match.

use crate::secrets::PasswordError;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// A refused login or key operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthError {
    /// Wrong password or unknown user (indistinguishable on purpose), or a
    /// wrong recovery code.
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts, retry in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Missing, unknown or expired session token.
    #[error("missing or invalid session token")]
    Unauthorized,
    /// A cookie-authenticated change without the page's CSRF token.
    #[error("missing or wrong CSRF token: reload the page and try again")]
    Csrf,
    /// The session may only enroll a first key.
    #[error("this session may only enroll a first security key")]
    EnrollOnly,
    /// No pending login with that id.
    #[error("no such login")]
    UnknownLogin,
    /// The challenge's lifetime is over.
    #[error("the challenge expired, start again")]
    ChallengeExpired,
    /// The challenge was already consumed.
    #[error("the challenge was already used")]
    ChallengeUsed,
    /// The key handle is not one of the user's keys.
    #[error("this key is not registered for the account")]
    UnknownKey,
    /// clientData has the wrong type, challenge or origin.
    #[error("client data refused: {0}")]
    BadClientData(#[source] VerifyError),
    /// The authenticator's message is malformed or its signature is wrong.
    #[error("signature refused: {0}")]
    BadSignature(#[source] VerifyError),
    /// The key's counter went backwards: the key may have been cloned.
    #[error(
        "the key's counter went backwards ({asserted} after {stored}); the key is blocked as possibly cloned"
    )]
    PossibleClone {
        /// Counter stored from the last login.
        stored: u32,
        /// Counter the key sent now.
        asserted: u32,
    },
    /// The change needs a second factor younger than 5 minutes: confirm
    /// with a key again (`POST /api/v1/reauth`) and retry.
    #[error("{0} needs a security key confirmation from the last 5 minutes: touch your key again")]
    ReauthRequired(&'static str),
    /// The key (or session) does not exist for this user.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An application request names no registered application (an
    /// `invalid_request` on the wire; a page says so in its own words).
    #[error("unknown application")]
    UnknownApp,
    /// A request field is unusable.
    #[error("{0}")]
    InvalidRequest(String),
    /// The database refused or is down.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed.
    #[error(transparent)]
    Password(PasswordError),
}

impl From<PasswordError> for AuthError {
    /// A full hashing queue is a rate limit for the client (retry shortly);
    /// anything else is a fault.
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::RateLimited { retry_after: 1 },
            other => Self::Password(other),
        }
    }
}

impl AuthError {
    /// Sorts a verification-core refusal into client-data or signature trouble.
    pub(crate) fn from_verify(e: VerifyError) -> Self {
        if e.is_client_data() { Self::BadClientData(e) } else { Self::BadSignature(e) }
    }

    /// The stable audit/metrics label of the refusal.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::RateLimited { .. } => "rate_limited",
            Self::AccountDisabled => "account_disabled",
            Self::Unauthorized => "unauthorized",
            Self::EnrollOnly => "enroll_only",
            Self::Csrf => "csrf_failed",
            Self::UnknownLogin => "unknown_login",
            Self::ChallengeExpired => "challenge_expired",
            Self::ChallengeUsed => "challenge_used",
            Self::UnknownKey => "unknown_key",
            Self::BadClientData(_) => "bad_client_data",
            Self::BadSignature(_) => "bad_signature",
            Self::PossibleClone { .. } => "possible_clone",
            Self::ReauthRequired(_) => "reauth_required",
            Self::NotFound(_) => "not_found",
            Self::UnknownApp | Self::InvalidRequest(_) => "invalid_request",
            Self::Store(StoreError::Unavailable(_)) => "unavailable",
            Self::Store(_) | Self::Password(_) => "internal",
        }
    }
}
