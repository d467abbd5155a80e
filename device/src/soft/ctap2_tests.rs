//! The CTAP2 authenticator against requests built by the CTAP2 core's
//! encoder, checking signatures with p256 and crossing over to U2F.

use super::*;
use crate::ctap2::request::{RelyingParty, User};
use crate::ctap2::response::{GetAssertionResponse, GetInfo, MakeCredentialResponse};
use crate::soft::applet::Presence;
use crate::soft::keyhandle::KEY_HANDLE_LEN;
use crate::soft::state::{Attestation, Secret, TokenState};
use crate::u2f::{CommandApdu, Encoding, StatusWord, ins};
use ciborium::Value;
use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use p256::pkcs8::DecodePrivateKey;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

const CERT: &[u8] = include_bytes!("../../../fixtures/soft-token/attestation.der");
const KEY: &[u8] = include_bytes!("../../../fixtures/soft-token/attestation-key.der");
const RP: &str = "example.com";

fn applet_with(certificate: &[u8], presence: Presence) -> Applet {
    let attestation =
        Attestation { certificate: certificate.to_vec(), private_key: Secret::new(KEY.to_vec()) };
    Applet::new(TokenState::generate(&mut UnwrapErr(SysRng), attestation), presence).unwrap()
}

fn make_credential(rp: &str, exclude_list: Vec<Vec<u8>>) -> MakeCredential {
    MakeCredential {
        client_data_hash: [0x42; 32],
        rp: RelyingParty { id: rp.to_owned(), name: None },
        user: User { id: vec![1, 2, 3], name: Some("alice".into()), display_name: None },
        algorithms: vec![ES256],
        exclude_list,
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn get_assertion(rp: &str, allow_list: Vec<Vec<u8>>) -> GetAssertion {
    GetAssertion {
        rp_id: rp.to_owned(),
        client_data_hash: [0x24; 32],
        allow_list,
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

struct Token {
    applet: Applet,
    ctap2: Authenticator,
}

impl Token {
    fn new(presence: Presence) -> Self {
        Token { applet: applet_with(CERT, presence), ctap2: Authenticator::new(Protocol::Both) }
    }

    fn step(&mut self, request: &Request) -> Step {
        self.ctap2.handle(&mut self.applet, Instant::now(), &mut UnwrapErr(SysRng), &request.encode())
    }

    fn answer(&mut self, request: &Request) -> Answer {
        match self.step(request) {
            Step::Answer(answer) => answer,
            Step::Waiting => panic!("{request:?} waits for a touch"),
        }
    }

    fn status(&mut self, request: &Request) -> Status {
        self.answer(request).status()
    }

    /// Makes a credential; returns (credential id, public key) after checking the attestation.
    fn make(&mut self, rp: &str) -> (Vec<u8>, VerifyingKey) {
        let answer = self.answer(&Request::MakeCredential(make_credential(rp, vec![])));
        assert_eq!((answer.status(), answer.persist), (Status::OK, true));
        assert_eq!(answer.counter, Some(self.applet.state().counter));
        let made = MakeCredentialResponse::parse(&answer.response[1..]).unwrap();
        let auth = AuthenticatorData::parse(&made.auth_data).unwrap();
        assert_eq!(auth.rp_id_hash, app_param(rp));
        assert_eq!(auth.flags, flags::UP | flags::AT);
        assert_eq!(auth.sign_count, self.applet.state().counter);
        let attested = auth.attested.unwrap();
        assert_eq!(attested.aaguid, AAGUID);
        assert_eq!(attested.credential_id.len(), KEY_HANDLE_LEN);
        let public = VerifyingKey::from_sec1_bytes(&attested.public_key).unwrap();
        assert_eq!(made.fmt, "packed");
        let stmt = made.att_stmt.as_map().unwrap();
        let field = |name: &str| stmt.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v.clone());
        assert_eq!(field("alg"), Some(Value::Integer(ES256.into())));
        let sig = Signature::from_der(field("sig").unwrap().as_bytes().unwrap()).unwrap();
        let signed = [made.auth_data.as_slice(), &[0x42; 32]].concat();
        match field("x5c") {
            Some(x5c) => {
                assert_eq!(x5c, Value::Array(vec![Value::Bytes(CERT.to_vec())]));
                let attestation = SigningKey::from_pkcs8_der(KEY).unwrap();
                attestation.verifying_key().verify(&signed, &sig).unwrap();
            }
            None => public.verify(&signed, &sig).unwrap(),
        }
        (attested.credential_id, public)
    }

    /// Gets an assertion with `allow_list`; returns the parsed response and its authenticator data.
    fn assert(&mut self, rp: &str, allow_list: Vec<Vec<u8>>) -> (GetAssertionResponse, AuthenticatorData) {
        let answer = self.answer(&Request::GetAssertion(get_assertion(rp, allow_list)));
        assert_eq!((answer.status(), answer.persist), (Status::OK, true));
        let response = GetAssertionResponse::parse(&answer.response[1..]).unwrap();
        let auth = AuthenticatorData::parse(&response.auth_data).unwrap();
        assert_eq!(answer.counter, Some(auth.sign_count));
        (response, auth)
    }
}

fn verify_assertion(public: &VerifyingKey, response: &GetAssertionResponse) {
    let signed = [response.auth_data.as_slice(), &[0x24; 32]].concat();
    public.verify(&signed, &Signature::from_der(&response.signature).unwrap()).unwrap();
}

#[test]
fn get_info_describes_a_u2f_style_fido2_key() {
    for (protocol, versions) in
        [(Protocol::Both, vec!["U2F_V2", "FIDO_2_0"]), (Protocol::Ctap2, vec!["FIDO_2_0"])]
    {
        let mut token = Token::new(Presence::Manual);
        token.ctap2 = Authenticator::new(protocol);
        let answer = token.answer(&Request::GetInfo);
        assert_eq!((answer.status(), answer.persist), (Status::OK, false), "GetInfo needs no touch");
        let info = GetInfo::parse(&answer.response[1..]).unwrap();
        assert_eq!(info.versions, versions);
        assert_eq!(info.aaguid, AAGUID);
        assert_eq!(
            (info.option("rk"), info.option("up"), info.option("plat")),
            (Some(false), Some(true), Some(false))
        );
        assert_eq!(info.max_msg_size, Some(7609));
        assert_eq!(info.algorithms, [ES256]);
        assert_eq!(info.transports, ["usb"]);
        assert_eq!(info.max_credential_id_length, Some(255));
        assert_eq!(info.max_credential_count_in_list, None);
    }
}

#[test]
fn make_credential_then_get_assertion_with_one_growing_counter() {
    let mut token = Token::new(Presence::Auto);
    let (id, public) = token.make(RP);
    assert_eq!(token.applet.state().counter, 1);
    for expected in 2..=4 {
        let (response, auth) = token.assert(RP, vec![vec![9; 61], id.clone()]);
        assert_eq!(response.credential_id.as_deref(), Some(id.as_slice()), "the first that opens");
        assert_eq!((auth.flags, auth.sign_count), (flags::UP, expected));
        verify_assertion(&public, &response);
    }
}

#[test]
fn the_fixture_certificate_gives_packed_attestation_and_an_unfit_one_self_attestation() {
    assert_eq!(packed::check(CERT, &AAGUID), Ok(()));
    assert!(packed::check(CERT, &[0; 16]).is_err(), "the AAGUID extension must match");
    let ca = include_bytes!("../../../fixtures/soft-token/ca.der");
    assert!(packed::check(ca, &AAGUID).is_err());
    assert!(packed::check(b"not a certificate", &AAGUID).is_err());
    // A token with the CA certificate as its identity attests itself; `make` checks both signatures.
    let mut token =
        Token { applet: applet_with(ca, Presence::Auto), ctap2: Authenticator::new(Protocol::Both) };
    let answer = token.answer(&Request::MakeCredential(make_credential(RP, vec![])));
    let made = MakeCredentialResponse::parse(&answer.response[1..]).unwrap();
    assert!(!made.att_stmt.as_map().unwrap().iter().any(|(k, _)| k.as_text() == Some("x5c")));
    token.make(RP);
}

#[test]
fn refusals_and_their_statuses() {
    let mut token = Token::new(Presence::Auto);
    let (id, _) = token.make(RP);
    let counter = token.applet.state().counter;
    let mc = |f: &dyn Fn(&mut MakeCredential)| {
        let mut request = make_credential(RP, vec![]);
        f(&mut request);
        Request::MakeCredential(request)
    };
    let ga = |f: &dyn Fn(&mut GetAssertion)| {
        let mut request = get_assertion(RP, vec![id.clone()]);
        f(&mut request);
        Request::GetAssertion(request)
    };
    for (request, status) in [
        (mc(&|r| r.algorithms = vec![-257, -8]), Status::UNSUPPORTED_ALGORITHM),
        (mc(&|r| r.options.rk = Some(true)), Status::UNSUPPORTED_OPTION),
        (mc(&|r| r.options.uv = Some(true)), Status::UNSUPPORTED_OPTION),
        (mc(&|r| r.options.up = Some(false)), Status::INVALID_OPTION),
        (mc(&|r| r.pin_uv_auth_param = Some(vec![])), Status::PIN_NOT_SET),
        (mc(&|r| r.pin_uv_auth_param = Some(vec![1; 16])), Status::MISSING_PARAMETER),
        (
            mc(&|r| {
                r.pin_uv_auth_param = Some(vec![1; 16]);
                r.pin_uv_auth_protocol = Some(1);
            }),
            Status::INVALID_PARAMETER,
        ),
        (mc(&|r| r.exclude_list = vec![vec![1; 61], id.clone()]), Status::CREDENTIAL_EXCLUDED),
        (ga(&|r| r.allow_list = vec![]), Status::NO_CREDENTIALS),
        (ga(&|r| r.rp_id = "evil.example".into()), Status::NO_CREDENTIALS),
        (ga(&|r| r.allow_list = vec![vec![7; 3]]), Status::NO_CREDENTIALS),
        (ga(&|r| r.options.uv = Some(true)), Status::UNSUPPORTED_OPTION),
        (ga(&|r| r.options.rk = Some(true)), Status::UNSUPPORTED_OPTION),
        (ga(&|r| r.pin_uv_auth_param = Some(vec![])), Status::PIN_NOT_SET),
    ] {
        let answer = token.answer(&request);
        assert_eq!((answer.status(), answer.persist, answer.counter), (status, false, None), "{request:?}");
    }
    // An excluded credential of another RP does not exclude.
    let other = token.answer(&mc(&|r| {
        r.rp.id = "other.example".into();
        r.exclude_list = vec![id.clone()];
    }));
    assert_eq!(other.status(), Status::OK);
    assert_eq!(token.applet.state().counter, counter + 1, "refusals hand out no counter value");
}

#[test]
fn malformed_payloads_get_the_parsers_status_and_never_panic() {
    let mut token = Token::new(Presence::Auto);
    let cases: [(&[u8], Status); 5] = [
        (&[], Status::INVALID_LENGTH),
        (&[0x40], Status::INVALID_COMMAND),
        (&[command::MAKE_CREDENTIAL], Status::MISSING_PARAMETER),
        (&[command::MAKE_CREDENTIAL, 0xff], Status::INVALID_CBOR),
        (&[command::GET_ASSERTION, 0xa0], Status::MISSING_PARAMETER),
    ];
    for (payload, status) in cases {
        let step = token.ctap2.handle(&mut token.applet, Instant::now(), &mut UnwrapErr(SysRng), payload);
        let Step::Answer(answer) = step else { panic!("{payload:?} waits") };
        assert_eq!(answer.status(), Request::parse(payload).err().unwrap_or(Status::OK), "{payload:?}");
        assert_eq!(answer.status(), status, "{payload:?}");
    }
}

#[test]
fn up_false_signs_without_the_up_flag_and_without_a_touch() {
    let mut token = Token::new(Presence::Manual);
    token.applet.approve();
    let (id, public) = token.make(RP);
    let mut request = get_assertion(RP, vec![id]);
    request.options.up = Some(false);
    let answer = token.answer(&Request::GetAssertion(request));
    let response = GetAssertionResponse::parse(&answer.response[1..]).unwrap();
    let auth = AuthenticatorData::parse(&response.auth_data).unwrap();
    assert_eq!((auth.flags, auth.sign_count, answer.persist), (0, 2, true));
    verify_assertion(&public, &response);
}

/// Runs U2F AUTHENTICATE (enforce presence) through the applet.
fn u2f_authenticate(applet: &mut Applet, app: [u8; 32], handle: &[u8]) -> (Vec<u8>, StatusWord) {
    let mut data = [0x33u8; 32].to_vec();
    data.extend_from_slice(&app);
    data.push(handle.len() as u8);
    data.extend_from_slice(handle);
    let apdu = CommandApdu::new(ins::AUTHENTICATE, 0x03, 0, data, Encoding::Extended).encode().unwrap();
    let reply = applet.handle_apdu(&mut UnwrapErr(SysRng), &apdu);
    let sw = StatusWord::from_response(&reply.response).unwrap();
    (reply.response[..reply.response.len() - 2].to_vec(), sw)
}

#[test]
fn a_ctap2_credential_signs_over_u2f_and_a_u2f_one_over_ctap2_with_one_counter() {
    let mut token = Token::new(Presence::Auto);
    let app = app_param(RP);
    let (id, public) = token.make(RP);
    let (out, sw) = u2f_authenticate(&mut token.applet, app, &id);
    assert_eq!(sw, StatusWord::NO_ERROR);
    assert_eq!(u32::from_be_bytes(out[1..5].try_into().unwrap()), 2);
    let signed = [&app[..], &out[..5], &[0x33; 32]].concat();
    public.verify(&signed, &Signature::from_der(&out[5..]).unwrap()).unwrap();

    // U2F REGISTER, then CTAP2 GetAssertion with its key handle.
    let apdu = CommandApdu::new(ins::REGISTER, 0, 0, [[0x11; 32], app].concat(), Encoding::Extended);
    let reply = token.applet.handle_apdu(&mut UnwrapErr(SysRng), &apdu.encode().unwrap());
    let public = VerifyingKey::from_sec1_bytes(&reply.response[1..66]).unwrap();
    let handle = reply.response[67..67 + usize::from(reply.response[66])].to_vec();
    let (response, auth) = token.assert(RP, vec![handle]);
    assert_eq!(auth.sign_count, 3);
    verify_assertion(&public, &response);
}

#[test]
fn an_imported_credential_answers_over_ctap2() {
    let mut donor = Token::new(Presence::Auto);
    let (id, public) = donor.make("localhost");
    let exported = crate::soft::credential::export(donor.applet.state(), "localhost", &id).unwrap();
    let mut token = Token::new(Presence::Auto);
    let mut state = token.applet.state().clone();
    crate::soft::credential::import(&mut state, &serde_json::to_string(&exported).unwrap(), None).unwrap();
    token.applet = Applet::new(state, Presence::Auto).unwrap();
    let (response, auth) = token.assert("localhost", vec![id]);
    assert_eq!(auth.sign_count, 2, "continues past the imported signCount");
    verify_assertion(&public, &response);
}

#[test]
fn manual_presence_holds_until_approved_cancelled_or_timed_out() {
    let mut token = Token::new(Presence::Manual);
    let t0 = Instant::now();
    let request = Request::MakeCredential(make_credential(RP, vec![])).encode();
    let handle = |token: &mut Token, at: Instant| {
        token.ctap2.handle(&mut token.applet, at, &mut UnwrapErr(SysRng), &request)
    };
    // Approved: the held request finishes with the touch.
    assert_eq!(handle(&mut token, t0), Step::Waiting);
    assert!(token.ctap2.is_waiting());
    assert_eq!(token.ctap2.poll_timeout(), Some(t0 + USER_ACTION_TIMEOUT));
    assert_eq!(token.applet.state().counter, 0, "nothing handed out while waiting");
    let answer = token.ctap2.approve(&mut token.applet).unwrap();
    assert_eq!((answer.status(), answer.persist, answer.counter), (Status::OK, true, Some(1)));
    assert!(!token.applet.is_approved(), "the touch was used up");
    assert!(token.ctap2.approve(&mut token.applet).is_none());
    // Cancelled.
    assert_eq!(handle(&mut token, t0), Step::Waiting);
    let answer = token.ctap2.cancel().unwrap();
    assert_eq!((answer.status(), answer.persist), (Status::KEEPALIVE_CANCEL, false));
    assert!(token.ctap2.cancel().is_none());
    // Timed out after 30 s, not before.
    assert_eq!(handle(&mut token, t0), Step::Waiting);
    assert!(token.ctap2.handle_timeout(t0 + Duration::from_secs(29)).is_none());
    let answer = token.ctap2.handle_timeout(t0 + USER_ACTION_TIMEOUT).unwrap();
    assert_eq!(answer.status(), Status::USER_ACTION_TIMEOUT);
    assert_eq!(token.ctap2.poll_timeout(), None);
    // A touch given beforehand answers at once.
    token.applet.approve();
    assert!(matches!(handle(&mut token, t0), Step::Answer(a) if a.status() == Status::OK));
    assert_eq!(token.applet.state().counter, 2);
}

#[test]
fn refusals_that_reveal_something_wait_for_a_touch_first() {
    let mut token = Token::new(Presence::Manual);
    token.applet.approve();
    let (id, _) = token.make(RP);
    for request in [
        Request::MakeCredential(make_credential(RP, vec![id.clone()])),
        Request::MakeCredential(MakeCredential {
            pin_uv_auth_param: Some(vec![]),
            ..make_credential(RP, vec![])
        }),
    ] {
        assert_eq!(token.step(&request), Step::Waiting, "{request:?}");
        let status = token.ctap2.approve(&mut token.applet).unwrap().status();
        assert!([Status::CREDENTIAL_EXCLUDED, Status::PIN_NOT_SET].contains(&status));
    }
    // Unknown credentials are refused without a touch.
    assert_eq!(
        token.status(&Request::GetAssertion(get_assertion(RP, vec![vec![0; 61]]))),
        Status::NO_CREDENTIALS
    );
}

#[test]
fn reset_forgets_every_credential_but_keeps_the_counter() {
    let mut token = Token::new(Presence::Manual);
    token.applet.approve();
    let (id, _) = token.make(RP);
    let mut state = token.applet.state().clone();
    let imported = crate::soft::state::ImportedCredential {
        credential_id: vec![5; 16],
        rp_id: RP.into(),
        private_key: Secret::new(KEY.to_vec()),
    };
    state.import(imported, 10).unwrap();
    token.applet = Applet::new(state, Presence::Manual).unwrap();
    token.applet.approve();
    token.assert(RP, vec![vec![5; 16]]);
    let master = token.applet.state().master_key.clone();

    assert_eq!(token.step(&Request::Reset), Step::Waiting, "reset needs a touch");
    let answer = token.ctap2.approve(&mut token.applet).unwrap();
    assert_eq!((answer.status(), answer.persist, answer.counter), (Status::OK, true, None));
    assert_ne!(token.applet.state().master_key, master);
    assert!(token.applet.state().credentials.is_empty());
    assert_eq!(token.applet.state().counter, 11);
    let mut request = get_assertion(RP, vec![id.clone(), vec![5; 16]]);
    request.options.up = Some(false);
    assert_eq!(token.status(&Request::GetAssertion(request)), Status::NO_CREDENTIALS);
    assert_eq!(u2f_authenticate(&mut token.applet, app_param(RP), &id).1, StatusWord::WRONG_DATA);
    // New credentials continue the counter.
    token.applet.approve();
    token.make(RP);
    assert_eq!(token.applet.state().counter, 12);
}
