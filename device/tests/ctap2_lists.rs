//! Credential lists longer than a key takes: real keys announce
//! maxCredentialCountInList (a YubiKey 5 takes 8) and refuse longer lists,
//! so a host with many registered keys must split them as browsers do —
//! silent probes in batches, then one request, and one touch, for the id
//! the key holds. Our CTAP2 host against the soft token with such a limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keygate_device::client::{ClientError, Ctap2Client, CtapHidClient, Wait};
use keygate_device::ctap2::authdata::{AuthenticatorData, flags};
use keygate_device::ctap2::response::split_status;
use keygate_device::ctap2::{
    ES256, GetAssertion, MakeCredential, Options, RelyingParty, Request, Status, User,
};
use keygate_device::ctaphid::command;
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, SoftToken, TokenState};
use keygate_device::transport::MemoryLink;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

fn token(limit: usize) -> SoftToken<()> {
    let attestation = Attestation {
        certificate: include_bytes!("../../fixtures/soft-token/attestation.der").to_vec(),
        private_key: Secret::new(include_bytes!("../../fixtures/soft-token/attestation-key.der").to_vec()),
    };
    let state = TokenState::generate(&mut UnwrapErr(SysRng), attestation);
    SoftToken::in_memory(state, Presence::Auto).unwrap().with_list_limit(limit)
}

fn make(exclude_list: Vec<Vec<u8>>) -> MakeCredential {
    MakeCredential {
        client_data_hash: [1; 32],
        rp: RelyingParty { id: "localhost".into(), name: None },
        user: User { id: vec![7], name: None, display_name: None },
        algorithms: vec![ES256],
        exclude_list,
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn get(allow_list: Vec<Vec<u8>>) -> GetAssertion {
    GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: [2; 32],
        allow_list,
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

#[test]
fn long_lists_are_probed_in_batches_and_the_touch_asked_for_the_key_held() {
    let mut key =
        Ctap2Client::new(CtapHidClient::open(MemoryLink::new(token(2)), &mut UnwrapErr(SysRng)).unwrap());
    assert_eq!(key.get_info().unwrap().max_credential_count_in_list, Some(2));
    let made = key.make_credential(make(vec![]), Wait::default()).unwrap();
    let held = AuthenticatorData::parse(&made.auth_data).unwrap().attested.unwrap().credential_id;

    // Four of the account's other keys first: the held one is in the third batch.
    let mut allow: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 61]).collect();
    allow.push(held.clone());
    let signed = key.get_assertion(get(allow.clone()), Wait::default()).unwrap();
    assert_eq!(signed.credential_id.as_ref(), Some(&held));
    let data = AuthenticatorData::parse(&signed.auth_data).unwrap();
    assert_eq!(data.flags & flags::UP, flags::UP, "the real request asked for the touch");

    let others = allow[..4].to_vec();
    assert!(matches!(
        key.get_assertion(get(others.clone()), Wait::default()),
        Err(ClientError::UnknownKeyHandle)
    ));
    assert!(matches!(
        key.make_credential(make(allow.clone()), Wait::default()),
        Err(ClientError::AlreadyRegistered)
    ));
    assert!(key.make_credential(make(others), Wait::default()).is_ok(), "none of them is this key's");

    // Sent unsplit, the key refuses the list.
    let raw = key.hid().call(command::CBOR, &Request::GetAssertion(get(allow)).encode(), None).unwrap();
    assert_eq!(split_status(&raw).unwrap_err().to_string(), Status::LIMIT_EXCEEDED.to_string());
}
