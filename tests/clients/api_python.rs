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
