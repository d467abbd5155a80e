use super::*;

fn make_credential() -> MakeCredential {
    MakeCredential {
        client_data_hash: [0x11; 32],
        rp: RelyingParty { id: "example.com".into(), name: Some("Example".into()) },
        user: User { id: vec![1, 2, 3], name: Some("alice".into()), display_name: Some("Alice".into()) },
        algorithms: vec![-7, -257],
        exclude_list: vec![vec![9; 61]],
        options: Options { rk: Some(false), up: None, uv: Some(false) },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn get_assertion() -> GetAssertion {
    GetAssertion {
        rp_id: "example.com".into(),
        client_data_hash: [0x22; 32],
        allow_list: vec![vec![1; 61], vec![2; 70]],
        options: Options { up: Some(true), ..Options::default() },
        pin_uv_auth_param: Some(vec![]),
        pin_uv_auth_protocol: Some(1),
    }
}

#[test]
fn requests_round_trip_through_their_encoding() {
    for request in [
        Request::MakeCredential(make_credential()),
        Request::GetAssertion(get_assertion()),
        Request::GetInfo,
        Request::Reset,
    ] {
        let bytes = request.encode();
        assert_eq!(Request::parse(&bytes), Ok(request));
    }
}

#[test]
fn make_credential_encodes_as_the_specification_shows() {
    let request = MakeCredential { exclude_list: vec![], options: Options::default(), ..make_credential() };
    let bytes = Request::MakeCredential(request).encode();
    assert_eq!(bytes[0], command::MAKE_CREDENTIAL);
    // a4: four parameters; 01 58 20: a 32-byte clientDataHash first.
    assert_eq!(&bytes[1..5], &[0xa4, 0x01, 0x58, 0x20]);
    // rp: {"id": …, "name": …} with "id" first (shorter key).
    assert_eq!(&bytes[37..42], &[0x02, 0xa2, 0x62, b'i', b'd']);
}

#[test]
fn structural_errors_get_their_ctap2_status() {
    let mc = |value: Value| {
        let mut bytes = vec![command::MAKE_CREDENTIAL];
        bytes.extend_from_slice(&cbor::encode(&value));
        Request::parse(&bytes)
    };
    assert_eq!(Request::parse(&[]), Err(Status::INVALID_LENGTH));
    assert_eq!(Request::parse(&[0x42]), Err(Status::INVALID_COMMAND));
    assert_eq!(Request::parse(&[command::MAKE_CREDENTIAL]), Err(Status::MISSING_PARAMETER));
    assert_eq!(Request::parse(&[command::MAKE_CREDENTIAL, 0xa1]), Err(Status::INVALID_CBOR));
    assert_eq!(Request::parse(&[command::GET_ASSERTION, 0xa0, 0x00]), Err(Status::INVALID_CBOR));
    assert_eq!(mc(Value::Array(vec![])), Err(Status::CBOR_UNEXPECTED_TYPE));
    assert_eq!(mc(Value::Map(vec![(ikey(1), Value::Bytes(vec![0; 32]))])), Err(Status::MISSING_PARAMETER));

    let full = Request::MakeCredential(make_credential()).encode();
    let value = cbor::decode(&full[1..]).unwrap();
    let with = |at: u8, new: Value| {
        let mut entries = value.as_map().unwrap().clone();
        entries.retain(|(k, _)| k.as_integer() != Some(at.into()));
        entries.push((ikey(at), new));
        mc(Value::Map(entries))
    };
    assert_eq!(with(0x01, Value::Bytes(vec![0; 31])), Err(Status::CBOR_UNEXPECTED_TYPE));
    assert_eq!(with(0x02, Value::Map(vec![])), Err(Status::MISSING_PARAMETER));
    assert_eq!(
        with(0x02, Value::Map(vec![(tstr("id"), Value::Integer(1.into()))])),
        Err(Status::CBOR_UNEXPECTED_TYPE)
    );
    assert_eq!(
        with(0x03, Value::Map(vec![(tstr("id"), Value::Bytes(vec![0; 65]))])),
        Err(Status::CBOR_UNEXPECTED_TYPE)
    );
    assert_eq!(
        with(0x04, Value::Array(vec![Value::Map(vec![(tstr("type"), tstr("public-key"))])])),
        Err(Status::MISSING_PARAMETER)
    );
    assert_eq!(
        with(0x07, Value::Map(vec![(tstr("rk"), Value::Integer(1.into()))])),
        Err(Status::CBOR_UNEXPECTED_TYPE)
    );
    // Unknown credential types and options are skipped, not refused.
    let other = Value::Array(vec![
        Value::Map(vec![(tstr("alg"), Value::Integer((-7).into())), (tstr("type"), tstr("future-key"))]),
        Value::Map(vec![(tstr("alg"), Value::Integer((-8).into())), (tstr("type"), tstr("public-key"))]),
    ]);
    let Ok(Request::MakeCredential(parsed)) = with(0x04, other) else { panic!("refused") };
    assert_eq!(parsed.algorithms, vec![-8]);
    let Ok(Request::MakeCredential(parsed)) = with(0x07, Value::Map(vec![(tstr("ep"), Value::Bool(true))]))
    else {
        panic!("refused")
    };
    assert_eq!(parsed.options, Options::default());
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_or_get_a_status(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = Request::parse(&bytes);
    }

    #[test]
    fn any_get_assertion_round_trips(
        rp_id in "[a-z.]{1,40}",
        hash in proptest::prelude::any::<[u8; 32]>(),
        allow in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..255), 0..5),
        up in proptest::option::of(proptest::prelude::any::<bool>()),
    ) {
        let request = Request::GetAssertion(GetAssertion {
            rp_id,
            client_data_hash: hash,
            allow_list: allow,
            options: Options { up, ..Options::default() },
            pin_uv_auth_param: None,
            pin_uv_auth_protocol: None,
        });
        let bytes = request.encode();
        proptest::prop_assert_eq!(Request::parse(&bytes), Ok(request));
        // Canonical: decoding and encoding again gives the same bytes.
        proptest::prop_assert_eq!(cbor::encode(&cbor::decode(&bytes[1..]).unwrap()), bytes[1..].to_vec());
    }
}
