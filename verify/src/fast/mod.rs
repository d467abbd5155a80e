//! Fast ECDSA P-256 verification for keys the service sees again and again.
//!
//! A login service verifies the same few thousand credential keys over and
//! over, which a general-purpose library cannot exploit. This engine computes
//! `u1·G + u2·Q` with precomputed tables instead of a double-and-add ladder:
//!
//! - `u1·G` always uses one process-wide signed-window table of `G`
//!   (33 mixed additions, no doubling);
//! - a key seen for the first time ([`FastKey`]) computes `u2·Q` with a
//!   width-5 NAF (256 doublings, about 43 additions), so the first login never
//!   waits for a table build;
//! - a known key ([`PreparedKey`]) has its own 32 KiB signed 4-bit window
//!   table, so `u2·Q` is at most 64 mixed additions;
//! - [`KeyCache`] decides which of the two a key gets: a table is built from
//!   the key's second use on, and an LRU bound caps the memory;
//! - [`verify_batch`] shares one scalar inversion across many signatures
//!   (Montgomery's trick) and sums the table points of all of them in affine
//!   form with one field inversion per pairing level.
//!
//! The result is checked against `r` without converting it to affine form:
//! `x(R) ≡ r (mod n)` holds iff `X = r·Z²` or, when `r + n < p`, `X = (r + n)·Z²`.
//!
//! Parsing, point validation and all field and scalar arithmetic come from
//! the `p256` crate (the inversion modulo n from `crypto-bigint`, through
//! p256's re-export); only the point formulas and the table logic live here.
//! Verification handles public data only (keys, digests, signatures), so the
//! code is variable-time on purpose. It must not be reused for signing.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod affine_sum;
mod batch;
mod cache;
mod inverse;
mod point;
mod recode;
mod table;

use std::sync::Arc;

use p256::ecdsa::Signature;
use p256::elliptic_curve::Curve;
use p256::elliptic_curve::ops::Reduce;
use p256::{FieldElement, NistP256, PublicKey, Scalar, U256};

pub use batch::{BatchItem, verify_batch};
pub use cache::{DEFAULT_CAPACITY, KeyCache};

use point::{Affine, Jacobian};
use recode::{signed_windows, wnaf};
use table::{KEY_WIDTH, KEY_WINDOWS, WindowTable, add_generator_multiple};

/// Why a public key was refused; the verify methods themselves only answer
/// yes or no, as a signature check should.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FastError {
    /// The bytes are not a SEC1-encoded point on P-256 (or are the identity).
    #[error("public key is not a valid SEC1 P-256 point ({len} bytes given)")]
    InvalidPublicKey {
        /// Length of the rejected encoding.
        len: usize,
    },
}

/// NAF width for a key's first verification: odd multiples up to 15·Q.
const NAF_WIDTH: usize = 5;

/// A public key ready for its first verification: validated, no table yet.
///
/// Cheap to build (one point decode), so a key seen once costs nothing more
/// than the verification itself.
#[derive(Clone, Debug)]
pub struct FastKey {
    public: PublicKey,
    /// Always `Some` for a `PublicKey` (never the identity); kept optional so
    /// that an impossible conversion failure rejects instead of panicking.
    point: Option<Affine>,
}

impl FastKey {
    /// Wraps an already validated `p256` key.
    pub fn new(public: PublicKey) -> Self {
        Self { public, point: Affine::from_p256(public.as_affine()) }
    }

