//! `keygate key …` end to end: the real binary against `keygate serve` on a
//! loopback port, with `keygate soft-token serve` over UDP as the key, on
//! SQLite and PostgreSQL.

use crate::common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{keygate_fails as fails, keygate_ok as ok};

pub(crate) const PASSWORD: &str = "correct horse battery";

crate::on_both_engines!(
    url:
    enroll_login_and_manage_keys,
    a_relaying_server_gets_no_signature,
);

/// A `keygate soft-token serve --listen udp:…` child, killed when dropped.
pub(crate) struct SoftToken {
    child: Child,
    pub(crate) spec: String,
    state: PathBuf,
}

impl SoftToken {
    /// A token with the default protocols (no `--protocol`).
    pub(crate) fn start(state: &Path, presence: &str) -> SoftToken {
        Self::spawn(state, presence, None)
    }

    /// A token that speaks `protocol` (u2f, ctap2 or both).
    pub(crate) fn start_with(state: &Path, presence: &str, protocol: &str) -> SoftToken {
        Self::spawn(state, presence, Some(protocol))
    }

    fn spawn(state: &Path, presence: &str, protocol: Option<&str>) -> SoftToken {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("udp:127.0.0.1:{port}");
        let child = common::keygate()
            .args(["soft-token", "serve", "--state"])
            .arg(state)
            .args(["--listen", &listen, "--presence", presence])
            .args(protocol.map(|p| ["--protocol", p]).into_iter().flatten())
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

    /// The token's process id (SIGUSR1 is a touch).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SoftToken {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn key_args<'a>(
    cmd: &'a str,
    server: &'a str,
    device: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["key", cmd];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--server", server, "--user", "alice", "--device", device, "--password-stdin"]);
    args
}

pub(crate) fn session_of(stdout: &str) -> String {
    stdout.lines().find_map(|l| l.strip_prefix("session_token: ")).expect("session line").to_owned()
}

fn enroll_login_and_manage_keys(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    let (server, url) = serve(dir.path(), database);
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
    // Counted once, however many layers saw it.
    let metrics = http.get(format!("{url}/metrics")).send().unwrap().text().unwrap();
    let clones: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("keygate_login_total") && l.contains("possible_clone"))
        .collect();
    assert_eq!(clones, [r#"keygate_login_total{outcome="possible_clone"} 1"#], "{metrics}");
    drop(server);
}

/// alice on a SQLite server, and a soft token that waits for a touch
/// (SIGUSR1); the directory keeps both alive.
fn alice_with_a_manual_key() -> (tempfile::TempDir, common::Server, SoftToken) {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    common::add_user(&database, "alice", PASSWORD);
    let (server, _) = serve(dir.path(), &database);
    let token = SoftToken::start(&dir.path().join("t.json"), "manual");
    (dir, server, token)
}

/// `keygate serve` on `database` at `http://localhost:PORT`, its origin: the
/// name the CLI is given, as a browser would be.
pub(crate) fn serve(dir: &Path, database: &str) -> (common::Server, String) {
    let addr = common::free_addr();
    let url = format!("http://localhost:{}", addr.port());
    let server = common::Server::start(dir, addr, |cmd| {
        cmd.args(["--database", database, "--listen", &addr.to_string(), "--origin", &url]);
    });
    (server, url)
}

fn localhost(server: &common::Server) -> String {
    format!("http://localhost:{}", server.addr.port())
}

#[test]
fn a_touch_that_never_comes_times_out() {
    let (_dir, server, token) = alice_with_a_manual_key();
    let url = localhost(&server);
    let args = key_args("enroll", &url, &token.spec, &["--timeout", "1"]);
    assert!(fails(&args, &format!("{PASSWORD}\n")).contains("timed out waiting for touch"));
}

#[test]
fn on_a_terminal_the_spinner_waits_for_a_touch_and_ctrl_c_cancels() {
    let (_dir, server, token) = alice_with_a_manual_key();
    common::pytest(
        "test_touch_pty.py",
        &[
            ("KEYGATE_SERVER", localhost(&server)),
            ("KEYGATE_DEVICE", token.spec.clone()),
            ("KEYGATE_TOKEN_PID", token.child.id().to_string()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ],
    );
}

/// Runs one statement on the server's database (test set-up: ageing sessions).
pub(crate) fn sql(database: &str, statement: &str) {
    let url = keygate::store::normalize_url(database).unwrap().1;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

/// A session whose second factor is ten minutes old cannot add a key: the
/// CLI asks for a touch of a registered key, and a new key cannot give it.
/// Removing the last key with such a session steps up with that key's
/// touch and then succeeds.
#[test]
fn a_stale_session_steps_up_with_a_touch_of_a_registered_key() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", &database], &pw);
    let (_server, url) = serve(dir.path(), &database);
    let blue = SoftToken::start(&dir.path().join("blue.json"), "auto");
    let red = SoftToken::start(&dir.path().join("red.json"), "auto");
    ok(&key_args("enroll", &url, &blue.spec, &["--name", "blue"]), &pw);
    let session = session_of(&ok(&key_args("login", &url, &blue.spec, &[]), &pw));
    sql(&database, "UPDATE sessions SET created_at = created_at - 600, verified_at = verified_at - 600");

    let mut enroll = key_args("enroll", &url, &red.spec, &["--name", "red"]);
    enroll.extend_from_slice(&["--session", &session]);
    let out = common::run_keygate(&enroll, "");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("touch of a key already registered") && err.contains("this key is not registered"),
        "{err}"
    );
    let list = ok(&[key_args("list", &url, &blue.spec, &[]), vec!["--session", &session]].concat(), "");
    assert!(!list.contains("red"), "{list}");

    let remove = [key_args("remove", &url, &blue.spec, &["blue"]), vec!["--session", &session]].concat();
    let out = common::run_keygate(&remove, "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("touch of a key already registered for alice"));
    let list = ok(&[key_args("list", &url, &blue.spec, &[]), vec!["--session", &session]].concat(), "");
    assert!(list.contains("alice has no keys"), "{list}");
}

pub(crate) mod relay {
    //! A phishing server: another origin that forwards every request to the
    //! real server and every answer back, optionally rewriting the answers'
    //! `origin` (and `appId`) to its own, and records what it forwarded.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::body::{Body, to_bytes};
    use axum::extract::{Request, State};
    use axum::response::Response;

    /// What the relay changes in the real server's answers.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Rewrite {
        /// Nothing: a transparent relay.
        Nothing,
        /// `origin` becomes the relay's own.
        Origin,
        /// `origin` and `appId` become the relay's own.
        OriginAndAppId,
    }

    #[derive(Clone)]
    struct Relay {
        target: String,
        own_origin: String,
        rewrite: Rewrite,
        seen: Arc<Mutex<Vec<String>>>,
        http: reqwest::Client,
    }

    /// A running relay: its URL and the paths it forwarded.
    pub struct Running {
        pub url: String,
        pub seen: Arc<Mutex<Vec<String>>>,
        _runtime: tokio::runtime::Runtime,
    }

    pub fn start(target: &str, rewrite: Rewrite) -> Running {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://127.0.0.1:{}", addr.port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let relay = Relay {
            target: target.to_owned(),
            own_origin: url.clone(),
            rewrite,
            seen: seen.clone(),
            http: reqwest::Client::new(),
        };
        let app = axum::Router::new().fallback(forward).with_state(relay);
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Running { url, seen, _runtime: runtime }
    }

    async fn forward(State(relay): State<Relay>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        relay.seen.lock().unwrap().push(parts.uri.path().to_owned());
        let body = to_bytes(body, 1 << 20).await.unwrap();
        let mut outgoing =
            relay.http.request(parts.method.clone(), format!("{}{path}", relay.target)).body(body);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = outgoing.send().await.unwrap();
        let status = answer.status();
        let mut bytes = answer.bytes().await.unwrap().to_vec();
        if relay.rewrite != Rewrite::Nothing
            && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && value.get("origin").is_some()
        {
            value["origin"] = serde_json::json!(relay.own_origin);
            if relay.rewrite == Rewrite::OriginAndAppId {
                value["appId"] = serde_json::json!("127.0.0.1");
            }
            bytes = value.to_string().into_bytes();
        }
        Response::builder()
            .status(status.as_u16())
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap()
    }
}

/// `keygate key login` and `enroll` through a relaying (phishing) server:
/// refused before the key is asked for anything, naming both origins; no
/// `login/u2f` or `register/finish` ever reaches the real server. A relay
/// that also claims the application id gets nothing either: the WebAuthn
/// options it passes on name the real RP ID, and a key's handles are bound
/// to the real application anyway. Directly, login still works. The keys
/// speak only U2F here; CTAP2 through a relay is in `key_ctap2`.
fn a_relaying_server_gets_no_signature(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    ok(&["user", "add", "bob", "--password-stdin", "--database", database], &pw);
    let (_server, url) = serve(dir.path(), database);
    let blue = SoftToken::start_with(&dir.path().join("blue.json"), "auto", "u2f");
    let green = SoftToken::start_with(&dir.path().join("green.json"), "auto", "u2f");
    ok(&key_args("enroll", &url, &blue.spec, &["--name", "blue"]), &pw);
    let session = session_of(&ok(&key_args("login", &url, &blue.spec, &[]), &pw));

    for rewrite in [relay::Rewrite::Nothing, relay::Rewrite::Origin, relay::Rewrite::OriginAndAppId] {
        let relay = relay::start(&url, rewrite);
        let err = fails(&key_args("login", &relay.url, &blue.spec, &[]), &pw);
        match rewrite {
            relay::Rewrite::Nothing => {
                assert!(err.contains(&relay.url) && err.contains(&url), "names both origins: {err}");
            }
            relay::Rewrite::Origin => assert!(err.contains("\"localhost\""), "names the app id: {err}"),
            // The WebAuthn options it passes on still name the real RP ID.
            relay::Rewrite::OriginAndAppId => {
                assert!(err.contains("refusing to sign") && err.contains("\"localhost\""), "{err}");
            }
        }
        // Enrolling through it: bob's first key, and a second key of alice's.
        let bob = common::run_keygate(
            &[
                "key",
                "enroll",
                "--server",
                &relay.url,
                "--user",
                "bob",
                "--device",
                &green.spec,
                "--password-stdin",
            ],
            &pw,
        );
        let mut second = key_args("enroll", &relay.url, &green.spec, &["--name", "green"]);
        second.extend_from_slice(&["--session", &session]);
        let alice = common::run_keygate(&second, "");
        assert_eq!(bob.status.code(), Some(1), "{rewrite:?}");
        assert_eq!(alice.status.code(), Some(1), "{rewrite:?}");
        let seen = relay.seen.lock().unwrap().clone();
        assert!(seen.iter().any(|p| p == "/api/v1/login"), "the relay did relay: {seen:?}");
        assert!(!seen.iter().any(|p| p == "/api/v1/login/u2f"), "{rewrite:?}: {seen:?}");
        assert!(!seen.iter().any(|p| p == "/api/v1/keys/register/finish"), "{rewrite:?}: {seen:?}");
    }
    // Whatever the last relay made a key sign is bound to its own origin
    // and application: the real server stored no key from it.
    let keys = ok(&[key_args("list", &url, &blue.spec, &[]), vec!["--session", &session]].concat(), "");
    assert!(!keys.contains("green"), "{keys}");
    let users = ok(&["user", "list", "--database", database], "");
    let bob: Vec<&str> = users.lines().find(|l| l.starts_with("bob ")).unwrap().split_whitespace().collect();
    assert_eq!(bob[3], "0", "bob has no key: {users}");
    // Directly, everything still works.
    ok(&key_args("login", &url, &blue.spec, &[]), &pw);
    // Plain HTTP to another machine is refused before anything is sent.
    let err = fails(&key_args("login", "http://192.0.2.1:8080", &blue.spec, &[]), &pw);
    assert!(err.contains("refusing plain http://"), "{err}");
}
