//! Key handles that carry their own private key, sealed under the token's
//! master key, so the token stores nothing per registration.
//!
//! A handle is `version(1) || nonce(12) || AES-256-GCM(scalar(32)) || tag(16)`
//! = 61 bytes, with the application parameter as associated data: the same
//! handle presented for another application fails authentication and the
//! token answers "wrong data" (6A80), as U2F requires.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use p256::ecdsa::SigningKey;
use rand::CryptoRng;
use zeroize::Zeroizing;

/// A new P-256 private key from `rng`: 32 random bytes, drawn again in the
/// rare case they are zero or not below the group order (what p256's own
/// `SigningKey::random` does, which takes a `rand_core` 0.6 generator).
pub(crate) fn random_signing_key(rng: &mut impl CryptoRng) -> SigningKey {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        if let Ok(key) = SigningKey::from_bytes(&(*bytes).into()) {
            return key;
        }
    }
}

/// SHA-256 of the application id (for WebAuthn: of the RP ID).
pub type AppParam = [u8; 32];

/// First byte of every handle this version writes.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// Length of the handles this token makes.
pub const KEY_HANDLE_LEN: usize = 1 + NONCE_LEN + 32 + 16;

/// Why a key handle does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyHandleError {
    /// Not the length of a handle this token makes.
    #[error("key handle of {got} bytes, expected {expected}")]
    WrongLength {
        /// [`KEY_HANDLE_LEN`].
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// Not a handle format this token knows.
    #[error("key handle version {got}, expected {expected}")]
    UnknownVersion {
        /// The version written today.
        expected: u8,
        /// The version found.
        got: u8,
    },
    /// Sealed by another token, for another application, or tampered with.
    #[error("key handle was not made by this token for this application")]
    NotOurs,
    /// The master key has the wrong size.
    #[error("master key of {got} bytes, expected 32")]
    MasterKeyLength {
        /// Length found in the state.
        got: usize,
    },
}

/// Seals and opens key handles with the token's master key.
pub struct KeyWrap {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyWrap([redacted])")
    }
}

impl KeyWrap {
    /// A wrapper for a 32-byte master key.
    pub fn new(master_key: &[u8]) -> Result<Self, KeyHandleError> {
        let cipher = Aes256Gcm::new_from_slice(master_key)
            .map_err(|_| KeyHandleError::MasterKeyLength { got: master_key.len() })?;
        Ok(KeyWrap { cipher })
    }

    /// Seals `key` into a handle that opens only for `app`.
    pub fn wrap(&self, rng: &mut impl CryptoRng, app: &AppParam, key: &SigningKey) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let scalar = Zeroizing::new(key.to_bytes());
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), Payload { msg: &scalar[..], aad: app });
        let mut handle = Vec::with_capacity(KEY_HANDLE_LEN);
        handle.push(VERSION);
        handle.extend_from_slice(&nonce);
        // AES-GCM encryption of 32 bytes cannot fail (the limit is 64 GiB).
        handle.extend_from_slice(&sealed.unwrap_or_default());
        handle
    }

    /// Opens a handle made by [`KeyWrap::wrap`] for `app`.
    pub fn unwrap(&self, app: &AppParam, handle: &[u8]) -> Result<SigningKey, KeyHandleError> {
        if handle.len() != KEY_HANDLE_LEN {
            return Err(KeyHandleError::WrongLength { expected: KEY_HANDLE_LEN, got: handle.len() });
        }
        if handle[0] != VERSION {
            return Err(KeyHandleError::UnknownVersion { expected: VERSION, got: handle[0] });
        }
        let (nonce, sealed) = handle[1..].split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| KeyHandleError::NotOurs)?;
        let scalar = Zeroizing::new(
            self.cipher
                .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: app })
                .map_err(|_| KeyHandleError::NotOurs)?,
        );
        SigningKey::from_slice(&scalar).map_err(|_| KeyHandleError::NotOurs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rand_core::UnwrapErr;
    use rand::rngs::SysRng;

    #[test]
    fn a_handle_opens_only_for_its_application_and_token() {
        let wrap = KeyWrap::new(&[7; 32]).unwrap();
        let key = random_signing_key(&mut UnwrapErr(SysRng));
        let handle = wrap.wrap(&mut UnwrapErr(SysRng), &[1; 32], &key);
        assert_eq!(handle.len(), KEY_HANDLE_LEN);
        assert_eq!(wrap.unwrap(&[1; 32], &handle).unwrap(), key);
        assert_eq!(wrap.unwrap(&[2; 32], &handle), Err(KeyHandleError::NotOurs));
        let other = KeyWrap::new(&[8; 32]).unwrap();
        assert_eq!(other.unwrap(&[1; 32], &handle), Err(KeyHandleError::NotOurs));
        let mut tampered = handle.clone();
        tampered[20] ^= 1;
        assert_eq!(wrap.unwrap(&[1; 32], &tampered), Err(KeyHandleError::NotOurs));
        assert!(matches!(wrap.unwrap(&[1; 32], &handle[1..]), Err(KeyHandleError::WrongLength { .. })));
    }
}
