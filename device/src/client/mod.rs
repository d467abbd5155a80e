//! The host: a CTAPHID client over any [`Connection`](crate::transport::Connection)
//! and a U2F client on top of it, which is what `keygate key` and
//! `keygate devices` use to talk to USB keys and to the soft token alike.
//!
//! These are drivers: they read the clock, sleep between presence polls and
//! honour a cancellation flag. The protocol decisions stay in the sans-I/O
//! [`crate::ctaphid::host`] and [`crate::u2f`] modules.

mod ctaphid;
mod u2f;

pub use ctaphid::CtapHidClient;
pub use u2f::{Authentication, Registration, U2fClient, Wait};

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
    /// The key handle was not made by this key for this application (6A80).
    #[error("the security key does not know this key handle for this application")]
    UnknownKeyHandle,
    /// The device answered with another status word.
    #[error("the security key answered status {status} to instruction {ins:#04x}")]
    Status {
        /// The instruction sent.
        ins: u8,
        /// The status word received.
        status: StatusWord,
    },
    /// The response does not have the U2F shape.
    #[error("malformed U2F response: {what}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
}
