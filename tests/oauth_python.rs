//! facebook-sdk 3.1.0, a real Python Graph client, against the real binary:
//! the app is registered with `keygate app add`, the user with `keygate user
//! add`, and python-fido2 with the soft token completes the OAuth dialog
//! (tests/python/test_facebook_sdk.py).

mod common;

use std::io::Write;
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
fn facebook_sdk_token_life() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let redirect = "https://app.example/oauth/callback";
    let added = run(&["app", "add", "graph-app", "--redirect-uri", redirect, "--database", &db], "");
    let created =
        run(&["user", "add", "alice", "--password-stdin", "--database", &db], &format!("{PASSWORD}\n"));
    let uid = created.split("(uid ").nth(1).and_then(|rest| rest.split(')').next()).unwrap();
    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", &db, "--listen", &addr.to_string()]);
    });
    common::pytest(
        "test_facebook_sdk.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_APP_ID", labelled(&added, "api_key:")),
            ("KEYGATE_APP_SECRET", labelled(&added, "secret:")),
            ("KEYGATE_REDIRECT_URI", redirect.to_owned()),
            ("KEYGATE_UID", uid.to_owned()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ],
    );
}
