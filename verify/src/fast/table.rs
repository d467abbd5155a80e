//! Fixed-window tables of precomputed multiples: the shared one for the
//! generator `G` and the per-key one for a public key `Q`.
//!
//! A table with window width `w` and `N` windows stores, for each window `i`,
//! the affine points `j · 2^(w·i) · P` for `j = 1 ..= 2^(w-1)`. Multiplying by
//! a scalar recoded into signed digits is then one mixed addition per
//! non-zero digit and no doubling at all, which is where a known key's
//! verification wins over a generic one.

use std::sync::OnceLock;

use p256::{AffinePoint, Scalar};

use super::point::{Affine, Jacobian, batch_to_affine};
use super::recode::signed_windows;

/// Window width of the shared generator table: 33 windows × 128 points
/// (264 KiB, built once per process), so `u1·G` costs at most 33 additions.
pub(crate) const G_WIDTH: usize = 8;
const G_WINDOWS: usize = 257usize.div_ceil(G_WIDTH);

/// Window width of a per-key table: 64 windows × 8 points × 64 bytes = 32 KiB.
/// 64 windows cover only scalars below 2^255; larger ones are negated first.
pub(crate) const KEY_WIDTH: usize = 4;
pub(crate) const KEY_WINDOWS: usize = 64;

/// Precomputed multiples `j · 2^(width·i) · P` in affine form.
#[derive(Clone, Debug)]
pub(crate) struct WindowTable {
    width: usize,
    windows: usize,
    points: Vec<Affine>,
}

impl WindowTable {
    /// Builds the table for `base`: per window one doubling and `2^(w-1) - 1`
    /// additions in Jacobian form, then one shared inversion for all points.
    /// `None` for the identity.
    pub(crate) fn build(base: &Affine, width: usize, windows: usize) -> Option<Self> {
        let per_window = 1usize << (width - 1);
        let mut jac = Vec::with_capacity(windows * per_window);
        let mut window_base = Jacobian::from_affine(base);
        for _ in 0..windows {
            let mut multiple = window_base;
            jac.push(multiple);
            for _ in 1..per_window {
                multiple = multiple.add(&window_base);
                jac.push(multiple);
            }
            // 2^(w-1) · B doubled is the next window's base 2^w · B.
            window_base = multiple.double();
        }
        let points = batch_to_affine(&jac)?;
        Some(Self { width, windows, points })
    }

    /// Bytes of precomputation held, for the memory budget.
    pub(crate) fn size_bytes(&self) -> usize {
        self.points.len() * std::mem::size_of::<Affine>()
    }

    /// `d · 2^(width·window) · P` for a digit `d ≠ 0` within the table's range.
    fn entry(&self, window: usize, digit: i16) -> Affine {
        let per_window = 1usize << (self.width - 1);
        let p = self.points[window * per_window + usize::from(digit.unsigned_abs()) - 1];
        if digit < 0 { p.neg() } else { p }
    }

    /// The points `d_i · 2^(width·i) · P` for the non-zero digits (negated
    /// when `negate` is set), in window order.
    pub(crate) fn entries<'a>(
        &'a self,
        digits: &'a [i16],
        negate: bool,
    ) -> impl Iterator<Item = Affine> + 'a {
        digits.iter().enumerate().take(self.windows).filter(|(_, d)| **d != 0).map(move |(i, &d)| {
            let d = if negate { -d } else { d };
            self.entry(i, d)
        })
    }

    /// `acc + Σ d_i · 2^(width·i) · P`, negated digits when `negate` is set.
    pub(crate) fn add_digits(&self, digits: &[i16], negate: bool, acc: Jacobian) -> Jacobian {
        self.entries(digits, negate).fold(acc, |acc, p| acc.add_affine(&p))
    }
}

/// The process-wide generator table, built on first use.
pub(crate) fn generator_table() -> &'static WindowTable {
    static TABLE: OnceLock<WindowTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        #[allow(clippy::expect_used)] // G is a fixed, finite point: a failure here is a bug, not input.
        let g = Affine::from_p256(&AffinePoint::GENERATOR).expect("the generator is finite");
        #[allow(clippy::expect_used)]
        WindowTable::build(&g, G_WIDTH, G_WINDOWS).expect("multiples of G below n are finite")
    })
}

/// `u1` recoded for the shared generator table.
pub(crate) fn generator_digits(u1: &Scalar) -> [i16; G_WINDOWS] {
    let mut digits = [0i16; G_WINDOWS];
    // G_WINDOWS · G_WIDTH ≥ 257 bits: the recoding of any scalar fits.
    let fits = signed_windows(u1, G_WIDTH, &mut digits);
    debug_assert!(fits);
    digits
}

/// `acc + u1 · G` through the shared table.
pub(crate) fn add_generator_multiple(u1: &Scalar, acc: Jacobian) -> Jacobian {
    generator_table().add_digits(&generator_digits(u1), false, acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::ops::Reduce;
    use p256::{ProjectivePoint, U256};
    use proptest::prelude::*;

    fn scalar(bytes: [u8; 32]) -> Scalar {
        <Scalar as Reduce<U256>>::reduce_bytes(&bytes.into())
    }

    fn affine(p: ProjectivePoint) -> Option<Affine> {
        Affine::from_p256(&p.to_affine())
    }

    fn finish(acc: Jacobian) -> Option<Affine> {
        batch_to_affine(&[acc]).map(|v| v[0])
    }

    #[test]
    fn key_table_stays_within_budget() {
        let g = affine(ProjectivePoint::GENERATOR).unwrap();
        let t = WindowTable::build(&g, KEY_WIDTH, KEY_WINDOWS).unwrap();
        assert_eq!(t.size_bytes(), 32 * 1024);
        assert!(t.size_bytes() <= 40 * 1024);
    }

    #[test]
    fn generator_table_handles_edge_scalars() {
        for k in [Scalar::ZERO, Scalar::ONE, -Scalar::ONE, Scalar::from(u64::MAX), -Scalar::from(2u64)] {
            let expected = affine(ProjectivePoint::GENERATOR * k);
            assert_eq!(finish(add_generator_multiple(&k, Jacobian::IDENTITY)), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn generator_table_matches_p256(k in any::<[u8; 32]>()) {
            let k = scalar(k);
            let expected = affine(ProjectivePoint::GENERATOR * k);
            prop_assert_eq!(finish(add_generator_multiple(&k, Jacobian::IDENTITY)), expected);
        }

        #[test]
        fn key_table_matches_p256(p in any::<[u8; 32]>(), k in any::<[u8; 32]>(), width in 2usize..=5) {
            let (p, k) = (scalar(p), scalar(k));
            prop_assume!(p != Scalar::ZERO);
            let point = ProjectivePoint::GENERATOR * p;
            let table = WindowTable::build(&affine(point).unwrap(), width, 257usize.div_ceil(width)).unwrap();
            let mut digits = vec![0i16; 257usize.div_ceil(width)];
            prop_assert!(signed_windows(&k, width, &mut digits));
            prop_assert_eq!(finish(table.add_digits(&digits, false, Jacobian::IDENTITY)), affine(point * k));
            prop_assert_eq!(finish(table.add_digits(&digits, true, Jacobian::IDENTITY)), affine(-(point * k)));
        }
    }
}
