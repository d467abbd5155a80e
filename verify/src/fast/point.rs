//! P-256 group law in Jacobian coordinates over `p256`'s own field arithmetic.
//!
//! Only point formulas live here: every modular operation is a call into
//! [`p256::FieldElement`], so no reduction code is written by hand. The
//! formulas are the classic short-Weierstrass ones for `a = -3` from the
//! Explicit-Formulas Database (`dbl-2001-b`, `madd-2007-bl`, `add-2007-bl`).
//!
//! Verification only ever handles public data (keys, digests, signatures), so
//! these functions branch on their inputs: they are deliberately variable-time
//! and must never be used with secret scalars.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{AffinePoint, FieldElement};

/// A finite point `(x, y)`: the form table entries are stored in, because
/// adding an affine point to a Jacobian one saves four field multiplications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine {
    pub(crate) x: FieldElement,
    pub(crate) y: FieldElement,
}

impl Affine {
    /// Converts p256's point; `None` for the identity, which has no affine form.
    pub(crate) fn from_p256(point: &AffinePoint) -> Option<Self> {
        let encoded = point.to_encoded_point(false);
        let x = Option::from(FieldElement::from_bytes(encoded.x()?))?;
        let y = Option::from(FieldElement::from_bytes(encoded.y()?))?;
        Some(Self { x, y })
    }

    /// `-P`, used for negative window digits.
    pub(crate) fn neg(&self) -> Self {
        Self { x: self.x, y: -self.y }
    }
}

/// A point `(X : Y : Z)` standing for `(X/Z², Y/Z³)`; `Z = 0` is the identity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jacobian {
    pub(crate) x: FieldElement,
    pub(crate) y: FieldElement,
    pub(crate) z: FieldElement,
}

impl Jacobian {
    /// The point at infinity.
    pub(crate) const IDENTITY: Self =
        Self { x: FieldElement::ONE, y: FieldElement::ONE, z: FieldElement::ZERO };

    /// Lifts an affine point (`Z = 1`).
    pub(crate) fn from_affine(p: &Affine) -> Self {
        Self { x: p.x, y: p.y, z: FieldElement::ONE }
    }

    /// Whether this is the point at infinity.
    pub(crate) fn is_identity(&self) -> bool {
        bool::from(self.z.is_zero())
    }

    /// `2P` with `dbl-2001-b` (3M + 5S), using `a = -3`.
    pub(crate) fn double(&self) -> Self {
        if self.is_identity() {
            return *self;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let t = (self.x - delta) * (self.x + delta);
        let alpha = t.double() + t;
        let beta4 = beta.double().double();
        let x3 = alpha.square() - beta4.double();
        let z3 = (self.y + self.z).square() - gamma - delta;
        let gamma_sq8 = gamma.square().double().double().double();
        let y3 = alpha * (beta4 - x3) - gamma_sq8;
        Self { x: x3, y: y3, z: z3 }
    }

    /// `P + Q` for an affine `Q` with `madd-2007-bl`-style formulas (8M + 3S).
    pub(crate) fn add_affine(&self, q: &Affine) -> Self {
        if self.is_identity() {
            return Self::from_affine(q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x * z1z1;
        let s2 = q.y * self.z * z1z1;
        let h = u2 - self.x;
        let r = s2 - self.y;
        if bool::from(h.is_zero()) {
            return if bool::from(r.is_zero()) { self.double() } else { Self::IDENTITY };
        }
        let hh = h.square();
        let hhh = h * hh;
        let v = self.x * hh;
        let x3 = r.square() - hhh - v.double();
        let y3 = r * (v - x3) - self.y * hhh;
        Self { x: x3, y: y3, z: self.z * h }
    }

    /// `P + Q` for two Jacobian points with `add-2007-bl` (11M + 5S); only
    /// used while building tables, never per window in the hot loops.
    pub(crate) fn add(&self, q: &Self) -> Self {
        if self.is_identity() {
            return *q;
        }
        if q.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x * z2z2;
        let u2 = q.x * z1z1;
        let s1 = self.y * q.z * z2z2;
        let s2 = q.y * self.z * z1z1;
        let h = u2 - u1;
        let r = s2 - s1;
        if bool::from(h.is_zero()) {
            return if bool::from(r.is_zero()) { self.double() } else { Self::IDENTITY };
        }
        let hh = h.square();
        let hhh = h * hh;
        let v = u1 * hh;
        let x3 = r.square() - hhh - v.double();
        let y3 = r * (v - x3) - s1 * hhh;
        Self { x: x3, y: y3, z: self.z * q.z * h }
    }
}

/// Converts many points to affine form with a single field inversion
/// (Montgomery's trick); `None` if any of them is the identity.
pub(crate) fn batch_to_affine(points: &[Jacobian]) -> Option<Vec<Affine>> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = FieldElement::ONE;
    for p in points {
        if p.is_identity() {
            return None;
        }
        prefix.push(acc);
        acc *= p.z;
    }
    let mut inv: FieldElement = Option::from(acc.invert())?;
    let mut out = vec![Affine { x: FieldElement::ZERO, y: FieldElement::ZERO }; points.len()];
    for i in (0..points.len()).rev() {
        let z_inv = inv * prefix[i];
        inv *= points[i].z;
        let z_inv2 = z_inv.square();
        out[i] = Affine { x: points[i].x * z_inv2, y: points[i].y * z_inv2 * z_inv };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::{ProjectivePoint, Scalar};

    fn affine_of(k: u64) -> Affine {
        let p = (ProjectivePoint::GENERATOR * Scalar::from(k)).to_affine();
        Affine::from_p256(&p).expect("finite")
    }

    fn to_affine(p: &Jacobian) -> Affine {
        batch_to_affine(std::slice::from_ref(p)).expect("finite")[0]
    }

    #[test]
    fn group_law_matches_p256() {
        let p = Jacobian::from_affine(&affine_of(5));
        assert_eq!(to_affine(&p.double()), affine_of(10));
        assert_eq!(to_affine(&p.add_affine(&affine_of(7))), affine_of(12));
        assert_eq!(to_affine(&p.add(&p.double())), affine_of(15));
        assert_eq!(to_affine(&p.add_affine(&affine_of(5))), affine_of(10));
        assert!(p.add_affine(&affine_of(5).neg()).is_identity());
        assert!(p.add(&Jacobian::from_affine(&affine_of(5).neg())).is_identity());
        assert_eq!(to_affine(&Jacobian::IDENTITY.add_affine(&affine_of(3))), affine_of(3));
    }

    #[test]
    fn identity_has_no_affine_form() {
        assert!(batch_to_affine(&[Jacobian::IDENTITY]).is_none());
        assert!(Affine::from_p256(&AffinePoint::IDENTITY).is_none());
    }
}
