//! Golden tests of the CTAP2 encodings against python-fido2's.
//!
//! Requests: python-fido2's own `Ctap2` builds authenticatorMakeCredential,
//! authenticatorGetAssertion, authenticatorGetInfo and authenticatorReset
//! from the same parameters (`tests/python/test_ctap2_golden.py` records
//! what it would send), and keygate's `Request::encode` must give the same
//! bytes, which `Request::parse` reads back to the same request.
//!
//! Responses: keygate's encodings of GetInfo, MakeCredential and
//! GetAssertion answers are decoded by python-fido2 (`Info`,
//! `AttestationResponse`, `AssertionResponse`), every field is checked
//! there, signatures verified, and python-fido2's canonical re-encoding
//! must equal keygate's bytes.

use crate::common;

use common::verify::{attestation_key, read_fixture, sec1};
use keygate_device::ctap2::authdata::flags;
use keygate_device::ctap2::response::{GetAssertionResponse, GetInfo, MakeCredentialResponse};
use keygate_device::ctap2::{
    AttestedCredential, AuthenticatorData, GetAssertion, MakeCredential, Options, RelyingParty, Request, User,
};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const AAGUID: [u8; 16] = *b"keygate-golden!!";

fn options(rk: Option<bool>, up: Option<bool>, uv: Option<bool>) -> Options {
    Options { rk, up, uv }
}

fn make_credential(name: &str, edit: impl FnOnce(&mut MakeCredential)) -> (String, Request) {
    let mut request = MakeCredential {
        client_data_hash: Sha256::digest(name.as_bytes()).into(),
        rp: RelyingParty { id: "localhost".into(), name: None },
        user: User { id: b"user-1".to_vec(), name: None, display_name: None },
        algorithms: vec![-7],
        exclude_list: Vec::new(),
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    };
    edit(&mut request);
    (name.to_owned(), Request::MakeCredential(request))
}

fn get_assertion(name: &str, edit: impl FnOnce(&mut GetAssertion)) -> (String, Request) {
    let mut request = GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: Sha256::digest(name.as_bytes()).into(),
        allow_list: Vec::new(),
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    };
    edit(&mut request);
    (name.to_owned(), Request::GetAssertion(request))
}

/// Requests covering every field and the orderings canonical CBOR decides:
/// text keys of several lengths, negative and positive algorithm numbers,
/// lists of several credentials, and long strings.
fn requests() -> Vec<(String, Request)> {
    vec![
        ("get info".to_owned(), Request::GetInfo),
        ("reset".to_owned(), Request::Reset),
        make_credential("make credential, minimal", |_| {}),
        make_credential("make credential, every field", |r| {
            r.rp.name = Some("keygate".into());
            r.user = User {
                id: vec![0xff; 64],
                name: Some("alice@example.com".into()),
                display_name: Some("Alice Liddell, a display name longer than twenty-three bytes".into()),
            };
            r.algorithms = vec![-7, -8, -257, -35, 1];
            r.exclude_list = vec![vec![1; 61], vec![2; 16], vec![3; 255]];
            r.options = options(Some(false), Some(true), Some(false));
            r.pin_uv_auth_param = Some(vec![9; 16]);
            r.pin_uv_auth_protocol = Some(2);
        }),
        make_credential("make credential, resident key asked", |r| {
            r.rp = RelyingParty { id: "login.example.com".into(), name: Some("Example".into()) };
            r.user.name = Some("bob".into());
            r.options = options(Some(true), None, Some(true));
        }),
        make_credential("make credential, zero-length pinUvAuthParam", |r| {
            r.pin_uv_auth_param = Some(Vec::new());
            r.pin_uv_auth_protocol = Some(1);
        }),
        make_credential("make credential, non-ASCII names", |r| {
            r.rp.name = Some("Kéygäte ✓".into());
            r.user.display_name = Some("Ålice 🗝".into());
        }),
        get_assertion("get assertion, no allow list", |_| {}),
        get_assertion("get assertion, one credential", |r| r.allow_list = vec![vec![7; 61]]),
        get_assertion("get assertion, every field", |r| {
            r.rp_id = "a-rather-long-relying-party-identifier.example.org".into();
            r.allow_list = vec![vec![1; 61], vec![2; 24], vec![3; 255], vec![4; 1]];
            r.options = options(None, Some(false), Some(false));
            r.pin_uv_auth_param = Some(vec![5; 32]);
            r.pin_uv_auth_protocol = Some(1);
        }),
        get_assertion("get assertion, presence only", |r| {
            r.allow_list = vec![vec![8; 70]];
            r.options = options(None, Some(true), None);
        }),
    ]
}

fn hex_opt(bytes: &Option<Vec<u8>>) -> Value {
    bytes.as_ref().map_or(Value::Null, |b| json!(hex::encode(b)))
}

