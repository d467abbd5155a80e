//! `keygate app …` end to end: the real binary registers, lists, rotates and
//! removes apps on a real SQLite file, and the legacy API (in process, with
//! the same server key file) accepts exactly the secrets it printed.

use crate::common;

use common::legacy::{call, json_error_code, user};
use keygate::config::default_key_file;
use keygate::secrets::{ServerKey, TokenHash};
use keygate::store::{AuditFilter, NewSession, Store};
use keygate::web::AppState;

/// `keygate ARGS --database URL` that must succeed; its output.
fn ok(url: &str, args: &[&str]) -> String {
    common::keygate_ok(&[args, &["--database", url]].concat(), "")
}

async fn create_token(state: &AppState, api_key: &str, secret: &str) -> serde_json::Value {
    let params = [("method", "auth.createToken"), ("api_key", api_key), ("v", "1.0"), ("format", "JSON")];
    call(state, &params, secret).await.json()
}

#[tokio::test]
async fn register_rotate_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let url = url.as_str();

    let added = ok(
        url,
        &[
            "app",
            "add",
            "Demo App",
            "--desktop",
            "--redirect-uri",
            "https://app.example/cb",
            "--allow-ip",
            "127.0.0.0/8",
            "--rate-limit",
            "600/min",
        ],
    );
    let api_key = common::labelled(&added, "api_key:");
    let secret = common::labelled(&added, "secret:");
    assert_eq!((api_key.len(), secret.len()), (32, 32), "{added}");

    for bad in [
        vec!["app", "add", "Bad", "--redirect-uri", "javascript:alert(1)"],
        vec!["app", "add", "Bad", "--allow-ip", "not-a-network"],
        vec!["app", "add", "Bad", "--rate-limit", "0/min"],
        vec!["app", "add", "Demo App"],
        vec!["app", "remove", "nobody"],
    ] {
        let out = common::run_keygate(&[bad.as_slice(), &["--database", url]].concat(), "");
        assert_eq!(out.status.code(), Some(1), "{bad:?} should fail");
    }

    let listed = ok(url, &["app", "list"]);
    assert!(
        listed.contains("Demo App") && listed.contains(&api_key) && listed.contains("600/min"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "list must not show secrets: {listed}");

    let store = Store::open(url).await.unwrap();
    let app = store.app_by_api_key(&api_key).await.unwrap().unwrap();
    assert!(!app.secret_sealed.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored sealed");
    assert!(app.desktop);
    let server_key = ServerKey::load(None, &default_key_file(url)).unwrap();
    let state = AppState::new(keygate::config::Config::default(), store.clone(), server_key);
    assert!(create_token(&state, &api_key, &secret).await.is_string());

    let rotated = ok(url, &["app", "rotate-secret", &api_key]);
    let new_secret = common::labelled(&rotated, "secret:");
    assert_ne!(new_secret, secret);
    assert_eq!(json_error_code(&create_token(&state, &api_key, &secret).await), 104);
    assert!(create_token(&state, &api_key, &new_secret).await.is_string());

    // Removal ends the app's sessions and its calls.
    let alice = user(&store, "alice").await;
    let hash = TokenHash::of("some session key");
    let session = NewSession {
        app_id: Some(app.id),
        ..NewSession::new(
            &hash,
            alice.id,
            keygate::store::SessionKind::Legacy,
            keygate::clock::unix_now() + 60,
        )
    };
    store.create_session(&session, keygate::clock::unix_now()).await.unwrap();
    assert!(ok(url, &["app", "remove", "Demo App"]).contains("removed app Demo App"));
    assert_eq!(json_error_code(&create_token(&state, &api_key, &new_secret).await), 101);
    assert!(store.sessions_for_user(alice.id, keygate::clock::unix_now()).await.unwrap().is_empty());
    assert!(ok(url, &["app", "list"]).contains("no applications yet"));

    let entries = store.audit_entries(&AuditFilter::default()).await.unwrap();
    let source = format!("cli:{}", common::os_user());
    for event in ["admin.app.add", "admin.app.rotate_secret", "admin.app.remove"] {
        let entry = entries.iter().find(|e| e.event == event);
        assert!(entry.is_some_and(|e| e.source.as_deref() == Some(&source)), "{event} by {source} in {entries:?}");
    }
}
