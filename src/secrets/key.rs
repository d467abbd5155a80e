//! The server key: 32 bytes that seal (AES-256-GCM) the secrets keygate must
//! read back, such as app secrets and legacy session secrets. It comes from the
//! `server_key` config value (base64) or from a key file, created with mode
//! 0600 on first start. Every instance sharing a database needs the same key.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Why the key could not be loaded or a sealed value not opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The configured value or the file's content is not base64 of 32 bytes.
    #[error("server key from {source_name} must be base64 of {KEY_LEN} bytes")]
    BadKey {
        /// Where the key came from (`config` or the file path).
        source_name: String,
    },
    /// The key file could not be read or created.
    #[error("cannot use key file {path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// A sealed value is too short, was tampered with, or was sealed under
    /// another key.
    #[error("sealed value does not open under this server key")]
    Open,
}

/// The AES-256-GCM key, wiped from memory when dropped and never printed,
/// and the MAC key derived from it for recovery codes.
pub struct ServerKey {
    cipher: Aes256Gcm,
    /// HKDF-SHA-256 of the key, for recovery-code MACs: a separate key, so
    /// no value is ever both encrypted and MACed under the same bytes.
    code_mac_key: Zeroizing<[u8; MAC_KEY_LEN]>,
}

/// HMAC-SHA-256 keys of one block (64 bytes) are used as they are.
const MAC_KEY_LEN: usize = 64;

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

impl ServerKey {
    /// A key from raw bytes (tests, tools).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let mut code_mac_key = Zeroizing::new([0u8; MAC_KEY_LEN]);
        // Expanding 64 bytes out of HKDF-SHA-256 cannot fail (the limit is 8160).
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, bytes)
            .expand(b"keygate recovery-code mac v1", code_mac_key.as_mut_slice());
        Self { cipher: Aes256Gcm::new(bytes.into()), code_mac_key }
    }

    /// The stored form of a recovery code: HMAC-SHA-256 under a key derived
    /// from this one, over the user id and the normalised code. Without the
    /// server key a leaked table tests no guess; with it, each guess is tried
    /// against one user, not all of them at once.
    pub fn recovery_code_mac(&self, user_id: i64, code: &str) -> super::CodeMac {
        use hmac::Mac;
        use hmac::digest::KeyInit;
        let key = hmac::digest::generic_array::GenericArray::from_slice(self.code_mac_key.as_slice());
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new(key);
        mac.update(&user_id.to_be_bytes());
        mac.update(code.as_bytes());
        super::CodeMac(mac.finalize().into_bytes().into())
    }

    /// A fresh random key (tests).
    pub fn generate() -> Self {
        let bytes = Zeroizing::new(super::random_bytes(KEY_LEN));
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&bytes);
        Self::from_bytes(&key)
    }

    /// The key from the config value when given, else from `file`, which is
    /// created (mode 0600, random key) when it does not exist.
    pub fn load(configured: Option<&str>, file: &Path) -> Result<Self, KeyError> {
        if let Some(value) = configured {
            return Self::decode(value, "config");
        }
        match std::fs::read_to_string(file) {
            Ok(text) => Self::decode(text.trim(), &file.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(file),
            Err(error) => Err(KeyError::File { path: file.into(), error }),
        }
    }

    fn decode(text: &str, source_name: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadKey { source_name: source_name.to_owned() };
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| bad())?);
        let key: &[u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| bad())?;
        Ok(Self::from_bytes(key))
    }

    fn create(file: &Path) -> Result<Self, KeyError> {
        let err = |error| KeyError::File { path: file.into(), error };
        let bytes = Zeroizing::new(super::random_bytes(KEY_LEN));
        let text = Zeroizing::new(format!("{}\n", STANDARD.encode(&*bytes)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(file) {
            Ok(mut f) => {
                f.write_all(text.as_bytes()).map_err(err)?;
                f.sync_all().map_err(err)?;
                tracing::info!(path = %file.display(), "created a new server key file");
                Self::decode(&text, &file.display().to_string())
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(file).map_err(err)?;
                Self::decode(text.trim(), &file.display().to_string())
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Seals `plaintext`: random 96-bit nonce followed by ciphertext and tag.
    /// `context` (e.g. `app-secret:42`) is authenticated, so a sealed value
    /// copied to another row does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes = super::random_bytes(NONCE_LEN);
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption fails only for inputs over 64 GiB.
        let sealed = self.cipher.encrypt(nonce, Payload { msg: plaintext, aad: context }).unwrap_or_default();
        let mut out = nonce_bytes;
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value made by [`ServerKey::seal`] with the same context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(KeyError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: context })
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = ServerKey::generate();
        let sealed = key.seal(b"app secret", b"app-secret:1");
        assert_eq!(&key.open(&sealed, b"app-secret:1").unwrap()[..], b"app secret");
        assert!(key.open(&sealed, b"app-secret:2").is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(key.open(&tampered, b"app-secret:1").is_err());
        assert!(ServerKey::generate().open(&sealed, b"app-secret:1").is_err());
        assert!(key.open(&sealed[..10], b"app-secret:1").is_err());
    }

    #[test]
    fn recovery_code_macs_depend_on_key_user_and_code() {
        let key = ServerKey::from_bytes(&[7u8; 32]);
        let mac = key.recovery_code_mac(1, "abcd-efgh-jkmn");
        assert_eq!(mac, key.recovery_code_mac(1, "abcd-efgh-jkmn"));
        assert_ne!(mac, key.recovery_code_mac(2, "abcd-efgh-jkmn"), "salted by the user");
        assert_ne!(mac, key.recovery_code_mac(1, "abcd-efgh-jkmp"));
        assert_ne!(mac, ServerKey::from_bytes(&[8u8; 32]).recovery_code_mac(1, "abcd-efgh-jkmn"));
        assert_ne!(mac.as_slice(), super::super::TokenHash::of("abcd-efgh-jkmn").as_slice());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keygate.key");
        let first = ServerKey::load(None, &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = first.seal(b"x", b"c");
        let again = ServerKey::load(None, &path).unwrap();
        assert_eq!(&again.open(&sealed, b"c").unwrap()[..], b"x");
    }

    #[test]
    fn configured_key_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unused.key");
        let b64 = STANDARD.encode([7u8; 32]);
        assert!(ServerKey::load(Some(&b64), &path).is_ok());
        assert!(!path.exists());
        assert!(matches!(ServerKey::load(Some("c2hvcnQ="), &path), Err(KeyError::BadKey { .. })));
    }
}
