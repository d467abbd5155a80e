//! The soft token's output, judged by the verification core as the service
//! judges a real key: registration under `trusted-ca` with the fixture CA,
//! then authentications with the counter rule.

use crate::common;

use common::api::{Token, client_data, key_handle_of};
use common::verify::read_fixture;
use keygate_verify::{
    AttestationPolicy, AttestationTrust, CounterVerdict, CredentialKey, TrustRoots, app_param,
    verify_authentication, verify_registration,
};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "http://localhost:8080";

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn soft_token_ca() -> AttestationPolicy {
    AttestationPolicy::TrustedCa(
        TrustRoots::from_pem(&read_fixture("soft-token/ca.pem")).expect("fixture CA"),
    )
}

#[test]
fn the_core_trusts_the_soft_token_under_its_fixture_ca() {
    let mut token = Token::new();
    let app = app_param("localhost");
    let enroll = client_data("navigator.id.finishEnrollment", "cmVnaXN0ZXI", ORIGIN);
    let registration = token.register(&enroll, "localhost");
    let (data, attestation) = verify_registration(&registration, &app, &sha(&enroll), &soft_token_ca())
        .expect("trusted registration");
    assert!(matches!(attestation.trust, AttestationTrust::TrustedCa { .. }), "{:?}", attestation.trust);
    assert_eq!(data.key_handle, key_handle_of(&registration));

    let key = CredentialKey::from_sec1_uncompressed(data.user_public_key.sec1_bytes()).expect("key");
    let mut stored = 0;
    for round in 0..3 {
        let login = client_data("navigator.id.getAssertion", &format!("bG9naW4{round}"), ORIGIN);
        let signature = token.sign(&login, "localhost", &data.key_handle);
        let outcome = verify_authentication(&signature, &key, &app, &sha(&login)).expect("valid assertion");
        assert!(outcome.user_present);
        match outcome.counter_verdict(stored) {
            CounterVerdict::Accept { new_counter } => stored = new_counter,
            verdict => panic!("counter refused: {verdict:?}"),
        }
    }
    assert!(stored >= 3);
}

#[test]
fn another_ca_does_not_vouch_for_the_soft_token() {
    let mut token = Token::new();
    let enroll = client_data("navigator.id.finishEnrollment", "cmVnaXN0ZXI", ORIGIN);
    let registration = token.register(&enroll, "localhost");
    let other = AttestationPolicy::TrustedCa(
        TrustRoots::from_pem(&read_fixture("verify/ca-ec.pem")).expect("another CA"),
    );
    assert!(verify_registration(&registration, &app_param("localhost"), &sha(&enroll), &other).is_err());
}
