//! `keygate serve` as an operator runs it: real binary, real loopback port.

use crate::common;

use std::time::{Duration, Instant};

use common::{Server, free_addr};

fn healthz(server: &Server) -> serde_json::Value {
    reqwest::blocking::get(format!("{}/healthz", server.url()))
        .expect("GET /healthz")
        .json()
        .expect("healthz answers JSON")
}

/// Waits for the server to exit; its exit status and what it logged.
fn wait_exit(server: &mut Server) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().expect("poll child") {
            return (status, server.logged());
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn listen_flag_serves_healthz_and_ctrl_c_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = Server::start(dir.path(), addr, |cmd| {
        cmd.arg("--listen").arg(addr.to_string());
    });
    assert_eq!(healthz(&server)["status"], "ok");
    // The defaults: an SQLite file and a private server key in the working directory.
    assert!(dir.path().join("keygate.db").exists());
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("keygate.key")).expect("key file created").permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600);
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url())).unwrap().text().unwrap();
    assert!(
        metrics.contains(r#"keygate_http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{metrics}"
    );
    server.signal("INT");
    let (status, log) = wait_exit(&mut server);
    assert!(status.success(), "exit status {status:?}");
    assert!(log.contains("keygate stopped"), "log: {log}");
}

#[test]
fn sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = Server::start(dir.path(), addr, |cmd| {
        cmd.arg("--listen").arg(addr.to_string());
    });
    server.signal("TERM");
    assert!(wait_exit(&mut server).0.success());
}

#[test]
fn config_file_sets_listen() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    std::fs::write(dir.path().join("keygate.toml"), format!("listen = \"{addr}\"\n")).unwrap();
    let server = Server::start(dir.path(), addr, |_| {});
    assert_eq!(healthz(&server)["status"], "ok");
}

#[test]
fn environment_beats_file_and_flag_beats_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (in_file, in_env, in_flag) = (free_addr(), free_addr(), free_addr());
    std::fs::write(dir.path().join("keygate.toml"), format!("listen = \"{in_file}\"\n")).unwrap();

    let server = Server::start(dir.path(), in_env, |cmd| {
        cmd.env("KEYGATE_LISTEN", in_env.to_string());
    });
    assert_eq!(healthz(&server)["status"], "ok");
    drop(server);

    let server = Server::start(dir.path(), in_flag, |cmd| {
        cmd.env("KEYGATE_LISTEN", in_env.to_string()).arg("--listen").arg(in_flag.to_string());
    });
    assert_eq!(healthz(&server)["status"], "ok");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--listen", &addr.to_string(), "--log-format", "json"]);
    });
    server.signal("TERM");
    let (_, log) = wait_exit(&mut server);

    let lines: Vec<&str> = log.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn bad_config_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keygate.toml"), "listen = \"nowhere\"\n").unwrap();
    let output = common::keygate().arg("serve").current_dir(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.starts_with("keygate: invalid configuration"), "{err}");
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn unreachable_database_stops_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::keygate()
        .args(["serve", "--listen", &free_addr().to_string(), "--database", "sqlite:no/such/dir/k.db"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("keygate: cannot open the database sqlite:no/such/dir/k.db"), "{err}");
}
