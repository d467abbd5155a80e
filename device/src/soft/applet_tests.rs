//! The applet against hand-built APDUs, checking signatures with p256.

use super::*;
use crate::soft::credential::{app_param, export, import};
use crate::soft::state::{Attestation, Secret};
use crate::u2f::{CommandApdu, Encoding};
use p256::ecdsa::{VerifyingKey, signature::Verifier};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

const CERT: &[u8] = include_bytes!("../../../fixtures/soft-token/attestation.der");
const KEY: &[u8] = include_bytes!("../../../fixtures/soft-token/attestation-key.der");

fn applet(presence: Presence) -> Applet {
    let attestation = Attestation { certificate: CERT.to_vec(), private_key: Secret::new(KEY.to_vec()) };
    Applet::new(TokenState::generate(&mut UnwrapErr(SysRng), attestation), presence).unwrap()
}

fn send(applet: &mut Applet, ins: u8, p1: u8, data: Vec<u8>) -> (Vec<u8>, StatusWord, bool) {
    let apdu = CommandApdu::new(ins, p1, 0, data, Encoding::Extended).encode().unwrap();
    let reply = applet.handle_apdu(&mut UnwrapErr(SysRng), &apdu);
    let sw = StatusWord::from_response(&reply.response).unwrap();
    (reply.response[..reply.response.len() - 2].to_vec(), sw, reply.persist)
}

fn auth_data(challenge: [u8; 32], app: [u8; 32], handle: &[u8]) -> Vec<u8> {
    let mut data = challenge.to_vec();
    data.extend_from_slice(&app);
    data.push(handle.len() as u8);
    data.extend_from_slice(handle);
    data
}

/// Registers for `app`; returns (public key, key handle) after checking the attestation signature.
fn register(applet: &mut Applet, app: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
    let challenge = [0x11; 32];
    let (out, sw, persist) = send(applet, ins::REGISTER, 0, [challenge, app].concat());
    assert_eq!((sw, persist), (StatusWord::NO_ERROR, false));
    assert_eq!(out[0], 0x05);
    let public = out[1..66].to_vec();
    let len = usize::from(out[66]);
    let handle = out[67..67 + len].to_vec();
    let rest = &out[67 + len..];
    assert_eq!(&rest[..CERT.len()], CERT);
    let signature = Signature::from_der(&rest[CERT.len()..]).unwrap();
    let signed = [&[0u8][..], &app, &challenge, &handle, &public].concat();
    let attestation = SigningKey::from_pkcs8_der(KEY).unwrap();
    attestation.verifying_key().verify(&signed, &signature).unwrap();
    (public, handle)
}

use p256::pkcs8::DecodePrivateKey;

#[test]
fn version_in_both_encodings() {
    let mut a = applet(Presence::Auto);
    for encoding in [Encoding::Short, Encoding::Extended] {
        let apdu = CommandApdu { le: Some(256), ..CommandApdu::new(ins::VERSION, 0, 0, vec![], encoding) };
        let reply = a.handle_apdu(&mut UnwrapErr(SysRng), &apdu.encode().unwrap());
        assert_eq!(reply.response, b"U2F_V2\x90\x00");
    }
}

#[test]
fn register_then_authenticate_with_a_growing_counter() {
    let mut a = applet(Presence::Auto);
    let app = app_param("example.com");
    let (public, handle) = register(&mut a, app);
    let public = VerifyingKey::from_sec1_bytes(&public).unwrap();
    for expected in 1..=3u32 {
        let challenge = [expected as u8; 32];
        let (out, sw, persist) = send(&mut a, ins::AUTHENTICATE, 0x03, auth_data(challenge, app, &handle));
        assert_eq!((sw, persist), (StatusWord::NO_ERROR, true));
        assert_eq!(out[0], 0x01);
        assert_eq!(u32::from_be_bytes(out[1..5].try_into().unwrap()), expected);
        let signed = [&app[..], &out[..5], &challenge].concat();
        public.verify(&signed, &Signature::from_der(&out[5..]).unwrap()).unwrap();
        assert_eq!(a.state().counter, expected);
    }
    let (out, sw, _) = send(&mut a, ins::AUTHENTICATE, 0x08, auth_data([0; 32], app, &handle));
    assert_eq!((sw, out[0]), (StatusWord::NO_ERROR, 0x00));
}

