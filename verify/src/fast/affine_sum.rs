//! Summing many lists of affine points at once, for batch verification.
//!
//! A known key's verification is a sum of about 97 table points. Added one by
//! one in Jacobian form each addition costs 8M + 3S; added pairwise in affine
//! form it costs 3M + 1S plus one field inversion, and the inversions of all
//! pairs of all lists at one level of the pairing tree share one inversion
//! (Montgomery's trick, 3M each). Over a batch that is about half the field
//! work, and the result comes out affine, so the r check needs no `Z`.
//!
//! A pair with equal x-coordinates (doubling or cancelling) needs the
//! general formulas; such a list is given up and its caller falls back to the
//! Jacobian path. Honest signatures hit this with negligible probability.

use p256::FieldElement;

use super::point::Affine;

/// The outcome for one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sum {
    /// The points added up to this.
    Point(Affine),
    /// The list was empty: the sum is the identity.
    Identity,
    /// Two x-coordinates met; recompute this list another way.
    Exceptional,
}

/// Sums every list, sharing one field inversion per pairing level.
pub(crate) fn sum_all(mut lists: Vec<Vec<Affine>>) -> Vec<Sum> {
    let mut exceptional = vec![false; lists.len()];
    let mut denominators = Vec::new();
    loop {
        // Pass 1: every pair's x_b - x_a; a zero gives its list up.
        denominators.clear();
        for (list, bad) in lists.iter_mut().zip(&mut exceptional) {
            if *bad || list.len() < 2 {
                continue;
            }
            let start = denominators.len();
            for pair in list.chunks_exact(2) {
                let d = pair[1].x - pair[0].x;
                if bool::from(d.is_zero()) {
                    *bad = true;
                    denominators.truncate(start);
                    break;
                }
                denominators.push(d);
            }
        }
        if denominators.is_empty() {
            break;
        }
        let Some(inverses) = invert_all(&denominators) else {
            // Unreachable (no zero denominators); give every list up rather than guess.
            return lists.iter().map(|_| Sum::Exceptional).collect();
        };
        // Pass 2: add each pair with its inverse, in the same order.
        let mut inv = inverses.iter();
        for (list, bad) in lists.iter_mut().zip(&exceptional) {
            if *bad || list.len() < 2 {
                continue;
            }
            let mut next = Vec::with_capacity(list.len().div_ceil(2));
            for pair in list.chunks(2) {
                // Take an inverse only for a full pair, as pass 1 made one only for those.
                match (pair, if pair.len() == 2 { inv.next() } else { None }) {
                    ([a, b], Some(d_inv)) => {
                        let lambda = (b.y - a.y) * d_inv;
                        let x = lambda.square() - a.x - b.x;
                        let y = lambda * (a.x - x) - a.y;
                        next.push(Affine { x, y });
                    }
                    _ => next.extend_from_slice(pair),
                }
            }
            *list = next;
        }
    }
    lists
        .iter()
        .zip(exceptional)
        .map(|(list, bad)| match (bad, list.first()) {
            (true, _) => Sum::Exceptional,
            (false, Some(p)) => Sum::Point(*p),
            (false, None) => Sum::Identity,
        })
        .collect()
}

/// Inverts non-zero field elements with one inversion; `None` if one is zero.
fn invert_all(values: &[FieldElement]) -> Option<Vec<FieldElement>> {
    let mut prefix = Vec::with_capacity(values.len());
    let mut acc = FieldElement::ONE;
    for v in values {
        prefix.push(acc);
        acc *= v;
    }
    let mut inv: FieldElement = Option::from(acc.invert())?;
    let mut out = vec![FieldElement::ZERO; values.len()];
    for i in (0..values.len()).rev() {
        out[i] = inv * prefix[i];
        inv *= values[i];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::{ProjectivePoint, Scalar};

    fn multiple(k: u64) -> Affine {
        Affine::from_p256(&(ProjectivePoint::GENERATOR * Scalar::from(k)).to_affine()).unwrap()
    }

    #[test]
    fn sums_match_p256() {
        let lists = vec![
            (1..=9).map(multiple).collect(),      // 45·G, odd length
            vec![multiple(7)],                    // a single point
            vec![],                               // identity
            vec![multiple(3), multiple(3)],       // doubling: exceptional
            vec![multiple(5), multiple(5).neg()], // cancels: exceptional
            (10..=41).map(multiple).collect(),    // 32 points
        ];
        let sums = sum_all(lists);
        assert_eq!(sums[0], Sum::Point(multiple(45)));
        assert_eq!(sums[1], Sum::Point(multiple(7)));
        assert_eq!(sums[2], Sum::Identity);
        assert_eq!(sums[3], Sum::Exceptional);
        assert_eq!(sums[4], Sum::Exceptional);
        assert_eq!(sums[5], Sum::Point(multiple((10..=41).sum())));
    }
}
