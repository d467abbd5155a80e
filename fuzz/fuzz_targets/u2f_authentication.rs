//! A U2F authentication response is untrusted device output: any bytes must
//! give an outcome or an error, never a panic.
#![no_main]

use keygate_verify::{CredentialKey, SignatureData};
use libfuzzer_sys::fuzz_target;

/// The specification's example authentication key.
const KEY: &str = "04d368f1b665bade3c33a20f1e429c7750d5033660c019119d29aa4ba7abc04aa7c80a46bbe11ca8cb5674d74f31f8a903f6bad105fb6ab74aefef4db8b0025e1d";

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = SignatureData::parse(data) else { return };
    let point: Vec<u8> =
        (0..KEY.len() / 2).filter_map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).ok()).collect();
    if let Ok(key) = CredentialKey::from_sec1_uncompressed(&point) {
        let _ = parsed.verify(&key, &[0; 32], &[1; 32]);
    }
    // The bytes also reach the key parser as a candidate point.
    let _ = CredentialKey::from_sec1_uncompressed(data);
});
