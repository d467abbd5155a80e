//! U2F authentication verify cost: keygate's core (parse + SHA-256 + ECDSA),
//! with the credential key parsed on every login and parsed once, next to
//! OpenSSL's P-256 verify of the same messages in the same run.
//!
//! Run: `cargo bench --bench verify`. Each iteration verifies one message of
//! a ring of 64 (64 keys, 64 challenges), so no single key or message stays
//! hot in a cache the real service would not have.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use keygate::verify::{CredentialKey, app_param, verify_authentication};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

const RING: usize = 64;

struct Message {
    public_key: Vec<u8>,
    response: Vec<u8>,
    app: [u8; 32],
    chal: [u8; 32],
}

fn messages() -> Vec<Message> {
    (0..RING)
        .map(|i| {
            let seed = Sha256::digest(format!("bench key {i}"));
            let sk = SigningKey::from_slice(&seed).expect("seed is a valid scalar");
            let app = app_param("localhost");
            let chal: [u8; 32] = Sha256::digest(format!("challenge {i}")).into();
            let counter = 1000 + i as u32;
            let mut signed = app.to_vec();
            signed.push(1);
            signed.extend_from_slice(&counter.to_be_bytes());
            signed.extend_from_slice(&chal);
            let sig: Signature = sk.sign_prehash(&Sha256::digest(&signed)).expect("sign");
            let mut response = vec![1];
            response.extend_from_slice(&counter.to_be_bytes());
            response.extend_from_slice(sig.to_der().as_bytes());
            let public_key = sk.verifying_key().to_encoded_point(false).as_bytes().to_vec();
            Message { public_key, response, app, chal }
        })
        .collect()
}

/// OpenSSL's side of the same check: SHA-256 of the signed data, DER
/// signature decode, ECDSA verify.
fn openssl_verify(key: &EcKey<openssl::pkey::Public>, m: &Message) -> bool {
    let mut signed = [0u8; 69];
    signed[..32].copy_from_slice(&m.app);
    signed[32..37].copy_from_slice(&m.response[..5]);
    signed[37..].copy_from_slice(&m.chal);
    let digest = openssl::sha::sha256(&signed);
    EcdsaSig::from_der(&m.response[5..]).and_then(|sig| sig.verify(&digest, key)).unwrap_or(false)
}

fn openssl_key(group: &EcGroup, ctx: &mut BigNumContext, sec1: &[u8]) -> EcKey<openssl::pkey::Public> {
    let point = EcPoint::from_bytes(group, sec1, ctx).expect("point");
    EcKey::from_public_key(group, &point).expect("key")
}

fn bench(c: &mut Criterion) {
    let msgs = messages();
    let keys: Vec<CredentialKey> =
        msgs.iter().map(|m| CredentialKey::from_sec1_uncompressed(&m.public_key).expect("key")).collect();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let mut ctx = BigNumContext::new().expect("bn ctx");
    let ossl_keys: Vec<_> = msgs.iter().map(|m| openssl_key(&group, &mut ctx, &m.public_key)).collect();
    for (i, m) in msgs.iter().enumerate() {
        assert!(verify_authentication(&m.response, &keys[i], &m.app, &m.chal).is_ok());
        assert!(openssl_verify(&ossl_keys[i], m));
    }

    let mut g = c.benchmark_group("u2f_authentication_verify");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("keygate/key_parsed_each_time", |b| {
        b.iter(|| {
            i = (i + 1) % RING;
            let m = &msgs[i];
            let key = CredentialKey::from_sec1_uncompressed(black_box(&m.public_key)).expect("key");
            black_box(verify_authentication(black_box(&m.response), &key, &m.app, &m.chal).is_ok())
        })
    });
    g.bench_function("keygate/key_parsed_once", |b| {
        b.iter(|| {
            i = (i + 1) % RING;
            let m = &msgs[i];
            black_box(verify_authentication(black_box(&m.response), &keys[i], &m.app, &m.chal).is_ok())
        })
    });
    g.bench_function("openssl/key_parsed_each_time", |b| {
        b.iter_batched_ref(
            || BigNumContext::new().expect("bn ctx"),
            |ctx| {
                i = (i + 1) % RING;
                let m = &msgs[i];
                let key = openssl_key(&group, ctx, black_box(&m.public_key));
                black_box(openssl_verify(&key, black_box(m)))
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("openssl/key_parsed_once", |b| {
        b.iter(|| {
            i = (i + 1) % RING;
            black_box(openssl_verify(&ossl_keys[i], black_box(&msgs[i])))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
