//! CTAP2 responses come from whatever is plugged in: any bytes must parse
//! or fail with a typed error, never panic, and what parses must encode to
//! a canonical form that reads back the same.
#![no_main]

use keygate_device::ctap2::response::split_status;
use keygate_device::ctap2::{AuthenticatorData, GetAssertionResponse, GetInfo, MakeCredentialResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = split_status(data) else { return };
    if let Ok(info) = GetInfo::parse(body) {
        let canonical = info.encode();
        assert_eq!(GetInfo::parse(&canonical).map(|i| i.encode()), Ok(canonical));
    }
    if let Ok(made) = MakeCredentialResponse::parse(body) {
        let canonical = made.encode();
        assert_eq!(MakeCredentialResponse::parse(&canonical).map(|m| m.encode()), Ok(canonical));
        if let Ok(auth_data) = AuthenticatorData::parse(&made.auth_data) {
            assert_eq!(auth_data.encode().len(), made.auth_data.len());
        }
    }
    if let Ok(assertion) = GetAssertionResponse::parse(body) {
        assert_eq!(GetAssertionResponse::parse(&assertion.encode()), Ok(assertion.clone()));
        let _ = AuthenticatorData::parse(&assertion.auth_data);
    }
});
