//! Helpers for the verification-core tests: the specification's vectors,
//! the test PKI in `fixtures/verify/`, and builders that sign U2F messages
//! with test keys the way an authenticator does.

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

/// A file under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// One of the specification's example vectors (`fixtures/vectors/NAME.json`).
pub struct Vector(serde_json::Value);

impl Vector {
    /// Loads `fixtures/vectors/{name}.json`.
    pub fn load(name: &str) -> Vector {
        let text = std::fs::read_to_string(fixture(&format!("vectors/{name}.json"))).expect("read vector");
        Vector(serde_json::from_str(&text).expect("vector is JSON"))
    }

    /// A string field.
    pub fn str(&self, key: &str) -> &str {
        self.0[key].as_str().unwrap_or_else(|| panic!("vector field {key} missing"))
    }

    /// A hex field, decoded.
    pub fn bytes(&self, key: &str) -> Vec<u8> {
        hex::decode(self.str(key)).expect("hex field")
    }

    /// A 32-byte hex field.
    pub fn array32(&self, key: &str) -> [u8; 32] {
        self.bytes(key).try_into().expect("32 bytes")
    }

    /// A number field.
    pub fn u64(&self, key: &str) -> u64 {
        self.0[key].as_u64().expect("number field")
    }
}

/// The attestation key of the test PKI.
pub fn attestation_key() -> SigningKey {
    let der = std::fs::read(fixture("verify/attestation.pk8")).expect("read attestation key");
    SigningKey::from_pkcs8_der(&der).expect("PKCS#8 P-256 key")
}

/// A fixture file's bytes.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|err| panic!("read {rel}: {err}"))
}

/// The uncompressed point of a signing key.
pub fn sec1(sk: &SigningKey) -> Vec<u8> {
    sk.verifying_key().to_encoded_point(false).as_bytes().to_vec()
}

fn sign(sk: &SigningKey, data: &[u8]) -> Vec<u8> {
    let sig: Signature = sk.sign_prehash(&Sha256::digest(data)).expect("sign");
    sig.to_der().as_bytes().to_vec()
}

/// A registration response as an authenticator builds it.
pub fn registration(
    attestation: &SigningKey,
    cert_der: &[u8],
    user: &SigningKey,
    key_handle: &[u8],
    app_param: &[u8; 32],
    challenge_param: &[u8; 32],
) -> Vec<u8> {
    let public = sec1(user);
    let mut signed = vec![0u8];
    signed.extend_from_slice(app_param);
    signed.extend_from_slice(challenge_param);
    signed.extend_from_slice(key_handle);
    signed.extend_from_slice(&public);
    let mut out = vec![0x05];
    out.extend_from_slice(&public);
    out.push(u8::try_from(key_handle.len()).expect("key handle <= 255 bytes"));
    out.extend_from_slice(key_handle);
    out.extend_from_slice(cert_der);
    out.extend_from_slice(&sign(attestation, &signed));
    out
}

/// An authentication response as an authenticator builds it.
pub fn authentication(
    user: &SigningKey,
    flags: u8,
    counter: u32,
    app_param: &[u8; 32],
    challenge_param: &[u8; 32],
) -> Vec<u8> {
    let mut signed = app_param.to_vec();
    signed.push(flags);
    signed.extend_from_slice(&counter.to_be_bytes());
    signed.extend_from_slice(challenge_param);
    let mut out = vec![flags];
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(&sign(user, &signed));
    out
}
