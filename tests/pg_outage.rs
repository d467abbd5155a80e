//! A running `keygate serve` on PostgreSQL while PostgreSQL goes away and
//! comes back: `/healthz` reports 503 with the JSON error during the outage,
//! the process survives, and the same process is healthy again afterwards.
//! The test runs its own PostgreSQL cluster so stopping it disturbs no other test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::db::PgTools;
use common::{Server, free_addr};

/// A PostgreSQL cluster in a temp dir, stopped when dropped.
struct Cluster {
    tools: PgTools,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Self {
        let tools = PgTools::from_env();
        let dir = tempfile::Builder::new().prefix("kg-outage").tempdir_in("/tmp").expect("temp dir");
        make_reachable(dir.path(), &tools.runas);
        let cluster = Self { tools, dir };
        cluster.tools.run(
            "initdb",
            &["-D", &cluster.data(), "-U", "keygate", "-A", "trust", "--no-sync", "-E", "UTF8"],
        );
        cluster.start();
        cluster.tools.run("createdb", &["-h", &cluster.socket_dir(), "-U", "keygate", "keygate"]);
        cluster
    }

    fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://keygate@localhost/keygate?host={}", self.socket_dir())
    }

    fn start(&self) {
        let log = self.dir.path().join("log").display().to_string();
        let options = format!("-k {} -c listen_addresses='' -c fsync=off", self.socket_dir());
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
