//! `keygate app …` end to end: the real binary registers, lists, rotates and
//! removes apps on a real SQLite file, and the legacy API (in process, with
//! the same server key file) accepts exactly the secrets it printed; it
//! shows and updates apps on SQLite and PostgreSQL, and the next call
//! (legacy API, OAuth dialog) follows the new settings.

use crate::common;

use common::db::TestDb;
use common::legacy::{
    AppOptions, TestApp, call, complete_login, form, json_error_code, register, send_raw, signed, state, user,
};
use keygate::config::default_key_file;
use keygate::secrets::{ServerKey, TokenHash};
use keygate::store::{AuditFilter, NewSession, Store};
use keygate::web::AppState;

crate::on_both_engines!(update_and_show);

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
        assert!(
            entry.is_some_and(|e| e.source.as_deref() == Some(&source)),
            "{event} by {source} in {entries:?}"
        );
    }
}

/// A signed legacy call from the client address `peer`; its JSON answer.
async fn call_from(state: &AppState, app: &TestApp, peer: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut params = vec![("api_key", app.app.api_key.as_str()), ("v", "1.0"), ("format", "JSON")];
    params.extend_from_slice(extra);
    let body = form(&signed(&params, &app.secret)).into_bytes();
    let form_type = Some("application/x-www-form-urlencoded");
    send_raw(state, "POST", "/restserver.php", form_type, body, peer).await.json()
}

/// The OAuth dialog's status for `redirect_uri`, and whether it showed error 191.
async fn dialog(state: &AppState, app: &TestApp, redirect_uri: &str) -> (u16, bool) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", app.app.api_key.as_str()),
            ("redirect_uri", redirect_uri),
            ("state", "s"),
        ])
        .finish();
    let answer =
        send_raw(state, "GET", &format!("/dialog/oauth?{query}"), None, Vec::new(), "127.0.0.1:5000").await;
    (answer.status, answer.body.contains("191"))
}

const INSIDE: &str = "127.0.0.1:5000";
const OUTSIDE: &str = "10.1.2.3:5000";
const CREATE_TOKEN: &[(&str, &str)] = &[("method", "auth.createToken")];

