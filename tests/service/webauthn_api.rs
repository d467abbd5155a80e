//! `POST /api/v1/login/webauthn` on SQLite and PostgreSQL with a key
//! enrolled over raw U2F: the soft token's credential (exported as Chromium
//! would hold it) signs WebAuthn assertions, which the core verifies with the
//! same counter rule as the U2F path. Each refusal in its §3 code; the U2F and
//! WebAuthn paths share one counter.

use crate::common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::api::{Api, Token};
use keygate::config::Config;
use keygate::secrets::{ServerKey, hash_password};
use keygate::store::{NewUser, Store};
use keygate::web::AppState;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery staple";
const ORIGIN: &str = "http://localhost:8080";

crate::on_both_engines!(
    store:
    webauthn_sign_in,
    registration_without_a_certificate,
);

struct Fixture {
    api: Api,
    token: Token,
    handle: String,
    key: SigningKey,
}

async fn fixture(store: Store) -> Fixture {
    let api = Api { state: AppState::new(Config::default(), store, ServerKey::generate()) };
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    let new = NewUser { name: "alice", display_name: None, password_hash: &hash };
    api.state.store.create_user(&new, keygate::clock::unix_now()).await.unwrap();
    let mut token = Token::new();
    let session = api.login("alice", PASSWORD).await.1["session_token"].as_str().unwrap().to_owned();
    assert_eq!(api.enroll(&mut token, &session, "u2f key").await.0, StatusCode::OK);
    let start = api.login("alice", PASSWORD).await.1;
    let handle = start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned();
    let raw = URL_SAFE_NO_PAD.decode(&handle).unwrap();
    let exported = keygate_device::soft::credential::export(&token.state(), "localhost", &raw).unwrap();
    let key = SigningKey::from_pkcs8_der(&STANDARD.decode(&exported.private_key).unwrap()).unwrap();
    Fixture { api, token, handle, key }
}

/// What may be wrong with an assertion.
#[derive(Clone, Copy, Default)]
struct Twist {
    origin: Option<&'static str>,
    typ: Option<&'static str>,
    rp_id: Option<&'static str>,
    flags: Option<u8>,
    other_key: bool,
}

