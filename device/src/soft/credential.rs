//! Moving credentials between the soft token and Chromium's virtual
//! authenticator (DevTools `WebAuthn.addCredential` / `getCredentials`), so
//! one credential can be used over raw U2F and from a browser.
//!
//! The JSON shape is CDP's `WebAuthn.Credential`: binary fields in standard
//! base64, the private key as PKCS#8 DER. A U2F application parameter is
//! SHA-256 of the RP ID, which is how the two worlds line up.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keyhandle::{AppParam, KeyHandleError, KeyWrap};
use super::state::{ImportedCredential, Secret, StateError, TokenState};

/// The U2F application parameter for an RP ID (equal to WebAuthn's rpIdHash).
pub fn app_param(rp_id: &str) -> AppParam {
    Sha256::digest(rp_id.as_bytes()).into()
}

/// Why a credential cannot be exported or imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A binary field is not base64 (standard or websafe, padded or not).
    #[error("{field} is not base64")]
    Base64 {
        /// The JSON field.
        field: &'static str,
    },
    /// The key handle is neither sealed by this token for this RP ID nor imported.
    #[error("key handle does not belong to this token for RP ID {rp_id:?}: {source}")]
    UnknownKeyHandle {
        /// The RP ID asked for.
        rp_id: String,
        /// Why unsealing failed.
        source: KeyHandleError,
    },
    /// The state or the credential is unusable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The input is not a credential in CDP's shape.
    #[error("not a WebAuthn.Credential JSON object: {0}")]
    Json(#[from] serde_json::Error),
    /// Only non-resident (server-side) credentials have a U2F equivalent.
    #[error("resident credentials cannot be used over U2F")]
    Resident,
    /// The credential names no RP ID and none was given.
    #[error("the credential has no rpId: name the relying party (--rp-id)")]
    MissingRpId,
}

/// CDP's `WebAuthn.Credential`, the fields U2F needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdpCredential {
    /// Credential id (the U2F key handle), standard base64.
    pub credential_id: String,
    /// Whether it is a discoverable credential; U2F ones never are.
    #[serde(default)]
    pub is_resident_credential: bool,
    /// The relying party id; Chromium leaves it out for credentials of its
    /// `u2f` virtual authenticator, which know only the RP ID's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// PKCS#8 DER private key, standard base64.
    pub private_key: String,
    /// The signature counter.
    #[serde(default)]
    pub sign_count: u32,
}

/// Decodes base64 in any of the alphabets clients use.
pub fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, CredentialError> {
    let text = text.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or(CredentialError::Base64 { field })
}

/// The private key behind `key_handle` for `rp_id`, sealed or imported.
pub fn find_key(state: &TokenState, app: &AppParam, key_handle: &[u8]) -> Result<SigningKey, KeyHandleError> {
    if let Some(imported) =
        state.credentials.iter().find(|c| c.credential_id == key_handle && &c.app_param() == app)
    {
        return imported.signing_key().map_err(|_| KeyHandleError::NotOurs);
    }
    KeyWrap::new(state.master_key.expose())?.unwrap(app, key_handle)
}

/// The credential behind `key_handle` in the shape `WebAuthn.addCredential` takes.
pub fn export(state: &TokenState, rp_id: &str, key_handle: &[u8]) -> Result<CdpCredential, CredentialError> {
    let key = find_key(state, &app_param(rp_id), key_handle)
        .map_err(|source| CredentialError::UnknownKeyHandle { rp_id: rp_id.to_owned(), source })?;
    let der =
        key.to_pkcs8_der().map_err(|_| StateError::PrivateKey { what: "the credential's private key" })?;
    Ok(CdpCredential {
        credential_id: STANDARD.encode(key_handle),
        is_resident_credential: false,
        rp_id: Some(rp_id.to_owned()),
        private_key: STANDARD.encode(der.as_bytes()),
        sign_count: state.counter,
    })
}

/// Parses what `WebAuthn.getCredentials` returns (one credential, or the
/// whole `{"credentials": [...]}` result) and adds each to `state`;
/// `default_rp_id` serves credentials that carry no `rpId`.
pub fn import(
    state: &mut TokenState,
    json: &str,
    default_rp_id: Option<&str>,
) -> Result<usize, CredentialError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        Many { credentials: Vec<CdpCredential> },
        One(CdpCredential),
    }
    let credentials = match serde_json::from_str::<Input>(json)? {
        Input::Many { credentials } => credentials,
        Input::One(credential) => vec![credential],
    };
    let count = credentials.len();
    for credential in credentials {
        if credential.is_resident_credential {
            return Err(CredentialError::Resident);
        }
        let imported = ImportedCredential {
            credential_id: decode_base64("credentialId", &credential.credential_id)?,
            rp_id: credential
                .rp_id
                .or_else(|| default_rp_id.map(str::to_owned))
                .ok_or(CredentialError::MissingRpId)?,
            private_key: Secret::new(decode_base64("privateKey", &credential.private_key)?),
        };
        state.import(imported, credential.sign_count)?;
    }
    Ok(count)
}
