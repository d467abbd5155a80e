//! The verification core on its own: the specification's vectors, mutations
//! and property tests of U2F messages, and differential runs against
//! python-fido2, webauthn-rs, `p256` and OpenSSL.

#[path = "../common/mod.rs"]
mod common;

mod ctap2_python;
mod fast_verify_diff;
mod verify_mutation;
mod verify_proptest;
mod verify_python;
mod verify_vectors;
mod webauthn_diff;
