//! Differential test of the WebAuthn assertion check: for a corpus of valid
//! ES256 assertions and their mutations (every byte of authenticatorData,
//! each clientDataJSON field, the signature), keygate's core
//! (`verify_assertion`) and webauthn-rs (`authenticate_credential`) must
//! agree on accept or refuse.
//!
//! Two deliberate differences are normalised, each where it arises:
//! - webauthn-rs refuses a counter that does not move forward inside the
//!   check; keygate applies that rule after it (`CounterVerdict`), so the
//!   stored counter given to webauthn-rs is 0 and asserted counters are > 0;
//! - webauthn-rs compares the backup flags (BE/BS) with those stored at
//!   registration; keygate stores none (U2F keys have no backup state), so
//!   mutations of those two bits are left out.
//!
//! And three cases where keygate is stricter on purpose, checked as such
//! ([`STRICTER`]): bytes after the counter without the ED flag (the spec
//! allows none), an origin that differs from the configured one as a
//! string (`http://localhost:8080/`: the spec compares the serialised
//! origin exactly), and `crossOrigin: true` (keygate's pages may not be
//! framed, so an assertion made in a frame is not one of ours).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_verify::{AssertionExpectation, ClientDataExpectation, CredentialKey, verify_assertion};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest, Sha256};
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationFormat, AttestationMetadata, COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, Credential,
    ECDSACurve, ParsedAttestation, ParsedAttestationData, PublicKeyCredential, RegisteredExtensions,
    UserVerificationPolicy,
};

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;

/// Cases keygate refuses and webauthn-rs 0.6 accepts, by design.
const STRICTER: [&str; 3] =
    ["authData extended", "clientData origin trailing slash", "clientData cross origin"];

struct Case {
    what: String,
    auth_data: Vec<u8>,
    client_data: Vec<u8>,
    signature: Vec<u8>,
}

struct Fixture {
    key: SigningKey,
    credential_id: Vec<u8>,
    challenge: Vec<u8>,
    ours: CredentialKey,
    theirs: WebauthnCore,
    state: webauthn_rs_core::proto::AuthenticationState,
}

fn fixture(seed: u8) -> Fixture {
    let key = SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let credential_id: Vec<u8> = (0..64).map(|i| i ^ seed).collect();
    let credential = Credential {
        cred_id: credential_id.clone(),
        cred: COSEKey {
            type_: COSEAlgorithm::ES256,
            key: COSEKeyType::EC_EC2(COSEEC2Key {
                curve: ECDSACurve::SECP256R1,
                x: point.x().unwrap().to_vec(),
                y: point.y().unwrap().to_vec(),
            }),
        },
        counter: 0,
        transports: None,
        user_verified: false,
        backup_eligible: false,
        backup_state: false,
        registration_policy: UserVerificationPolicy::Discouraged_DO_NOT_USE,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation {
            data: ParsedAttestationData::None,
            metadata: AttestationMetadata::None,
        },
        attestation_format: AttestationFormat::None,
    };
    let theirs = WebauthnCore::new_unsafe_experts_only(
        "keygate",
        RP_ID,
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    );
    let builder = theirs
        .new_challenge_authenticate_builder(
            vec![credential],
            Some(UserVerificationPolicy::Discouraged_DO_NOT_USE),
        )
        .unwrap();
    let (request, state) = theirs.generate_challenge_authenticate(builder).unwrap();
    let challenge = request.public_key.challenge.to_vec();
    let ours = CredentialKey::from_sec1_uncompressed(point.as_bytes()).unwrap();
    Fixture { key, credential_id, challenge, ours, theirs, state }
}

