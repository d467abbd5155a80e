//! Verifies/s of one U2F authentication check — parse the signature data
//! (flags | counter BE | DER signature), SHA-256 over
//! appParam || flags || counter || challengeParam, ECDSA P-256 — for OpenSSL,
//! stock `p256`, the fast engine's new-key, known-key and batched paths, and
//! the verification core's `verify_authentication` as the service calls it
//! (key parsed on every login, and key from the service's cache), all on the
//! same messages in the same run, then a summary with ratios to OpenSSL and a
//! two-thread scaling figure.
//!
//! Run with `cargo bench -p keygate-verify --bench verify`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use keygate_verify::fast::{BatchItem, FastKey, KeyCache, Verifier, verify_batch};
use keygate_verify::{CredentialKey, verify_authentication};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Public;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use sha2::{Digest, Sha256};

const KEYS: usize = 64;
const MESSAGES: usize = 512;
const BATCH: usize = 64;

/// One recorded U2F authentication: what the server holds and what arrived.
struct Login {
    key: usize,
    app_param: [u8; 32],
    challenge_param: [u8; 32],
    signature_data: Vec<u8>,
}

struct Fixture {
    sec1: Vec<Vec<u8>>,
    openssl: Vec<EcKey<Public>>,
    p256: Vec<VerifyingKey>,
    logins: Vec<Login>,
}

fn fixture() -> Fixture {
    let mut rng = StdRng::seed_from_u64(0x006b_6579_6761_7465);
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let mut ctx = BigNumContext::new().expect("bn ctx");
    let signers: Vec<SigningKey> = (0..KEYS).map(|_| signing_key(&mut rng)).collect();
    let sec1: Vec<Vec<u8>> =
        signers.iter().map(|k| k.verifying_key().to_encoded_point(false).as_bytes().to_vec()).collect();
    let openssl = sec1
        .iter()
        .map(|b| {
            let point = EcPoint::from_bytes(&group, b, &mut ctx).expect("point");
            EcKey::from_public_key(&group, &point).expect("key")
        })
        .collect();
    let p256 = signers.iter().map(|k| *k.verifying_key()).collect();
    let logins = (0..MESSAGES)
        .map(|i| {
            let key = i % KEYS;
            let app_param: [u8; 32] = rng.random();
            let challenge_param: [u8; 32] = rng.random();
            let counter = (i as u32 + 1).to_be_bytes();
            let digest = u2f_digest(&app_param, 0x01, &counter, &challenge_param);
            let sig: Signature = signers[key].sign_prehash(&digest).expect("sign");
            let mut signature_data = vec![0x01];
            signature_data.extend_from_slice(&counter);
            signature_data.extend_from_slice(sig.to_der().as_bytes());
            Login { key, app_param, challenge_param, signature_data }
        })
        .collect();
    Fixture { sec1, openssl, p256, logins }
}

/// What p256 0.13's `SigningKey::random` does (which wants a `rand_core` 0.6
/// generator): 32 bytes, drawn again until they are a valid private key.
fn signing_key(rng: &mut StdRng) -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
            return key;
        }
    }
}

fn u2f_digest(app: &[u8; 32], flags: u8, counter: &[u8], challenge: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app);
    h.update([flags]);
    h.update(counter);
    h.update(challenge);
    h.finalize().into()
}

/// Splits signature data and hashes the signed message: `(digest, DER signature)`.
fn parse(login: &Login) -> Option<([u8; 32], &[u8])> {
    let (flags, rest) = login.signature_data.split_first()?;
    let (counter, der) = rest.split_at_checked(4)?;
    Some((u2f_digest(&login.app_param, *flags, counter, &login.challenge_param), der))
}

fn verify_openssl(f: &Fixture, login: &Login) -> bool {
    let Some((digest, der)) = parse(login) else { return false };
    EcdsaSig::from_der(der).and_then(|sig| sig.verify(&digest, &f.openssl[login.key])).unwrap_or(false)
}

fn verify_p256(f: &Fixture, login: &Login) -> bool {
    let Some((digest, der)) = parse(login) else { return false };
    Signature::from_der(der).is_ok_and(|sig| f.p256[login.key].verify_prehash(&digest, &sig).is_ok())
}

