//! A password-guessing storm against the release binary, as a botnet (or
//! one IPv6 /64) would run it: 200 clients, each from its own loopback
//! address (127.0.0.2 … 127.0.0.201), post wrong passwords for made-up user
//! names for 15 s. Meanwhile `/healthz` is asked every 100 ms and a real user
//! signs in every half second from her usual address. The test counts and
//! measures, it does not time: the server's peak resident memory stays
//! under 400 MiB, every health check is answered 200, the real user gets
//! through, and the storm is turned away. The figures are printed and
//! written to `target/storm-report.json` (docs/performance.md quotes them).
//!
//! `scripts/test` builds the release binary and names it in
//! `KEYGATE_RELEASE_BIN`.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "the real user's passphrase";
const CLIENTS: u8 = 200;
const STORM: Duration = Duration::from_secs(15);
const RSS_LIMIT_MIB: u64 = 400;

fn release_binary() -> PathBuf {
    let path = std::env::var_os("KEYGATE_RELEASE_BIN").map(PathBuf::from).unwrap_or_else(|| {
        panic!("KEYGATE_RELEASE_BIN is not set: run scripts/test, which builds the release binary first")
    });
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// The release server, killed when dropped.
struct Release(Child);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(binary: &Path, dir: &Path, database: &str, addr: SocketAddr) -> Release {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut cmd = std::process::Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYGATE_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd
        .args(["serve", "--database", database, "--listen", &addr.to_string()])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn the release server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("http://{addr}/healthz")).map_or(true, |r| r.status() != 200) {
        assert!(Instant::now() < deadline, "the release server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Release(child)
}

/// `keygate user add real` with the release binary.
fn add_user(binary: &Path, database: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(binary)
        .args(["user", "add", "real", "--password-stdin", "--database", database])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn keygate user add");
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// A `/proc/PID/status` field in KiB (VmRSS, VmHWM).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn login_body(user: &str, password: &str) -> String {
    serde_json::json!({ "username": user, "password": password }).to_string()
}

#[test]
fn a_guessing_storm_from_200_addresses_keeps_memory_and_latency_bounded() {
    let binary = release_binary();
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    add_user(&binary, &database);
    let addr = common::free_addr();
    let server = serve(&binary, dir.path(), &database, addr);
    let pid = server.0.id();
    let url = format!("http://{addr}");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = runtime.block_on(async {
        let own = reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::LOCALHOST)).build().unwrap();
        // Her usual network: one sign-in before the storm.
        let first = own
            .post(format!("{url}/api/v1/login"))
            .header("content-type", "application/json")
            .body(login_body("real", PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200);

        let started = Instant::now();
        let storm_statuses: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, client + 2));
            let http = reqwest::Client::builder()
                .local_address(source)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let (url, statuses) = (url.clone(), storm_statuses.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < STORM {
                    n += 1;
                    let answer = http
                        .post(format!("{url}/api/v1/login"))
                        .header("content-type", "application/json")
                        .body(login_body(&format!("guess-{client}-{n}"), "hunter2"))
                        .send()
                        .await;
                    let status = answer.map_or(0, |a| a.status().as_u16());
                    *statuses.lock().unwrap().entry(status).or_insert(0) += 1;
                }
            }));
        }
        let health = {
            let own = own.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while started.elapsed() < STORM {
                    let asked = Instant::now();
                    let status =
                        own.get(format!("{url}/healthz")).send().await.map_or(0, |a| a.status().as_u16());
                    samples.push((asked.elapsed(), status));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                samples
            })
        };
        let real = {
            let url = url.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                tokio::time::sleep(Duration::from_secs(1)).await;
                while started.elapsed() < STORM {
                    let asked = Instant::now();
                    let answer = own
                        .post(format!("{url}/api/v1/login"))
                        .header("content-type", "application/json")
                        .body(login_body("real", PASSWORD))
                        .send()
                        .await;
                    samples.push((asked.elapsed(), answer.map_or(0, |a| a.status().as_u16())));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                samples
            })
        };
        let rss = tokio::spawn(async move {
            let mut peak = 0;
            while started.elapsed() < STORM {
                peak = peak.max(proc_kib(pid, "VmRSS:"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        });
        for task in tasks {
            task.await.unwrap();
        }
        let storm = storm_statuses.lock().unwrap().clone();
        (storm, health.await.unwrap(), real.await.unwrap(), rss.await.unwrap())
    });
    let (storm, health, real, sampled_peak_kib) = report;
    let peak_mib = proc_kib(pid, "VmHWM:").max(sampled_peak_kib) / 1024;
    let metrics = reqwest::blocking::get(format!("{url}/metrics")).unwrap().text().unwrap();
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mut health_latency: Vec<Duration> = health.iter().map(|(took, _)| *took).collect();
    health_latency.sort();
    let mut real_latency: Vec<Duration> = real.iter().map(|(took, _)| *took).collect();
    real_latency.sort();
    let mut real_statuses = BTreeMap::new();
    for (_, status) in &real {
        *real_statuses.entry(*status).or_insert(0u64) += 1;
    }
    let report = serde_json::json!({
        "clients": CLIENTS,
        "seconds": STORM.as_secs(),
        "peak_rss_mib": peak_mib,
        "storm_answers": storm,
        "healthz": {
            "samples": health.len(),
            "non_200": health.iter().filter(|(_, s)| *s != 200).count(),
            "p50_ms": percentile(&health_latency, 50.0).as_secs_f64() * 1000.0,
            "p99_ms": percentile(&health_latency, 99.0).as_secs_f64() * 1000.0,
        },
        "real_user": {
            "attempts": real.len(),
            "statuses": real_statuses,
            "p50_ms": percentile(&real_latency, 50.0).as_secs_f64() * 1000.0,
            "max_ms": real_latency.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        },
        "metrics": {
            "keygate_password_hash_rejected_total": metric("keygate_password_hash_rejected_total"),
            "keygate_rate_limited_total_password_storm": metric("keygate_rate_limited_total{limit=\"password_storm\"}"),
            "keygate_rate_limited_total_password": metric("keygate_rate_limited_total{limit=\"password\"}"),
        },
    });
    println!("storm report: {report}");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/storm-report.json");
    std::fs::write(&target, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    drop(server);

    assert!(peak_mib < RSS_LIMIT_MIB, "peak RSS {peak_mib} MiB: {report}");
    assert!(health.len() > 50 && health.iter().all(|(_, s)| *s == 200), "{report}");
    assert!(real.iter().any(|(_, s)| *s == 200), "the real user never got through: {report}");
    let turned_away = storm.get(&429).copied().unwrap_or(0);
    let total: u64 = storm.values().sum();
    assert!(turned_away * 2 > total, "most of the storm is refused before hashing: {report}");
    assert_eq!(storm.get(&0), None, "every storm request got an answer: {report}");
}
