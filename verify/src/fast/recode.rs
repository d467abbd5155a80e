//! Scalar recodings that drive the point loops: signed fixed windows for the
//! precomputed tables and width-w NAF for keys seen for the first time.
//!
//! Scalars are public here (they are derived from signatures), so the code
//! branches freely on their bits.

use p256::Scalar;

/// Little-endian 64-bit limbs of a scalar, with two zero limbs above so that
/// window reads past bit 255 see zeros instead of running off the end.
fn limbs(k: &Scalar) -> [u64; 6] {
    let be = k.to_bytes();
    let mut out = [0u64; 6];
    for (i, chunk) in be.rchunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        out[i] = u64::from_be_bytes(word);
    }
    out
}

/// Bits `pos .. pos + width` of the scalar (`width` ≤ 32).
fn bits(limbs: &[u64; 6], pos: usize, width: usize) -> u64 {
    let (idx, off) = (pos / 64, pos % 64);
    let mut v = limbs[idx] >> off;
    if off + width > 64 {
        v |= limbs[idx + 1] << (64 - off);
    }
    v & ((1u64 << width) - 1)
}

/// Signed base-2^`width` digits (`width` ≤ 15) `d_i ∈ (-2^(width-1), 2^(width-1)]` with
/// `k = Σ d_i · 2^(width·i)`, written into `digits` (one per window).
///
/// Returns `false` if the recoding needs more windows than `digits` has (a
/// carry out of the top window); callers size `digits` so that this cannot
/// happen for the scalars they pass.
pub(crate) fn signed_windows(k: &Scalar, width: usize, digits: &mut [i16]) -> bool {
    let l = limbs(k);
    let half = 1i64 << (width - 1);
    let mut carry = 0i64;
    for (i, d) in digits.iter_mut().enumerate() {
        let pos = i * width;
        let raw = if pos < 256 { bits(&l, pos, width) as i64 } else { 0 };
        let v = raw + carry;
        if v > half {
            *d = (v - 2 * half) as i16;
            carry = 1;
        } else {
            *d = v as i16;
            carry = 0;
        }
    }
    carry == 0
}

/// Width-`width` non-adjacent form: odd digits `|d| < 2^(width-1)`, any two
/// non-zero digits at least `width` positions apart, `k = Σ d_i · 2^i`.
///
/// 257 positions suffice for any `k < 2^256`: the last carry lands at most on
/// bit 256.
pub(crate) fn wnaf(k: &Scalar, width: usize) -> [i8; 257] {
    let l = limbs(k);
    let full = 1u64 << width;
    let mut naf = [0i8; 257];
    let mut carry = 0u64;
    let mut pos = 0;
    while pos < 257 {
        let window = carry + bits(&l, pos, width);
        if window & 1 == 0 {
            pos += 1;
            continue;
        }
        if window < full / 2 {
            carry = 0;
            naf[pos] = window as i8;
        } else {
            carry = 1;
            naf[pos] = (window as i64 - full as i64) as i8;
        }
        pos += width;
    }
    naf
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Evaluates `Σ d_i · 2^(step·i)` in the scalar field.
    fn eval<D: Copy + Into<i64>>(digits: &[D], step: usize) -> Scalar {
        let base = Scalar::from(1u64 << step);
        digits.iter().rev().fold(Scalar::ZERO, |acc, &d| {
            let d: i64 = d.into();
            let d_abs = Scalar::from(d.unsigned_abs());
            acc * base + if d < 0 { -d_abs } else { d_abs }
        })
    }

    fn scalar_from(bytes: [u8; 32]) -> Scalar {
        use p256::elliptic_curve::ops::Reduce;
        <Scalar as Reduce<p256::U256>>::reduce_bytes(&bytes.into())
    }

    proptest! {
        #[test]
        fn signed_windows_round_trip(bytes in any::<[u8; 32]>(), width in 2usize..=10) {
            let k = scalar_from(bytes);
            let mut digits = vec![0i16; 257usize.div_ceil(width)];
            prop_assert!(signed_windows(&k, width, &mut digits));
            let half = 1i16 << (width - 1);
            prop_assert!(digits.iter().all(|&d| -half < d && d <= half));
            prop_assert_eq!(eval(&digits, width), k);
        }

        #[test]
        fn wnaf_round_trip(bytes in any::<[u8; 32]>(), width in 2usize..=7) {
            let k = scalar_from(bytes);
            let naf = wnaf(&k, width);
            let bound = 1i16 << (width - 1);
            for (i, &d) in naf.iter().enumerate() {
                if d != 0 {
                    prop_assert!(d % 2 != 0 && i16::from(d).abs() < bound);
                    prop_assert!(naf[i + 1..].iter().take(width - 1).all(|&e| e == 0));
                }
            }
            prop_assert_eq!(eval(&naf, 1), k);
        }
    }

    #[test]
    fn top_bit_scalar_needs_the_extra_window() {
        // n - 1 has its top nibble set: 64 signed 4-bit windows overflow, 65 do not.
        let k = -Scalar::ONE;
        assert!(!signed_windows(&k, 4, &mut [0i16; 64]));
        assert!(signed_windows(&k, 4, &mut [0i16; 65]));
        // Its negation, 1, fits in 64: the per-key table flips such scalars.
        assert!(signed_windows(&-k, 4, &mut [0i16; 64]));
    }
}
