//! The legacy REST API's error codes, as its clients switch on them.

/// An `error_code` of the legacy REST API, with the message clients expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: an unexpected fault; the details are logged, never sent.
    Unknown,
    /// 2: a dependency (the database) is down; the client may retry.
    ServiceUnavailable,
    /// 3: the `method` is not one this service implements.
    UnknownMethod,
    /// 4: the app exceeded its request rate.
    RequestLimit,
    /// 5: the caller's address is not in the app's allowed networks.
    UnauthorizedSource,
    /// 100: a parameter is missing, malformed, duplicated or refused.
    InvalidParameter,
    /// 101: `api_key` names no registered app.
    InvalidApiKey,
    /// 102: `session_key` is unknown, expired or ended.
    InvalidSession,
    /// 103: `call_id` is not greater than the session's previous one.
    CallIdNotIncreasing,
    /// 104: `sig` does not match the parameters and secret.
    IncorrectSignature,
}

impl ErrorCode {
    /// The numeric `error_code`.
    pub fn code(self) -> u16 {
        match self {
            Self::Unknown => 1,
            Self::ServiceUnavailable => 2,
            Self::UnknownMethod => 3,
            Self::RequestLimit => 4,
            Self::UnauthorizedSource => 5,
            Self::InvalidParameter => 100,
            Self::InvalidApiKey => 101,
            Self::InvalidSession => 102,
            Self::CallIdNotIncreasing => 103,
            Self::IncorrectSignature => 104,
        }
    }

    /// The `error_msg` the reference documentation gives for the code.
    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => "An unknown error occurred",
            Self::ServiceUnavailable => "Service temporarily unavailable",
            Self::UnknownMethod => "Unknown method",
            Self::RequestLimit => "Application request limit reached",
            Self::UnauthorizedSource => "Unauthorized source IP address",
            Self::InvalidParameter => "Invalid parameter",
            Self::InvalidApiKey => "Invalid API key",
            Self::InvalidSession => "Session key invalid or no longer valid",
            Self::CallIdNotIncreasing => "Invalid call_id: must be greater than the previous call_id",
            Self::IncorrectSignature => "Incorrect signature",
        }
    }
}

/// A refused call: the code plus an optional detail naming the parameter at
/// fault, appended to the message (`Invalid parameter: callback`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}){}", .code.message(), .code.code(), .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct LegacyError {
    /// Which error.
    pub code: ErrorCode,
    /// What exactly was wrong, for people reading the response.
    pub detail: Option<String>,
}

impl LegacyError {
    /// An error with no further detail.
    pub fn new(code: ErrorCode) -> Self {
        Self { code, detail: None }
    }

    /// An invalid-parameter error naming the parameter and the problem.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self { code: ErrorCode::InvalidParameter, detail: Some(detail.into()) }
    }

    /// The `error_msg` sent to the client.
    pub fn message(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.code.message()),
            None => self.code.message().to_owned(),
        }
    }
}

impl From<ErrorCode> for LegacyError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}