fn verify_new_key(f: &Fixture, login: &Login) -> bool {
    let Some((digest, der)) = parse(login) else { return false };
    let Ok(sig) = Signature::from_der(der) else { return false };
    FastKey::from_sec1(&f.sec1[login.key]).is_ok_and(|k| k.verify_prehash(&digest, &sig))
}

fn verify_known_key(f: &Fixture, cache: &KeyCache, login: &Login) -> bool {
    let Some((digest, der)) = parse(login) else { return false };
    let Ok(sig) = Signature::from_der(der) else { return false };
    cache.verifier(&f.sec1[login.key]).is_ok_and(|v| v.verify_prehash(&digest, &sig))
}

/// The service's path with no cache: the stored key parsed on every login.
fn verify_core_parsed(f: &Fixture, login: &Login) -> bool {
    CredentialKey::from_sec1_uncompressed(&f.sec1[login.key]).is_ok_and(|key| {
        verify_authentication(&login.signature_data, &key, &login.app_param, &login.challenge_param).is_ok()
    })
}

/// The service's path: the stored key through its key cache.
fn verify_core_cached(f: &Fixture, cache: &KeyCache, login: &Login) -> bool {
    CredentialKey::cached(cache, &f.sec1[login.key]).is_ok_and(|key| {
        verify_authentication(&login.signature_data, &key, &login.app_param, &login.challenge_param).is_ok()
    })
}

/// Parses and verifies up to `BATCH` logins at once; returns how many passed.
fn verify_batched(f: &Fixture, cache: &KeyCache, logins: &[Login]) -> usize {
    let mut parsed: Vec<(Verifier, [u8; 32], Signature)> = Vec::with_capacity(logins.len());
    for login in logins {
        let Some((digest, der)) = parse(login) else { continue };
        let (Ok(sig), Ok(v)) = (Signature::from_der(der), cache.verifier(&f.sec1[login.key])) else {
            continue;
        };
        parsed.push((v, digest, sig));
    }
    let items: Vec<BatchItem<'_>> =
        parsed.iter().map(|(key, digest, signature)| BatchItem { key, digest, signature }).collect();
    verify_batch(&items).into_iter().filter(|&ok| ok).count()
}

/// CPU time this thread has run, from Linux's schedstat; `None` elsewhere.
///
/// The bench machine is shared, so the single-thread rows count verifies per
/// second of CPU time actually received rather than per wall-clock second.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Runs `round` (which verifies `per_round` logins) for about `time`; verifies
/// per CPU second (per wall second where schedstat is missing).
fn rate(time: Duration, per_round: usize, mut round: impl FnMut()) -> f64 {
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let mut n = 0usize;
    while start.elapsed() < time {
        round();
        n += per_round;
    }
    let spent = match (cpu_start, thread_cpu_time()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => start.elapsed(),
    };
    n as f64 / spent.as_secs_f64()
}

/// Best of three short runs, to damp noise from other processes.
fn best_rate(per_round: usize, mut round: impl FnMut()) -> f64 {
    (0..3).map(|_| rate(Duration::from_millis(700), per_round, &mut round)).fold(0.0, f64::max)
}

fn main() {
    let f = fixture();
    let cache = KeyCache::default();
    for login in &f.logins {
        assert!(verify_openssl(&f, login) && verify_p256(&f, login) && verify_new_key(&f, login));
        assert!(verify_known_key(&f, &cache, login));
        assert!(verify_core_parsed(&f, login) && verify_core_cached(&f, &cache, login));
    }
    assert_eq!(verify_batched(&f, &cache, &f.logins[..BATCH]), BATCH);

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut g = c.benchmark_group("u2f_verify");
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % MESSAGES;
        &f.logins[i]
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("openssl", |b| b.iter(|| black_box(verify_openssl(&f, next()))));
    g.bench_function("p256", |b| b.iter(|| black_box(verify_p256(&f, next()))));
    g.bench_function("fast_new_key", |b| b.iter(|| black_box(verify_new_key(&f, next()))));
    g.bench_function("fast_known_key", |b| b.iter(|| black_box(verify_known_key(&f, &cache, next()))));
    g.bench_function("core_key_parsed_each_time", |b| b.iter(|| black_box(verify_core_parsed(&f, next()))));
    g.bench_function("core_cached_key", |b| b.iter(|| black_box(verify_core_cached(&f, &cache, next()))));
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut chunk = 0usize;
    g.bench_function("fast_batch_64", |b| {
        b.iter(|| {
            chunk = (chunk + 1) % (MESSAGES / BATCH);
            black_box(verify_batched(&f, &cache, &f.logins[chunk * BATCH..(chunk + 1) * BATCH]))
        })
    });
    g.finish();

    summary(&f, &cache);
    c.final_summary();
}

