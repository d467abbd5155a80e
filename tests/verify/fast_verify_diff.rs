//! Differential test of the fast P-256 verification engine against `p256`'s
//! `VerifyingKey::verify_prehash` and OpenSSL, on random (key, digest,
//! signature) triples, valid and mutated: flipped bits in r, s, the digest and
//! the key; r or s zero or ≥ n; high s; and signatures whose point R has an
//! x-coordinate in [n, p), where r = x - n and the check needs r + n.
//!
//! Every verdict of every fast path (new key, prepared key, key cache, batch)
//! must equal both references. 10 000 cases by default;
//! `KEYGATE_DIFF_CASES=100000 cargo test --test verify fast_verify_diff` runs more.

use keygate_verify::fast::{BatchItem, FastKey, KeyCache, PreparedKey, Verifier, verify_batch};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::bigint::ArrayEncoding;
use p256::elliptic_curve::ops::{Invert, Reduce};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::{Curve, PrimeField};
use p256::{AffinePoint, EncodedPoint, NistP256, ProjectivePoint, PublicKey, Scalar, U256};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::num::NonZeroUsize;

/// The order n of P-256, big-endian.
fn order_bytes() -> [u8; 32] {
    NistP256::ORDER.to_be_byte_array().into()
}

/// A key under test with each implementation's form of it.
struct Key {
    sec1: Vec<u8>,
    fast: FastKey,
    prepared: PreparedKey,
}

impl Key {
    fn new(public: PublicKey) -> Self {
        let fast = FastKey::new(public);
        let prepared = fast.prepare();
        Self { sec1: public.to_encoded_point(false).as_bytes().to_vec(), fast, prepared }
    }
}

/// One test case: a possibly invalid key encoding and raw (r, s) bytes.
struct Case {
    sec1: Vec<u8>,
    digest: [u8; 32],
    r: [u8; 32],
    s: [u8; 32],
    what: &'static str,
}

fn openssl_verdict(ctx: &mut BigNumContext, group: &EcGroup, case: &Case) -> bool {
    // OpenSSL also takes the "hybrid" encodings 06/07 that SEC1 deprecates and
    // p256 refuses; credential keys are compressed or uncompressed only.
    if !matches!(case.sec1.first(), Some(2..=4)) {
        return false;
    }
    let Ok(point) = EcPoint::from_bytes(group, &case.sec1, ctx) else { return false };
    let Ok(key) = EcKey::from_public_key(group, &point) else { return false };
    if key.check_key().is_err() {
        return false;
    }
    let (Ok(r), Ok(s)) = (BigNum::from_slice(&case.r), BigNum::from_slice(&case.s)) else { return false };
    let Ok(sig) = EcdsaSig::from_private_components(r, s) else { return false };
    sig.verify(&case.digest, &key).unwrap_or(false)
}

fn p256_verdict(case: &Case) -> bool {
    let (Ok(key), Ok(sig)) =
        (VerifyingKey::from_sec1_bytes(&case.sec1), Signature::from_scalars(case.r, case.s))
    else {
        return false;
    };
    key.verify_prehash(&case.digest, &sig).is_ok()
}

/// A uniformly random scalar, drawn as p256 0.13's `Scalar::random` does (it
/// wants a `rand_core` 0.6 generator): 32 bytes until they are below n.
fn random_scalar(rng: &mut StdRng) -> Scalar {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Some(s) = Option::<Scalar>::from(Scalar::from_repr(bytes.into())) {
            return s;
        }
    }
}

/// A private key, drawn as p256 0.13's `SigningKey::random` does.
fn signing_key(rng: &mut StdRng) -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
            return key;
        }
    }
}

/// A signature whose R has x = n + t ≥ n, so r = t and only the r + n branch
/// of the check accepts it: pick R, s and e, then solve for the key
/// Q = (R - u1·G) / u2.
fn high_x_signature(rng: &mut StdRng) -> (PublicKey, [u8; 32], Signature) {
    loop {
        let t = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
        let mut t_bytes = [0u8; 32];
        t_bytes[16..].copy_from_slice(&t.to_be_bytes());
        let x = NistP256::ORDER.wrapping_add(&U256::from_be_slice(&t_bytes));
        let mut compressed = vec![2 + (rng.random::<u8>() & 1)];
        compressed.extend_from_slice(&x.to_be_byte_array());
        let Ok(encoded) = EncodedPoint::from_bytes(&compressed) else { continue };
        let Some(r_point) = Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded)) else {
            continue;
        };
        let digest: [u8; 32] = rng.random();
        let s = random_scalar(rng);
        let r = <Scalar as Reduce<U256>>::reduce_bytes(&t_bytes.into());
        let e = <Scalar as Reduce<U256>>::reduce_bytes(&digest.into());
        let Some(s_inv) = Option::<Scalar>::from(s.invert_vartime()) else { continue };
        let (u1, u2) = (e * s_inv, r * s_inv);
        let Some(u2_inv) = Option::<Scalar>::from(u2.invert_vartime()) else { continue };
        let q = (ProjectivePoint::from(r_point) - ProjectivePoint::GENERATOR * u1) * u2_inv;
        let (Ok(public), Ok(sig)) = (PublicKey::from_affine(q.into()), Signature::from_scalars(r, s)) else {
            continue;
        };
        return (public, digest, sig);
    }
}

