//! Golden tests: the FIDO U2F Raw Message Formats example vectors
//! (`fixtures/vectors/`) parse and verify, byte for byte.

use crate::common;

use common::verify::{Vector, sec1};
use keygate_verify::{
    AttestationPolicy, AttestationTrust, ClientDataExpectation, CredentialKey, RegistrationData,
    SignatureData, U2fClientDataType, app_param, verify_authentication, verify_registration,
    verify_u2f_client_data,
};
use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

fn challenge_bytes(v: &Vector) -> Vec<u8> {
    use base64::Engine as _;
    keygate_verify::client_data::WEBSAFE.decode(v.str("challenge")).unwrap()
}

#[test]
fn registration_vector_fields_agree_with_each_other() {
    let v = Vector::load("u2f-registration");
    assert_eq!(app_param(v.str("app_id")), v.array32("app_param"));
    let user = SigningKey::from_slice(&v.bytes("user_private_key")).unwrap();
    assert_eq!(sec1(&user), v.bytes("user_public_key"));
    let attestation = SigningKey::from_slice(&v.bytes("attestation_private_key")).unwrap();
    let cert = keygate_verify::AttestationCertificate::parse(&v.bytes("attestation_cert")).unwrap();
    assert_eq!(&cert.verifying_key().unwrap(), attestation.verifying_key());
    assert_eq!(cert.subject(), "CN=PilotGnubby-0.4.1-47901280001155957352");
}

#[test]
fn registration_vector_parses_field_by_field() {
    let v = Vector::load("u2f-registration");
    let data = RegistrationData::parse(&v.bytes("registration_data")).unwrap();
    assert_eq!(data.user_public_key.sec1_bytes().to_vec(), v.bytes("user_public_key"));
    assert_eq!(data.key_handle, v.bytes("key_handle"));
    assert_eq!(data.attestation_cert_der, v.bytes("attestation_cert"));
    assert_eq!(data.signature.to_der().as_bytes(), v.bytes("signature"));
    let signed = v.bytes("signed_data");
    let digest: [u8; 32] = Sha256::digest(&signed).into();
    assert_eq!(data.signed_digest(&v.array32("app_param"), &v.array32("challenge_param")), digest);
}

#[test]
fn registration_vector_verifies_with_its_client_data() {
    let v = Vector::load("u2f-registration");
    let origins = vec![v.str("origin").to_string()];
    let challenge = challenge_bytes(&v);
    let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
    let challenge_param =
        verify_u2f_client_data(v.str("client_data").as_bytes(), U2fClientDataType::Registration, &expect)
            .unwrap();
    assert_eq!(challenge_param, v.array32("challenge_param"));
    let (data, attestation) = verify_registration(
        &v.bytes("registration_data"),
        &app_param(v.str("app_id")),
        &challenge_param,
        &AttestationPolicy::Verified,
    )
    .unwrap();
    assert_eq!(attestation.trust, AttestationTrust::Verified);
    assert_eq!(attestation.subject.as_deref(), Some("CN=PilotGnubby-0.4.1-47901280001155957352"));
    assert_eq!(data.key_handle, v.bytes("key_handle"));
}

#[test]
fn authentication_vector_verifies() {
    let v = Vector::load("u2f-authentication");
    assert_eq!(app_param(v.str("app_id")), v.array32("app_param"));
    let user = SigningKey::from_slice(&v.bytes("user_private_key")).unwrap();
    assert_eq!(sec1(&user), v.bytes("user_public_key"));
    let request = v.bytes("request");
    assert_eq!(request[0], 0x03, "check-user-presence-and-sign");
    assert_eq!(request[1..33], v.bytes("challenge_param"));
    assert_eq!(request[33..65], v.bytes("app_param"));
    assert_eq!(request[66..], v.bytes("key_handle"));

    let origins = vec![v.str("origin").to_string()];
    let challenge = challenge_bytes(&v);
    let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
    let challenge_param =
        verify_u2f_client_data(v.str("client_data").as_bytes(), U2fClientDataType::Authentication, &expect)
            .unwrap();
    assert_eq!(challenge_param, v.array32("challenge_param"));

    let raw = v.bytes("signature_data");
    let parsed = SignatureData::parse(&raw).unwrap();
    assert_eq!(u64::from(parsed.flags), v.u64("user_presence"));
    assert_eq!(u64::from(parsed.counter), v.u64("counter"));
    assert_eq!(parsed.signature.to_der().as_bytes(), v.bytes("signature"));
    let digest: [u8; 32] = Sha256::digest(v.bytes("signed_data")).into();
    assert_eq!(parsed.signed_digest(&v.array32("app_param"), &challenge_param), digest);

    let key = CredentialKey::from_sec1_uncompressed(&v.bytes("user_public_key")).unwrap();
    let outcome = verify_authentication(&raw, &key, &v.array32("app_param"), &challenge_param).unwrap();
    assert!(outcome.user_present);
    assert_eq!(outcome.counter, 1);
    assert!(outcome.counter_verdict(0).is_accept());
}

#[test]
fn recorded_webauthn_assertion_verifies_and_flips_fail() {
    use keygate_verify::{AssertionExpectation, VerifyError, verify_assertion};
    let v = Vector::load("webauthn-assertion");
    let key = CredentialKey::from_spki_der(&v.bytes("public_key_spki")).unwrap();
    assert_eq!(key.sec1_bytes().to_vec(), v.bytes("public_key"));
    let rp = app_param(v.str("rp_id"));
    let origins = vec![v.str("origin").to_string()];
    let expect = AssertionExpectation {
        rp_id_hash: &rp,
        client_data: ClientDataExpectation {
            challenge: v.str("challenge_text").as_bytes(),
            allowed_origins: &origins,
        },
        user_verification_required: false,
    };
    let (auth, cdj, sig) =
        (v.bytes("authenticator_data"), v.str("client_data_json").as_bytes(), v.bytes("signature"));
    let outcome = verify_assertion(&key, &auth, cdj, &sig, &expect).unwrap();
    assert_eq!(u64::from(outcome.counter), v.u64("counter"));
    assert!(outcome.user_present && !outcome.user_verified);
    assert!(outcome.counter_verdict(v.u64("stored_counter") as u32).is_accept());

    let uv = AssertionExpectation { user_verification_required: true, ..expect };
    assert!(matches!(
        verify_assertion(&key, &auth, cdj, &sig, &uv),
        Err(VerifyError::UserNotVerified { .. })
    ));
    for at in 0..auth.len() {
        let mut bad = auth.clone();
        bad[at] ^= 0x01;
        assert!(verify_assertion(&key, &bad, cdj, &sig, &expect).is_err(), "authenticator data byte {at}");
    }
    for at in 0..cdj.len() {
        let mut bad = cdj.to_vec();
        bad[at] ^= 0x01;
        assert!(verify_assertion(&key, &auth, &bad, &sig, &expect).is_err(), "clientDataJSON byte {at}");
    }
    for at in 0..sig.len() {
        let mut bad = sig.clone();
        bad[at] ^= 0x01;
        assert!(verify_assertion(&key, &auth, cdj, &bad, &expect).is_err(), "signature byte {at}");
    }
}
