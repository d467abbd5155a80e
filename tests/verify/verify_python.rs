//! Differential test against python-fido2: for the same U2F messages, its
//! `RegistrationData.verify` / `SignatureData.verify` and keygate's core agree
//! on signature validity. The corpus (valid messages, high-S variants, and
//! every single-byte mutation of the signed parts) is written to a temporary
//! JSON file that `tests/python/test_verify_diff.py` reads.

use crate::common;

use common::verify::{Vector, attestation_key, authentication, read_fixture, registration, sec1};
use keygate_verify::{AttestationPolicy, CredentialKey, RegistrationData, SignatureData, app_param};
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

/// keygate's signature verdict for a registration: the attestation
/// signature verifies with the certificate's key.
fn registration_valid(data: &[u8], app: &[u8; 32], chal: &[u8; 32]) -> bool {
    RegistrationData::parse(data).is_ok_and(|reg| reg.verify(app, chal, &AttestationPolicy::Verified).is_ok())
}

/// keygate's signature verdict for an authentication: the signature alone,
/// not the user-presence flag (python-fido2 does not check it).
fn authentication_valid(data: &[u8], key: &[u8], app: &[u8; 32], chal: &[u8; 32]) -> bool {
    let (Ok(parsed), Ok(key)) = (SignatureData::parse(data), CredentialKey::from_sec1_uncompressed(key))
    else {
        return false;
    };
    key.verify_digest(&parsed.signed_digest(app, chal), &parsed.signature)
}

struct Corpus(Vec<Value>);

impl Corpus {
    fn registration(&mut self, name: String, data: &[u8], app: &[u8; 32], chal: &[u8; 32]) {
        self.0.push(json!({
            "name": name, "kind": "registration", "data": hex::encode(data),
            "app_param": hex::encode(app), "challenge_param": hex::encode(chal),
            "keygate_valid": registration_valid(data, app, chal),
        }));
    }

    fn authentication(&mut self, name: String, data: &[u8], key: &[u8], app: &[u8; 32], chal: &[u8; 32]) {
        self.0.push(json!({
            "name": name, "kind": "authentication", "data": hex::encode(data), "public_key": hex::encode(key),
            "app_param": hex::encode(app), "challenge_param": hex::encode(chal),
            "keygate_valid": authentication_valid(data, key, app, chal),
        }));
    }
}

/// The same response with the signature's `s` replaced by `n - s`.
fn flip_s(data: &[u8], sig_at: usize) -> Vec<u8> {
    let sig = Signature::from_der(&data[sig_at..]).unwrap();
    let (r, s) = sig.split_scalars();
    let other = Signature::from_scalars(r, -*s).unwrap();
    [&data[..sig_at], other.to_der().as_bytes()].concat()
}

fn mutations(data: &[u8], range: std::ops::Range<usize>) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    range.map(move |at| {
        let mut copy = data.to_vec();
        copy[at] ^= 0x01;
        (at, copy)
    })
}

#[test]
fn python_fido2_agrees_on_signature_validity() {
    let mut corpus = Corpus(Vec::new());

    // The specification's registration, and every flip outside the
    // certificate's unsigned fields.
    let v = Vector::load("u2f-registration");
    let raw = v.bytes("registration_data");
    let (app, chal) = (v.array32("app_param"), v.array32("challenge_param"));
    let cert_at = 1 + 65 + 1 + v.bytes("key_handle").len();
    let sig_at = cert_at + v.bytes("attestation_cert").len();
    corpus.registration("spec registration".into(), &raw, &app, &chal);
    corpus.registration("spec registration, high S".into(), &flip_s(&raw, sig_at), &app, &chal);
    for (at, m) in mutations(&raw, 0..cert_at).chain(mutations(&raw, sig_at..raw.len())) {
        corpus.registration(format!("spec registration, byte {at} flipped"), &m, &app, &chal);
    }
    let attestation = SigningKey::from_slice(&v.bytes("attestation_private_key")).unwrap();
    let key_at = raw.windows(65).position(|w| w == sec1(&attestation).as_slice()).unwrap();
    for (at, m) in mutations(&raw, key_at..key_at + 65) {
        corpus.registration(format!("spec registration, certificate key byte {at} flipped"), &m, &app, &chal);
    }
    corpus.registration("spec registration, wrong app param".into(), &raw, &chal, &chal);

    // The specification's authentication, every flip, and a flipped key.
    let v = Vector::load("u2f-authentication");
    let raw = v.bytes("signature_data");
    let key = v.bytes("user_public_key");
    let (app, chal) = (v.array32("app_param"), v.array32("challenge_param"));
    corpus.authentication("spec authentication".into(), &raw, &key, &app, &chal);
    corpus.authentication("spec authentication, high S".into(), &flip_s(&raw, 5), &key, &app, &chal);
    for (at, m) in mutations(&raw, 0..raw.len()) {
        corpus.authentication(format!("spec authentication, byte {at} flipped"), &m, &key, &app, &chal);
    }
    for (at, k) in mutations(&key, 1..key.len()) {
        corpus.authentication(format!("spec authentication, key byte {at} flipped"), &raw, &k, &app, &chal);
    }

    // Messages from test keys: a CA-issued certificate, user presence clear,
    // counters at the edges.
    let cert = read_fixture("verify/attestation-rsa.der");
    for i in 1u8..=8 {
        let user = SigningKey::from_slice(&[i; 32]).unwrap();
        let (app, chal) = (app_param(&format!("rp{i}.example")), [i.wrapping_mul(37); 32]);
        let handle = vec![i; usize::from(i) * 16];
        let reg = registration(&attestation_key(), &cert, &user, &handle, &app, &chal);
        corpus.registration(format!("test registration {i}"), &reg, &app, &chal);
        let last = reg.len() - 1;
        let mut bad = reg.clone();
        bad[last] ^= 0x80;
        corpus.registration(format!("test registration {i}, last byte flipped"), &bad, &app, &chal);
        let counter = [0, 1, u32::MAX, 0x8000_0000][usize::from(i) % 4];
        let auth = authentication(&user, i % 2, counter, &app, &chal);
        corpus.authentication(format!("test authentication {i}"), &auth, &sec1(&user), &app, &chal);
        corpus.authentication(
            format!("test authentication {i}, other challenge"),
            &auth,
            &sec1(&user),
            &app,
            &app,
        );
    }

    let valid = corpus.0.iter().filter(|c| c["keygate_valid"] == true).count();
    assert!(valid >= 20 && corpus.0.len() - valid >= 400, "{valid} valid of {}", corpus.0.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verify-corpus.json");
    std::fs::write(&path, serde_json::to_vec(&corpus.0).unwrap()).unwrap();
    common::pytest("test_verify_diff.py", &[("KEYGATE_VERIFY_CORPUS", path.display().to_string())]);
}
