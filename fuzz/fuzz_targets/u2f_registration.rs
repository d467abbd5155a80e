//! A U2F registration response comes from a device the server does not
//! control: any bytes must parse and verify to a value or an error, never a
//! panic, under every attestation policy.
#![no_main]

use keygate_verify::{AttestationPolicy, RegistrationData, TrustRoots};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = RegistrationData::parse(data) else { return };
    assert!(parsed.key_handle.len() <= 255);
    let roots = TrustRoots::from_pem(include_bytes!("../../fixtures/verify/ca-ec.pem")).unwrap_or_default();
    for policy in [AttestationPolicy::None, AttestationPolicy::Verified, AttestationPolicy::TrustedCa(roots)]
    {
        let _ = parsed.verify(&[0; 32], &[1; 32], &policy);
    }
});