impl Fixture {
    async fn start(&self) -> Value {
        let (status, start, _) = self.api.login("alice", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{start}");
        let options = &start["publicKey"];
        assert_eq!(options["rpId"], "localhost");
        assert_eq!(options["challenge"], start["challenge"], "one challenge for both paths");
        assert_eq!(options["allowCredentials"][0]["id"].as_str(), Some(self.handle.as_str()));
        assert_eq!(options["userVerification"], "discouraged");
        start
    }

    fn assertion(&self, start: &Value, counter: u32, twist: Twist) -> Value {
        let client_data = json!({
            "type": twist.typ.unwrap_or("webauthn.get"),
            "challenge": start["challenge"],
            "origin": twist.origin.unwrap_or(ORIGIN),
            "crossOrigin": false,
        })
        .to_string();
        let mut auth_data = Sha256::digest(twist.rp_id.unwrap_or("localhost").as_bytes()).to_vec();
        auth_data.push(twist.flags.unwrap_or(0x01));
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut message = auth_data.clone();
        message.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signer =
            if twist.other_key { SigningKey::from_slice(&[9; 32]).unwrap() } else { self.key.clone() };
        let signature: DerSignature = signer.sign(&message);
        json!({
            "login_id": start["login_id"],
            "credential": {
                "id": self.handle,
                "rawId": self.handle,
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "response": {
                    "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                    "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                    "signature": URL_SAFE_NO_PAD.encode(signature.as_bytes()),
                    "userHandle": null,
                },
                "clientExtensionResults": {},
            },
        })
    }

    async fn finish(&self, body: Value) -> (StatusCode, Value) {
        let (status, answer, _) = self.api.call("POST", "/api/v1/login/webauthn", None, Some(body)).await;
        (status, answer)
    }
}

fn code(answer: &(StatusCode, Value)) -> (u16, &str) {
    (answer.0.as_u16(), answer.1["error"]["code"].as_str().unwrap_or("-"))
}

async fn webauthn_sign_in(store: Store) {
    let mut f = fixture(store).await;
    // The U2F-enrolled key signs in as WebAuthn; a replay is refused.
    let start = f.start().await;
    let body = f.assertion(&start, 5, Twist::default());
    let (status, done) = f.finish(body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done["session_token"].is_string());
    assert_eq!(code(&f.finish(body).await), (409, "challenge_used"));

    // Each refusal, on a fresh login: five failures exhaust one (429).
    for (twist, expected) in [
        (Twist { origin: Some("http://evil.example"), ..Twist::default() }, (400, "bad_client_data")),
        (Twist { typ: Some("webauthn.create"), ..Twist::default() }, (400, "bad_client_data")),
        (Twist { rp_id: Some("evil.example"), ..Twist::default() }, (400, "bad_signature")),
        (Twist { flags: Some(0x00), ..Twist::default() }, (400, "bad_signature")),
        (Twist { other_key: true, ..Twist::default() }, (400, "bad_signature")),
    ] {
        let start = f.start().await;
        assert_eq!(code(&f.finish(f.assertion(&start, 6, twist)).await), expected);
    }
    let start = f.start().await;
    let mut unknown = f.assertion(&start, 6, Twist::default());
    unknown["credential"]["rawId"] = json!(URL_SAFE_NO_PAD.encode([1u8; 64]));
    unknown["credential"]["id"] = unknown["credential"]["rawId"].clone();
    assert_eq!(code(&f.finish(unknown).await), (400, "unknown_key"));
    let mut mismatched = f.assertion(&start, 6, Twist::default());
    mismatched["credential"]["id"] = json!("something-else");
    assert_eq!(code(&f.finish(mismatched).await), (400, "invalid_request"));
    let mut not_base64 = f.assertion(&start, 6, Twist::default());
    not_base64["credential"]["response"]["signature"] = json!("***");
    assert_eq!(code(&f.finish(not_base64).await), (400, "invalid_request"));

    // One counter for both paths: the WebAuthn logins took it to 5, and the
    // soft token's own U2F counter is lower, so its U2F login now looks like
    // a copy of the key.
    let start = f.api.login("alice", PASSWORD).await.1;
    let body = f.api.signed_finish(&mut f.token, &start, &f.handle.clone());
    let (status, answer, _) = f.api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (403, Some("possible_clone")),
        "{answer}"
    );
}

