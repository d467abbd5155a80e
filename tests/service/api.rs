//! The JSON API of §3 in-process on SQLite and PostgreSQL: enrolment, login,
//! key management, every refusal with its code and audit entry, races on
//! one signed login, two instances sharing a database, and bad input.

use crate::common;

use axum::http::StatusCode;
use common::api::{Api, Token, b64, client_data, key_handle_of, unb64};
use common::db::TestDb as Db;
use keygate::config::Config;
use keygate::secrets::{ServerKey, hash_password};
use keygate::store::{AuditFilter, NewUser, Store};
use keygate::web::AppState;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

crate::on_both_engines!(
    end_to_end,
    refusals,
    fifty_concurrent_finishes_make_one_session,
    a_login_moves_between_instances,
);

fn api(store: Store, configure: impl FnOnce(&mut Config)) -> Api {
    let mut config = Config::default();
    configure(&mut config);
    Api { state: AppState::new(config, store, ServerKey::generate()) }
}

async fn add_user(store: &Store, name: &str) {
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    store
        .create_user(&NewUser { name, display_name: None, password_hash: &hash }, keygate::clock::unix_now())
        .await
        .unwrap();
}

async fn audit_events(store: &Store, user: &str) -> Vec<(String, String)> {
    let filter = AuditFilter { user_name: Some(user), ..AuditFilter::default() };
    store.audit_entries(&filter).await.unwrap().into_iter().map(|e| (e.event, e.detail)).collect()
}

fn code(answer: &(StatusCode, Value, axum::http::HeaderMap)) -> (u16, &str) {
    (answer.0.as_u16(), answer.1["error"]["code"].as_str().unwrap_or("-"))
}

/// A user with one enrolled key; returns the key handle (websafe base64).
async fn enrolled(api: &Api, token: &mut Token, user: &str) -> String {
    add_user(&api.state.store, user).await;
    let (status, body, _) = api.login(user, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["second_factor"], "none");
    let enroll_only = body["session_token"].as_str().unwrap().to_owned();
    let (status, key, _) = api.enroll(token, &enroll_only, "first").await;
    assert_eq!(status, StatusCode::OK, "{key}");
    b64(&api.state.store.credentials_for_user_named(user).await.key_handle)
}

trait ByName {
    async fn credentials_for_user_named(&self, user: &str) -> keygate::store::Credential;
}

impl ByName for Store {
    async fn credentials_for_user_named(&self, user: &str) -> keygate::store::Credential {
        let user = self.user_by_name(user).await.unwrap().unwrap();
        self.credentials_for_user(user.id).await.unwrap().remove(0)
    }
}

