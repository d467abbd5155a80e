//! minifb 1.3, a real Python client of the legacy REST API, against the real
//! binary: the app is registered with `keygate app add`, the server is
//! `keygate serve` on a loopback port, and the sign-in between createToken
//! and getSession is completed here through the store (what login.php does).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use keygate::secrets::TokenHash;
use keygate::store::Store;

fn labelled(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

/// Waits for the client's auth_token, binds it to `user_id`, and says so.
async fn complete_logins(
    store: &Store,
    app_id: i64,
    user_id: i64,
    dir: &Path,
    done: &std::sync::atomic::AtomicBool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
        if let Ok(token) = std::fs::read_to_string(dir.join("auth_token")) {
            let now = keygate::clock::unix_now();
            assert!(store.bind_auth_token(&TokenHash::of(token.trim()), app_id, user_id, now).await.unwrap());
            std::fs::write(dir.join("bound"), "").unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minifb_desktop_flow() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let added = common::keygate()
        .args(["app", "add", "minifb", "--database", &db])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let added = String::from_utf8(added.stdout).unwrap();
    let (api_key, secret) = (labelled(&added, "api_key:"), labelled(&added, "secret:"));

    let store = Store::open(&db).await.unwrap();
    let alice = common::legacy::user(&store, "alice").await;
    let app = store.app_by_api_key(&api_key).await.unwrap().unwrap();

    let addr = common::free_addr();
    // Server::start polls /healthz with a blocking client.
    let server = tokio::task::block_in_place(|| {
        common::Server::start(dir.path(), addr, |cmd| {
            cmd.args(["--database", &db, "--listen", &addr.to_string()]);
        })
    });
    let handshake = tempfile::tempdir().unwrap();
    let env = vec![
        ("KEYGATE_URL", server.url()),
        ("KEYGATE_API_KEY", api_key),
        ("KEYGATE_SECRET", secret),
        ("KEYGATE_UID", alice.id.to_string()),
        ("KEYGATE_LOGIN_DIR", handshake.path().display().to_string()),
    ];
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let done = done.clone();
        tokio::task::spawn_blocking(move || {
            let result = std::panic::catch_unwind(|| common::pytest("test_minifb.py", &env));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            result
        })
    };
    complete_logins(&store, app.id, alice.id, handshake.path(), &done).await;
    if let Err(panic) = client.await.unwrap() {
        std::panic::resume_unwind(panic);
    }
    tokio::task::block_in_place(|| drop(server));
}
