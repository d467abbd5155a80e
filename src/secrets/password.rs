//! Password hashing with argon2id (RustCrypto `argon2`, its default
//! parameters: 19 MiB, 2 passes). Hashing is deliberately slow, so it runs on
//! tokio's blocking pool and never stalls the async workers. Checking a
//! password for an unknown user hashes against a fixed dummy hash, so the
//! answer takes as long as for a real user.
//!
//! The service hashes through a [`PasswordHasher`]: at most `concurrency`
//! hashes run at once and at most `queue` wait; beyond that the answer is an
//! immediate [`PasswordError::Busy`]. A guessing storm so costs a bounded
//! amount of memory (concurrency × 19 MiB) and threads, and answers fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};

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

/// Runs password hashes with bounded concurrency and a bounded queue.
/// Cheap to clone; clones share the bound.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Requests admitted and not yet done (waiting or hashing).
    admitted: Arc<AtomicUsize>,
    concurrency: usize,
    queue: usize,
    /// Extra queue places only priority requests may take.
    reserve: usize,
}

/// Holds one admission until the hash it admitted is done.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// At most `concurrency` (at least 1) hashes at once and `queue` waiting;
    /// a quarter of the queue again is kept for priority requests (users
    /// signing in from a network they signed in from before).
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            concurrency,
            queue,
            reserve: queue.div_ceil(4).max(1),
        }
    }

    /// Requests waiting for a hashing slot now.
    pub fn waiting(&self) -> usize {
        self.admitted.load(Ordering::Acquire).saturating_sub(self.concurrency)
    }

    /// Hashes running now.
    pub fn running(&self) -> usize {
        self.concurrency - self.permits.available_permits()
    }

    fn admit(&self, priority: bool) -> Result<Admission, PasswordError> {
        let limit = self.concurrency + self.queue + if priority { self.reserve } else { 0 };
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(Arc::clone(&self.admitted));
        if before >= limit {
            metrics::counter!("keygate_password_hash_rejected_total").increment(1);
            return Err(PasswordError::Busy);
        }
        Ok(admission)
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot and the
    /// admission stay with the blocking task, so a caller that goes away
    /// does not let more hashes run than the bound.
    async fn run<T: Send + 'static>(
        &self,
        priority: bool,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let admission = self.admit(priority)?;
        metrics::gauge!("keygate_password_hash_queue_depth").set(self.waiting() as f64);
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|_| PasswordError::Busy)?;
        let result = tokio::task::spawn_blocking(move || {
            let _held = (permit, admission);
            work()
        })
        .await?;
        metrics::gauge!("keygate_password_hash_queue_depth").set(self.waiting() as f64);
        result
    }

    /// [`hash_password`] within the bound.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.run(true, move || hash_now(&password)).await
    }

    /// [`verify_password`] within the bound; `priority` may use the reserved
    /// queue places. Known and unknown users are admitted alike.
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: String,
        priority: bool,
    ) -> Result<bool, PasswordError> {
        self.run(priority, move || verify_now(stored.as_deref(), &password)).await
    }
}

/// Hashes a password with argon2id and a random salt, off the async workers.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// Checks a password against a stored PHC hash, off the async workers. With
/// `None` (unknown user) it checks against a dummy hash and returns false, in
/// the same time a real check takes.
pub async fn verify_password(stored: Option<String>, password: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || verify_now(stored.as_deref(), &password)).await?
}

fn verify_now(stored: Option<&str>, password: &str) -> Result<bool, PasswordError> {
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy_hash()?, false),
    };
    let parsed = PasswordHash::new(hash).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    Ok(matches && real)
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once_and_priority_has_a_reserve() {
        let hasher = PasswordHasher::new(1, 2);
        let slow = || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        };
        // One running and two waiting fill it; a fourth is refused at once.
        let held: Vec<_> = (0..3)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.run(false, slow).await })
            })
            .collect();
        while hasher.admitted.load(Ordering::Acquire) < 3 {
            tokio::task::yield_now().await;
        }
        assert_eq!((hasher.running(), hasher.waiting()), (1, 2));
        let started = std::time::Instant::now();
        assert!(matches!(hasher.verify(None, "x".into(), false).await, Err(PasswordError::Busy)));
        assert!(started.elapsed() < std::time::Duration::from_millis(100), "refused without hashing");
        // A priority request still gets in, behind the queue.
        let hash = hash_password("pw".into()).await.unwrap();
        assert!(hasher.verify(Some(hash), "pw".into(), true).await.unwrap());
        for task in held {
            task.await.unwrap().unwrap();
        }
        assert_eq!((hasher.waiting(), hasher.running()), (0, 0));
    }

    #[tokio::test]
    async fn garbage_hash_is_an_error_not_a_panic() {
        assert!(verify_password(Some("not a phc string".into()), "x".into()).await.is_err());
    }
}