fn options_json(o: &Options) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in [("rk", o.rk), ("up", o.up), ("uv", o.uv)] {
        if let Some(v) = value {
            map.insert(name.into(), json!(v));
        }
    }
    if map.is_empty() { Value::Null } else { Value::Object(map) }
}

/// The parameters of `request`, as python-fido2's `Ctap2` methods take them.
fn request_json(name: &str, request: &Request) -> Value {
    let mut case = match request {
        Request::GetInfo => json!({"kind": "get_info"}),
        Request::Reset => json!({"kind": "reset"}),
        Request::MakeCredential(r) => {
            let mut rp = json!({"id": r.rp.id});
            if let Some(n) = &r.rp.name {
                rp["name"] = json!(n);
            }
            let mut user = json!({"id": hex::encode(&r.user.id)});
            if let Some(n) = &r.user.name {
                user["name"] = json!(n);
            }
            if let Some(n) = &r.user.display_name {
                user["displayName"] = json!(n);
            }
            json!({
                "kind": "make_credential", "client_data_hash": hex::encode(r.client_data_hash), "rp": rp,
                "user": user, "algorithms": r.algorithms,
                "exclude_list": r.exclude_list.iter().map(hex::encode).collect::<Vec<_>>(),
                "options": options_json(&r.options), "pin_uv_param": hex_opt(&r.pin_uv_auth_param),
                "pin_uv_protocol": r.pin_uv_auth_protocol,
            })
        }
        Request::GetAssertion(r) => json!({
            "kind": "get_assertion", "rp_id": r.rp_id, "client_data_hash": hex::encode(r.client_data_hash),
            "allow_list": r.allow_list.iter().map(hex::encode).collect::<Vec<_>>(),
            "options": options_json(&r.options), "pin_uv_param": hex_opt(&r.pin_uv_auth_param),
            "pin_uv_protocol": r.pin_uv_auth_protocol,
        }),
    };
    case["name"] = json!(name);
    case["keygate"] = json!(hex::encode(request.encode()));
    case
}

fn sign(key: &SigningKey, auth_data: &[u8], client_data_hash: &[u8; 32]) -> Vec<u8> {
    let digest = Sha256::new().chain_update(auth_data).chain_update(client_data_hash).finalize();
    let sig: Signature = key.sign_prehash(&digest).expect("sign");
    sig.to_der().as_bytes().to_vec()
}

fn point(key: &SigningKey) -> [u8; 65] {
    sec1(key).try_into().expect("65-byte point")
}

