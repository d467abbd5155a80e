//! The soft token's CTAP2 side reads whatever a host sends: any bytes must
//! parse or get a CTAP2 status, a parsed request must encode to bytes that
//! parse back to the same request, and the authenticator must answer every
//! payload with a status, and every success with a body a host can read.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use keygate_device::ctap2::response::split_status;
use keygate_device::ctap2::{
    AuthenticatorData, GetAssertionResponse, GetInfo, MakeCredentialResponse, Request, command,
};
use keygate_device::soft::ctap2::Step;
use keygate_device::soft::state::Secret;
use keygate_device::soft::{Applet, Attestation, Authenticator, Presence, Protocol, TokenState};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn state() -> TokenState {
    static STATE: OnceLock<TokenState> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let attestation = Attestation {
                certificate: include_bytes!("../../fixtures/soft-token/attestation.der").to_vec(),
                private_key: Secret::new(include_bytes!("../../fixtures/soft-token/attestation-key.der").to_vec()),
            };
            TokenState::generate(&mut StdRng::seed_from_u64(1), attestation)
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::parse(data) {
        assert_eq!(Request::parse(&request.encode()), Ok(request));
    }
    let mut applet = Applet::new(state(), Presence::Auto).expect("the fixture state is valid");
    let mut authenticator = Authenticator::new(Protocol::Both);
    let Step::Answer(answer) = authenticator.handle(&mut applet, Instant::now(), &mut StdRng::seed_from_u64(2), data)
    else {
        panic!("with automatic presence every request is answered at once");
    };
    let Ok(body) = split_status(&answer.response) else { return };
    match data.first().copied() {
        Some(command::GET_INFO) => {
            GetInfo::parse(body).expect("getInfo answers parse");
        }
        Some(command::MAKE_CREDENTIAL) => {
            let made = MakeCredentialResponse::parse(body).expect("makeCredential answers parse");
            let auth_data = AuthenticatorData::parse(&made.auth_data).expect("its authenticator data parses");
            assert!(auth_data.attested.is_some());
        }
        Some(command::GET_ASSERTION) => {
            let assertion = GetAssertionResponse::parse(body).expect("getAssertion answers parse");
            AuthenticatorData::parse(&assertion.auth_data).expect("its authenticator data parses");
        }
        _ => assert!(body.is_empty()),
    }
});
