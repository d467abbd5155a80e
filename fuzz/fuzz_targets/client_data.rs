//! Client data is JSON written by a browser or U2F host: any bytes must give
//! a parsed value and a check result, or an error, never a panic.
#![no_main]

use keygate_verify::client_data::{ClientData, ClientDataExpectation, WEBAUTHN_GET};
use keygate_verify::{U2fClientDataType, verify_u2f_client_data};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let origins = vec!["http://example.com".to_string()];
    let expect = ClientDataExpectation { challenge: b"challenge", allowed_origins: &origins };
    let _ = verify_u2f_client_data(data, U2fClientDataType::Registration, &expect);
    let _ = verify_u2f_client_data(data, U2fClientDataType::Authentication, &expect);
    if let Ok(parsed) = ClientData::parse_webauthn(data) {
        let _ = parsed.check(WEBAUTHN_GET, &expect);
    }
});