fn summary(f: &Fixture, cache: &KeyCache) {
    let cycle = |check: &dyn Fn(&Login) -> bool| {
        let mut i = 0usize;
        best_rate(1, || {
            i = (i + 1) % MESSAGES;
            black_box(check(&f.logins[i]));
        })
    };
    let openssl = cycle(&|l| verify_openssl(f, l));
    let rows = [
        ("OpenSSL", openssl),
        ("p256 (stock)", cycle(&|l| verify_p256(f, l))),
        ("fast, new key", cycle(&|l| verify_new_key(f, l))),
        ("fast, known key", cycle(&|l| verify_known_key(f, cache, l))),
        ("core, key parsed", cycle(&|l| verify_core_parsed(f, l))),
        ("core, cached key", cycle(&|l| verify_core_cached(f, cache, l))),
        ("fast, batch of 64", {
            let mut chunk = 0usize;
            best_rate(BATCH, || {
                chunk = (chunk + 1) % (MESSAGES / BATCH);
                black_box(verify_batched(f, cache, &f.logins[chunk * BATCH..(chunk + 1) * BATCH]));
            })
        }),
    ];
    println!("\nU2F authentication verify (parse + SHA-256 + ECDSA P-256), one thread, per CPU second:");
    for (name, r) in rows {
        println!("  {name:<20} {r:>10.0} verifies/s   {:>5.2}x OpenSSL", r / openssl);
    }

    // Both threads share one cache (one lock) and the generator table, as the
    // service's workers do. Returns (verifies per wall second, sum over threads
    // of verifies per CPU second): the first is the real scaling when the cores
    // are otherwise idle, the second shows whether the threads slow each
    // other down (lock contention, cache thrashing) when they are not.
    let threaded = |threads: usize| {
        let time = Duration::from_secs(2);
        let per_thread: Vec<(usize, Option<Duration>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut i = t * 7;
                        let start = Instant::now();
                        let cpu_start = thread_cpu_time();
                        let mut n = 0usize;
                        while start.elapsed() < time {
                            i = (i + 1) % MESSAGES;
                            black_box(verify_known_key(f, cache, &f.logins[i]));
                            n += 1;
                        }
                        (n, cpu_start.zip(thread_cpu_time()).map(|(a, b)| b.saturating_sub(a)))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or((0, None))).collect()
        });
        let wall = per_thread.iter().map(|p| p.0).sum::<usize>() as f64 / time.as_secs_f64();
        let cpu = per_thread
            .iter()
            .map(|(n, cpu)| cpu.filter(|c| !c.is_zero()).map_or(0.0, |c| *n as f64 / c.as_secs_f64()))
            .sum::<f64>();
        (wall, cpu)
    };
    let (one, one_cpu) = threaded(1);
    let (two, two_cpu) = threaded(2);
    println!("Known key, threads sharing one cache:");
    println!("  1 thread   {one:>10.0} verifies/s wall   {one_cpu:>10.0} per CPU second");
    println!(
        "  2 threads  {two:>10.0} verifies/s wall   {two_cpu:>10.0} per CPU second (summed)   {:>5.2}x / {:>5.2}x one thread",
        two / one,
        two_cpu / one_cpu
    );
    println!("  (wall-clock scaling needs two otherwise idle cores; the CPU figure does not)");
}
