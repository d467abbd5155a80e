//! Verifying many signatures at once, e.g. a burst of logins.
//!
//! Two costs are shared across the batch. Each ECDSA verification needs
//! `s⁻¹ mod n`, the one inversion the Jacobian `r` check leaves: a batch
//! replaces `k` inversions with one and `3(k - 1)` multiplications
//! (Montgomery's trick). And for keys with a table, the ~97 table points of
//! every verification are summed in affine form level by level, with one field
//! inversion per level for the whole batch (see `affine_sum`). Every signature
//! still gets its own verdict: one bad signature does not fail the others.

use p256::Scalar;
use p256::ecdsa::Signature;

use super::affine_sum::{Sum, sum_all};
use super::point::{Affine, Jacobian};
use super::table::{generator_digits, generator_table};
use super::{Verifier, finish, inverse, scalars, x_matches_r};

/// One verification request of a batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchItem<'a> {
    /// The signer's key, in whichever form the cache handed out.
    pub key: &'a Verifier,
    /// SHA-256 of the signed message.
    pub digest: &'a [u8; 32],
    /// The signature to check.
    pub signature: &'a Signature,
}

/// Verifies every item, sharing the inversions; `result[i]` is item `i`'s verdict.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<bool> {
    let inverses = invert_all(items.iter().map(|item| *item.signature.s().as_ref()));
    let scalars: Vec<Option<(Scalar, Scalar)>> = items
        .iter()
        .zip(inverses)
        .map(|(item, s_inv)| scalars(item.digest, item.signature, Some(s_inv)))
        .collect();

    // Known keys: collect each verification's table points for the shared sum.
    let g = generator_table();
    let mut lists: Vec<Vec<Affine>> = Vec::with_capacity(items.len());
    let mut slots: Vec<Option<usize>> = vec![None; items.len()];
    for ((item, sc), slot) in items.iter().zip(&scalars).zip(&mut slots) {
        let (Verifier::Known(key), Some((u1, u2))) = (item.key, sc) else { continue };
        let Some((table, q_digits, negate)) = key.digits(u2) else { continue };
        let g_digits = generator_digits(u1);
        let mut points: Vec<Affine> = table.entries(&q_digits, negate).collect();
        points.extend(g.entries(&g_digits, false));
        *slot = Some(lists.len());
        lists.push(points);
    }
    let sums = sum_all(lists);

    items
        .iter()
        .zip(&scalars)
        .zip(slots)
        .map(|((item, sc), slot)| {
            let Some((u1, u2)) = sc else { return false };
            match slot.and_then(|j| sums.get(j)) {
                Some(Sum::Point(p)) => x_matches_r(&Jacobian::from_affine(p), item.signature),
                Some(Sum::Identity) => false,
                Some(Sum::Exceptional) | None => {
                    item.key.mul_q(u2).is_some_and(|u2q| finish(&u2q, u1, item.signature))
                }
            }
        })
        .collect()
}

/// Inverts non-zero scalars with a single inversion. A signature's `s` is never
/// zero; should the product still not invert, every entry falls back to its
/// own inversion (zero stays zero and then fails the check).
fn invert_all(values: impl Iterator<Item = Scalar>) -> Vec<Scalar> {
    let values: Vec<Scalar> = values.collect();
    let mut prefix = Vec::with_capacity(values.len());
    let mut acc = Scalar::ONE;
    for v in &values {
        prefix.push(acc);
        acc *= v;
    }
    let Some(mut inv) = inverse::invert(&acc) else {
        return values.iter().map(|v| inverse::invert(v).unwrap_or(Scalar::ZERO)).collect();
    };
    let mut out = vec![Scalar::ZERO; values.len()];
    for i in (0..values.len()).rev() {
        out[i] = inv * prefix[i];
        inv *= values[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::FastKey;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::hazmat::PrehashSigner;

    #[test]
    fn inverses_match_one_by_one() {
        let values: Vec<Scalar> = (1..20u64).map(|i| Scalar::from(i * 7919)).collect();
        let batch = invert_all(values.iter().copied());
        for (v, inv) in values.iter().zip(batch) {
            assert_eq!(*v * inv, Scalar::ONE);
        }
        assert!(invert_all(std::iter::empty()).is_empty());
    }

    #[test]
    fn each_item_gets_its_own_verdict() {
        let mut keys = Vec::new();
        let mut sigs = Vec::new();
        let mut digests = Vec::new();
        for i in 1..=6u8 {
            let sk = SigningKey::from_bytes(&[i; 32].into()).unwrap();
            let digest = [i.wrapping_mul(31); 32];
            let sig: Signature = sk.sign_prehash(&digest).unwrap();
            let fast = FastKey::new((*sk.verifying_key()).into());
            keys.push(if i % 2 == 0 { Verifier::from(fast.prepare()) } else { Verifier::from(fast) });
            sigs.push(sig);
            digests.push(digest);
        }
        digests[2][0] ^= 1; // a tampered message
        sigs.swap(4, 5); // signatures under the wrong keys
        let items: Vec<BatchItem<'_>> =
            (0..6).map(|i| BatchItem { key: &keys[i], digest: &digests[i], signature: &sigs[i] }).collect();
        assert_eq!(verify_batch(&items), [true, true, false, true, false, false]);
        assert!(verify_batch(&[]).is_empty());
    }
}
