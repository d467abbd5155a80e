//! Full logins against the release server on SQLite, in one run: password +
//! U2F logins/s with C concurrent clients next to the argon2 bound (cores ÷
//! one hash's time), p50/p99 of the `login/u2f` step alone, and session
//! validation (`GET /api/v1/keys`) req/s next to `/healthz` as the ceiling.
//!
//! Run: `cargo bench --bench api_login` (env `CLIENTS`, default 4; `SECS`, default 5;
//! `KEYGATE_BENCH_BIN` runs another build of `keygate`, for a before/after table).
//! Clients retry a password step the server sheds (429) after its
//! Retry-After, as real clients do, so many clients measure the service at
//! its hash bound rather than the clients' patience.
//! Each request carries a distinct X-Forwarded-For (the server trusts
//! 127.0.0.1 as a proxy) so the per-address password limit does not cap the run.

#![allow(missing_docs)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate::secrets::hash_password;
use keygate::store::{NewUser, Store};
use keygate_device::soft::state::Secret;
use keygate_device::soft::{Applet, Attestation, Presence, TokenState};
use keygate_device::u2f::{CommandApdu, Encoding, auth_control, ins};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";
const CERT: &[u8] = include_bytes!("../fixtures/soft-token/attestation.der");
const KEY: &[u8] = include_bytes!("../fixtures/soft-token/attestation-key.der");

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn apdu(applet: &mut Applet, ins: u8, p1: u8, data: Vec<u8>) -> Vec<u8> {
    let apdu = CommandApdu::new(ins, p1, 0, data, Encoding::Extended).encode().unwrap();
    let reply = applet.handle_apdu(&mut UnwrapErr(SysRng), &apdu);
    reply.response[..reply.response.len() - 2].to_vec()
}

fn cd(typ: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"typ": typ, "challenge": challenge, "origin": origin}).to_string().into_bytes()
}

struct Client {
    http: reqwest::Client,
    base: String,
    n: u64,
}

impl Client {
    async fn post(&mut self, path: &str, bearer: Option<&str>, body: Option<Value>) -> Value {
        let (status, value, _) = self.send(path, bearer, body).await;
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// A password step as a well-behaved client sends it: when the server
    /// sheds load (429, all hash slots and the queue taken) it waits the
    /// Retry-After it was given and tries again. Returns the answer and how
    /// many times it was told to wait.
    async fn login(&mut self, user: &str) -> (Value, u32) {
        let mut refused = 0;
        loop {
            let body = json!({"username": user, "password": PASSWORD});
            let (status, value, retry_after) = self.send("/api/v1/login", None, Some(body)).await;
            if status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                assert!(status.is_success(), "/api/v1/login: {status} {value}");
                return (value, refused);
            }
            refused += 1;
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
        }
    }

    async fn send(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value, Option<u64>) {
        self.n += 1;
        let mut req = self.http.post(format!("{}{path}", self.base)).header(
            "x-forwarded-for",
            format!("10.{}.{}.{}", (self.n >> 16) & 255, (self.n >> 8) & 255, self.n & 255),
        );
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        (status, value, retry_after)
    }
}

