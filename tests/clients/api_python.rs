//! python-fido2's `Ctap1` enrolls the soft token and logs in through the
//! JSON API of a real `keygate serve` (tests/python/test_api_login.py).

use crate::common;

use std::io::Write;
use std::process::Stdio;

#[test]
fn python_fido2_ctap1_enrolls_and_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let password = "correct horse battery";
    let mut add = common::keygate()
        .args(["user", "add", "pyuser", "--password-stdin", "--database", &database])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());
    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", &database, "--listen", &addr.to_string()]);
    });
    common::pytest(
        "test_api_login.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_USER", "pyuser".to_owned()),
            ("KEYGATE_PASSWORD", password.to_owned()),
        ],
    );
}