fn get_info_cases() -> Vec<Value> {
    let full = GetInfo {
        versions: vec!["U2F_V2".into(), "FIDO_2_0".into(), "FIDO_2_1_PRE".into()],
        extensions: vec!["credProtect".into(), "hmac-secret".into()],
        aaguid: AAGUID,
        options: vec![
            ("rk".into(), false),
            ("up".into(), true),
            ("plat".into(), false),
            ("clientPin".into(), false),
            ("credentialMgmtPreview".into(), true),
        ],
        max_msg_size: Some(7609),
        pin_uv_auth_protocols: vec![2, 1],
        max_credential_count_in_list: Some(8),
        max_credential_id_length: Some(255),
        transports: vec!["usb".into(), "nfc".into()],
        algorithms: vec![-7, -8],
    };
    let minimal = GetInfo { versions: vec!["FIDO_2_0".into()], aaguid: [0; 16], ..GetInfo::default() };
    [("get info, every field", full), ("get info, minimal", minimal)]
        .into_iter()
        .map(|(name, info)| {
            json!({
                "name": name, "body": hex::encode(info.encode()), "versions": info.versions,
                "extensions": info.extensions, "aaguid": hex::encode(info.aaguid),
                "options": info.options.iter().map(|(k, v)| (k.clone(), json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
                "max_msg_size": info.max_msg_size, "pin_uv_protocols": info.pin_uv_auth_protocols,
                "max_creds_in_list": info.max_credential_count_in_list,
                "max_cred_id_length": info.max_credential_id_length, "transports": info.transports,
                "algorithms": info.algorithms,
            })
        })
        .collect()
}

fn make_credential_cases() -> Vec<Value> {
    let credential = SigningKey::from_slice(&[0x11; 32]).expect("credential key");
    let attestation = attestation_key();
    let certificate = read_fixture("verify/attestation-ec.der");
    let mut cases = Vec::new();
    for (name, x5c, extensions, id_len) in [
        ("make credential, basic attestation", true, None, 61usize),
        ("make credential, self attestation", false, None, 16),
        // {"credProtect": 2}
        (
            "make credential, extensions",
            true,
            Some([&[0xa1, 0x6b][..], b"credProtect", &[0x02]].concat()),
            255,
        ),
    ] {
        let client_data_hash: [u8; 32] = Sha256::digest(name.as_bytes()).into();
        let auth_data = AuthenticatorData {
            rp_id_hash: Sha256::digest(b"localhost").into(),
            flags: flags::UP,
            sign_count: 0x0102_0304,
            attested: Some(AttestedCredential {
                aaguid: AAGUID,
                credential_id: (0..id_len).map(|i| i as u8).collect(),
                public_key: point(&credential),
            }),
            extensions: extensions.clone(),
        }
        .encode();
        let (signer, chain) =
            if x5c { (&attestation, vec![certificate.clone()]) } else { (&credential, Vec::new()) };
        let sig = sign(signer, &auth_data, &client_data_hash);
        let response = MakeCredentialResponse::packed(auth_data.clone(), sig.clone(), chain.clone());
        cases.push(json!({
            "name": name, "body": hex::encode(response.encode()),
            "attestation_object": hex::encode(response.attestation_object()),
            "client_data_hash": hex::encode(client_data_hash), "auth_data": hex::encode(&auth_data),
            "flags": flags::UP | flags::AT | if extensions.is_some() { flags::ED } else { 0 },
            "sign_count": 0x0102_0304u32, "aaguid": hex::encode(AAGUID),
            "credential_id": hex::encode((0..id_len).map(|i| i as u8).collect::<Vec<_>>()),
            "public_key": hex::encode(sec1(&credential)), "extensions": extensions.map(hex::encode),
            "sig": hex::encode(sig), "x5c": chain.iter().map(hex::encode).collect::<Vec<_>>(),
        }));
    }
    cases
}

fn get_assertion_cases() -> Vec<Value> {
    let credential = SigningKey::from_slice(&[0x22; 32]).expect("credential key");
    let mut cases = Vec::new();
    for (name, flags_byte, counter, user_id, count) in [
        ("get assertion, presence", flags::UP, 1u32, None, None),
        ("get assertion, silent", 0, u32::MAX, None, None),
        ("get assertion, discoverable", flags::UP, 0x8000_0000, Some(vec![0xab; 64]), Some(3u64)),
    ] {
        let client_data_hash: [u8; 32] = Sha256::digest(name.as_bytes()).into();
        let auth_data = AuthenticatorData {
            rp_id_hash: Sha256::digest(b"localhost").into(),
            flags: flags_byte,
            sign_count: counter,
            attested: None,
            extensions: None,
        }
        .encode();
        let signature = sign(&credential, &auth_data, &client_data_hash);
        let credential_id = vec![0x5a; 61];
        let response = GetAssertionResponse {
            credential_id: Some(credential_id.clone()),
            auth_data: auth_data.clone(),
            signature: signature.clone(),
            user_id: user_id.clone(),
            number_of_credentials: count,
        };
        cases.push(json!({
            "name": name, "body": hex::encode(response.encode()),
            "client_data_hash": hex::encode(client_data_hash),
            "auth_data": hex::encode(&auth_data), "flags": flags_byte, "sign_count": counter,
            "credential_id": hex::encode(credential_id), "signature": hex::encode(signature),
            "user_id": user_id.map(hex::encode), "number_of_credentials": count,
            "public_key": hex::encode(sec1(&credential)),
        }));
    }
    cases
}

#[test]
fn ctap2_encodings_agree_with_python_fido2() {
    let requests = requests();
    let corpus = json!({
        "requests": requests.iter().map(|(name, r)| request_json(name, r)).collect::<Vec<_>>(),
        "get_info": get_info_cases(),
        "make_credential": make_credential_cases(),
        "get_assertion": get_assertion_cases(),
    });
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("ctap2-corpus.json"), dir.path().join("ctap2-python.json"));
    std::fs::write(&input, serde_json::to_vec(&corpus).unwrap()).unwrap();
    common::pytest(
        "test_ctap2_golden.py",
        &[
            ("KEYGATE_CTAP2_CORPUS", input.display().to_string()),
            ("KEYGATE_CTAP2_OUT", output.display().to_string()),
        ],
    );
    let sent: Value =
        serde_json::from_slice(&std::fs::read(&output).expect("python-fido2's requests")).unwrap();
    for (name, request) in &requests {
        let python =
            hex::decode(sent[name.as_str()].as_str().unwrap_or_else(|| panic!("no {name}"))).unwrap();
        assert_eq!(hex::encode(&python), hex::encode(request.encode()), "{name}: python-fido2 vs keygate");
        assert_eq!(
            Request::parse(&python).as_ref(),
            Ok(request),
            "{name}: keygate parses python-fido2's bytes"
        );
    }
}