/// Browser registrations that carry no certificate: `none` attestation (a
/// user who declined "share make and model", platform and phone
/// authenticators) and self attestation (`packed` signed by the credential
/// key). Accepted and recorded under `none` and `verified`, refused under
/// `trusted-ca`; an accepted key then signs in.
async fn registration_without_a_certificate(db: Store) {
    use keygate_verify::AttestationMode;
    let roots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/soft-token/ca.pem");
    for (n, mode) in
        [AttestationMode::None, AttestationMode::Verified, AttestationMode::TrustedCa].into_iter().enumerate()
    {
        let config =
            Config { attestation: mode, attestation_roots: Some(roots.clone()), ..Config::default() };
        let api = Api { state: AppState::new(config, db.clone(), ServerKey::generate()) };
        for (m, format) in ["none", "packed-self"].into_iter().enumerate() {
            let name = format!("user-{n}-{m}");
            let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
            let new = NewUser { name: &name, display_name: None, password_hash: &hash };
            api.state.store.create_user(&new, keygate::clock::unix_now()).await.unwrap();
            let session = api.login(&name, PASSWORD).await.1["session_token"].as_str().unwrap().to_owned();
            let (status, start, _) =
                api.call("POST", "/api/v1/keys/webauthn/register/start", Some(&session), None).await;
            assert_eq!(status, StatusCode::OK, "{start}");
            let key = SigningKey::from_slice(&[u8::try_from(10 + 2 * n + m).unwrap(); 32]).unwrap();
            let credential_id = vec![u8::try_from(n * 2 + m).unwrap(); 48];
            let credential = registration(&start["publicKey"], &key, &credential_id, format);
            let body = json!({ "credential": credential, "name": format });
            let answer =
                api.call("POST", "/api/v1/keys/webauthn/register/finish", Some(&session), Some(body)).await;
            if mode == AttestationMode::TrustedCa {
                assert_eq!(
                    code(&(answer.0, answer.1.clone())),
                    (400, "bad_signature"),
                    "{format}: {}",
                    answer.1
                );
                assert!(
                    answer.1["error"]["message"].as_str().unwrap().contains("trusted-ca"),
                    "{}",
                    answer.1
                );
                continue;
            }
            assert_eq!(answer.0, StatusCode::OK, "{mode:?} {format}: {}", answer.1);
            assert_eq!(answer.1["attestation_subject"], Value::Null);
            assert!(answer.1["recovery_codes"].is_array());
            let filter = keygate::store::AuditFilter { user_name: Some(&name), ..Default::default() };
            let audit = api.state.store.audit_entries(&filter).await.unwrap();
            let recorded = if format == "none" { "no attestation (none)" } else { "self attestation" };
            assert!(
                audit.iter().any(|e| e.event == "key_enrolled" && e.detail.contains(recorded)),
                "{audit:?}"
            );
            // The key signs in.
            let start = api.login(&name, PASSWORD).await.1;
            let id = URL_SAFE_NO_PAD.encode(&credential_id);
            assert_eq!(start["publicKey"]["allowCredentials"][0]["id"].as_str(), Some(id.as_str()));
            let client_data =
                json!({ "type": "webauthn.get", "challenge": start["challenge"], "origin": ORIGIN })
                    .to_string();
            let mut auth_data = Sha256::digest(b"localhost").to_vec();
            auth_data.extend_from_slice(&[0x01, 0, 0, 0, 1]);
            let mut message = auth_data.clone();
            message.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
            let signature: DerSignature = key.sign(&message);
            let body = json!({ "login_id": start["login_id"], "credential": {
                "id": id, "rawId": id, "type": "public-key",
                "response": {
                    "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                    "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                    "signature": URL_SAFE_NO_PAD.encode(signature.as_bytes()),
                },
            }});
            let (status, done, _) = api.call("POST", "/api/v1/login/webauthn", None, Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{done}");
        }
    }
}

/// `PublicKeyCredential.toJSON()` of a new ES256 credential for the
/// creation options `options`, attested `none` or by itself (`packed-self`).
fn registration(options: &Value, key: &SigningKey, credential_id: &[u8], format: &str) -> Value {
    use ciborium::Value as Cbor;
    let client_data = json!({
        "type": "webauthn.create",
        "challenge": options["challenge"],
        "origin": ORIGIN,
        "crossOrigin": false,
    })
    .to_string();
    let point = key.verifying_key().to_encoded_point(false);
    let cose_key = Cbor::Map(vec![
        (Cbor::from(1), Cbor::from(2)),
        (Cbor::from(3), Cbor::from(-7)),
        (Cbor::from(-1), Cbor::from(1)),
        (Cbor::from(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
        (Cbor::from(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
    ]);
    let mut auth_data = Sha256::digest(b"localhost").to_vec();
    auth_data.push(0x41); // UP | AT
    auth_data.extend_from_slice(&0u32.to_be_bytes());
    auth_data.extend_from_slice(&[0; 16]); // AAGUID
    auth_data.extend_from_slice(&u16::try_from(credential_id.len()).unwrap().to_be_bytes());
    auth_data.extend_from_slice(credential_id);
    ciborium::into_writer(&cose_key, &mut auth_data).unwrap();
    let (fmt, statement) = match format {
        "none" => ("none", Cbor::Map(Vec::new())),
        _ => {
            let mut message = auth_data.clone();
            message.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
            let signature: DerSignature = key.sign(&message);
            let statement = vec![
                (Cbor::from("alg"), Cbor::from(-7)),
                (Cbor::from("sig"), Cbor::Bytes(signature.as_bytes().to_vec())),
            ];
            ("packed", Cbor::Map(statement))
        }
    };
    let object = Cbor::Map(vec![
        (Cbor::from("fmt"), Cbor::from(fmt)),
        (Cbor::from("attStmt"), statement),
        (Cbor::from("authData"), Cbor::Bytes(auth_data)),
    ]);
    let mut attestation_object = Vec::new();
    ciborium::into_writer(&object, &mut attestation_object).unwrap();
    let id = URL_SAFE_NO_PAD.encode(credential_id);
    json!({
        "id": id,
        "rawId": id,
        "type": "public-key",
        "response": {
            "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            "transports": ["usb"],
        },
        "clientExtensionResults": {},
    })
}
