//! CTAP2 (FIDO2) over CTAPHID's CBOR command, both ends, sans-I/O.
//!
//! A request is a command byte and a CBOR map ([`request`]); a response is a
//! status byte and a CBOR map ([`response`]). Keys sold today speak CTAP2,
//! and some speak nothing else (U2F switched off): this module is what lets
//! the host use them, and what makes the soft token a FIDO2 key that real
//! CTAP2 hosts can test. Only what a U2F-style security key needs is here:
//! ES256 credentials that are not discoverable, user presence without PIN
//! or user verification.

pub mod authdata;
pub mod cbor;
pub mod cose;
pub mod request;
pub mod response;
pub mod status;

pub use authdata::{AttestedCredential, AuthDataError, AuthenticatorData};
pub use request::{GetAssertion, MakeCredential, Options, RelyingParty, Request, User};
pub use response::{GetAssertionResponse, GetInfo, MakeCredentialResponse, ResponseError};
pub use status::Status;

/// The COSE algorithm ES256: ECDSA on P-256 with SHA-256.
pub const ES256: i64 = -7;

/// CTAP2 authenticator command codes (the first byte of a CBOR request).
pub mod command {
    /// authenticatorMakeCredential.
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    /// authenticatorGetAssertion.
    pub const GET_ASSERTION: u8 = 0x02;
    /// authenticatorGetInfo.
    pub const GET_INFO: u8 = 0x04;
    /// authenticatorReset.
    pub const RESET: u8 = 0x07;
}

/// The KEEPALIVE status bytes an authenticator sends while it works.
pub mod keepalive {
    /// Still processing.
    pub const PROCESSING: u8 = 1;
    /// Waiting for the user to touch the key.
    pub const UP_NEEDED: u8 = 2;
}