/// The share of `login/u2f` answers the server timed at 10 ms or less, from
/// its latency histogram: the client's own p99 also counts the time this
/// process, on the same cores, took to get to the answer.
async fn under_10ms(http: &reqwest::Client, base: &str) -> String {
    let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let sample = |part: &str| -> Option<f64> {
        text.lines()
            .filter(|l| l.contains("route=\"/api/v1/login/u2f\"") && l.contains(part))
            .find_map(|l| l.split_whitespace().last()?.parse().ok())
    };
    match (sample("le=\"0.01\""), sample("keygate_http_request_duration_seconds_count{")) {
        (Some(fast), Some(all)) if all > 0.0 => format!("{:.2}% of {all}", 100.0 * fast / all),
        _ => "not reported".to_owned(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let clients: usize = std::env::var("CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let secs: u64 = std::env::var("SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).await.unwrap();
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    for i in 0..clients {
        let name = format!("u{i}");
        store
            .create_user(&NewUser { name: &name, display_name: None, password_hash: &hash }, 0)
            .await
            .unwrap();
    }
    store.close().await;
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let _server = Server(
        Command::new(
            std::env::var_os("KEYGATE_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_keygate").into()),
        )
        .args(["serve", "--database", &url, "--listen", &addr.to_string(), "--trusted-proxy", "127.0.0.1/32"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Enroll one soft token per client.
    let mut tokens = Vec::new();
    for i in 0..clients {
        let attestation = Attestation { certificate: CERT.to_vec(), private_key: Secret::new(KEY.to_vec()) };
        let mut applet =
            Applet::new(TokenState::generate(&mut UnwrapErr(SysRng), attestation), Presence::Auto).unwrap();
        let mut c = Client { http: http.clone(), base: base.clone(), n: i as u64 * 1_000_000 };
        let s = c
            .post("/api/v1/login", None, Some(json!({"username": format!("u{i}"), "password": PASSWORD})))
            .await;
        let token = s["session_token"].as_str().unwrap().to_owned();
        let start = c.post("/api/v1/keys/register/start", Some(&token), None).await;
        let data = cd(
            "navigator.id.finishEnrollment",
            start["registerRequests"][0]["challenge"].as_str().unwrap(),
            start["origin"].as_str().unwrap(),
        );
        let reg = apdu(&mut applet, ins::REGISTER, 0, [sha(&data), sha(b"localhost")].concat());
        c.post(
            "/api/v1/keys/register/finish",
            Some(&token),
            Some(json!({"registrationData": b64(&reg), "clientData": b64(&data), "name": "k"})),
        )
        .await;
        tokens.push((c, applet, format!("u{i}")));
    }

    // The argon2 bound: cores ÷ one hash's time.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t0 = Instant::now();
    for _ in 0..5 {
        keygate::secrets::verify_password(Some(hash.clone()), PASSWORD.to_owned()).await.unwrap();
    }
    let one_hash = t0.elapsed() / 5;
    let bound = cores as f64 / one_hash.as_secs_f64();

    // Full logins.
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|(mut c, mut applet, user)| {
            tokio::spawn(async move {
                let mut u2f = Vec::new();
                let mut session = String::new();
                let mut shed = 0;
                while Instant::now() < deadline {
                    let (start, refused) = c.login(&user).await;
                    shed += refused;
                    let handle = URL_SAFE_NO_PAD.decode(start["registeredKeys"][0]["keyHandle"].as_str().unwrap()).unwrap();
                    let data = cd("navigator.id.getAssertion", start["challenge"].as_str().unwrap(), start["origin"].as_str().unwrap());
                    let mut req = [sha(&data), sha(b"localhost")].concat();
                    req.push(handle.len() as u8);
                    req.extend_from_slice(&handle);
                    let sig = apdu(&mut applet, ins::AUTHENTICATE, auth_control::ENFORCE_USER_PRESENCE, req);
                    let body = json!({"login_id": start["login_id"], "keyHandle": b64(&handle), "signatureData": b64(&sig), "clientData": b64(&data)});
                    let t = Instant::now();
                    let done = c.post("/api/v1/login/u2f", None, Some(body)).await;
                    if Instant::now() <= deadline {
                        u2f.push(t.elapsed());
                    }
                    session = done["session_token"].as_str().unwrap().to_owned();
                }
                (u2f, session, shed)
            })
        })
        .collect();
    let mut u2f = Vec::new();
    let mut sessions = Vec::new();
    let mut shed = 0;
    for t in tasks {
        let (times, session, refused) = t.await.unwrap();
        u2f.extend(times);
        sessions.extend(Some(session).filter(|s| !s.is_empty()));
        shed += refused;
    }
    // Only logins finished inside the window count: clients still waiting
    // out a Retry-After at the deadline finish afterwards, on an idle server.
    let elapsed = deadline.duration_since(started);
    let server_side = under_10ms(&http, &base).await;
    let logins = u2f.len();
    u2f.sort();

    // Session validation next to /healthz.
    async fn rate(
        http: &reqwest::Client,
        url: String,
        bearer: Option<String>,
        clients: usize,
        secs: u64,
    ) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (http, url, bearer) = (http.clone(), url.clone(), bearer.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let mut req = http.get(&url);
                        if let Some(b) = &bearer {
                            req = req.bearer_auth(b);
                        }
                        assert!(req.send().await.unwrap().status().is_success());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total as f64 / secs as f64
    }
    let keys = rate(&http, format!("{base}/api/v1/keys"), Some(sessions[0].clone()), clients, secs).await;
    let health = rate(&http, format!("{base}/healthz"), None, clients, secs).await;

    println!("clients: {clients}, cores: {cores}, run: {secs} s per measure");
    println!(
        "full logins (password + U2F): {:.1}/s ({logins} finished in the {:.1} s window)",
        logins as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("argon2 bound: {bound:.1}/s (one hash {:.1} ms)", one_hash.as_secs_f64() * 1e3);
    println!("password steps shed with 429 and retried after Retry-After: {shed}");
    println!(
        "login/u2f step: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&u2f, 0.5).as_secs_f64() * 1e3,
        percentile(&u2f, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "login/u2f answered within 10 ms by the server's own clock (its /metrics histogram): {server_side}"
    );
    println!("GET /api/v1/keys: {keys:.0} req/s; GET /healthz: {health:.0} req/s");
}
