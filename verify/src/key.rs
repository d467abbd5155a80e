//! Credential public keys, parsed once and reused for every login.
//!
//! A credential's public key arrives once, at registration, as a 65-byte
//! uncompressed SEC1 point. The store keeps those bytes; the service turns
//! them into a [`CredentialKey`] (point decoded and checked on the curve) and
//! keeps it for every later login of that key. Every credential-signature
//! check in the core goes through [`CredentialKey::verify_digest`]: that one
//! method is where a verifier with per-key precomputed tables plugs in, so
//! parsing once is what makes such a cache pay off.

use std::sync::Arc;

use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use super::error::{Signed, VerifyError};
use super::fast::{FastKey, KeyCache, Verifier};

/// Length of an uncompressed SEC1 P-256 point: `04 || X || Y`.
pub const SEC1_UNCOMPRESSED_LEN: usize = 65;

/// A P-256 credential public key, validated and ready to verify signatures.
///
/// Verification runs on the fast engine of [`super::fast`]: a key made here
/// uses the shared generator table and a small window for the key; a key
/// obtained through a [`KeyCache`] ([`CredentialKey::cached`]) gets its own
/// precomputed table from its second use on.
#[derive(Clone, Debug)]
pub struct CredentialKey {
    verifier: Verifier,
    sec1: [u8; SEC1_UNCOMPRESSED_LEN],
}

impl PartialEq for CredentialKey {
    fn eq(&self, other: &Self) -> bool {
        self.sec1 == other.sec1
    }
}

impl Eq for CredentialKey {}

impl CredentialKey {
    /// Parses the U2F wire form: exactly 65 bytes, `0x04`, then X and Y,
    /// a point on the curve. Compressed and hybrid forms are refused because
    /// U2F only ever sends uncompressed points.
    pub fn from_sec1_uncompressed(bytes: &[u8]) -> Result<Self, VerifyError> {
        let sec1: [u8; SEC1_UNCOMPRESSED_LEN] =
            bytes.try_into().map_err(|_| VerifyError::InvalidPublicKey { reason: "not 65 bytes long" })?;
        if sec1[0] != 0x04 {
            return Err(VerifyError::InvalidPublicKey { reason: "not an uncompressed point (0x04)" });
        }
        let key = FastKey::from_sec1(&sec1)
            .map_err(|_| VerifyError::InvalidPublicKey { reason: "not a point on P-256" })?;
        Ok(CredentialKey { verifier: Verifier::New(Arc::new(key)), sec1 })
    }

    /// Like [`CredentialKey::from_sec1_uncompressed`], through the service's
    /// key cache: the key's precomputed table is built on its second use and
    /// reused by every later login while the key stays in the cache.
    pub fn cached(cache: &KeyCache, bytes: &[u8]) -> Result<Self, VerifyError> {
        let sec1: [u8; SEC1_UNCOMPRESSED_LEN] =
            bytes.try_into().map_err(|_| VerifyError::InvalidPublicKey { reason: "not 65 bytes long" })?;
        if sec1[0] != 0x04 {
            return Err(VerifyError::InvalidPublicKey { reason: "not an uncompressed point (0x04)" });
        }
        let verifier = cache
            .verifier(&sec1)
            .map_err(|_| VerifyError::InvalidPublicKey { reason: "not a point on P-256" })?;
        Ok(CredentialKey { verifier, sec1 })
    }

    /// Builds the key from its affine coordinates, the form a COSE EC2 key
    /// (`-2` x, `-3` y) carries after a WebAuthn registration.
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<Self, VerifyError> {
        let mut sec1 = [0u8; SEC1_UNCOMPRESSED_LEN];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        Self::from_sec1_uncompressed(&sec1)
    }

