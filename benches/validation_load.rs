//! Validation under load: how many token and session checks `keygate serve`
//! answers per second next to `/healthz`, on SQLite and on PostgreSQL.
//!
//! Applications call keygate on every request they serve, so a validation
//! should cost about what the router and one database round trip cost. This
//! starts the real binary (release profile) on a loopback port, seeds a user,
//! an app, an API session, a Graph access token and a legacy session through
//! the library, and drives each endpoint with `wrk` (Debian's `wrk`; 2
//! threads, 64 connections), each run next to a `/healthz` run so the ratio
//! compares like with like. Any answer that is not 2xx voids the figures.
//!
//! Run: `cargo bench --bench validation_load`. PostgreSQL is measured too when
//! `KEYGATE_TEST_POSTGRES_URL` names a server (as `scripts/test` exports);
//! `KEYGATE_BENCH_SECS` sets each run's length (default 5),
//! `KEYGATE_BENCH_ROUNDS` how many alternating pairs of runs each figure is
//! the median of (default 3), `KEYGATE_BENCH_ONLY` a part of the endpoint
//! names to run (for profiling one);
//! `KEYGATE_BENCH_BIN` runs another build of `keygate` (an older one, for a
//! before/after table). The table is printed and written to
//! `target/validation-load.json`.

#[allow(dead_code)] // each bench seeds only part of what it offers
#[path = "support/seed.rs"]
mod seed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keygate::clock::unix_now;
use keygate::legacy::Params;
use keygate::secrets::{ServerKey, random_hex, random_token};
use keygate::store::{SessionKind, Store};
use serde_json::json;
use sqlx::migrate::MigrateDatabase;

/// What the load runs present, seeded straight into the database.
struct Fixture {
    api_session: String,
    access_token: String,
    app_credentials: String,
    legacy_body: String,
}

/// One endpoint as wrk drives it.
struct Endpoint {
    name: &'static str,
    path: String,
    header: Option<String>,
    post_body: Option<String>,
}

/// What one wrk run reported.
#[derive(Clone, Copy, Debug)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The server's CPU time (user + system) per answered request: steadier
    /// than req/s when the load generator shares the cores.
    cpu_us: Option<f64>,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; there is nothing to list.
    }
    let secs: u64 = std::env::var("KEYGATE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rounds: usize =
        std::env::var("KEYGATE_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is not installed (Debian: apt-get install wrk)"
    );
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("tokio: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut engines = vec![("SQLite", format!("sqlite:{}", dir.path().join("keygate.db").display()))];
    if let Ok(admin) = std::env::var("KEYGATE_TEST_POSTGRES_URL") {
        engines.push(("PostgreSQL", rt.block_on(fresh_postgres(&admin))));
    }
    let mut report = Vec::new();
    for (engine, url) in engines {
        let key_file = dir.path().join(format!("{engine}.key"));
        let fixture = rt.block_on(seed(&url, &key_file));
        let server = Server::start(&url, &key_file, dir.path());
        println!(
            "\n{engine}: wrk -t2 -c64 -d{secs}s against {}, median of {rounds} alternating rounds",
            server.base
        );
        println!(
            "| endpoint | req/s | ÷ /healthz | p50 ms | p99 ms | /healthz p99 ms | server CPU µs/req (/healthz) |"
        );
        println!("|---|---|---|---|---|---|---|");
        let only = std::env::var("KEYGATE_BENCH_ONLY").unwrap_or_default();
        for endpoint in endpoints(&fixture).into_iter().filter(|e| e.name.contains(only.as_str())) {
            let mut pairs: Vec<(Run, Run)> = (0..rounds)
                .map(|_| {
                    let health = server.measure(&health_endpoint(), secs, dir.path());
                    (health, server.measure(&endpoint, secs, dir.path()))
                })
                .collect();
            pairs.sort_by(|a, b| (a.1.rps / a.0.rps).total_cmp(&(b.1.rps / b.0.rps)));
            let (health, run) = pairs[pairs.len() / 2];
            let ratio = run.rps / health.rps;
            println!(
                "| {} | {:.0} | {ratio:.2}× | {:.2} | {:.2} | {:.2} | {} ({}) |",
                endpoint.name,
                run.rps,
                run.p50_ms,
                run.p99_ms,
                health.p99_ms,
                cpu(run.cpu_us),
                cpu(health.cpu_us),
            );
            report.push(json!({
                "engine": engine, "endpoint": endpoint.name, "rps": run.rps, "ratio": ratio,
                "p50_ms": run.p50_ms, "p99_ms": run.p99_ms, "cpu_us_per_request": run.cpu_us,
                "healthz_rps": health.rps, "healthz_p99_ms": health.p99_ms,
                "healthz_cpu_us_per_request": health.cpu_us,
            }));
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/validation-load.json");
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("cannot write {}: {e}", out.display());
    }
}

fn health_endpoint() -> Endpoint {
    Endpoint { name: "GET /healthz", path: "/healthz".into(), header: None, post_body: None }
}

fn endpoints(f: &Fixture) -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "GET /api/v1/keys (Bearer session)",
            path: "/api/v1/keys".into(),
            header: Some(format!("Authorization: Bearer {}", f.api_session)),
            post_body: None,
        },
        Endpoint {
            name: "GET /me?access_token=…",
            path: format!("/me?access_token={}", f.access_token),
            header: None,
            post_body: None,
        },
        Endpoint {
            name: "GET /debug_token (app token + user token)",
            path: format!("/debug_token?input_token={}&access_token={}", f.access_token, f.app_credentials),
            header: None,
            post_body: None,
        },
        Endpoint {
            name: "POST /restserver.php users.getLoggedInUser",
            path: "/restserver.php".into(),
            header: None,
            post_body: Some(f.legacy_body.clone()),
        },
    ]
}