async fn end_to_end(db: Db) {
    let api = api(db.store.clone(), |_| {});
    add_user(&db.store, "alice").await;

    // No key yet: the password alone gives an enroll-only session.
    let (status, body, _) = api.login("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["second_factor"].as_str(), body["appId"].as_str()), (Some("none"), Some("localhost")));
    let enroll_only = body["session_token"].as_str().unwrap().to_owned();
    assert!(body["expires_at"].as_i64().unwrap() > keygate::clock::unix_now() + 11 * 3600);
    assert_eq!(code(&api.call("GET", "/api/v1/keys", Some(&enroll_only), None).await), (403, "enroll_only"));

    let mut blue = Token::new();
    let (status, key, _) = api.enroll(&mut blue, &enroll_only, "blue").await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["name"], "blue");
    assert_eq!(key["transports"], json!(["usb"]));
    assert!(key["attestation_subject"].as_str().unwrap().contains("CN="), "{key}");
    let codes: Vec<String> =
        key["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 14 && c.matches('-').count() == 2));
    // The enroll-only session cannot add a second key.
    assert_eq!(
        code(&api.call("POST", "/api/v1/keys/register/start", Some(&enroll_only), None).await),
        (403, "enroll_only")
    );

    // Password + key.
    let (_, start, _) = api.login("alice", PASSWORD).await;
    assert_eq!(start["second_factor"], "u2f");
    assert_eq!(start["registeredKeys"].as_array().unwrap().len(), 1);
    let handle = start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned();
    let body = api.signed_finish(&mut blue, &start, &handle);
    let (status, done, _) = api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let session = done["session_token"].as_str().unwrap().to_owned();

    let (status, list, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert_eq!(list["keys"][0]["counter"], 1, "{list}");
    let id = list["keys"][0]["id"].as_str().unwrap().to_owned();
    let (status, renamed, _) = api
        .call("PATCH", &format!("/api/v1/keys/{id}"), Some(&session), Some(json!({"name": "blue yubikey"})))
        .await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("blue yubikey")));

    // A recovery code logs in once.
    let (_, start, _) = api.login("alice", PASSWORD).await;
    let body = json!({ "login_id": start["login_id"], "code": codes[0].to_uppercase() });
    let (status, done, _) = api.call("POST", "/api/v1/login/recovery", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (_, start, _) = api.login("alice", PASSWORD).await;
    let body = json!({ "login_id": start["login_id"], "code": codes[0] });
    assert_eq!(
        code(&api.call("POST", "/api/v1/login/recovery", None, Some(body)).await),
        (401, "bad_credentials")
    );

    // A second key as backup, then remove the first.
    let mut green = Token::new();
    let (status, second, _) = api.enroll(&mut green, &session, "green").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second.get("recovery_codes").is_none());
    let (_, start, _) = api.login("alice", PASSWORD).await;
    assert_eq!(start["registeredKeys"].as_array().unwrap().len(), 2);
    let (status, _, _) = api.call("DELETE", &format!("/api/v1/keys/{id}"), Some(&session), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert_eq!(list["keys"][0]["name"], "green");
    // The removed key no longer logs in.
    let body = api.signed_finish(&mut blue, &start, &handle);
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (400, "unknown_key"));

    // Sessions, password change, logout.
    let (status, sessions, _) = api.call("GET", "/api/v1/sessions", Some(&session), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(sessions["sessions"].as_array().unwrap().iter().any(|s| s["current"] == true));
    let (status, _, _) = api.call("POST", "/api/v1/logout", Some(&session), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(code(&api.call("GET", "/api/v1/keys", Some(&session), None).await), (401, "unauthorized"));

    let events: Vec<String> = audit_events(&db.store, "alice").await.into_iter().map(|e| e.0).collect();
    for event in ["key_enrolled", "login", "key_removed", "login_failed"] {
        assert!(events.iter().any(|e| e == event), "{event} missing from {events:?}");
    }
}

async fn refusals(db: Db) {
    let api = api(db.store.clone(), |_| {});
    let mut token = Token::new();
    let handle = enrolled(&api, &mut token, "bob").await;

    // Wrong password and unknown user: the same answer.
    let wrong = api.login("bob", "nope").await;
    let unknown = api.login("nobody", "nope").await;
    assert_eq!(code(&wrong), (401, "bad_credentials"));
    assert_eq!(wrong.1, unknown.1);

    // A key of someone else / a key handle nobody has.
    let mut other = Token::new();
    let (_, start, _) = api.login("bob", PASSWORD).await;
    let mut body = api.signed_finish(&mut token, &start, &handle);
    let foreign = other.register(&client_data("navigator.id.finishEnrollment", "x", "o"), "localhost");
    body["keyHandle"] = json!(b64(&key_handle_of(&foreign)));
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (400, "unknown_key"));

    // Wrong typ, wrong origin, signature over other data.
    let cases = [
        ("navigator.id.finishEnrollment", "http://localhost:8080", "bad_client_data"),
        ("navigator.id.getAssertion", "https://evil.example", "bad_client_data"),
    ];
    for (typ, origin, expected) in cases {
        let cd = client_data(typ, start["challenge"].as_str().unwrap(), origin);
        let sig = token.sign(&cd, "localhost", &unb64(&handle));
        let body = json!({"login_id": start["login_id"], "keyHandle": handle, "signatureData": b64(&sig), "clientData": b64(&cd)});
        assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (400, expected));
    }
    let mut body = api.signed_finish(&mut token, &start, &handle);
    let mut sig = unb64(body["signatureData"].as_str().unwrap());
    sig[3] ^= 1; // the counter the key signed is not the one sent
    body["signatureData"] = json!(b64(&sig));
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (400, "bad_signature"));

    // Replayed signature: the challenge is single use.
    let body = api.signed_finish(&mut token, &start, &handle);
    assert_eq!(api.call("POST", "/api/v1/login/u2f", None, Some(body.clone())).await.0, StatusCode::OK);
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (409, "challenge_used"));
    let body = json!({"login_id": "nope", "keyHandle": handle, "signatureData": "AA", "clientData": "AA"});
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (404, "unknown_login"));

    // Expired challenge: an instance whose challenges live 0 seconds.
    let short = api_with_ttl(&db, 0);
    let (_, start, _) = short.login("bob", PASSWORD).await;
    let body = short.signed_finish(&mut token, &start, &handle);
    assert_eq!(
        code(&short.call("POST", "/api/v1/login/u2f", None, Some(body)).await),
        (410, "challenge_expired")
    );

    // Counter regression: the token's state rolled back.
    let saved = token.state();
    api.full_login(&mut token, "bob", PASSWORD, &handle).await;
    let mut rolled_back = Token::from_state(saved);
    let (_, start, _) = api.login("bob", PASSWORD).await;
    let body = api.signed_finish(&mut rolled_back, &start, &handle);
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (403, "possible_clone"));
    // The key stays blocked, even with a good counter.
    let (_, start, _) = api.login("bob", PASSWORD).await;
    let body = api.signed_finish(&mut token, &start, &handle);
    assert_eq!(code(&api.call("POST", "/api/v1/login/u2f", None, Some(body)).await), (403, "possible_clone"));
    let cred = db.store.credentials_for_user_named("bob").await;
    assert!(cred.possible_clone);

    let events = audit_events(&db.store, "bob").await;
    let details: Vec<String> = events.iter().map(|(e, d)| format!("{e}: {d}")).collect();
    for needle in [
        "login_failed: wrong password",
        "login_failed: this key is not registered",
        "login_failed: client data refused: client data type",
        "login_failed: client data refused: client data origin",
        "login_failed: signature refused",
        "clone_alarm: clone alarm",
        "login_failed: the challenge was already used",
        "login_failed: the challenge expired",
    ] {
        assert!(details.iter().any(|d| d.starts_with(needle)), "{needle:?} missing from {details:#?}");
    }
    assert!(
        db.store
            .audit_entries(&AuditFilter::default())
            .await
            .unwrap()
            .iter()
            .any(|e| e.detail == "unknown user")
    );
}