#[test]
fn check_only_and_foreign_handles() {
    let mut a = applet(Presence::Auto);
    let app = app_param("example.com");
    let (_, handle) = register(&mut a, app);
    let check = send(&mut a, ins::AUTHENTICATE, 0x07, auth_data([0; 32], app, &handle));
    assert_eq!((check.1, check.2), (StatusWord::CONDITIONS_NOT_SATISFIED, false));
    let other_app = app_param("evil.example");
    for p1 in [0x03, 0x07, 0x08] {
        let (_, sw, _) = send(&mut a, ins::AUTHENTICATE, p1, auth_data([0; 32], other_app, &handle));
        assert_eq!(sw, StatusWord::WRONG_DATA, "p1 {p1:#x}");
    }
    let (_, sw, _) = send(&mut a, ins::AUTHENTICATE, 0x03, auth_data([0; 32], app, &[1, 2, 3]));
    assert_eq!(sw, StatusWord::WRONG_DATA);
    assert_eq!(a.state().counter, 0);
}

#[test]
fn status_words_for_malformed_requests() {
    let mut a = applet(Presence::Auto);
    assert_eq!(send(&mut a, ins::REGISTER, 0, vec![0; 63]).1, StatusWord::WRONG_LENGTH);
    assert_eq!(send(&mut a, ins::AUTHENTICATE, 3, vec![0; 66]).1, StatusWord::WRONG_LENGTH);
    assert_eq!(send(&mut a, ins::VERSION, 0, vec![1]).1, StatusWord::WRONG_LENGTH);
    assert_eq!(send(&mut a, 0x42, 0, vec![]).1, StatusWord::INS_NOT_SUPPORTED);
    assert_eq!(a.handle_apdu(&mut UnwrapErr(SysRng), &[0x80, 3, 0, 0]).response, [0x6e, 0x00]);
    assert_eq!(a.handle_apdu(&mut UnwrapErr(SysRng), &[0, 3]).response, [0x67, 0x00]);
}

#[test]
fn manual_presence_holds_until_approved_once() {
    let mut a = applet(Presence::Manual);
    let app = app_param("example.com");
    let request = [[0u8; 32], app].concat();
    assert_eq!(send(&mut a, ins::REGISTER, 0, request.clone()).1, StatusWord::CONDITIONS_NOT_SATISFIED);
    a.approve();
    let (_, handle) = register(&mut a, app);
    assert!(!a.is_approved());
    let data = auth_data([0; 32], app, &handle);
    assert_eq!(send(&mut a, ins::AUTHENTICATE, 3, data.clone()).1, StatusWord::CONDITIONS_NOT_SATISFIED);
    // Check-only never consumes an approval, and "don't enforce" needs none.
    a.approve();
    assert_eq!(send(&mut a, ins::AUTHENTICATE, 7, data.clone()).1, StatusWord::CONDITIONS_NOT_SATISFIED);
    assert_eq!(send(&mut a, ins::AUTHENTICATE, 8, data.clone()).1, StatusWord::NO_ERROR);
    assert_eq!(send(&mut a, ins::AUTHENTICATE, 3, data).1, StatusWord::NO_ERROR);
}

#[test]
fn an_exported_credential_imported_elsewhere_answers_like_the_original() {
    let mut a = applet(Presence::Auto);
    let app = app_param("localhost");
    let (public, handle) = register(&mut a, app);
    send(&mut a, ins::AUTHENTICATE, 3, auth_data([0; 32], app, &handle));
    let exported = export(a.state(), "localhost", &handle).unwrap();
    assert_eq!((exported.sign_count, exported.is_resident_credential), (1, false));
    assert!(export(a.state(), "other", &handle).is_err());

    let mut b = applet(Presence::Auto);
    let mut state = b.state().clone();
    import(&mut state, &serde_json::to_string(&exported).unwrap(), None).unwrap();
    b = Applet::new(state, Presence::Auto).unwrap();
    let (out, sw, _) = send(&mut b, ins::AUTHENTICATE, 3, auth_data([5; 32], app, &handle));
    assert_eq!(sw, StatusWord::NO_ERROR);
    assert_eq!(u32::from_be_bytes(out[1..5].try_into().unwrap()), 2, "counter continues past signCount");
    let signed = [&app[..], &out[..5], &[5; 32]].concat();
    let public = VerifyingKey::from_sec1_bytes(&public).unwrap();
    public.verify(&signed, &Signature::from_der(&out[5..]).unwrap()).unwrap();
    let (_, sw, _) = send(&mut b, ins::AUTHENTICATE, 3, auth_data([5; 32], app_param("x"), &handle));
    assert_eq!(sw, StatusWord::WRONG_DATA);
}