    /// Parses a DER `SubjectPublicKeyInfo` holding a P-256 key, the form
    /// WebAuthn's `getPublicKey()` returns.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, VerifyError> {
        let key = VerifyingKey::from_public_key_der(der)
            .map_err(|_| VerifyError::InvalidPublicKey { reason: "not a P-256 SubjectPublicKeyInfo" })?;
        let point = key.to_encoded_point(false);
        Self::from_sec1_uncompressed(point.as_bytes())
    }

    /// The 65-byte uncompressed point, the form the credential store keeps.
    pub fn sec1_bytes(&self) -> &[u8; SEC1_UNCOMPRESSED_LEN] {
        &self.sec1
    }

    /// Checks an ECDSA P-256 signature over a message whose SHA-256 digest
    /// the caller already computed. High-S signatures are accepted: FIDO
    /// authenticators produce them and the specifications allow them.
    ///
    /// This is the only place the core verifies a credential signature.
    pub fn verify_digest(&self, sha256_digest: &[u8; 32], sig: &Signature) -> bool {
        self.verifier.verify_prehash(sha256_digest, sig)
    }

    /// Whether this key verifies with its own precomputed table (a cache hit).
    pub fn is_prepared(&self) -> bool {
        self.verifier.is_prepared()
    }
}

/// Parses a DER `ECDSA-Sig-Value` as the U2F and WebAuthn specifications
/// define it: strict DER integers, `r` and `s` in `1..n`, nothing after the
/// sequence. `what` names the object for the error.
pub fn parse_der_signature(der: &[u8], what: Signed) -> Result<Signature, VerifyError> {
    Signature::from_der(der).map_err(|_| VerifyError::MalformedSignature { what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::pkcs8::EncodePublicKey;
    use sha2::{Digest, Sha256};

    fn test_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn sec1_and_spki_parse_to_the_same_key() {
        let sk = test_key();
        let point = sk.verifying_key().to_encoded_point(false);
        let a = CredentialKey::from_sec1_uncompressed(point.as_bytes()).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let b = CredentialKey::from_spki_der(spki.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sec1_bytes().as_slice(), point.as_bytes());
        let (x, y) = (point.x().unwrap(), point.y().unwrap());
        let c = CredentialKey::from_coordinates(&(*x).into(), &(*y).into()).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn refuses_wrong_length_compressed_and_off_curve_points() {
        let sk = test_key();
        let point = sk.verifying_key().to_encoded_point(false);
        let mut bytes = point.as_bytes().to_vec();
        assert!(CredentialKey::from_sec1_uncompressed(&bytes[..64]).is_err());
        let compressed = sk.verifying_key().to_encoded_point(true);
        assert!(CredentialKey::from_sec1_uncompressed(compressed.as_bytes()).is_err());
        bytes[64] ^= 1;
        assert_eq!(
            CredentialKey::from_sec1_uncompressed(&bytes),
            Err(VerifyError::InvalidPublicKey { reason: "not a point on P-256" })
        );
    }

    #[test]
    fn verifies_high_s_signatures() {
        let sk = test_key();
        let key =
            CredentialKey::from_sec1_uncompressed(sk.verifying_key().to_encoded_point(false).as_bytes())
                .unwrap();
        let digest: [u8; 32] = Sha256::digest(b"message").into();
        let sig: Signature = sk.sign_prehash(&digest).unwrap();
        let low = sig.normalize_s().unwrap_or(sig);
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert!(key.verify_digest(&digest, &low));
        assert!(key.verify_digest(&digest, &high));
        let round = parse_der_signature(high.to_der().as_bytes(), Signed::Assertion).unwrap();
        assert!(key.verify_digest(&digest, &round));
        let other: [u8; 32] = Sha256::digest(b"other").into();
        assert!(!key.verify_digest(&other, &low));
    }

    #[test]
    fn cached_keys_get_their_table_on_second_use() {
        let sk = test_key();
        let sec1 = sk.verifying_key().to_encoded_point(false);
        let cache = KeyCache::default();
        let digest: [u8; 32] = Sha256::digest(b"message").into();
        let sig: Signature = sk.sign_prehash(&digest).unwrap();
        let first = CredentialKey::cached(&cache, sec1.as_bytes()).unwrap();
        assert!(!first.is_prepared());
        assert!(first.verify_digest(&digest, &sig));
        let second = CredentialKey::cached(&cache, sec1.as_bytes()).unwrap();
        assert!(second.is_prepared());
        assert!(second.verify_digest(&digest, &sig));
        assert_eq!(first, second);
        assert!(CredentialKey::cached(&cache, &sec1.as_bytes()[..64]).is_err());
        let compressed = sk.verifying_key().to_encoded_point(true);
        assert!(CredentialKey::cached(&cache, compressed.as_bytes()).is_err());
    }
}