async fn update_and_show(db: TestDb) {
    let url = db.url.as_str();
    let state = state(db.store.clone());
    let options = AppOptions {
        redirect_uris: vec!["https://old.example/cb".into()],
        allowed_ips: vec!["127.0.0.0/8".parse().unwrap()],
        ..AppOptions::default()
    };
    let demo = register(&state, "Demo", options).await;
    let alice = user(&state.store, "alice").await;

    let show = ok(url, &["app", "show", "Demo"]);
    assert_eq!(common::labelled(&show, "app:"), "Demo");
    assert_eq!(common::labelled(&show, "api_key:"), demo.app.api_key);
    assert_eq!(common::labelled(&show, "kind:"), "web");
    assert_eq!(common::labelled(&show, "redirect uris:"), "https://old.example/cb");
    assert_eq!(common::labelled(&show, "allowed ips:"), "127.0.0.0/8");
    assert_eq!(common::labelled(&show, "rate limit:"), "unlimited");
    assert!(!show.contains(&demo.secret), "show must not print the secret: {show}");
    assert_eq!(dialog(&state, &demo, "https://old.example/cb").await, (200, false));
    assert!(call_from(&state, &demo, INSIDE, CREATE_TOKEN).await.is_string());
    assert_eq!(json_error_code(&call_from(&state, &demo, OUTSIDE, CREATE_TOKEN).await), 5);

    // Bad input: one line, status 1 or 2, and the app as it was.
    let before = state.store.app_by_api_key(&demo.app.api_key).await.unwrap().unwrap();
    let fails = |args: &[&str]| common::keygate_fails(&[args, &["--database", url]].concat(), "");
    assert_eq!(
        fails(&["app", "update", "Demo", "--allow-ip", "10.0.0.0/8", "--allow-ip", "10.0.0.0/33"]),
        "keygate: --allow-ip 10.0.0.0/33: not an address or CIDR network\n"
    );
    assert!(
        fails(&["app", "update", "Demo", "--desktop", "--rate-limit", "0/min"])
            .contains("--rate-limit 0/min")
    );
    assert!(
        fails(&["app", "update", "Demo", "--redirect-uri", "javascript:alert(1)"]).contains("--redirect-uri")
    );
    assert_eq!(fails(&["app", "update", "nobody", "--web"]), "keygate: no app named nobody\n");
    assert_eq!(fails(&["app", "show", "nobody"]), "keygate: no app named nobody\n");
    for usage in [&["app", "update", "Demo"][..], &["app", "update", "Demo", "--desktop", "--web"][..]] {
        let out = common::run_keygate(&[usage, &["--database", url]].concat(), "");
        assert_eq!(out.status.code(), Some(2), "{usage:?}");
    }
    assert_eq!(state.store.app_by_api_key(&demo.app.api_key).await.unwrap().unwrap(), before);
    assert_eq!(
        ok(url, &["app", "update", "Demo", "--web"]),
        "app Demo unchanged: it has those settings already\n"
    );

    let updated = ok(
        url,
        &[
            "app",
            "update",
            &demo.app.api_key,
            "--redirect-uri",
            "https://new.example/cb",
            "--redirect-uri",
            "https://new.example/cb2",
            "--allow-ip",
            "10.0.0.0/8",
            "--rate-limit",
            "3/min",
            "--desktop",
        ],
    );
    let expected = [
        "updated app Demo",
        "  redirect_uris: [https://old.example/cb] -> [https://new.example/cb, https://new.example/cb2]",
        "  allowed_ips: [127.0.0.0/8] -> [10.0.0.0/8]",
        "  rate_limit: unlimited -> 3/min",
        "  kind: web -> desktop",
    ];
    assert_eq!(updated.lines().collect::<Vec<_>>(), expected);

    // The very next calls follow the new settings.
    assert_eq!(dialog(&state, &demo, "https://old.example/cb").await, (400, true));
    assert_eq!(dialog(&state, &demo, "https://new.example/cb2").await, (200, false));
    assert_eq!(json_error_code(&call_from(&state, &demo, INSIDE, CREATE_TOKEN).await), 5);
    let token = call_from(&state, &demo, OUTSIDE, CREATE_TOKEN).await;
    let token = token.as_str().expect("a call from the new network works").to_owned();
    complete_login(&state.store, &demo, &token, &alice).await;
    let get_session = [("method", "auth.getSession"), ("auth_token", token.as_str())];
    let session = call_from(&state, &demo, OUTSIDE, &get_session).await;
    assert!(session["secret"].is_string(), "a desktop app's session comes with a secret: {session}");
    let codes: Vec<Option<i64>> = {
        let mut codes = Vec::new();
        for _ in 0..3 {
            let answer = call_from(&state, &demo, OUTSIDE, CREATE_TOKEN).await;
            codes.push(answer["error_code"].as_i64());
        }
        codes
    };
    assert_eq!(codes.last(), Some(&Some(4)), "3 calls a minute: {codes:?}");

    let show = ok(url, &["app", "show", "Demo"]);
    assert_eq!(common::labelled(&show, "kind:"), "desktop");
    assert_eq!(common::labelled(&show, "rate limit:"), "3/min");
    assert!(
        show.contains("redirect uris:   https://new.example/cb\n                 https://new.example/cb2\n")
    );

    // The --no-… flags empty a setting.
    let cleared =
        ok(url, &["app", "update", "Demo", "--no-redirect-uri", "--no-allow-ip", "--no-rate-limit", "--web"]);
    assert!(cleared.contains("  allowed_ips: [10.0.0.0/8] -> []\n"), "{cleared}");
    assert!(cleared.contains("  rate_limit: 3/min -> unlimited\n"), "{cleared}");
    assert_eq!(dialog(&state, &demo, "https://new.example/cb").await, (400, true));
    for _ in 0..4 {
        assert!(call_from(&state, &demo, INSIDE, CREATE_TOKEN).await.is_string(), "any address, no limit");
    }
    let show = ok(url, &["app", "show", "Demo"]);
    assert_eq!(common::labelled(&show, "allowed ips:"), "any address");
    assert!(common::labelled(&show, "redirect uris:").starts_with("none"), "{show}");

    let source = format!("cli:{}", common::os_user());
    let entries = state.store.audit_entries(&AuditFilter::default()).await.unwrap();
    let updates: Vec<&str> = entries
        .iter()
        .filter(|e| e.event == "admin.app.update")
        .map(|e| {
            assert_eq!(e.source.as_deref(), Some(source.as_str()), "{e:?}");
            e.detail.as_str()
        })
        .collect();
    assert_eq!(updates.len(), 2, "refused and empty updates leave no entry: {updates:?}");
    assert!(updates[1].starts_with(&format!("updated app Demo ({}): redirect_uris: [", demo.app.api_key)));
    assert!(updates[0].contains("kind: desktop -> web"), "{updates:?}");
    assert!(!updates.iter().any(|d| d.contains(&demo.secret)));
}
