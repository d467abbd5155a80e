//! Client data: what the browser (or U2F host) says it asked the key to sign.
//!
//! The authenticator signs only a hash of the client data, so the server must
//! read the JSON itself and check that it is for this ceremony (`typ` for the
//! U2F JavaScript API, `type` for WebAuthn), carries the challenge the server
//! issued (websafe base64), and comes from an origin the service serves.
//! Members the server does not know (`cid_pubkey` in the U2F specification's
//! examples, `crossOrigin`, `topOrigin`, extensions) are allowed; a duplicate
//! member is refused so two readers cannot see two different values.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::VerifyError;

/// Websafe base64 as U2F and WebAuthn send it: no padding, though padded
/// input is tolerated because some U2F hosts add it.
pub const WEBSAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which U2F ceremony a clientData is for (its `typ` member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum U2fClientDataType {
    /// `navigator.id.finishEnrollment`: a registration.
    Registration,
    /// `navigator.id.getAssertion`: an authentication.
    Authentication,
}

impl U2fClientDataType {
    /// The `typ` string the U2F JavaScript API writes.
    pub fn as_str(self) -> &'static str {
        match self {
            U2fClientDataType::Registration => "navigator.id.finishEnrollment",
            U2fClientDataType::Authentication => "navigator.id.getAssertion",
        }
    }
}

/// The WebAuthn `type` of an assertion's clientDataJSON.
pub const WEBAUTHN_GET: &str = "webauthn.get";

/// What the server expects in a client data: the challenge it issued and the
/// origins it serves. Borrowed so a login checks without copying config.
#[derive(Debug, Clone, Copy)]
pub struct ClientDataExpectation<'a> {
    /// The raw challenge bytes the server issued.
    pub challenge: &'a [u8],
    /// Origins accepted, compared exactly (scheme, host and port).
    pub allowed_origins: &'a [String],
}

/// A parsed client data, with the hash the authenticator signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    /// `typ` (U2F) or `type` (WebAuthn).
    pub typ: String,
    /// The challenge as sent, websafe base64.
    pub challenge: String,
    /// The origin the browser reports.
    pub origin: String,
    /// WebAuthn's `crossOrigin`, false when absent.
    pub cross_origin: bool,
    /// SHA-256 of the raw bytes: U2F's challenge parameter, WebAuthn's clientDataHash.
    pub hash: [u8; 32],
}

#[derive(Deserialize)]
struct U2fJson {
    typ: String,
    challenge: String,
    origin: String,
}

#[derive(Deserialize)]
struct WebAuthnJson {
    #[serde(rename = "type")]
    typ: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

impl ClientData {
    /// Parses a U2F clientData (members `typ`, `challenge`, `origin`).
    pub fn parse_u2f(raw: &[u8]) -> Result<Self, VerifyError> {
        let json: U2fJson = serde_json::from_slice(raw)
            .map_err(|err| VerifyError::ClientDataSyntax { reason: err.to_string() })?;
        Ok(ClientData {
            typ: json.typ,
            challenge: json.challenge,
            origin: json.origin,
            cross_origin: false,
            hash: Sha256::digest(raw).into(),
        })
    }

    /// Parses a WebAuthn clientDataJSON (members `type`, `challenge`, `origin`).
    pub fn parse_webauthn(raw: &[u8]) -> Result<Self, VerifyError> {
        let json: WebAuthnJson = serde_json::from_slice(raw)
            .map_err(|err| VerifyError::ClientDataSyntax { reason: err.to_string() })?;
        Ok(ClientData {
            typ: json.typ,
            challenge: json.challenge,
            origin: json.origin,
            cross_origin: json.cross_origin,
            hash: Sha256::digest(raw).into(),
        })
    }