    /// Parses and validates a SEC1 encoding (compressed or uncompressed).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, FastError> {
        PublicKey::from_sec1_bytes(bytes)
            .map(Self::new)
            .map_err(|_| FastError::InvalidPublicKey { len: bytes.len() })
    }

    /// The key, for callers that need its encoding or p256's own API.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Verifies a signature over a SHA-256 digest with the new-key path.
    pub fn verify_prehash(&self, digest: &[u8; 32], signature: &Signature) -> bool {
        let Some((u1, u2)) = scalars(digest, signature, None) else {
            return false;
        };
        self.mul_q(&u2).is_some_and(|u2q| finish(&u2q, &u1, signature))
    }

    /// Builds the per-key table (about four verifications' worth of work).
    pub fn prepare(&self) -> PreparedKey {
        PreparedKey::new(self.clone())
    }

    /// `u2 · Q` by width-5 NAF over the odd multiples `Q, 3Q, …, 15Q`.
    fn mul_q(&self, u2: &Scalar) -> Option<Jacobian> {
        let q = Jacobian::from_affine(self.point.as_ref()?);
        let q2 = q.double();
        let mut odd = [q; 1 << (NAF_WIDTH - 2)];
        for i in 1..odd.len() {
            odd[i] = odd[i - 1].add(&q2);
        }
        let naf = wnaf(u2, NAF_WIDTH);
        let Some(top) = naf.iter().rposition(|&d| d != 0) else {
            return Some(Jacobian::IDENTITY);
        };
        let mut acc = Jacobian::IDENTITY;
        for &d in naf[..=top].iter().rev() {
            acc = acc.double();
            if d != 0 {
                let p = odd[usize::from(d.unsigned_abs() / 2)];
                let p = if d < 0 { Jacobian { y: -p.y, ..p } } else { p };
                acc = acc.add(&p);
            }
        }
        Some(acc)
    }
}

/// A known key with its precomputed signed 4-bit window table (32 KiB):
/// `u2 · Q` costs at most 64 mixed additions and no doubling.
#[derive(Clone, Debug)]
pub struct PreparedKey {
    key: FastKey,
    table: Option<WindowTable>,
}

impl PreparedKey {
    /// Builds the table for `key`.
    pub fn new(key: FastKey) -> Self {
        let table = key.point.as_ref().and_then(|p| WindowTable::build(p, KEY_WIDTH, KEY_WINDOWS));
        Self { key, table }
    }

    /// The key this table was built for.
    pub fn key(&self) -> &FastKey {
        &self.key
    }

    /// Bytes of precomputation this key holds.
    pub fn table_bytes(&self) -> usize {
        self.table.as_ref().map_or(0, WindowTable::size_bytes)
    }

    /// Verifies a signature over a SHA-256 digest with the known-key path.
    pub fn verify_prehash(&self, digest: &[u8; 32], signature: &Signature) -> bool {
        let Some((u1, u2)) = scalars(digest, signature, None) else {
            return false;
        };
        self.mul_q(&u2).is_some_and(|u2q| finish(&u2q, &u1, signature))
    }

    /// `u2 · Q` from the table. 64 windows hold scalars below 2^255 only,
    /// so a larger `u2` is replaced by `n - u2` with the digits negated.
    fn mul_q(&self, u2: &Scalar) -> Option<Jacobian> {
        match self.digits(u2) {
            Some((table, digits, negate)) => Some(table.add_digits(&digits, negate, Jacobian::IDENTITY)),
            None => self.key.mul_q(u2),
        }
    }

    /// The table and `u2`'s recoding for it (digits, whether to negate them);
    /// `None` if there is no table.
    fn digits(&self, u2: &Scalar) -> Option<(&WindowTable, [i16; KEY_WINDOWS], bool)> {
        let table = self.table.as_ref()?;
        let negate = u2.to_bytes()[0] & 0x80 != 0;
        let k = if negate { -*u2 } else { *u2 };
        let mut digits = [0i16; KEY_WINDOWS];
        signed_windows(&k, KEY_WIDTH, &mut digits).then_some((table, digits, negate))
    }
}

/// Either path behind one type: what [`KeyCache`] hands out and what
/// [`verify_batch`] takes. Cloning is a reference-count increment.
#[derive(Clone, Debug)]
pub enum Verifier {
    /// First sight of the key: NAF for `Q`, no table.
    New(Arc<FastKey>),
    /// A key with its table built.
    Known(Arc<PreparedKey>),
}

impl Verifier {
    /// Verifies a signature over a SHA-256 digest with whichever path the key has.
    pub fn verify_prehash(&self, digest: &[u8; 32], signature: &Signature) -> bool {
        match self {
            Self::New(k) => k.verify_prehash(digest, signature),
            Self::Known(k) => k.verify_prehash(digest, signature),
        }
    }

    /// Whether this verifier uses a precomputed table.
    pub fn is_prepared(&self) -> bool {
        matches!(self, Self::Known(_))
    }

    /// `u2 · Q`, `None` only for a key that failed to convert (never happens).
    fn mul_q(&self, u2: &Scalar) -> Option<Jacobian> {
        match self {
            Self::New(k) => k.mul_q(u2),
            Self::Known(k) => k.mul_q(u2),
        }
    }
}

