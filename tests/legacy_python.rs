//! minifb 1.3, a real Python client of the legacy REST API, against the real
//! binary: the app is registered with `keygate app add`, the server is
//! `keygate serve` on a loopback port, and the sign-in between createToken
//! and getSession goes through login.php and the JSON API's `for` field with
//! python-fido2 driving the soft token.

mod common;

use std::io::Write;
use std::process::Stdio;

const PASSWORD: &str = "correct horse battery";

fn labelled(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

fn run(args: &[&str], stdin: &str) -> String {
    let mut child = common::keygate()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn minifb_desktop_flow() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let app = "https://desktop.example";
    let added = run(
        &[
            "app",
            "add",
            "minifb",
            "--desktop",
            "--redirect-uri",
            &format!("{app}/callback"),
            "--database",
            &db,
        ],
        "",
    );
    let (api_key, secret) = (labelled(&added, "api_key:"), labelled(&added, "secret:"));
    let created =
        run(&["user", "add", "alice", "--password-stdin", "--database", &db], &format!("{PASSWORD}\n"));
    let uid = created.split("(uid ").nth(1).and_then(|rest| rest.split(')').next()).unwrap();

    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", &db, "--listen", &addr.to_string()]);
    });
    common::pytest(
        "test_minifb.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_API_KEY", api_key),
            ("KEYGATE_SECRET", secret),
            ("KEYGATE_UID", uid.to_owned()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_NEXT", app.to_owned()),
        ],
    );
}
