//! The verification core: parse and verify U2F and WebAuthn messages,
//! judge attestation certificates and signature counters.
//!
//! Pure by design: every function takes bytes (and the server's expectations)
//! and returns a parsed value, a decision or a [`VerifyError`]. Nothing here
//! does I/O, reads a clock or draws random numbers, so the HTTP handlers, the
//! CLI, the fuzz targets and the benches all drive the same code. Untrusted
//! input never panics: the crate denies `unwrap`, `expect` and `panic`
//! outside its tests.
//!
//! The entry points:
//! - [`RegistrationData::parse`] / [`verify_registration`]: U2F registration
//!   and its attestation under an [`AttestationPolicy`];
//! - [`SignatureData::parse`] / [`verify_authentication`]: U2F authentication;
//! - [`verify_assertion`]: WebAuthn assertions;
//! - [`verify_u2f_client_data`]: the U2F clientData checks;
//! - [`CounterVerdict::judge`]: the clone-detection rule.
//!
//! A credential's public key is parsed once into a [`CredentialKey`], which
//! the caller keeps (per key) and passes to every later login.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// The README's example runs as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub mod attestation;
pub mod client_data;
pub mod counter;
pub mod error;
pub mod fast;
pub mod key;
pub mod u2f;
pub mod webauthn;

pub use attestation::{
    Attestation, AttestationCertificate, AttestationMode, AttestationPolicy, AttestationTrust, TrustRoots,
};
pub use client_data::{ClientData, ClientDataExpectation, U2fClientDataType, verify_u2f_client_data};
pub use counter::CounterVerdict;
pub use error::{Signed, VerifyError};
pub use key::CredentialKey;
pub use u2f::{
    AuthenticationOutcome, RegistrationData, SignatureData, app_param, verify_authentication,
    verify_registration,
};
pub use webauthn::{AssertionExpectation, AssertionOutcome, AuthenticatorData, verify_assertion};
