//! Property tests: messages made by test signing keys verify; truncated
//! messages and random bytes are errors, never panics.

use crate::common;

use common::verify::{attestation_key, authentication, read_fixture, registration, sec1};
use keygate_verify::{
    AttestationPolicy, AttestationTrust, AuthenticatorData, ClientData, CredentialKey, RegistrationData,
    SignatureData, TrustRoots, verify_authentication, verify_registration,
};
use p256::ecdsa::SigningKey;
use proptest::prelude::*;

fn signing_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_filter_map("scalar in 1..n", |bytes| SigningKey::from_slice(&bytes).ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_registrations_verify(
        user in signing_key(),
        handle in proptest::collection::vec(any::<u8>(), 0..=255),
        app in any::<[u8; 32]>(),
        chal in any::<[u8; 32]>(),
    ) {
        let cert = read_fixture("verify/attestation-ec.der");
        let raw = registration(&attestation_key(), &cert, &user, &handle, &app, &chal);
        let roots = TrustRoots::from_pem(&read_fixture("verify/ca-ec.pem")).unwrap();
        let (data, attestation) =
            verify_registration(&raw, &app, &chal, &AttestationPolicy::TrustedCa(roots)).unwrap();
        prop_assert!(
            matches!(attestation.trust, AttestationTrust::TrustedCa { .. }),
            "unexpected trust {:?}", attestation.trust
        );
        prop_assert_eq!(data.key_handle, handle);
        prop_assert_eq!(data.user_public_key.sec1_bytes().to_vec(), sec1(&user));
        prop_assert_eq!(data.attestation_cert_der, cert);
        for len in 0..raw.len() {
            prop_assert!(RegistrationData::parse(&raw[..len]).is_err(), "prefix of {} bytes parsed", len);
        }
    }

    #[test]
    fn random_authentications_verify(
        user in signing_key(),
        flags in any::<u8>().prop_map(|f| f | 1),
        counter in any::<u32>(),
        app in any::<[u8; 32]>(),
        chal in any::<[u8; 32]>(),
    ) {
        let key = CredentialKey::from_sec1_uncompressed(&sec1(&user)).unwrap();
        let raw = authentication(&user, flags, counter, &app, &chal);
        let outcome = verify_authentication(&raw, &key, &app, &chal).unwrap();
        prop_assert_eq!(outcome.counter, counter);
        prop_assert_eq!(outcome.flags, flags);
        for len in 0..raw.len() {
            prop_assert!(SignatureData::parse(&raw[..len]).is_err(), "prefix of {} bytes parsed", len);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let key = CredentialKey::from_sec1_uncompressed(&sec1(&attestation_key())).unwrap();
        prop_assert!(verify_registration(&bytes, &[0; 32], &[0; 32], &AttestationPolicy::Verified).is_err());
        prop_assert!(verify_authentication(&bytes, &key, &[0; 32], &[0; 32]).is_err());
        let _ = AuthenticatorData::parse(&bytes);
        let _ = ClientData::parse_u2f(&bytes);
        let _ = ClientData::parse_webauthn(&bytes);
        let _ = CredentialKey::from_sec1_uncompressed(&bytes);
        let _ = keygate_verify::AttestationCertificate::parse(&bytes);
    }

    #[test]
    fn garbage_after_a_valid_prefix_is_an_error(
        tail in proptest::collection::vec(any::<u8>(), 1..80),
        cut in 0usize..200,
    ) {
        // The specification's registration, with its signature replaced by
        // random bytes from a random offset on.
        let v = common::verify::Vector::load("u2f-registration");
        let mut raw = v.bytes("registration_data");
        let keep = raw.len() - cut.min(raw.len());
        raw.truncate(keep);
        raw.extend_from_slice(&tail);
        let result = verify_registration(
            &raw, &v.array32("app_param"), &v.array32("challenge_param"), &AttestationPolicy::Verified,
        );
        prop_assert!(result.is_err() || raw == v.bytes("registration_data"));
    }
}
