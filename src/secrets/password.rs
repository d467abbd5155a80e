//! Password hashing with argon2id (RustCrypto `argon2`, its default
//! parameters: 19 MiB, 2 passes). Hashing is deliberately slow, so it runs on
//! tokio's blocking pool and never stalls the async workers. Checking a
//! password for an unknown user hashes against a fixed dummy hash, so the
//! answer takes as long as for a real user.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

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

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
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

    #[tokio::test]
    async fn unknown_user_never_matches() {
        assert!(!verify_password(None, "anything".into()).await.unwrap());
    }

    #[tokio::test]
    async fn garbage_hash_is_an_error_not_a_panic() {
        assert!(verify_password(Some("not a phc string".into()), "x".into()).await.is_err());
    }
}
