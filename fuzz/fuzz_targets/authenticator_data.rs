//! WebAuthn authenticator data comes from the authenticator through the
//! browser: any bytes must parse or fail cleanly, and a full assertion check
//! over them must return, never panic.
#![no_main]

use keygate_verify::client_data::ClientDataExpectation;
use keygate_verify::{AssertionExpectation, AuthenticatorData, CredentialKey, app_param, verify_assertion};
use libfuzzer_sys::fuzz_target;

/// The specification's example authentication key.
const KEY: &str = "04d368f1b665bade3c33a20f1e429c7750d5033660c019119d29aa4ba7abc04aa7c80a46bbe11ca8cb5674d74f31f8a903f6bad105fb6ab74aefef4db8b0025e1d";
/// A DER signature that is well formed (r = s = 1).
const SIG: [u8; 8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = AuthenticatorData::parse(data) {
        assert!(data.len() >= 37);
        assert_eq!(parsed.extensions.len(), data.len() - 37);
    }
    let point: Vec<u8> =
        (0..KEY.len() / 2).filter_map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).ok()).collect();
    let Ok(key) = CredentialKey::from_sec1_uncompressed(&point) else { return };
    let rp = app_param("localhost");
    let origins = vec!["http://localhost:8080".to_string()];
    let expect = AssertionExpectation {
        rp_id_hash: &rp,
        client_data: ClientDataExpectation { challenge: &[1, 2, 3], allowed_origins: &origins },
        user_verification_required: false,
    };
    let cdj = br#"{"type":"webauthn.get","challenge":"AQID","origin":"http://localhost:8080"}"#;
    let _ = verify_assertion(&key, data, cdj, &SIG, &expect);
});
