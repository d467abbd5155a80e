//! Secret material and how it is handled: bearer tokens are random and stored
//! only as SHA-256 hashes ([`TokenHash`]); secrets the server must read back
//! (app and session secrets, for MD5 `sig` checks) are sealed with AES-GCM
//! under the [`ServerKey`]; passwords are argon2id hashes computed on the
//! blocking pool ([`hash_password`], [`verify_password`]); comparisons of
//! secret values run in constant time ([`ct_eq`]).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod context;
mod hash_pool;
mod key;
mod password;

use rand::Rng as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) use hash_pool::PasswordHasher;
pub use key::{KeyError, ServerKey};
pub use password::{PasswordError, hash_password, verify_password};

/// SHA-256 of a bearer token: what the database stores and looks up, so a
/// leaked database yields no usable token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token as the client presents it.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The 32 hash bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not secret, but a short prefix is all a log needs.
        write!(f, "TokenHash({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

/// A recovery code as stored: HMAC-SHA-256 under the server key (see
/// [`ServerKey::recovery_code_mac`]), so the table alone tests no guess.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeMac([u8; 32]);

impl CodeMac {
    /// The 32 MAC bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CodeMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeMac(…)")
    }
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    bytes
}

/// A random token of `n` bytes as lowercase hex (`n = 16` gives the 32 hex
/// characters of a legacy auth_token).
pub fn random_hex(n: usize) -> String {
    hex::encode(random_bytes(n))
}

/// A random token of `n` bytes, websafe base64 without padding (session
/// tokens, login ids).
pub fn random_token(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// Compares two secret byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_sha256() {
        // SHA-256("abc") from FIPS 180-2.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex = hex::encode(TokenHash::of("abc").as_slice());
        assert_eq!(hex, expected);
        assert!(format!("{:?}", TokenHash::of("abc")).starts_with("TokenHash(ba7816bf"));
    }

    #[test]
    fn random_tokens_have_the_promised_shape() {
        let hex = random_hex(16);
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(random_hex(16), hex);
        assert_eq!(random_token(32).len(), 43);
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret2"));
    }
}
