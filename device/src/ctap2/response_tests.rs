use super::*;
use crate::ctap2::authdata::{AttestedCredential, AuthenticatorData, flags};

fn info() -> GetInfo {
    GetInfo {
        versions: vec!["U2F_V2".into(), "FIDO_2_0".into()],
        extensions: vec![],
        aaguid: [7; 16],
        options: vec![("rk".into(), false), ("up".into(), true), ("plat".into(), false)],
        max_msg_size: Some(7609),
        pin_uv_auth_protocols: vec![],
        max_credential_count_in_list: Some(16),
        max_credential_id_length: Some(255),
        transports: vec!["usb".into()],
        algorithms: vec![ES256],
    }
}

#[test]
fn responses_round_trip() {
    let info = info();
    let parsed = GetInfo::parse(&info.encode()).unwrap();
    assert_eq!(parsed.option("up"), Some(true));
    assert_eq!(parsed.option("uv"), None);
    // Options come back in canonical order, the rest as sent.
    assert_eq!(GetInfo { options: info.options.clone(), ..parsed }, info);

    let mut public_key = [1u8; 65];
    public_key[0] = 4;
    let auth_data = AuthenticatorData {
        rp_id_hash: [3; 32],
        flags: flags::UP,
        sign_count: 5,
        attested: Some(AttestedCredential { aaguid: [7; 16], credential_id: vec![8; 61], public_key }),
        extensions: None,
    }
    .encode();
    let made = MakeCredentialResponse::packed(auth_data.clone(), vec![0x30, 1, 2], vec![vec![0x30, 0]]);
    assert_eq!(MakeCredentialResponse::parse(&made.encode()), Ok(made.clone()));
    let object = cbor::decode(&made.attestation_object()).unwrap();
    let object = TextMap::new(&object, "attestationObject").unwrap();
    assert_eq!(object.get("fmt").and_then(Value::as_text), Some("packed"));
    assert_eq!(object.get("authData").and_then(Value::as_bytes), Some(&auth_data));

    let assertion = GetAssertionResponse {
        credential_id: Some(vec![8; 61]),
        auth_data,
        signature: vec![0x30, 4],
        user_id: None,
        number_of_credentials: None,
    };
    assert_eq!(GetAssertionResponse::parse(&assertion.encode()), Ok(assertion));
}

#[test]
fn statuses_and_malformed_bodies_are_errors_not_panics() {
    assert_eq!(split_status(&[]), Err(ResponseError::Empty));
    assert_eq!(split_status(&[0x2e]), Err(ResponseError::Status(Status::NO_CREDENTIALS)));
    assert_eq!(split_status(&reply(Status::OK, &[0xa0])), Ok(&[0xa0][..]));
    assert_eq!(GetInfo::parse(&[0xa0]), Err(ResponseError::Missing("versions")));
    assert_eq!(GetInfo::parse(&[0x80]), Err(ResponseError::Type("response map")));
    assert!(matches!(GetAssertionResponse::parse(&[0xa1, 0x02]), Err(ResponseError::Cbor(_))));
    let bad_sig = cbor::encode(&Value::Map(vec![(ikey(2), Value::Bytes(vec![])), (ikey(3), tstr("x"))]));
    assert_eq!(GetAssertionResponse::parse(&bad_sig), Err(ResponseError::Type("signature")));
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = GetInfo::parse(&bytes);
        let _ = MakeCredentialResponse::parse(&bytes);
        let _ = GetAssertionResponse::parse(&bytes);
        let _ = AuthenticatorData::parse(&bytes);
    }
}