fn flip(bytes: &mut [u8], rng: &mut StdRng) {
    let bit = rng.random_range(0..bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

fn cases() -> usize {
    std::env::var("KEYGATE_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

#[test]
fn fast_verdicts_equal_p256_and_openssl() {
    let mut rng = StdRng::seed_from_u64(0x6469_6666);
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let n = order_bytes();

    let signers: Vec<SigningKey> = (0..24).map(|_| signing_key(&mut rng)).collect();
    let keys: Vec<Key> = signers.iter().map(|k| Key::new((*k.verifying_key()).into())).collect();
    // Small enough that keys are evicted and come back through the new-key path.
    let cache = KeyCache::new(NonZeroUsize::new(16).unwrap());

    let total = cases();
    let mut batch: Vec<(Verifier, [u8; 32], Signature, bool)> = Vec::new();
    let (mut accepted, mut rejected, mut high_x) = (0usize, 0usize, 0usize);
    for i in 0..total {
        let k = rng.random_range(0..keys.len());
        let digest: [u8; 32] = rng.random();
        let sig: Signature = signers[k].sign_prehash(&digest).unwrap();
        let (r, s) = (sig.r().to_bytes().into(), sig.s().to_bytes().into());
        let mut case = Case { sec1: keys[k].sec1.clone(), digest, r, s, what: "valid" };
        let mut extra_key = None;
        match i % 12 {
            0 | 1 => {}
            2 => {
                flip(&mut case.r, &mut rng);
                case.what = "r bit flipped";
            }
            3 => {
                flip(&mut case.s, &mut rng);
                case.what = "s bit flipped";
            }
            4 => {
                flip(&mut case.digest, &mut rng);
                case.what = "digest bit flipped";
            }
            5 => {
                flip(&mut case.sec1, &mut rng);
                case.what = "key bit flipped";
            }
            6 => {
                case.sec1 = keys[(k + 1) % keys.len()].sec1.clone();
                case.what = "other key";
            }
            7 => {
                let bad = match rng.random_range(0..4) {
                    0 => [0u8; 32],
                    1 => n,
                    2 => [0xff; 32],
                    _ => {
                        // n + small, still below 2^256
                        let mut v = n;
                        v[31] = v[31].wrapping_add(rng.random_range(1..=0xae));
                        v
                    }
                };
                if rng.random() {
                    case.r = bad
                } else {
                    case.s = bad
                }
                case.what = "r or s zero or >= n";
            }
            8 => {
                // -s is as valid as s: ECDSA verification accepts high s.
                case.s = (-*sig.s()).to_bytes().into();
                case.what = "high s";
            }
            9 | 10 => {
                let (public, d, high) = high_x_signature(&mut rng);
                let key = Key::new(public);
                case = Case {
                    sec1: key.sec1.clone(),
                    digest: d,
                    r: high.r().to_bytes().into(),
                    s: high.s().to_bytes().into(),
                    what: "x(R) >= n",
                };
                if i % 12 == 10 {
                    flip(&mut case.s, &mut rng);
                    case.what = "x(R) >= n, s bit flipped";
                }
                extra_key = Some(key);
            }
            _ => {
                // Swap r and s: well-formed, almost surely wrong.
                std::mem::swap(&mut case.r, &mut case.s);
                case.what = "r and s swapped";
            }
        }

        let expected = p256_verdict(&case);
        let openssl = openssl_verdict(&mut ctx, &group, &case);
        assert_eq!(expected, openssl, "case {i} ({}): p256 and OpenSSL disagree", case.what);
        if case.what.starts_with("x(R)") && expected {
            high_x += 1;
        }

        let parsed = Signature::from_scalars(case.r, case.s).ok();
        let key = extra_key.as_ref().or_else(|| keys.iter().find(|key| key.sec1 == case.sec1));
        let (fast, prepared) = match (&parsed, key) {
            (Some(sig), Some(key)) => {
                (key.fast.verify_prehash(&case.digest, sig), key.prepared.verify_prehash(&case.digest, sig))
            }
            (Some(sig), None) => {
                // A flipped key bit that still decodes is a different, valid key.
                let v = FastKey::from_sec1(&case.sec1).ok();
                let fast = v.as_ref().is_some_and(|k| k.verify_prehash(&case.digest, sig));
                let prepared = v.map(|k| k.prepare()).is_some_and(|k| k.verify_prehash(&case.digest, sig));
                (fast, prepared)
            }
            (None, _) => (false, false),
        };
        assert_eq!(fast, expected, "case {i} ({}): new-key path", case.what);
        assert_eq!(prepared, expected, "case {i} ({}): prepared-key path", case.what);

        let verifier = cache.verifier(&case.sec1);
        let cached = match (&verifier, &parsed) {
            (Ok(v), Some(sig)) => v.verify_prehash(&case.digest, sig),
            _ => false,
        };
        assert_eq!(cached, expected, "case {i} ({}): cached path", case.what);
        if let (Ok(v), Some(sig)) = (verifier, parsed) {
            batch.push((v, case.digest, sig, expected));
        }
        if expected {
            accepted += 1
        } else {
            rejected += 1
        }

        if batch.len() == 64 || i + 1 == total {
            let items: Vec<BatchItem<'_>> = batch
                .iter()
                .map(|(key, digest, signature, _)| BatchItem { key, digest, signature })
                .collect();
            let verdicts = verify_batch(&items);
            let want: Vec<bool> = batch.iter().map(|b| b.3).collect();
            assert_eq!(verdicts, want, "batch ending at case {i}");
            batch.clear();
        }
    }
    // The mix must exercise both verdicts and the r + n branch.
    assert!(accepted > total / 4 && rejected > total / 4, "accepted {accepted}, rejected {rejected}");
    assert!(high_x >= total / 24, "only {high_x} accepted x(R) >= n cases");
    assert!(cache.hits() > 0 && cache.misses() > 0);
}
