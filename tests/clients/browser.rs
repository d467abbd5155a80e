//! Debian's Chromium through Playwright against the real binary: a key
//! enrolled with `keygate key enroll` signs in at login.php through
//! WebAuthn (tests/python/test_browser_login.py). Screenshots land in
//! `target/screenshots/`.

use crate::common;

use std::path::Path;

const PASSWORD: &str = "correct horse battery";

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
        ("KEYGATE_API_KEY", api_key),
        ("KEYGATE_SECRET", secret),
        ("KEYGATE_UID", uid),
        ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ("KEYGATE_SCREENSHOTS", shots.display().to_string()),
    ];
    common::pytest("test_browser_login.py", &env);
    common::pytest("test_browser_account.py", &env);
}

#[test]
fn chromium_keys_outside_the_trusted_cas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    common::add_user(&db, "policy-user", PASSWORD);
    let addr = common::free_addr();
    let url = format!("http://localhost:{}", addr.port());
    let roots = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/soft-token/ca.pem");
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
        cmd.env("KEYGATE_ATTESTATION", "trusted-ca").env("KEYGATE_ATTESTATION_ROOTS", &roots);
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    common::pytest(
        "test_browser_policy.py",
        &[
            ("KEYGATE_URL", url.clone()),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_SCREENSHOTS", shots.display().to_string()),
        ],
    );
}