fn api_with_ttl(db: &Db, ttl: u64) -> Api {
    api(db.store.clone(), |c| c.challenge_ttl_secs = ttl)
}

/// 50 concurrent finishes of one signed login: exactly one session.
async fn fifty_concurrent_finishes_make_one_session(db: Db) {
    let api = api(db.store.clone(), |_| {});
    let mut token = Token::new();
    let handle = enrolled(&api, &mut token, "carol").await;
    let before = sessions_of(&db.store, "carol").await;
    let (_, start, _) = api.login("carol", PASSWORD).await;
    let body = api.signed_finish(&mut token, &start, &handle);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (api, body) = (api.clone(), body.clone());
            tokio::spawn(async move { api.call("POST", "/api/v1/login/u2f", None, Some(body)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.0 {
            StatusCode::OK => ok += 1,
            // Losers meet the consumed challenge, or the attempt limit
            // once five copies are being judged.
            _ => assert!(
                [(409, "challenge_used"), (429, "rate_limited")].contains(&code(&answer)),
                "{answer:?}"
            ),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(sessions_of(&db.store, "carol").await, before + 1);
}

async fn sessions_of(store: &Store, user: &str) -> usize {
    let user = store.user_by_name(user).await.unwrap().unwrap();
    store.sessions_for_user(user.id, keygate::clock::unix_now()).await.unwrap().len()
}

/// Started on one instance, finished on another with its own pool.
async fn a_login_moves_between_instances(db: Db) {
    let first = api(db.store.clone(), |_| {});
    let mut token = Token::new();
    let handle = enrolled(&first, &mut token, "dave").await;
    let second = api(Store::open(&db.url).await.unwrap(), |_| {});
    let (_, start, _) = first.login("dave", PASSWORD).await;
    let body = first.signed_finish(&mut token, &start, &handle);
    let (status, done, _) = second.call("POST", "/api/v1/login/u2f", None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        code(&first.call("POST", "/api/v1/login/u2f", None, Some(body)).await),
        (409, "challenge_used")
    );
    let session = done["session_token"].as_str().unwrap();
    assert_eq!(first.call("GET", "/api/v1/keys", Some(session), None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_login_verifies_through_the_key_cache() {
    let db = Db::sqlite().await;
    let api = api(db.store.clone(), |_| {});
    let mut token = Token::new();
    let handle = enrolled(&api, &mut token, "erin").await;
    let (hits_before, misses_before) = api.state.key_cache_stats();
    for login in 1..=3u64 {
        let (_, start, _) = api.login("erin", PASSWORD).await;
        let body = api.signed_finish(&mut token, &start, &handle);
        let (status, done, _) = api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        // First sight parses the key (a miss); every later login finds it.
        let (hits, misses) = api.state.key_cache_stats();
        assert_eq!(misses - misses_before, 1, "login {login}");
        assert_eq!(hits - hits_before, login - 1, "login {login}");
    }
    let mut request = axum::http::Request::builder().uri("/metrics").body(axum::body::Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 1))));
    let response = tower::ServiceExt::oneshot(keygate::web::app(api.state.clone()), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let hits_line = text
        .lines()
        .find(|l| l.starts_with("keygate_key_cache_hits_total"))
        .unwrap_or_else(|| panic!("no cache metric in:\n{text}"));
    let exported: u64 = hits_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(exported >= 2, "{hits_line}");
}