fn auth_data(flags: u8, counter: u32) -> Vec<u8> {
    let mut data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

fn client_data(typ: &str, challenge: &str, origin: &str, extra: &str) -> Vec<u8> {
    format!(r#"{{"type":"{typ}","challenge":"{challenge}","origin":"{origin}","crossOrigin":false{extra}}}"#)
        .into_bytes()
}

fn sign(key: &SigningKey, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
    let mut message = auth_data.to_vec();
    message.extend_from_slice(&Sha256::digest(client_data));
    let signature: DerSignature = key.sign(&message);
    signature.as_bytes().to_vec()
}

/// A case signed over its (possibly mutated) data: only the mutation is wrong.
fn signed(f: &Fixture, what: String, auth_data: Vec<u8>, client_data: Vec<u8>) -> Case {
    let signature = sign(&f.key, &auth_data, &client_data);
    Case { what, auth_data, client_data, signature }
}

fn corpus(f: &Fixture) -> Vec<Case> {
    let chal = URL_SAFE_NO_PAD.encode(&f.challenge);
    let other_chal = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let good_cd = client_data("webauthn.get", &chal, ORIGIN, "");
    let mut cases = Vec::new();
    for (flags, counter) in [(0x01, 1), (0x05, 2), (0x01, 0x0102_0304), (0x05, u32::MAX)] {
        cases.push(signed(
            f,
            format!("valid flags {flags:#x} counter {counter}"),
            auth_data(flags, counter),
            good_cd.clone(),
        ));
    }
    let base = auth_data(0x01, 7);
    // Every byte of authenticatorData, flipped, signed over the result; and
    // the same flips left unsigned (the signature no longer matches).
    for i in 0..base.len() {
        for bit in [0x01u8, 0x80] {
            let mut mutated = base.clone();
            mutated[i] ^= bit;
            if i == 32 && (bit & (FLAG_BE | FLAG_BS)) != 0 {
                continue;
            }
            let valid_sig = sign(&f.key, &base, &good_cd);
            cases.push(Case {
                what: format!("authData[{i}]^{bit:#x} unsigned"),
                auth_data: mutated.clone(),
                client_data: good_cd.clone(),
                signature: valid_sig,
            });
            cases.push(signed(f, format!("authData[{i}]^{bit:#x} signed"), mutated, good_cd.clone()));
        }
    }
    for flags in [0x00, 0x02, 0x04, 0x20, 0x40, 0x80, 0x41, 0xc1] {
        cases.push(signed(f, format!("flags {flags:#x}"), auth_data(flags, 9), good_cd.clone()));
    }
    cases.push(signed(f, "authData truncated".into(), base[..36].to_vec(), good_cd.clone()));
    cases.push(signed(f, "authData extended".into(), [base.clone(), vec![0]].concat(), good_cd.clone()));
    // clientDataJSON fields.
    let client_variants = [
        ("type create", client_data("webauthn.create", &chal, ORIGIN, "")),
        ("type u2f", client_data("navigator.id.getAssertion", &chal, ORIGIN, "")),
        ("other challenge", client_data("webauthn.get", &other_chal, ORIGIN, "")),
        ("challenge padded", client_data("webauthn.get", &format!("{chal}="), ORIGIN, "")),
        ("other origin", client_data("webauthn.get", &chal, "http://evil.example", "")),
        ("origin other port", client_data("webauthn.get", &chal, "http://localhost:8081", "")),
        ("origin https", client_data("webauthn.get", &chal, "https://localhost:8080", "")),
        ("origin trailing slash", client_data("webauthn.get", &chal, "http://localhost:8080/", "")),
        ("extra field", client_data("webauthn.get", &chal, ORIGIN, r#","other_keys_can_be_added_here":"x""#)),
        (
            "token binding",
            client_data("webauthn.get", &chal, ORIGIN, r#","tokenBinding":{"status":"supported"}"#),
        ),
        (
            "cross origin",
            format!(
                r#"{{"type":"webauthn.get","challenge":"{chal}","origin":"{ORIGIN}","crossOrigin":true}}"#
            )
            .into_bytes(),
        ),
        (
            "no crossOrigin",
            format!(r#"{{"type":"webauthn.get","challenge":"{chal}","origin":"{ORIGIN}"}}"#).into_bytes(),
        ),
        ("no type", format!(r#"{{"challenge":"{chal}","origin":"{ORIGIN}"}}"#).into_bytes()),
        ("no challenge", format!(r#"{{"type":"webauthn.get","origin":"{ORIGIN}"}}"#).into_bytes()),
        ("no origin", format!(r#"{{"type":"webauthn.get","challenge":"{chal}"}}"#).into_bytes()),
        ("broken JSON", good_cd[..good_cd.len() - 1].to_vec()),
        ("not an object", b"[]".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, cd) in client_variants {
        cases.push(signed(f, format!("clientData {what}"), base.clone(), cd));
    }
    // The signature.
    let good = sign(&f.key, &base, &good_cd);
    for i in 0..good.len() {
        let mut mutated = good.clone();
        mutated[i] ^= 0x01;
        cases.push(Case {
            what: format!("signature[{i}]^1"),
            auth_data: base.clone(),
            client_data: good_cd.clone(),
            signature: mutated,
        });
    }
    cases.push(Case {
        what: "signature truncated".into(),
        auth_data: base.clone(),
        client_data: good_cd.clone(),
        signature: good[..good.len() - 1].to_vec(),
    });
    cases.push(Case {
        what: "signature empty".into(),
        auth_data: base.clone(),
        client_data: good_cd.clone(),
        signature: Vec::new(),
    });
    let high_s = {
        let sig = p256::ecdsa::Signature::from_der(&good).unwrap();
        let (r, s) = sig.split_scalars();
        p256::ecdsa::Signature::from_scalars(r, -*s).unwrap().to_der().as_bytes().to_vec()
    };
    cases.push(Case {
        what: "signature high-S".into(),
        auth_data: base.clone(),
        client_data: good_cd.clone(),
        signature: high_s,
    });
    let other_key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    cases.push(Case {
        what: "another key".into(),
        auth_data: base.clone(),
        client_data: good_cd.clone(),
        signature: sign(&other_key, &base, &good_cd),
    });
    cases
}

fn ours(f: &Fixture, case: &Case) -> bool {
    let rp_id_hash: [u8; 32] = Sha256::digest(RP_ID.as_bytes()).into();
    let origins = [ORIGIN.to_owned()];
    let expect = AssertionExpectation {
        rp_id_hash: &rp_id_hash,
        client_data: ClientDataExpectation { challenge: &f.challenge, allowed_origins: &origins },
        user_verification_required: false,
    };
    verify_assertion(&f.ours, &case.auth_data, &case.client_data, &case.signature, &expect).is_ok()
}

fn theirs(f: &Fixture, case: &Case) -> Result<(), WebauthnError> {
    let id = URL_SAFE_NO_PAD.encode(&f.credential_id);
    let json = serde_json::json!({
        "id": id,
        "rawId": id,
        "type": "public-key",
        "response": {
            "authenticatorData": URL_SAFE_NO_PAD.encode(&case.auth_data),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(&case.client_data),
            "signature": URL_SAFE_NO_PAD.encode(&case.signature),
            "userHandle": null,
        },
        "clientExtensionResults": {},
    });
    let credential: PublicKeyCredential = serde_json::from_value(json).unwrap();
    f.theirs.authenticate_credential(&credential, &f.state).map(drop)
}

#[test]
fn our_core_and_webauthn_rs_agree() {
    let mut total = 0;
    let mut accepted = 0;
    let mut disagreements = Vec::new();
    for seed in 1..=4u8 {
        let f = fixture(seed);
        for case in corpus(&f) {
            total += 1;
            let mine = ours(&f, &case);
            let reference = theirs(&f, &case);
            accepted += usize::from(mine);
            if STRICTER.contains(&case.what.as_str()) {
                assert!(!mine && reference.is_ok(), "{}: expected only keygate to refuse", case.what);
                continue;
            }
            if mine != reference.is_ok() {
                disagreements.push(format!("{}: ours {mine}, webauthn-rs {reference:?}", case.what));
            }
        }
    }
    println!("{total} cases, {accepted} accepted by both, {} disagreements", disagreements.len());
    assert!(accepted >= 16, "the valid cases must pass: {accepted}");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
