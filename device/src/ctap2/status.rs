//! CTAP2 status codes (CTAP 2.1 §8.2): the first byte of every CBOR
//! response, and the one thing a host can tell its user when a request fails.

use std::fmt;

/// A CTAP2 status byte. Unknown values are kept, so a newer key's code
/// still reaches the user as its number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub u8);

macro_rules! statuses {
    ($($name:ident = $code:literal, $text:literal;)*) => {
        impl Status {
            $(
                #[doc = $text]
                pub const $name: Status = Status($code);
            )*

            /// The specification's name of the code (`CTAP2_ERR_…` without the prefix).
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($code => stringify!($name),)*
                    _ => "UNKNOWN",
                }
            }

            /// What the code means, in words a person can act on.
            pub fn describe(self) -> &'static str {
                match self.0 {
                    $($code => $text,)*
                    _ => "The key reported an error this program does not know.",
                }
            }
        }
    };
}

statuses! {
    OK = 0x00, "The request succeeded.";
    INVALID_COMMAND = 0x01, "The key does not know this command.";
    INVALID_PARAMETER = 0x02, "A parameter of the request is invalid.";
    INVALID_LENGTH = 0x03, "The request has an invalid length.";
    INVALID_SEQ = 0x04, "A CTAPHID packet arrived out of sequence.";
    TIMEOUT = 0x05, "The rest of the request did not arrive in time.";
    CHANNEL_BUSY = 0x06, "The key is busy with another application.";
    LOCK_REQUIRED = 0x0a, "The command needs the channel to be locked.";
    INVALID_CHANNEL = 0x0b, "The CTAPHID channel is not valid.";
    CBOR_UNEXPECTED_TYPE = 0x11, "A CBOR value of the request has the wrong type.";
    INVALID_CBOR = 0x12, "The request is not valid CBOR.";
    MISSING_PARAMETER = 0x14, "The request lacks a required parameter.";
    LIMIT_EXCEEDED = 0x15, "A limit of the key was exceeded.";
    FP_DATABASE_FULL = 0x17, "The key's fingerprint database is full.";
    LARGE_BLOB_STORAGE_FULL = 0x18, "The key's large-blob storage is full.";
    CREDENTIAL_EXCLUDED = 0x19, "The key already holds a credential for this account.";
    PROCESSING = 0x21, "The key is still processing.";
    INVALID_CREDENTIAL = 0x22, "The credential is not valid.";
    USER_ACTION_PENDING = 0x23, "The key waits for the user.";
    OPERATION_PENDING = 0x24, "Another operation is pending on the key.";
    NO_OPERATIONS = 0x25, "No operation is pending.";
    UNSUPPORTED_ALGORITHM = 0x26, "The key supports none of the requested algorithms.";
    OPERATION_DENIED = 0x27, "The user or the key denied the operation.";
    KEY_STORE_FULL = 0x28, "The key's credential storage is full.";
    UNSUPPORTED_OPTION = 0x2b, "The key does not support a requested option.";
    INVALID_OPTION = 0x2c, "A requested option is not valid for this command.";
    KEEPALIVE_CANCEL = 0x2d, "The request was cancelled.";
    NO_CREDENTIALS = 0x2e, "The key holds none of the allowed credentials.";
    USER_ACTION_TIMEOUT = 0x2f, "Nobody touched the key in time.";
    NOT_ALLOWED = 0x30, "The key does not allow this operation now.";
    PIN_INVALID = 0x31, "The PIN is wrong.";
    PIN_BLOCKED = 0x32, "The PIN is blocked.";
    PIN_AUTH_INVALID = 0x33, "The PIN authentication is invalid.";
    PIN_AUTH_BLOCKED = 0x34, "PIN authentication is blocked until the key is re-inserted.";
    PIN_NOT_SET = 0x35, "The key has no PIN set.";
    PUAT_REQUIRED = 0x36, "The key requires a PIN or user verification for this.";
    PIN_POLICY_VIOLATION = 0x37, "The PIN does not meet the key's policy.";
    REQUEST_TOO_LARGE = 0x39, "The request is too large for the key.";
    ACTION_TIMEOUT = 0x3a, "The action timed out.";
    UP_REQUIRED = 0x3b, "The key requires a touch for this.";
    UV_BLOCKED = 0x3c, "User verification is blocked.";
    INTEGRITY_FAILURE = 0x3d, "The key failed an integrity check.";
    INVALID_SUBCOMMAND = 0x3e, "The key does not know this subcommand.";
    UV_INVALID = 0x3f, "User verification failed.";
    UNAUTHORIZED_PERMISSION = 0x40, "The token lacks the permission for this.";
    OTHER = 0x7f, "The key reported an unspecified error.";
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({:#04x} {})", self.0, self.name())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (CTAP2 status {:#04x} {})", self.describe().trim_end_matches('.'), self.0, self.name())
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes_read_well() {
        assert_eq!(Status::NO_CREDENTIALS.name(), "NO_CREDENTIALS");
        assert_eq!(
            Status(0x2e).to_string(),
            "The key holds none of the allowed credentials (CTAP2 status 0x2e NO_CREDENTIALS)"
        );
        assert_eq!(Status(0xe5).name(), "UNKNOWN");
        assert!(Status(0xe5).to_string().contains("0xe5"));
    }
}
