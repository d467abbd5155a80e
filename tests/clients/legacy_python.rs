//! minifb 1.3, a real Python client of the legacy REST API, against the real
//! binary: the app is registered with `keygate app add`, the server is
//! `keygate serve` on a loopback port, and the sign-in between createToken
//! and getSession goes through login.php and the JSON API's `for` field with
//! python-fido2 driving the soft token.

use crate::common;

const PASSWORD: &str = "correct horse battery";

#[test]
fn minifb_desktop_flow() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let app = "https://desktop.example";
    let (api_key, secret) =
        common::add_app(&db, "minifb", &["--desktop", "--redirect-uri", &format!("{app}/callback")]);
    let uid = common::add_user(&db, "alice", PASSWORD);

    let server = common::Server::with_database(dir.path(), &db);
    common::pytest(
        "test_minifb.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_API_KEY", api_key),
            ("KEYGATE_SECRET", secret),
            ("KEYGATE_UID", uid),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
            ("KEYGATE_NEXT", app.to_owned()),
        ],
    );
}
