//! What a soft token remembers: its master key, the last counter value it
//! handed out, its attestation identity, and credentials imported from
//! elsewhere. Serialised as JSON; secret fields never show in `Debug`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;
use rand::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::keyhandle::{AppParam, KeyHandleError, KeyWrap};

/// The longest credential id the token holds: U2F carries key handles
/// behind a one-byte length.
pub const MAX_CREDENTIAL_ID_LEN: usize = 255;

/// Format version written into new state files.
pub const STATE_VERSION: u32 = 1;

/// Why a state (or a credential for it) is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Written by a newer keygate.
    #[error("state format version {got}, this keygate reads {expected}")]
    UnsupportedVersion {
        /// [`STATE_VERSION`].
        expected: u32,
        /// Version in the file.
        got: u32,
    },
    /// The master key cannot seal key handles.
    #[error(transparent)]
    MasterKey(#[from] KeyHandleError),
    /// A private key is not a PKCS#8 P-256 key.
    #[error("{what} is not a PKCS#8 DER P-256 private key")]
    PrivateKey {
        /// Which key.
        what: &'static str,
    },
    /// U2F carries key handles behind a one-byte length.
    #[error("credential id of {got} bytes is longer than the {max} bytes U2F can carry")]
    CredentialIdTooLong {
        /// 255.
        max: usize,
        /// Its length.
        got: usize,
    },
    /// The counter has reached its end; the token can no longer sign safely.
    #[error("signature counter exhausted")]
    CounterExhausted,
}

/// Bytes that must not leak into logs; base64 in JSON, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    /// The bytes, for the code that must use them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(self.expose()))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        STANDARD.decode(text.as_bytes()).map(Secret::new).map_err(serde::de::Error::custom)
    }
}

/// Public bytes, base64 in JSON.
mod b64 {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The certificate and key that sign registrations, proving what made the key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attestation {
    /// X.509 v3 certificate, DER, embedded in every registration.
    #[serde(with = "b64")]
    pub certificate: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    pub private_key: Secret,
}

impl Attestation {
    /// The signing key, checked to be P-256.
    pub fn signing_key(&self) -> Result<SigningKey, StateError> {
        SigningKey::from_pkcs8_der(self.private_key.expose())
            .map_err(|_| StateError::PrivateKey { what: "the attestation key" })
    }
}

/// A credential the token did not make itself (imported from a browser's
/// virtual authenticator); found by exact credential id and application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportedCredential {
    /// The credential id, used as the U2F key handle.
    #[serde(with = "b64")]
    pub credential_id: Vec<u8>,
    /// The relying party id; the application parameter is SHA-256 of it.
    pub rp_id: String,
    /// The private key, PKCS#8 DER.
    pub private_key: Secret,
}

impl ImportedCredential {
    /// The application parameter this credential answers for.
    pub fn app_param(&self) -> AppParam {
        super::credential::app_param(&self.rp_id)
    }

    /// The signing key, checked to be P-256.
    pub fn signing_key(&self) -> Result<SigningKey, StateError> {
        SigningKey::from_pkcs8_der(self.private_key.expose())
            .map_err(|_| StateError::PrivateKey { what: "the credential's private key" })
    }
}

/// Everything a soft token keeps between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// AES-256 key sealing key handles.
    pub master_key: Secret,
    /// The last counter value handed out (or reserved); the next is one more.
    pub counter: u32,
    /// Who signs registrations.
    pub attestation: Attestation,
    /// Credentials made elsewhere that the token answers for.
    #[serde(default)]
    pub credentials: Vec<ImportedCredential>,
}

impl TokenState {
    /// A fresh token: a random master key and a counter at zero.
    pub fn generate(rng: &mut impl CryptoRng, attestation: Attestation) -> Self {
        let mut master_key = Zeroizing::new(vec![0u8; 32]);
        rng.fill_bytes(&mut master_key);
        TokenState {
            version: STATE_VERSION,
            master_key: Secret(master_key),
            counter: 0,
            attestation,
            credentials: Vec::new(),
        }
    }

    /// Checks what the JSON format cannot: version, key sizes and types.
    pub fn validate(&self) -> Result<(), StateError> {
        if self.version != STATE_VERSION {
            return Err(StateError::UnsupportedVersion { expected: STATE_VERSION, got: self.version });
        }
        KeyWrap::new(self.master_key.expose())?;
        self.attestation.signing_key()?;
        for credential in &self.credentials {
            credential.signing_key()?;
        }
        Ok(())
    }

    /// Hands out the next counter value. The caller must save the state
    /// before using the value, so no value is ever handed out twice.
    pub fn next_counter(&mut self) -> Result<u32, StateError> {
        self.counter = self.counter.checked_add(1).ok_or(StateError::CounterExhausted)?;
        Ok(self.counter)
    }

    /// Adds (or replaces) an imported credential; the counter jumps past the
    /// credential's own so relying parties never see it go backwards.
    pub fn import(&mut self, credential: ImportedCredential, sign_count: u32) -> Result<(), StateError> {
        if credential.credential_id.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(StateError::CredentialIdTooLong {
                max: MAX_CREDENTIAL_ID_LEN,
                got: credential.credential_id.len(),
            });
        }
        credential.signing_key()?;
        self.credentials
            .retain(|c| !(c.credential_id == credential.credential_id && c.rp_id == credential.rp_id));
        self.credentials.push(credential);
        self.counter = self.counter.max(sign_count);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let attestation = Attestation { certificate: vec![1, 2], private_key: Secret::new(vec![0xab; 40]) };
        let state = TokenState::generate(&mut rand::rand_core::UnwrapErr(rand::rngs::SysRng), attestation);
        let shown = format!("{state:?}");
        assert!(shown.contains("[redacted]"));
        let master = STANDARD.encode(state.master_key.expose());
        assert!(!shown.contains(&master) && !shown.contains("171, 171"), "{shown}");
        // ... but JSON keeps them.
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains(&master));
        let back: TokenState = serde_json::from_str(&json).unwrap();
        assert_eq!(back.master_key, state.master_key);
    }

    #[test]
    fn the_counter_never_repeats_or_wraps() {
        let attestation = Attestation { certificate: vec![], private_key: Secret::new(vec![]) };
        let mut state =
            TokenState::generate(&mut rand::rand_core::UnwrapErr(rand::rngs::SysRng), attestation);
        assert_eq!(state.next_counter(), Ok(1));
        assert_eq!(state.next_counter(), Ok(2));
        state.counter = u32::MAX;
        assert_eq!(state.next_counter(), Err(StateError::CounterExhausted));
    }
}
