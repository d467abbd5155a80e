//! U2F (CTAP1) messages: the ISO 7816-4 APDUs that travel inside CTAPHID MSG,
//! and the status words that end every response (FIDO U2F Raw Message Formats).

pub mod apdu;
pub mod status;

pub use apdu::{ApduError, CommandApdu, Encoding};
pub use status::StatusWord;

/// The U2F instruction bytes.
pub mod ins {
    /// Create a key pair for an application (REGISTER).
    pub const REGISTER: u8 = 0x01;
    /// Sign with a key pair made before (AUTHENTICATE).
    pub const AUTHENTICATE: u8 = 0x02;
    /// Ask which protocol version the token speaks ("U2F_V2").
    pub const VERSION: u8 = 0x03;
}

/// AUTHENTICATE's control byte (P1).
pub mod auth_control {
    /// Sign only after the user proves presence.
    pub const ENFORCE_USER_PRESENCE: u8 = 0x03;
    /// Only say whether the key handle is ours (always answered with 6985 or 6A80).
    pub const CHECK_ONLY: u8 = 0x07;
    /// Sign without waiting for the user (the presence flag says so).
    pub const DONT_ENFORCE_USER_PRESENCE: u8 = 0x08;
}

/// The version string VERSION returns.
pub const VERSION: &[u8] = b"U2F_V2";
