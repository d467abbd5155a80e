//! Mutation tests: a single changed byte anywhere that matters makes
//! verification fail. Each loop flips every byte of a field, twice (the low
//! bit, and all bits), and requires an error every time.

use crate::common;

use common::verify::{Vector, attestation_key, authentication, read_fixture, registration};
use keygate_verify::{
    AttestationPolicy, AttestationTrust, CredentialKey, TrustRoots, VerifyError, app_param,
    verify_authentication, verify_registration,
};
use p256::ecdsa::SigningKey;

const FLIPS: [u8; 2] = [0x01, 0xff];

/// Calls `check` once per mutated copy of `bytes[range]` and fails with the
/// offset when a mutation still verifies.
fn for_each_flip(bytes: &[u8], range: std::ops::Range<usize>, what: &str, check: impl Fn(&[u8]) -> bool) {
    assert!(check(bytes), "{what}: the unmutated input must verify");
    for at in range {
        for flip in FLIPS {
            let mut mutated = bytes.to_vec();
            mutated[at] ^= flip;
            assert!(!check(&mutated), "{what}: flipping byte {at} with {flip:#04x} still verifies");
        }
    }
}

fn array(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap()
}

#[test]
fn spec_registration_fails_on_any_flip_of_signed_fields_and_signature() {
    let v = Vector::load("u2f-registration");
    let raw = v.bytes("registration_data");
    let (app, chal) = (v.array32("app_param"), v.array32("challenge_param"));
    let policy = AttestationPolicy::Verified;
    let verifies = |raw: &[u8]| verify_registration(raw, &app, &chal, &policy).is_ok();

    let handle_len = v.bytes("key_handle").len();
    let cert = v.bytes("attestation_cert");
    let cert_at = 1 + 65 + 1 + handle_len;
    // Reserved byte, user public key, key handle length and key handle.
    for_each_flip(&raw, 0..cert_at, "registration header", verifies);
    // The signature, to the last byte.
    for_each_flip(&raw, cert_at + cert.len()..raw.len(), "attestation signature", verifies);
    // The public key inside the attestation certificate.
    let attestation = SigningKey::from_slice(&v.bytes("attestation_private_key")).unwrap();
    let key_in_cert = find(&raw, &common::verify::sec1(&attestation));
    assert!(key_in_cert > cert_at && key_in_cert < cert_at + cert.len());
    for_each_flip(&raw, key_in_cert..key_in_cert + 65, "certificate public key", verifies);

    // The signed parameters the server supplies.
    for_each_flip(&app, 0..32, "app param", |app| {
        verify_registration(&raw, &array(app), &chal, &policy).is_ok()
    });
    for_each_flip(&chal, 0..32, "challenge param", |chal| {
        verify_registration(&raw, &app, &array(chal), &policy).is_ok()
    });
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).expect("needle present")
}

#[test]
fn spec_authentication_fails_on_any_flip() {
    let v = Vector::load("u2f-authentication");
    let raw = v.bytes("signature_data");
    let public = v.bytes("user_public_key");
    let (app, chal) = (v.array32("app_param"), v.array32("challenge_param"));
    let key = CredentialKey::from_sec1_uncompressed(&public).unwrap();

    // Flags, counter and signature: the whole response.
    for_each_flip(&raw, 0..raw.len(), "signature data", |raw| {
        verify_authentication(raw, &key, &app, &chal).is_ok()
    });
    for_each_flip(&app, 0..32, "app param", |app| {
        verify_authentication(&raw, &key, &array(app), &chal).is_ok()
    });
    for_each_flip(&chal, 0..32, "challenge param", |chal| {
        verify_authentication(&raw, &key, &app, &array(chal)).is_ok()
    });
    for_each_flip(&public, 0..public.len(), "credential public key", |public| {
        CredentialKey::from_sec1_uncompressed(public)
            .is_ok_and(|key| verify_authentication(&raw, &key, &app, &chal).is_ok())
    });
}

#[test]
fn counter_bytes_are_signed() {
    let user = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let key = CredentialKey::from_sec1_uncompressed(&common::verify::sec1(&user)).unwrap();
    let (app, chal) = (app_param("localhost"), [7u8; 32]);
    let raw = authentication(&user, 1, 0x0102_0304, &app, &chal);
    for_each_flip(&raw, 1..5, "counter", |raw| verify_authentication(raw, &key, &app, &chal).is_ok());
}

struct Pki {
    app: [u8; 32],
    chal: [u8; 32],
    handle: Vec<u8>,
    user: SigningKey,
}

impl Pki {
    fn new() -> Self {
        Pki {
            app: app_param("localhost"),
            chal: [0x5a; 32],
            handle: (0u8..64).collect(),
            user: SigningKey::from_slice(&[0x11; 32]).unwrap(),
        }
    }