/// A new database on the PostgreSQL server `admin` names.
async fn fresh_postgres(admin: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').unwrap_or_else(|| panic!("no /database in {admin}"));
    let name = format!("kg_bench_{}", random_hex(8));
    let url = query.map_or_else(|| format!("{server}/{name}"), |q| format!("{server}/{name}?{q}"));
    sqlx::any::install_default_drivers();
    sqlx::Any::create_database(&url).await.unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
    url
}

/// Seeds what the runs present, sealed under the key file the server loads.
async fn seed(url: &str, key_file: &Path) -> Fixture {
    let store = Store::open(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    let key = ServerKey::load(None, key_file).unwrap_or_else(|e| panic!("key file: {e}"));
    let now = unix_now();
    let seeded = seed::app_and_user(&store, &key, now).await;
    let api_session = random_token(32);
    seeded.session(&store, &api_session, SessionKind::Api, now).await;
    let session_key = random_hex(16);
    seeded.session(&store, &session_key, SessionKind::Legacy, now).await;
    let access_token = random_token(48);
    seeded.access_token(&store, &access_token, now).await;
    let (api_key, secret) = (seeded.app.api_key, seeded.secret);
    store.close().await;
    let unsigned = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("method", "users.getLoggedInUser"),
            ("api_key", &api_key),
            ("v", "1.0"),
            ("format", "JSON"),
            ("session_key", &session_key),
        ])
        .finish();
    let sig =
        Params::from_request(unsigned.as_bytes(), b"").map(|p| p.expected_sig(&secret)).unwrap_or_default();
    Fixture {
        api_session,
        access_token,
        app_credentials: format!("{api_key}|{secret}"),
        legacy_body: format!("{unsigned}&sig={sig}"),
    }
}

/// `keygate serve` on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(url: &str, key_file: &Path, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("free port: {e}"))
            .port();
        let log = std::fs::File::create(dir.join(format!("serve-{port}.log")))
            .unwrap_or_else(|e| panic!("server log: {e}"));
        let bin = std::env::var_os("KEYGATE_BENCH_BIN")
            .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keygate")), PathBuf::from);
        let child = Command::new(bin)
            .args(["serve", "--database", url, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--key-file")
            .arg(key_file)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn keygate serve: {e}"));
        let server = Self { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "keygate serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Server {
    /// One wrk run against this server, with the server's CPU time per request.
    fn measure(&self, endpoint: &Endpoint, secs: u64, dir: &Path) -> Run {
        let before = cpu_ticks(self.child.id());
        let (mut run, requests) = wrk(&self.base, endpoint, secs, dir);
        let after = cpu_ticks(self.child.id());
        if let (Some(before), Some(after)) = (before, after) {
            run.cpu_us = Some((after - before) as f64 * 1e6 / clock_ticks_per_sec() / requests.max(1) as f64);
        }
        run
    }
}

/// utime + stime of a process in clock ticks, from `/proc/PID/stat` (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The kernel's USER_HZ, as `getconf CLK_TCK` reports it (100 on Linux).
fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu(us: Option<f64>) -> String {
    us.map_or_else(|| "–".to_owned(), |us| format!("{us:.0}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs wrk against one endpoint and reads its summary and request count.
fn wrk(base: &str, endpoint: &Endpoint, secs: u64, dir: &Path) -> (Run, u64) {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", &format!("-d{secs}s"), "--latency"]);
    if let Some(header) = &endpoint.header {
        cmd.args(["-H", header]);
    }
    if let Some(body) = &endpoint.post_body {
        let script = lua_post(dir, body);
        cmd.arg("-s").arg(script);
    }
    let output = cmd.arg(format!("{base}{}", endpoint.path)).output().unwrap_or_else(|e| panic!("wrk: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed on {}: {text}", endpoint.name);
    assert!(
        !text.contains("Non-2xx or 3xx responses"),
        "{} answered errors under load, so its figures mean nothing:\n{text}",
        endpoint.name
    );
    parse_wrk(&text).unwrap_or_else(|| panic!("unreadable wrk output:\n{text}"))
}

fn lua_post(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("post.lua");
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{body}\"\n\
         wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n"
    );
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("lua script: {e}"));
    path
}

/// Requests/sec, the 50th and 99th percentile latencies and the number of
/// requests from wrk's `--latency` summary.
fn parse_wrk(text: &str) -> Option<(Run, u64)> {
    let field = |label: &str| -> Option<&str> {
        text.lines().find_map(|l| l.trim().strip_prefix(label)).map(str::trim)
    };
    let rps = field("Requests/sec:")?.parse().ok()?;
    let requests =
        text.lines().find_map(|l| l.trim().split_once(" requests in ")).and_then(|(n, _)| n.parse().ok())?;
    let run = Run { rps, p50_ms: millis(field("50%")?)?, p99_ms: millis(field("99%")?)?, cpu_us: None };
    Some((run, requests))
}

fn millis(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(value / 1000.0),
        "ms" => Some(value),
        "s" => Some(value * 1000.0),
        "m" => Some(value * 60_000.0),
        _ => None,
    }
}
