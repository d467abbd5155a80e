//! Driving the JSON API in-process: a soft-token applet that answers real
//! U2F APDUs, and a client that sends requests through the router with a
//! peer address, the way `keygate serve` does.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use keygate::web::{AppState, app};
use keygate_device::soft::state::Secret;
use keygate_device::soft::{Applet, Attestation, Presence, TokenState};
use keygate_device::u2f::{CommandApdu, Encoding, StatusWord, auth_control, ins};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// Websafe base64 without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes websafe base64.
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("websafe base64")
}

/// The soft token's applet in memory, with the fixture attestation.
pub struct Token {
    applet: Applet,
}

impl Token {
    /// A fresh token.
    pub fn new() -> Self {
        let attestation = Attestation {
            certificate: super::verify::read_fixture("soft-token/attestation.der"),
            private_key: Secret::new(super::verify::read_fixture("soft-token/attestation-key.der")),
        };
        Self::from_state(TokenState::generate(&mut UnwrapErr(SysRng), attestation))
    }

    /// A token resumed from saved state (to roll a counter back).
    pub fn from_state(state: TokenState) -> Self {
        Self { applet: Applet::new(state, Presence::Auto).expect("valid token state") }
    }

    /// The state, to save and restore.
    pub fn state(&self) -> TokenState {
        self.applet.state().clone()
    }

    fn apdu(&mut self, ins: u8, p1: u8, data: Vec<u8>) -> Vec<u8> {
        let apdu = CommandApdu::new(ins, p1, 0, data, Encoding::Extended).encode().expect("APDU");
        let reply = self.applet.handle_apdu(&mut UnwrapErr(SysRng), &apdu);
        let sw = StatusWord::from_response(&reply.response).expect("status word");
        assert_eq!(sw, StatusWord::NO_ERROR, "token refused");
        reply.response[..reply.response.len() - 2].to_vec()
    }

    /// REGISTER: returns registrationData.
    pub fn register(&mut self, client_data: &[u8], app_id: &str) -> Vec<u8> {
        let data = [sha(client_data), sha(app_id.as_bytes())].concat();
        self.apdu(ins::REGISTER, 0, data)
    }

    /// AUTHENTICATE with presence: returns signatureData.
    pub fn sign(&mut self, client_data: &[u8], app_id: &str, key_handle: &[u8]) -> Vec<u8> {
        let mut data = [sha(client_data), sha(app_id.as_bytes())].concat();
        data.push(u8::try_from(key_handle.len()).expect("short handle"));
        data.extend_from_slice(key_handle);
        self.apdu(ins::AUTHENTICATE, auth_control::ENFORCE_USER_PRESENCE, data)
    }
}

impl Default for Token {
    fn default() -> Self {
        Self::new()
    }
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The key handle inside a registrationData.
pub fn key_handle_of(registration_data: &[u8]) -> Vec<u8> {
    let len = usize::from(registration_data[66]);
    registration_data[67..67 + len].to_vec()
}

/// U2F clientData JSON bytes.
pub fn client_data(typ: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({ "typ": typ, "challenge": challenge, "origin": origin }).to_string().into_bytes()
}

/// An answer: status, JSON body (Null when empty), headers.
pub type Answer = (StatusCode, Value, HeaderMap);

/// Sends requests through the router.
#[derive(Clone)]
pub struct Api {
    /// The state behind the router.
    pub state: AppState,
}

impl Api {
    /// A raw request: any body bytes and content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        self.raw_from(peer, method, path, bearer, content_type, body).await
    }

    /// A raw request from the client address `peer`.
    pub async fn raw_from(
        &self,
        peer: SocketAddr,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let mut request = builder.body(Body::from(body)).expect("request");
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app(self.state.clone()).oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{status}: body is not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, value, headers)
    }

    /// A JSON request.
    pub async fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> Answer {
        let (ct, bytes) = match body {
            Some(b) => (Some("application/json"), b.to_string().into_bytes()),
            None => (None, Vec::new()),
        };
        self.raw(method, path, bearer, ct, bytes).await
    }

    /// `POST /api/v1/login` from the client address `peer`.
    pub async fn login_from(&self, peer: std::net::IpAddr, user: &str, password: &str) -> Answer {
        let body = json!({ "username": user, "password": password }).to_string().into_bytes();
        let peer = SocketAddr::new(peer, 40000);
        self.raw_from(peer, "POST", "/api/v1/login", None, Some("application/json"), body).await
    }

    /// `POST /api/v1/login`.
    pub async fn login(&self, user: &str, password: &str) -> Answer {
        self.call("POST", "/api/v1/login", None, Some(json!({ "username": user, "password": password })))
            .await
    }

    /// Enrolls the token under `bearer`; returns the finish answer.
    pub async fn enroll(&self, token: &mut Token, bearer: &str, name: &str) -> Answer {
        let (status, start, _) = self.call("POST", "/api/v1/keys/register/start", Some(bearer), None).await;
        assert_eq!(status, StatusCode::OK, "{start}");
        let challenge = start["registerRequests"][0]["challenge"].as_str().expect("challenge");
        let app_id = start["appId"].as_str().expect("appId");
        let origin = start["origin"].as_str().expect("origin");
        let cd = client_data("navigator.id.finishEnrollment", challenge, origin);
        let reg = token.register(&cd, app_id);
        let body = json!({ "registrationData": b64(&reg), "clientData": b64(&cd), "name": name });
        self.call("POST", "/api/v1/keys/register/finish", Some(bearer), Some(body)).await
    }

    /// Signs a started login with the token (first listed key it owns, or
    /// the given handle) and builds the `/login/u2f` body.
    pub fn signed_finish(&self, token: &mut Token, start: &Value, key_handle: &str) -> Value {
        let cd = client_data(
            "navigator.id.getAssertion",
            start["challenge"].as_str().expect("challenge"),
            start["origin"].as_str().expect("origin"),
        );
        let sig = token.sign(&cd, start["appId"].as_str().expect("appId"), &unb64(key_handle));
        json!({ "login_id": start["login_id"], "keyHandle": key_handle, "signatureData": b64(&sig), "clientData": b64(&cd) })
    }

    /// Password + key login; returns the session token.
    pub async fn full_login(
        &self,
        token: &mut Token,
        user: &str,
        password: &str,
        key_handle: &str,
    ) -> String {
        let (status, start, _) = self.login(user, password).await;
        assert_eq!(status, StatusCode::OK, "{start}");
        assert_eq!(start["second_factor"], "u2f");
        let body = self.signed_finish(token, &start, key_handle);
        let (status, done, _) = self.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        done["session_token"].as_str().expect("session_token").to_owned()
    }
}
