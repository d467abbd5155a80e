//! Debian's Chromium through Playwright against the real binary: a key
//! enrolled with `keygate key enroll` signs in at login.php through
//! WebAuthn (tests/python/test_browser_login.py). Screenshots land in
//! `target/screenshots/`. Over HTTPS, a test CA made at test time signs
//! the server's certificate (tests/python/test_browser_tls.py). A key
//! enrolled over CTAP2 signs in from Chromium's CTAP2 virtual authenticator,
//! on SQLite and PostgreSQL (tests/python/test_browser_ctap2.py).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Server;
use common::tls::{KeyKind, TestCa, serve_https};

const PASSWORD: &str = "correct horse battery";

/// `keygate serve` on `database` at `http://localhost:PORT` (WebAuthn needs
/// a secure context: http://localhost is one), and that URL.
fn serve_on_localhost(dir: &Path, database: &str, configure: impl FnOnce(&mut Command)) -> (Server, String) {
    let addr = common::free_addr();
    let url = format!("http://localhost:{}", addr.port());
    let server = Server::start(dir, addr, |cmd| {
        cmd.args(["--database", database, "--listen", &addr.to_string()]);
        cmd.args(["--origin", &url, "--rp-id", "localhost"]);
        configure(cmd);
    });
    (server, url)
}

/// Where the browser tests leave their screenshots.
fn screenshots() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots").display().to_string()
}

#[test]
fn chromium_signs_in_and_manages_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let (api_key, secret) =
        common::add_app(&db, "browser-app", &["--redirect-uri", "https://app.example/cb"]);
    let uid = common::add_user(&db, "alice", PASSWORD);
    for user in ["u2f-user", "ctap2-user", "phone-user", "csrf-user"] {
        common::add_user(&db, user, PASSWORD);
    }
    let (_server, url) = serve_on_localhost(dir.path(), &db, |_| {});
    let env = [
        ("KEYGATE_URL", url.clone()),
        ("KEYGATE_DATABASE", db.clone()),
        ("KEYGATE_API_KEY", api_key),
        ("KEYGATE_SECRET", secret),
        ("KEYGATE_UID", uid),
        ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ("KEYGATE_SCREENSHOTS", screenshots()),
    ];
    common::pytest("test_browser_login.py", &env);
    common::pytest("test_browser_account.py", &env);
}

#[test]
fn chromium_keys_outside_the_trusted_cas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    common::add_user(&db, "policy-user", PASSWORD);
    let roots = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/soft-token/ca.pem");
    let (_server, url) = serve_on_localhost(dir.path(), &db, |cmd| {
        cmd.env("KEYGATE_ATTESTATION", "trusted-ca").env("KEYGATE_ATTESTATION_ROOTS", &roots);
    });
    common::pytest(
        "test_browser_policy.py",
        &[
            ("KEYGATE_URL", url.clone()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_SCREENSHOTS", screenshots()),
        ],
    );
}

#[test]
fn chromium_signs_in_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    common::add_user(&db, "tls-user", PASSWORD);
    let ca = TestCa::new(dir.path(), "keygate-browser-test-ca");
    let leaf = ca.leaf(dir.path(), "server", KeyKind::Ecdsa);
    let (_server, url) = serve_https(dir.path(), &db, &ca.cert, &leaf, |_| {});
    common::pytest(
        "test_browser_tls.py",
        &[
            ("KEYGATE_URL", url),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_CA_FILE", ca.cert.display().to_string()),
            ("KEYGATE_SPKI", leaf.spki_sha256.clone()),
            ("KEYGATE_SCREENSHOTS", screenshots()),
        ],
    );
}

crate::on_both_engines!(url: chromium_signs_in_with_a_key_enrolled_over_ctap2);

/// `keygate key enroll --protocol ctap2` against a CTAP2-only soft token; the
/// credential, exported into Chromium's virtual authenticator (protocol
/// `ctap2`), signs in at /sign-in (tests/python/test_browser_ctap2.py).
fn chromium_signs_in_with_a_key_enrolled_over_ctap2(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    common::add_user(db, "fido2-user", PASSWORD);
    let (_server, url) = serve_on_localhost(dir.path(), db, |_| {});
    let engine = if db.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    common::pytest(
        "test_browser_ctap2.py",
        &[
            ("KEYGATE_URL", url),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_ENGINE", engine.to_owned()),
            ("KEYGATE_SCREENSHOTS", screenshots()),
        ],
    );
}
