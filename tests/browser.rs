//! Debian's Chromium through Playwright against the real binary: a key
//! enrolled with `keygate key enroll` signs in at login.php through
//! WebAuthn (tests/python/test_browser_login.py). Screenshots land in
//! `target/screenshots/`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

const PASSWORD: &str = "correct horse battery";

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

fn labelled(output: &str, label: &str) -> String {
    output.lines().find_map(|l| l.strip_prefix(label)).map(|v| v.trim().to_owned()).unwrap()
}

#[test]
fn chromium_signs_in_and_manages_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let added = run(
        &["app", "add", "browser-app", "--redirect-uri", "https://app.example/cb", "--database", &db],
        "",
    );
    let created =
        run(&["user", "add", "alice", "--password-stdin", "--database", &db], &format!("{PASSWORD}\n"));
    let uid = created.split("(uid ").nth(1).and_then(|rest| rest.split(')').next()).unwrap();
    for user in ["u2f-user", "ctap2-user", "phone-user", "csrf-user"] {
        run(&["user", "add", user, "--password-stdin", "--database", &db], &format!("{PASSWORD}\n"));
    }
    let addr = common::free_addr();
    // WebAuthn needs a secure context: http://localhost is one.
    let url = format!("http://localhost:{}", addr.port());
    let _server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args([
            "--database",
            &db,
            "--listen",
            &addr.to_string(),
            "--origin",
            &url,
            "--rp-id",
            "localhost",
        ]);
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let env = [
        ("KEYGATE_URL", url.clone()),
        ("KEYGATE_DATABASE", db.clone()),
        ("KEYGATE_API_KEY", labelled(&added, "api_key:")),
        ("KEYGATE_SECRET", labelled(&added, "secret:")),
        ("KEYGATE_UID", uid.to_owned()),
        ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ("KEYGATE_SCREENSHOTS", shots.display().to_string()),
    ];
    common::pytest("test_browser_login.py", &env);
    common::pytest("test_browser_account.py", &env);
}
