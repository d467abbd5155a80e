//! facebook-sdk 3.1.0, a real Python Graph client, against the real binary:
//! the app is registered with `keygate app add`, the user with `keygate user
//! add`, and python-fido2 with the soft token completes the OAuth dialog
//! (tests/python/test_facebook_sdk.py).

use crate::common;

const PASSWORD: &str = "correct horse battery";

#[test]
fn facebook_sdk_token_life() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let redirect = "https://app.example/oauth/callback";
    let (api_key, secret) = common::add_app(&db, "graph-app", &["--redirect-uri", redirect]);
    let uid = common::add_user(&db, "alice", PASSWORD);
    let server = common::Server::with_database(dir.path(), &db);
    common::pytest(
        "test_facebook_sdk.py",
        &[
            ("KEYGATE_URL", server.url()),
            ("KEYGATE_APP_ID", api_key),
            ("KEYGATE_APP_SECRET", secret),
            ("KEYGATE_REDIRECT_URI", redirect.to_owned()),
            ("KEYGATE_UID", uid),
            ("KEYGATE_PASSWORD", PASSWORD.to_owned()),
        ],
    );
}
