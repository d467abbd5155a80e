//! The host: a CTAPHID client over any [`Connection`](crate::transport::Connection)
//! and a U2F client and a CTAP2 client on top of it, which is what
//! `keygate key` and `keygate devices` use to talk to USB keys and to the
//! soft token alike.
//!
//! These are drivers: they read the clock, sleep between presence polls and
//! honour a cancellation flag. The protocol decisions stay in the sans-I/O
//! [`crate::ctaphid::host`], [`crate::u2f`] and [`crate::ctap2`] modules.

mod ctap2;
mod ctaphid;
mod u2f;

pub use ctap2::Ctap2Client;
pub use ctaphid::{CANCEL_GRACE, CtapHidClient};
pub use u2f::{Authentication, Registration, U2fClient, Wait};

use std::borrow::Cow;

use crate::ctap2::{ResponseError, Status};
use crate::ctaphid::host::HostError;
use crate::u2f::StatusWord;

/// Why a request to a device failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Reading from or writing to the device failed.
    #[error("device I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The device broke the CTAPHID protocol or reported an error.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The device did not answer in time.
    #[error("the device did not answer")]
    NoResponse,
    /// The device stayed busy with another host.
    #[error("the device stayed busy with another application")]
    Busy,
    /// Nobody touched the key before the caller's deadline.
    #[error("timed out waiting for touch")]
    Timeout,
    /// The caller gave up (Ctrl-C).
    #[error("cancelled")]
    Cancelled,
    /// The key handle was not made by this key for this application (U2F
    /// 6A80; CTAP2 NO_CREDENTIALS: none of the allowed credentials).
    #[error("the security key does not know this key handle for this application")]
    UnknownKeyHandle,
    /// The key already holds a credential of the exclude list (CTAP2
    /// CREDENTIAL_EXCLUDED): it is registered for this account already.
    #[error("the security key is already registered for this account")]
    AlreadyRegistered,
    /// The key answered a CTAP2 request with another error status.
    #[error("the security key refused: {0}")]
    Ctap2(Status),
    /// The device answered with another status word.
    #[error("the security key answered status {status} to instruction {ins:#04x}")]
    Status {
        /// The instruction sent.
        ins: u8,
        /// The status word received.
        status: StatusWord,
    },
    /// The response does not have the U2F or CTAP2 shape.
    #[error("malformed response from the security key: {what}")]
    Malformed {
        /// What was wrong.
        what: Cow<'static, str>,
    },
}

impl ClientError {
    /// A response of the wrong shape.
    pub(crate) fn malformed(what: impl Into<Cow<'static, str>>) -> Self {
        ClientError::Malformed { what: what.into() }
    }
}

/// A CTAP2 error status as what it means to the caller: the waits that end
/// the same way over U2F get the same errors, the rest keep their status.
impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        match status {
            Status::NO_CREDENTIALS => ClientError::UnknownKeyHandle,
            Status::CREDENTIAL_EXCLUDED => ClientError::AlreadyRegistered,
            Status::OPERATION_DENIED | Status::KEEPALIVE_CANCEL => ClientError::Cancelled,
            Status::USER_ACTION_TIMEOUT | Status::ACTION_TIMEOUT => ClientError::Timeout,
            Status::CHANNEL_BUSY => ClientError::Busy,
            other => ClientError::Ctap2(other),
        }
    }
}

impl From<ResponseError> for ClientError {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::Status(status) => status.into(),
            other => ClientError::malformed(other.to_string()),
        }
    }
}