    fn registration(&self, cert: &[u8]) -> Vec<u8> {
        registration(&attestation_key(), cert, &self.user, &self.handle, &self.app, &self.chal)
    }

    fn verify(&self, raw: &[u8], policy: &AttestationPolicy) -> Result<AttestationTrust, VerifyError> {
        verify_registration(raw, &self.app, &self.chal, policy).map(|(_, attestation)| attestation.trust)
    }
}

fn roots(pem: &str) -> AttestationPolicy {
    AttestationPolicy::TrustedCa(TrustRoots::from_pem(&read_fixture(pem)).unwrap())
}

#[test]
fn trusted_ca_accepts_its_certificates_and_refuses_others() {
    let pki = Pki::new();
    let ec = pki.registration(&read_fixture("verify/attestation-ec.der"));
    let rsa = pki.registration(&read_fixture("verify/attestation-rsa.der"));
    let ec_root = roots("verify/ca-ec.pem");
    let rsa_root = roots("verify/ca-rsa.pem");

    let trust = pki.verify(&ec, &ec_root).unwrap();
    assert_eq!(
        trust,
        AttestationTrust::TrustedCa { root_subject: "O=keygate,CN=keygate test attestation CA".into() }
    );
    let trust = pki.verify(&rsa, &rsa_root).unwrap();
    assert!(matches!(trust, AttestationTrust::TrustedCa { .. }), "{trust:?}");
    assert_eq!(pki.verify(&ec, &AttestationPolicy::Verified).unwrap(), AttestationTrust::Verified);
    assert_eq!(pki.verify(&ec, &AttestationPolicy::None).unwrap(), AttestationTrust::NotChecked);

    assert!(matches!(pki.verify(&ec, &rsa_root), Err(VerifyError::UntrustedAttestation { .. })));
    assert!(matches!(pki.verify(&rsa, &ec_root), Err(VerifyError::UntrustedAttestation { .. })));

    let both = [read_fixture("verify/ca-rsa.pem"), read_fixture("verify/ca-ec.pem")].concat();
    let both = AttestationPolicy::TrustedCa(TrustRoots::from_pem(&both).unwrap());
    pki.verify(&ec, &both).unwrap();
    pki.verify(&rsa, &both).unwrap();

    let spec = Vector::load("u2f-registration");
    let err = verify_registration(
        &spec.bytes("registration_data"),
        &spec.array32("app_param"),
        &spec.array32("challenge_param"),
        &both,
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::UntrustedAttestation { issuer: "CN=Gnubby Pilot".into() });
}

#[test]
fn trusted_ca_refuses_any_flip_of_an_issued_certificate() {
    let pki = Pki::new();
    for (cert, root) in [
        ("verify/attestation-ec.der", "verify/ca-ec.pem"),
        ("verify/attestation-rsa.der", "verify/ca-rsa.pem"),
    ] {
        let cert = read_fixture(cert);
        let policy = roots(root);
        let raw = pki.registration(&cert);
        let at = 1 + 65 + 1 + pki.handle.len();
        for_each_flip(&raw, at..at + cert.len(), root, |raw| pki.verify(raw, &policy).is_ok());
    }
}

#[test]
fn self_signed_attestation_is_verified_but_not_trusted_unless_configured() {
    let pki = Pki::new();
    let cert = read_fixture("verify/attestation-self.der");
    let raw = pki.registration(&cert);
    let (_, attestation) =
        verify_registration(&raw, &pki.app, &pki.chal, &AttestationPolicy::Verified).unwrap();
    assert_eq!(attestation.trust, AttestationTrust::Verified);
    assert_eq!(attestation.subject.as_deref(), Some("O=keygate,CN=keygate test self-signed attestation"));
    assert!(matches!(
        pki.verify(&raw, &roots("verify/ca-ec.pem")),
        Err(VerifyError::UntrustedAttestation { .. })
    ));
    let mut itself = TrustRoots::default();
    itself.add_der(&cert).unwrap();
    let trust = pki.verify(&raw, &AttestationPolicy::TrustedCa(itself)).unwrap();
    assert!(matches!(trust, AttestationTrust::TrustedCa { .. }));

    // Signed by another key than the certificate's: refused under `verified`.
    let other = SigningKey::from_slice(&[0x22; 32]).unwrap();
    let forged = registration(&other, &cert, &pki.user, &pki.handle, &pki.app, &pki.chal);
    assert_eq!(
        pki.verify(&forged, &AttestationPolicy::Verified),
        Err(VerifyError::BadSignature { what: keygate_verify::Signed::Registration })
    );
    assert_eq!(pki.verify(&forged, &AttestationPolicy::None), Ok(AttestationTrust::NotChecked));
}
