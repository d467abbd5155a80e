//! Which verifier a key gets: the LRU-bounded key cache.
//!
//! A key's table costs about four verifications to build, so building it on
//! first sight would make every first login slower than a generic verify.
//! The cache therefore remembers a key it has seen once without a table
//! (a parsed point, ~100 bytes) and builds the table on the key's second
//! use, when it has shown it will be used again. Keys are found by their
//! SEC1 bytes as stored with the credential, so a hit costs no parsing.
//!
//! The lock is held only for the lookup: parsing and table builds run
//! outside it, so concurrent verifications do not queue behind a build
//! (two threads may then build the same table once each, which is harmless).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use super::{FastError, FastKey, Verifier};

/// Default number of keys kept: 2 048 keys × ≤ 33 KiB ≈ 66 MiB at most.
pub const DEFAULT_CAPACITY: NonZeroUsize = match NonZeroUsize::new(2048) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Thread-safe, LRU-bounded map from SEC1 key bytes to verifiers, with
/// hit/miss counters for the service's metrics.
#[derive(Debug)]
pub struct KeyCache {
    entries: Mutex<LruCache<Box<[u8]>, Verifier>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl KeyCache {
    /// A cache holding at most `capacity` keys; the least recently used goes first.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(capacity)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The verifier for a SEC1-encoded key: the new-key path on first sight,
    /// the table from the second use on. Fails only for an invalid key.
    pub fn verifier(&self, sec1: &[u8]) -> Result<Verifier, FastError> {
        let cached = self.lock().get(sec1).cloned();
        match cached {
            Some(Verifier::Known(prepared)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(Verifier::Known(prepared))
            }
            Some(Verifier::New(key)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                let prepared = Verifier::from(key.prepare());
                self.lock().put(sec1.into(), prepared.clone());
                Ok(prepared)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                let key = Verifier::from(FastKey::from_sec1(sec1)?);
                self.lock().put(sec1.into(), key.clone());
                Ok(key)
            }
        }
    }

    /// Lookups that found the key (its second and later uses).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that had to parse the key (first sight, or after eviction).
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The most keys held at once.
    pub fn capacity(&self) -> NonZeroUsize {
        self.lock().cap()
    }

    /// The map stays consistent even if a holder panicked: every update is a
    /// single `put`, so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, LruCache<Box<[u8]>, Verifier>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use std::sync::Arc;

    fn sec1(i: u8) -> Vec<u8> {
        let sk = SigningKey::from_bytes(&[i; 32].into()).unwrap();
        sk.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    #[test]
    fn first_sight_is_new_then_prepared() {
        let cache = KeyCache::default();
        let key = sec1(1);
        assert!(!cache.verifier(&key).unwrap().is_prepared());
        assert!(cache.verifier(&key).unwrap().is_prepared());
        assert!(cache.verifier(&key).unwrap().is_prepared());
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (2, 1, 1));
    }

    #[test]
    fn least_recently_used_key_is_evicted() {
        let cache = KeyCache::new(NonZeroUsize::new(2).unwrap());
        let (a, b, c) = (sec1(1), sec1(2), sec1(3));
        cache.verifier(&a).unwrap();
        cache.verifier(&b).unwrap();
        cache.verifier(&a).unwrap(); // a is now the most recent
        cache.verifier(&c).unwrap(); // evicts b
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.misses(), 3);
        cache.verifier(&b).unwrap();
        assert_eq!(cache.misses(), 4);
        assert!(cache.verifier(&a).is_ok());
        assert_eq!(cache.hits(), 1, "a was evicted by b's return");
    }

    #[test]
    fn invalid_keys_are_not_cached() {
        let cache = KeyCache::default();
        assert!(cache.verifier(&[4u8; 65]).is_err());
        assert!(cache.is_empty());
        assert_eq!(cache.capacity(), DEFAULT_CAPACITY);
    }

    #[test]
    fn cache_is_shared_across_threads() {
        let cache = Arc::new(KeyCache::default());
        let key = sec1(9);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..3 {
                        cache.verifier(&key).unwrap();
                    }
                });
            }
        });
        assert_eq!(cache.hits() + cache.misses(), 6);
        assert_eq!(cache.len(), 1);
    }
}
