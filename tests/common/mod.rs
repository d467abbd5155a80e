//! Helpers shared by the integration tests: run the real `keygate` binary,
//! find free loopback ports, wait for a server to answer.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

pub mod api;
pub mod verify;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `keygate` binary Cargo built for this test run.
pub fn keygate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    // Tests must not pick up the developer's environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYGATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

/// Runs `keygate ARGS` with `stdin` written to it, and collects its output.
/// It runs in the temporary directory, so a `./keygate.toml` of the checkout
/// is not read.
pub fn run_keygate(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = keygate()
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keygate");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("keygate runs")
}

/// [`run_keygate`] that must succeed; its standard output.
pub fn keygate_ok(args: &[&str], stdin: &str) -> String {
    let out = run_keygate(args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// [`run_keygate`] that must fail with status 1 and one line on standard
/// error; that line.
pub fn keygate_fails(args: &[&str], stdin: &str) -> String {
    let out = run_keygate(args, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8(out.stderr).expect("UTF-8 errors");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// The value after `label` on a line of a command's output (`api_key:`).
pub fn labelled(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

/// `keygate user add NAME` with `password` on `database`; the new uid.
pub fn add_user(database: &str, name: &str, password: &str) -> String {
    let created = keygate_ok(
        &["user", "add", name, "--password-stdin", "--database", database],
        &format!("{password}\n"),
    );
    created
        .split("(uid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("uid in the output")
        .to_owned()
}

/// `keygate app add NAME EXTRA…` on `database`; its (api_key, secret).
pub fn add_app(database: &str, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["app", "add", name, "--database", database];
    args.extend_from_slice(extra);
    let added = keygate_ok(&args, "");
    (labelled(&added, "api_key:"), labelled(&added, "secret:"))
}

/// The name of the account running the tests, as `id -un` prints it: the
/// user admin commands name in their audit entries (`cli:NAME`).
pub fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 user name").trim().to_owned()
}

/// A loopback address with a port nobody is listening on right now.
pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("read the ephemeral port")
}

/// A `keygate serve` child process, killed when dropped.
pub struct Server {
    /// The running process.
    pub child: Child,
    /// Where it answers.
    pub addr: SocketAddr,
    /// Its standard output and error: a file, never a pipe nobody reads
    /// (a full pipe would stall the server at its next log line).
    pub log: std::path::PathBuf,
    /// Its base URL.
    base: String,
}

impl Server {
    /// Starts `keygate serve` with extra arguments in `dir` and waits until
    /// `/healthz` answers at `addr`.
    pub fn start(dir: &Path, addr: SocketAddr, configure: impl FnOnce(&mut Command)) -> Server {
        Self::spawn(dir, addr, format!("http://{addr}"), reqwest::blocking::Client::new(), configure)
    }

    /// Like [`Server::start`] for a server speaking HTTPS with a
    /// certificate for localhost from the CA in `ca`.
    pub fn start_https(
        dir: &Path,
        addr: SocketAddr,
        ca: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let base = format!("https://localhost:{}", addr.port());
        Self::spawn(dir, addr, base, tls::client_trusting(ca), configure)
    }

    fn spawn(
        dir: &Path,
        addr: SocketAddr,
        base: String,
        client: reqwest::blocking::Client,
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let log = dir.join(format!("keygate-serve-{}.log", addr.port()));
        let out = std::fs::File::create(&log).expect("create the server log");
        let mut cmd = keygate();
        cmd.arg("serve").current_dir(dir).stdout(out.try_clone().expect("log handle")).stderr(out);
        configure(&mut cmd);
        let child = cmd.spawn().expect("spawn keygate serve");
        let mut server = Server { child, addr, log, base };
        server.wait_healthy(&client, Duration::from_secs(30));
        server
    }

    /// `keygate serve --database DATABASE` in `dir` on a free loopback port.
    pub fn with_database(dir: &Path, database: &str) -> Server {
        let addr = free_addr();
        Server::start(dir, addr, |cmd| {
            cmd.args(["--database", database, "--listen", &addr.to_string()]);
        })
    }

    /// The base URL of the server.
    pub fn url(&self) -> String {
        self.base.clone()
    }

    fn wait_healthy(&mut self, client: &reqwest::blocking::Client, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let output = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("keygate serve exited early with {status}: {output}");
            }
            if let Ok(resp) = client.get(format!("{}/healthz", self.url())).send()
                && resp.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "keygate serve did not answer on {}", self.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server logged so far.
    pub fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal (e.g. "INT", "TERM") to the server process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the test venv (`target/venv`, made by `scripts/test`), which
/// holds the real third-party clients. Fails loudly rather than skipping: a
/// suite that silently skips its real-client tests proves nothing.
pub fn python() -> Command {
    let python = std::env::var_os("KEYGATE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/test once to create the test venv",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Runs one pytest file of `tests/python/` with extra environment, and fails
/// the calling test with pytest's output when any case fails.
pub fn pytest(file: &str, env: &[(&str, String)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let mut cmd = python();
    cmd.arg("-m").arg("pytest").arg("-q").arg("-p").arg("no:cacheprovider").arg(dir.join(file));
    cmd.env("KEYGATE_BIN", env!("CARGO_BIN_EXE_keygate"));
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().expect("run pytest");
    assert!(
        output.status.success(),
        "pytest {file} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub mod db;
pub mod legacy;
pub mod tls;
