//! `keygate key …` end to end: the real binary against `keygate serve` on a
//! loopback port, with `keygate soft-token serve` over UDP as the key, on
//! SQLite and PostgreSQL.

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// A `keygate soft-token serve --listen udp:…` child, killed when dropped.
struct SoftToken {
    child: Child,
    spec: String,
    state: PathBuf,
}

impl SoftToken {
    fn start(state: &Path, presence: &str) -> SoftToken {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("udp:127.0.0.1:{port}");
        let child = common::keygate()
            .args(["soft-token", "serve", "--state"])
            .arg(state)
            .args(["--listen", &listen, "--presence", presence])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the soft token");
        // Ready when the port is taken.
        let deadline = Instant::now() + Duration::from_secs(20);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(Instant::now() < deadline, "soft token did not bind {listen}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SoftToken { child, spec: listen, state: state.to_owned() }
    }
}

impl Drop for SoftToken {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_keygate(args, stdin)
}

fn ok(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn key_args<'a>(cmd: &'a str, server: &'a str, device: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["key", cmd];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--server", server, "--user", "alice", "--device", device, "--password-stdin"]);
    args
}

fn session_of(stdout: &str) -> String {
    stdout.lines().find_map(|l| l.strip_prefix("session_token: ")).expect("session line").to_owned()
}

fn end_to_end(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", database, "--listen", &addr.to_string()]);
    });
    let url = server.url();
    let blue = SoftToken::start(&dir.path().join("blue.json"), "auto");
    let green = SoftToken::start(&dir.path().join("green.json"), "auto");

    let out = ok(&key_args("enroll", &url, &blue.spec, &["--name", "blue"]), &pw);
    assert!(out.contains("enrolled key"), "{out}");
    let codes: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert_eq!(codes.len(), 10, "{out}");

    let session = session_of(&ok(&key_args("login", &url, &blue.spec, &[]), &pw));
    let list = ok(&key_args("list", &url, &blue.spec, &[]), &pw);
    assert!(list.contains("\tblue\t"), "{list}");
    ok(&key_args("rename", &url, &blue.spec, &["blue", "blue key"]), &pw);
    assert!(ok(&key_args("list", &url, &blue.spec, &[]), &pw).contains("\tblue key\t"));

    // Refusals, one line each.
    assert!(
        fails(&key_args("login", &url, &blue.spec, &[]), "wrong password\n")
            .contains("wrong user name or password")
    );
    assert!(
        fails(&key_args("login", &url, &green.spec, &[]), &pw)
            .contains("this key is not registered for alice")
    );
    assert!(fails(&key_args("list", "http://127.0.0.1:9", &blue.spec, &[]), &pw).contains("cannot reach"));

    // A second key with the session of the first, then remove the first.
    let mut with_session = key_args("enroll", &url, &green.spec, &["--name", "green"]);
    with_session.extend_from_slice(&["--session", &session]);
    let out = ok(&with_session, "");
    assert!(out.contains("enrolled key") && !out.contains("Recovery codes"), "{out}");
    ok(&key_args("remove", &url, &green.spec, &["blue key"]), &pw);
    let list = ok(&key_args("list", &url, &green.spec, &[]), &pw);
    assert!(list.contains("\tgreen\t") && !list.contains("blue"), "{list}");

    // A recovery code through the API.
    let http = reqwest::blocking::Client::new();
    let start: serde_json::Value = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"username": "alice", "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let answer = http
        .post(format!("{url}/api/v1/login/recovery"))
        .json(&serde_json::json!({"login_id": start["login_id"], "code": codes[0]}))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);

    // Clone alarm: roll the green token's state back after a login.
    let saved = std::fs::read(&green.state).unwrap();
    ok(&key_args("login", &url, &green.spec, &[]), &pw);
    let state = green.state.clone();
    drop(green);
    std::fs::write(&state, saved).unwrap();
    let green = SoftToken::start(&state, "auto");
    assert!(fails(&key_args("login", &url, &green.spec, &[]), &pw).contains("clone alarm"));
    drop(server);
}

#[test]
fn enroll_login_and_manage_keys_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    end_to_end(&common::db::sqlite_url(&dir.path().join("keygate.db")));
}

#[test]
fn enroll_login_and_manage_keys_postgres() {
    let url = tokio::runtime::Runtime::new().unwrap().block_on(common::db::fresh_postgres_url());
    end_to_end(&url);
}

/// alice on a SQLite server, and a soft token that waits for a touch
/// (SIGUSR1); the directory keeps both alive.
fn alice_with_a_manual_key() -> (tempfile::TempDir, common::Server, SoftToken) {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    common::add_user(&database, "alice", PASSWORD);
    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", &database, "--listen", &addr.to_string()]);
    });
    let token = SoftToken::start(&dir.path().join("t.json"), "manual");
    (dir, server, token)
}

#[test]
fn a_touch_that_never_comes_times_out() {
    let (_dir, server, token) = alice_with_a_manual_key();
    let url = server.url();
    let args = key_args("enroll", &url, &token.spec, &["--timeout", "1"]);
    assert!(fails(&args, &format!("{PASSWORD}\n")).contains("timed out waiting for touch"));
}

#[test]
fn on_a_terminal_the_spinner_waits_for_a_touch_and_ctrl_c_cancels() {
    let (_dir, server, token) = alice_with_a_manual_key();
    common::pytest(
        "test_touch_pty.py",
        &[
            ("KEYGATE_SERVER", server.url()),
            ("KEYGATE_DEVICE", token.spec.clone()),
            ("KEYGATE_TOKEN_PID", token.child.id().to_string()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ],
    );
}