impl From<FastKey> for Verifier {
    fn from(key: FastKey) -> Self {
        Self::New(Arc::new(key))
    }
}

impl From<PreparedKey> for Verifier {
    fn from(key: PreparedKey) -> Self {
        Self::Known(Arc::new(key))
    }
}

/// `(u1, u2) = (e·s⁻¹, r·s⁻¹)`; `s_inv` when the caller already inverted `s`
/// (batch verification). `None` only if `s` could not be inverted, which a
/// well-formed [`Signature`] (r, s ∈ [1, n)) rules out.
fn scalars(digest: &[u8; 32], signature: &Signature, s_inv: Option<Scalar>) -> Option<(Scalar, Scalar)> {
    let (r, s) = signature.split_scalars();
    let w = match s_inv {
        Some(w) => w,
        None => inverse::invert(s.as_ref())?,
    };
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&(*digest).into());
    Some((e * w, *r.as_ref() * w))
}

/// The field modulus p, to tell when `r + n` is still a field element.
const FIELD_MODULUS: U256 =
    U256::from_be_hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");

/// Adds `u1·G` to `u2·Q` and checks `x(R) mod n = r` without an inversion.
fn finish(u2q: &Jacobian, u1: &Scalar, signature: &Signature) -> bool {
    let sum = add_generator_multiple(u1, *u2q);
    x_matches_r(&sum, signature)
}

/// `x(R) ≡ r (mod n)` in Jacobian form: `X = r·Z²`, or `X = (r + n)·Z²` when
/// `r + n < p` (an affine x in `[n, p)` reduces to `x - n`).
fn x_matches_r(point: &Jacobian, signature: &Signature) -> bool {
    if point.is_identity() {
        return false;
    }
    let r_bytes = signature.r().to_bytes();
    let z2 = point.z.square();
    let r_uint = U256::from_be_slice(&r_bytes);
    // r < n < p, so r is always a field element.
    if let Some(r_fe) = Option::<FieldElement>::from(FieldElement::from_uint(r_uint))
        && r_fe * z2 == point.x
    {
        return true;
    }
    let (r_plus_n, carry) = r_uint.adc(&NistP256::ORDER, p256::elliptic_curve::bigint::Limb::ZERO);
    if carry.0 != 0 || r_plus_n >= FIELD_MODULUS {
        return false;
    }
    Option::<FieldElement>::from(FieldElement::from_uint(r_plus_n)).is_some_and(|v| v * z2 == point.x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p256::ecdsa::{SigningKey, VerifyingKey};
    use proptest::prelude::*;

    fn sign(seed: [u8; 32], digest: &[u8; 32]) -> Option<(PublicKey, Signature)> {
        let sk = SigningKey::from_bytes(&seed.into()).ok()?;
        let sig: Signature = sk.sign_prehash(digest).ok()?;
        Some((PublicKey::from(sk.verifying_key()), sig))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn both_paths_agree_with_p256(seed in any::<[u8; 32]>(), digest in any::<[u8; 32]>(), flip in 0usize..512) {
            let Some((pk, sig)) = sign(seed, &digest) else { return Ok(()) };
            let fast = FastKey::new(pk);
            let prepared = fast.prepare();
            prop_assert!(fast.verify_prehash(&digest, &sig));
            prop_assert!(prepared.verify_prehash(&digest, &sig));

            let mut bad = digest;
            bad[flip / 16 % 32] ^= 1 << (flip % 8);
            let expected = VerifyingKey::from(&pk).verify_prehash(&bad, &sig).is_ok();
            prop_assert_eq!(fast.verify_prehash(&bad, &sig), expected);
            prop_assert_eq!(prepared.verify_prehash(&bad, &sig), expected);
        }
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert_eq!(FastKey::from_sec1(&[4u8; 65]).unwrap_err(), FastError::InvalidPublicKey { len: 65 });
        assert!(FastKey::from_sec1(&[0u8]).is_err());
        assert!(FastKey::from_sec1(&[]).is_err());
    }

    #[test]
    fn table_fits_the_memory_budget() {
        let (pk, _) = sign([7; 32], &[1; 32]).unwrap();
        assert!(PreparedKey::new(FastKey::new(pk)).table_bytes() <= 40 * 1024);
    }
}