    /// Checks type, challenge, origin and `crossOrigin` against what the
    /// server expects, in that order.
    pub fn check(&self, typ: &'static str, expect: &ClientDataExpectation<'_>) -> Result<(), VerifyError> {
        if self.typ != typ {
            return Err(VerifyError::ClientDataType { expected: typ, got: self.typ.clone() });
        }
        let matches = WEBSAFE.decode(&self.challenge).is_ok_and(|got| got == expect.challenge);
        if !matches {
            return Err(VerifyError::Challenge {
                expected: WEBSAFE.encode(expect.challenge),
                got: self.challenge.clone(),
            });
        }
        if !expect.allowed_origins.contains(&self.origin) {
            return Err(VerifyError::Origin {
                got: self.origin.clone(),
                allowed: expect.allowed_origins.to_vec(),
            });
        }
        if self.cross_origin {
            return Err(VerifyError::CrossOrigin);
        }
        Ok(())
    }
}

/// Parses and checks a U2F clientData; returns the challenge parameter
/// (SHA-256 of the raw bytes) the authenticator signed over.
pub fn verify_u2f_client_data(
    raw: &[u8],
    typ: U2fClientDataType,
    expect: &ClientDataExpectation<'_>,
) -> Result<[u8; 32], VerifyError> {
    let client_data = ClientData::parse_u2f(raw)?;
    client_data.check(typ.as_str(), expect)?;
    Ok(client_data.hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_REGISTER: &str = r#"{"typ":"navigator.id.finishEnrollment","challenge":"vqrS6WXDe1JUs5_c3i4-LkKIHRr-3XVb3azuA5TifHo","cid_pubkey":{"kty":"EC","crv":"P-256","x":"HzQwlfXX7Q4S5MtCCnZUNBw3RMzPO9tOyWjBqRl4tJ8","y":"XVguGFLIZx1fXg3wNqfdbn75hi4-_7-BxhMljw42Ht4"},"origin":"http://example.com"}"#;

    fn origins() -> Vec<String> {
        vec!["https://other.example".into(), "http://example.com".into()]
    }

    fn challenge() -> Vec<u8> {
        WEBSAFE.decode("vqrS6WXDe1JUs5_c3i4-LkKIHRr-3XVb3azuA5TifHo").unwrap()
    }

    #[test]
    fn spec_client_data_with_cid_pubkey_verifies() {
        let origins = origins();
        let challenge = challenge();
        let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
        let hash = verify_u2f_client_data(SPEC_REGISTER.as_bytes(), U2fClientDataType::Registration, &expect)
            .unwrap();
        assert_eq!(hex::encode(hash), "4142d21c00d94ffb9d504ada8f99b721f4b191ae4e37ca0140f696b6983cfacb");
    }

    #[test]
    fn each_check_names_what_failed() {
        let origins = origins();
        let challenge = challenge();
        let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
        let raw = SPEC_REGISTER.as_bytes();
        let err = verify_u2f_client_data(raw, U2fClientDataType::Authentication, &expect).unwrap_err();
        assert!(matches!(err, VerifyError::ClientDataType { expected: "navigator.id.getAssertion", .. }));

        let other = [1u8; 32];
        let expect_other = ClientDataExpectation { challenge: &other, allowed_origins: &origins };
        let err = verify_u2f_client_data(raw, U2fClientDataType::Registration, &expect_other).unwrap_err();
        assert!(matches!(err, VerifyError::Challenge { .. }));

        let only = vec!["http://example.com:8080".to_string()];
        let expect_origin = ClientDataExpectation { challenge: &challenge, allowed_origins: &only };
        let err = verify_u2f_client_data(raw, U2fClientDataType::Registration, &expect_origin).unwrap_err();
        assert_eq!(err, VerifyError::Origin { got: "http://example.com".into(), allowed: only.clone() });
        assert!(err.is_client_data());
    }

    #[test]
    fn padded_challenge_is_tolerated_and_duplicates_refused() {
        let challenge = [0xffu8; 4];
        let origins = vec!["https://a.example".to_string()];
        let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
        let raw =
            br#"{"typ":"navigator.id.getAssertion","challenge":"_____w==","origin":"https://a.example"}"#;
        verify_u2f_client_data(raw, U2fClientDataType::Authentication, &expect).unwrap();
        let dup = br#"{"typ":"navigator.id.getAssertion","challenge":"_____w","origin":"https://a.example","origin":"https://b.example"}"#;
        let err = verify_u2f_client_data(dup, U2fClientDataType::Authentication, &expect).unwrap_err();
        assert!(matches!(err, VerifyError::ClientDataSyntax { .. }));
        for bad in [&b""[..], b"[]", b"{\"typ\":1}", b"{\"typ\":\"x\",\"challenge\":\"y\"}"] {
            assert!(matches!(ClientData::parse_u2f(bad), Err(VerifyError::ClientDataSyntax { .. })));
        }
    }

    #[test]
    fn webauthn_cross_origin_is_refused() {
        let challenge = [1u8, 2, 3];
        let origins = vec!["https://a.example".to_string()];
        let expect = ClientDataExpectation { challenge: &challenge, allowed_origins: &origins };
        let raw =
            br#"{"type":"webauthn.get","challenge":"AQID","origin":"https://a.example","crossOrigin":true}"#;
        let parsed = ClientData::parse_webauthn(raw).unwrap();
        assert_eq!(parsed.check(WEBAUTHN_GET, &expect), Err(VerifyError::CrossOrigin));
        let raw = br#"{"type":"webauthn.get","challenge":"AQID","origin":"https://a.example"}"#;
        ClientData::parse_webauthn(raw).unwrap().check(WEBAUTHN_GET, &expect).unwrap();
    }
}
