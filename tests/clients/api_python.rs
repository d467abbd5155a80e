//! python-fido2's `Ctap1` enrolls the soft token and logs in through the
//! JSON API of a real `keygate serve` (tests/python/test_api_login.py).

use crate::common;

#[test]
fn python_fido2_ctap1_enrolls_and_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let password = "correct horse battery";
    common::add_user(&database, "pyuser", password);
    let server = common::Server::with_database(dir.path(), &database);
    common::pytest(
        "test_api_login.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_USER", "pyuser".to_owned()),
            ("KEYGATE_PASSWORD", password.to_owned()),
        ],
    );
}

crate::on_both_engines!(url: python_fido2_client_enrolls_and_signs_in_over_ctap2);

/// python-fido2's `Fido2Client` over CTAP2 (a CTAP2-only soft token) enrolls
/// and signs in through the WebAuthn endpoints of a real `keygate serve`,
/// whose origin is `http://localhost:PORT` as WebAuthn clients require
/// (tests/python/test_api_webauthn.py).
fn python_fido2_client_enrolls_and_signs_in_over_ctap2(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let password = "correct horse battery";
    common::add_user(database, "fido2-api", password);
    let addr = common::free_addr();
    let url = format!("http://localhost:{}", addr.port());
    let _server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", database, "--listen", &addr.to_string()]);
        cmd.args(["--origin", &url, "--rp-id", "localhost"]);
    });
    common::pytest(
        "test_api_webauthn.py",
        &[
            ("KEYGATE_URL", url),
            ("KEYGATE_USER", "fido2-api".to_owned()),
            ("KEYGATE_PASSWORD", password.to_owned()),
        ],
    );
}
