//! A running `keygate serve` on PostgreSQL while PostgreSQL goes away and
//! comes back: `/healthz` reports 503 with the JSON error during the outage,
//! the process survives, and the same process is healthy again afterwards.
//! The test runs its own PostgreSQL cluster so stopping it disturbs no other test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::db::PgTools;
use common::{Server, free_addr};

/// A PostgreSQL cluster in a temp dir, stopped when dropped; on a Unix
/// socket, or also on a loopback TCP port (a stopped server then refuses
/// connections, which is what a client waits longest on).
struct Cluster {
    tools: PgTools,
    dir: tempfile::TempDir,
    port: Option<u16>,
}

impl Cluster {
    fn new() -> Self {
        Self::create(None)
    }

    fn on_tcp() -> Self {
        Self::create(Some(free_addr().port()))
    }

    fn create(port: Option<u16>) -> Self {
        let tools = PgTools::from_env();
        let dir = tempfile::Builder::new().prefix("kg-outage").tempdir_in("/tmp").expect("temp dir");
        make_reachable(dir.path(), &tools.runas);
        let cluster = Self { tools, dir, port };
        cluster.tools.run(
            "initdb",
            &["-D", &cluster.data(), "-U", "keygate", "-A", "trust", "--no-sync", "-E", "UTF8"],
        );
        cluster.start();
        let port = cluster.port.unwrap_or(5432).to_string();
        cluster
            .tools
            .run("createdb", &["-h", &cluster.socket_dir(), "-p", &port, "-U", "keygate", "keygate"]);
        cluster
    }

    fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        match self.port {
            Some(port) => format!("postgres://keygate@127.0.0.1:{port}/keygate"),
            None => format!("postgres://keygate@localhost/keygate?host={}", self.socket_dir()),
        }
    }

    fn start(&self) {
        let log = self.dir.path().join("log").display().to_string();
        let listen = match self.port {
            Some(port) => format!("-c listen_addresses=127.0.0.1 -p {port}"),
            None => "-c listen_addresses=''".to_owned(),
        };
        let options = format!("-k {} {listen} -c fsync=off", self.socket_dir());
        self.tools.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &options, "start"]);
    }

    fn stop(&self) {
        self.tools.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.tools.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
    }
}

/// Lets the server's user own the directory (PostgreSQL refuses to run as root).
fn make_reachable(dir: &Path, runas: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    if !runas.is_empty() {
        let status = std::process::Command::new("chown").arg(runas).arg(dir).status().expect("run chown");
        assert!(status.success(), "chown {runas} {}", dir.display());
    }
}

fn healthz(server: &Server) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{}/healthz", server.url()))
        .send()
        .expect("the server answers even while the database is down");
    let status = resp.status().as_u16();
    (status, resp.json().expect("healthz answers JSON"))
}

fn wait_for_status(server: &Server, want: u16, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = healthz(server);
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "healthz stayed {status} ({body}), wanted {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn healthz_follows_a_postgres_outage_in_the_same_process() {
    let cluster = Cluster::new();
    let work: PathBuf = tempfile::tempdir().unwrap().keep();
    let addr = free_addr();
    let mut server = Server::start(&work, addr, |cmd| {
        cmd.args(["--listen", &addr.to_string(), "--database", &cluster.url()]);
    });
    assert_eq!(healthz(&server).0, 200);
    let pid = server.child.id();

    cluster.stop();
    let body = wait_for_status(&server, 503, Duration::from_secs(15));
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    // Still down a moment later, and the process did not give up.
    assert_eq!(healthz(&server).0, 503);
    assert!(server.child.try_wait().unwrap().is_none(), "keygate serve exited during the outage");

    cluster.start();
    let body = wait_for_status(&server, 200, Duration::from_secs(30));
    assert_eq!(body["status"], "ok");
    assert_eq!(server.child.id(), pid);
    assert!(server.child.try_wait().unwrap().is_none());
    drop(server);
    let _ = std::fs::remove_dir_all(work);
}

