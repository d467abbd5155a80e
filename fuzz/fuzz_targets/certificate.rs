//! An attestation certificate is whatever the device sends: any bytes must
//! parse with x509-cert (after the known-certificate repair) or fail, and the
//! key and chain checks must return, never panic.
#![no_main]

use keygate_verify::{AttestationCertificate, TrustRoots};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keygate_verify::attestation::der_element_len(data);
    let _ = TrustRoots::from_pem(data);
    let Ok(cert) = AttestationCertificate::parse(data) else { return };
    let _ = cert.subject();
    let _ = cert.verifying_key();
    let mut roots = TrustRoots::default();
    if roots.add_der(data).is_ok()
        && let Ok(sig) = p256::ecdsa::Signature::from_scalars([1; 32], [1; 32])
    {
        let policy = keygate_verify::AttestationPolicy::TrustedCa(roots);
        let _ = keygate_verify::attestation::verify_attestation(data, &[0; 32], &sig, &policy);
    }
});
