//! Password hashing with argon2id (RustCrypto `argon2`, its default
//! parameters: 19 MiB, 2 passes). Hashing is deliberately slow, so it runs on
//! tokio's blocking pool and never stalls the async workers. Checking a
//! password for an unknown user hashes against a fixed dummy hash, so the
//! answer takes as long as for a real user.
//!
//! The service itself checks passwords through a
//! [`PasswordHasher`](super::PasswordHasher), which bounds how many run at
//! once and reuses their memory; these functions are the work it runs.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// argon2 refused the input (absurdly long password) or the stored hash is
    /// not a PHC string.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task did not finish (runtime shutting down).
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Every hashing slot is taken and the queue is full: try again shortly.
    #[error("too many password checks at once")]
    Busy,
}

/// Checks a password against a stored PHC hash (the dummy hash for `None`)
/// in the caller's argon2 memory, grown when a stored hash asks for more:
/// a worker that checks passwords all day allocates its 19 MiB once.
pub(super) fn verify_in(
    stored: Option<&str>,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, PasswordError> {
    let bad = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy_hash()?, false),
    };
    let parsed = PasswordHash::new(hash).map_err(|e| bad(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| bad(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| bad(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| bad(&e))?;
    let salt = parsed.salt.ok_or_else(|| PasswordError::Hash("the stored hash has no salt".into()))?;
    let expected = parsed.hash.ok_or_else(|| PasswordError::Hash("the stored hash has no output".into()))?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.as_mut_slice())
        .map_err(|e| bad(&e))?;
    Ok(super::ct_eq(&out, expected.as_bytes()) && real)
}

/// Hashes a password with argon2id and a random salt, off the async workers.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// Checks a password against a stored PHC hash, off the async workers. With
/// `None` (unknown user) it checks against a dummy hash and returns false, in
/// the same time a real check takes.
pub async fn verify_password(stored: Option<String>, password: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (dummy_hash()?, false),
        };
        let parsed = PasswordHash::new(hash).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(matches && real)
    })
    .await?
}

pub(super) fn hash_now(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A hash of a random password, made once per process with the same
/// parameters as real hashes.
fn dummy_hash() -> Result<&'static str, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_now(&super::random_hex(16))?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(Some(hash.clone()), "correct horse".into()).await.unwrap());
        assert!(!verify_password(Some(hash), "wrong".into()).await.unwrap());
    }

    /// Hashes stored before the move to argon2 0.6 (made by 0.5.3 with the
    /// default parameters) must keep verifying on both paths.
    #[tokio::test]
    async fn hashes_from_argon2_0_5_still_verify() {
        let old = "$argon2id$v=19$m=19456,t=2,p=1$icvmfZjyDmlW2d5DsOMpwA$CmoI67FPBPJAj8TbdSO3jiJq0GbJD0VemzPvnih4+OY";
        assert!(verify_password(Some(old.into()), "correct horse".into()).await.unwrap());
        assert!(!verify_password(Some(old.into()), "correct hors".into()).await.unwrap());
        let mut memory = Vec::new();
        assert!(verify_in(Some(old), "correct horse", &mut memory).unwrap());
        assert!(!verify_in(Some(old), "correct hors", &mut memory).unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_matches() {
        assert!(!verify_password(None, "anything".into()).await.unwrap());
    }

    #[test]
    fn checking_in_reused_memory_agrees_with_argon2() {
        let hash = hash_now("correct horse").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in(Some(&hash), "correct horse", &mut memory).unwrap());
        assert!(!verify_in(Some(&hash), "correct hors", &mut memory).unwrap());
        assert_eq!(memory.len(), Params::default().block_count(), "19 MiB, allocated once");
        assert!(!verify_in(None, "correct horse", &mut memory).unwrap(), "unknown users never match");
        // A hash with other parameters (more memory, argon2i) checks too.
        let params = Params::new(32 * 1024, 1, 1, None).unwrap();
        let other =
            Argon2::new(Algorithm::Argon2i, Version::V0x13, params).hash_password(b"pw").unwrap().to_string();
        assert!(verify_in(Some(&other), "pw", &mut memory).unwrap());
        assert_eq!(memory.len(), 32 * 1024);
        assert!(verify_in(Some("$argon2id$garbage"), "pw", &mut memory).is_err());
    }

    #[tokio::test]
    async fn garbage_hash_is_an_error_not_a_panic() {
        assert!(verify_password(Some("not a phc string".into()), "x".into()).await.is_err());
    }
}