/// The legacy REST API during the same kind of outage: error 2 (HTTP 200 in
/// the client's format, as legacy clients expect), then service again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_api_answers_error_2_while_postgres_is_down() {
    use common::legacy::{AppOptions, call, json_error_code, register, xml_error_code};
    let cluster = Cluster::new();
    let options = keygate::store::StoreOptions {
        acquire_timeout: Duration::from_secs(1),
        ..keygate::store::StoreOptions::default()
    };
    let store = keygate::store::Store::open_with(&cluster.url(), &options).await.expect("open PostgreSQL");
    let state = common::legacy::state(store);
    let app = register(&state, "Outage", AppOptions::default()).await;
    let xml = [("method", "auth.createToken"), ("api_key", app.app.api_key.as_str()), ("v", "1.0")];
    let json = [xml.as_slice(), &[("format", "JSON")]].concat();
    assert!(call(&state, &json, &app.secret).await.json().is_string());

    tokio::task::block_in_place(|| cluster.stop());
    assert_eq!(xml_error_code(&call(&state, &xml, &app.secret).await, None), 2);
    assert_eq!(json_error_code(&call(&state, &json, &app.secret).await.json()), 2);

    tokio::task::block_in_place(|| cluster.start());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(&state, &json, &app.secret).await.json();
        if answer.is_string() {
            break;
        }
        assert_eq!(json_error_code(&answer), 2, "{answer}");
        assert!(Instant::now() < deadline, "the API did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logins keep coming (eight clients, password step) while PostgreSQL,
/// reached over TCP, is stopped: every answer during the outage arrives
/// within a second (503 unavailable, most of them at once from the breaker),
/// the process survives, and logins succeed again by themselves once the
/// database is back.
#[test]
fn logins_under_load_fail_fast_through_an_outage_and_resume() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let cluster = Cluster::on_tcp();
    let work = tempfile::tempdir().unwrap();
    common::add_user(&cluster.url(), "alice", "correct horse battery");
    let addr = free_addr();
    let server = Server::start(work.path(), addr, |cmd| {
        cmd.args(["--listen", &addr.to_string(), "--database", &cluster.url()]);
        // The load comes from one address and account: the guessing limits
        // are not what this test is about.
        cmd.env("KEYGATE_LOGIN_ATTEMPTS_PER_ADDRESS", "1000000");
        cmd.env("KEYGATE_LOGIN_ATTEMPTS_PER_ACCOUNT", "1000000");
    });
    let url = server.url();
    let log: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (log, running, url) = (log.clone(), running.clone(), url.clone());
            std::thread::spawn(move || {
                let http =
                    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                while running.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let answer = http
                        .post(format!("{url}/api/v1/login"))
                        .json(&serde_json::json!({"username": "alice", "password": "correct horse battery"}))
                        .send();
                    let answer = match answer {
                        Ok(answer) => answer,
                        Err(e) => panic!("no answer after {:?}: {e}", started.elapsed()),
                    };
                    let status = answer.status().as_u16();
                    let body: serde_json::Value = answer.json().expect("JSON, outage or not");
                    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
                    log.lock().unwrap().push((started, started.elapsed(), status, code));
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    cluster.stop();
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let back = Instant::now();
    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let recovered =
            log.lock().unwrap().iter().any(|(started, _, status, _)| *started > back && *status == 200);
        if recovered {
            break;
        }
        assert!(Instant::now() < deadline, "logins did not resume after the database came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let log = log.lock().unwrap();
    let before = log.iter().filter(|(started, ..)| *started < down).collect::<Vec<_>>();
    let ok_before = before.iter().filter(|(_, _, status, _)| *status == 200).count();
    assert!(ok_before > 10, "logins worked before the outage: {ok_before} of {}", before.len());
    // Answers wholly inside the outage (one that waited for a connection
    // across the restart may rightly succeed).
    let during: Vec<_> =
        log.iter().filter(|(started, took, ..)| *started > down && *started + *took < back).collect();
    assert!(during.len() > 20, "the load kept coming: {}", during.len());
    let slowest = during.iter().map(|(_, took, ..)| *took).max().unwrap();
    for (started, took, status, code) in &during {
        let at = started.duration_since(down);
        assert_eq!((*status, code.as_str()), (503, "unavailable"), "{at:?} into the outage, took {took:?}");
        assert!(*took < Duration::from_secs(1), "an answer took {took:?} during the outage");
    }
    let after = log.iter().filter(|(started, ..)| *started > back).collect::<Vec<_>>();
    assert!(after.iter().any(|(_, _, status, _)| *status == 200));
    assert!(server_alive(&server));
    println!("outage: {} answers during 5 s, slowest {:?}, median {:?}", during.len(), slowest, {
        let mut took: Vec<_> = during.iter().map(|(_, t, ..)| *t).collect();
        took.sort();
        took[took.len() / 2]
    });
}

/// One answer of the load: when it was asked, how long it took, its status
/// and error code.
type Answer = (Instant, Duration, u16, String);

fn server_alive(server: &Server) -> bool {
    reqwest::blocking::get(format!("{}/healthz", server.url())).is_ok_and(|r| r.status() == 200)
}
