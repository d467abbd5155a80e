//! The attacks of an adversarial review, performed against the JSON API on
//! SQLite and PostgreSQL: parallel second-factor guesses, the last-key and
//! first-key races, recovery codes sent for a finished login, a stolen
//! session reaching for persistent access (step-up), a leaked recovery-code
//! table, and secrets in cacheable answers or unprefixed cookies. Each must
//! be refused; the races use 40 parallel requests.

use crate::common;

use axum::http::StatusCode;
use common::api::{Answer, Api, Token, b64, client_data};
use keygate::config::Config;
use keygate::secrets::{ServerKey, TokenHash, hash_password};
use keygate::store::{NewUser, Store};
use keygate::web::AppState;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery staple";
const PARALLEL: usize = 40;

use common::db::TestDb as Db;

crate::on_both_engines!(
    parallel_wrong_signatures_are_judged_at_most_five_times,
    parallel_wrong_recovery_codes_are_judged_at_most_five_times,
    two_parallel_removals_cannot_take_both_last_keys,
    parallel_first_key_enrolments_store_one_key_and_one_code_set,
    a_recovery_code_survives_a_finished_or_expired_login,
    a_stolen_session_cannot_add_keys_or_mint_codes_without_a_touch,
    recovery_codes_are_macs_and_old_rows_work_until_used,
    secrets_are_not_cacheable,
);

fn api(db: &Db, configure: impl FnOnce(&mut Config)) -> Api {
    let mut config = Config::default();
    configure(&mut config);
    Api { state: AppState::new(config, db.store.clone(), ServerKey::generate()) }
}

fn code(answer: &Answer) -> (u16, String) {
    (answer.0.as_u16(), answer.1["error"]["code"].as_str().unwrap_or("-").to_owned())
}

/// The user `name` with a password and no key.
async fn user(api: &Api, name: &str) {
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    let new = NewUser { name, display_name: None, password_hash: &hash };
    api.state.store.create_user(&new, keygate::clock::unix_now()).await.unwrap();
}

/// The user `name` with one key (the token); returns its handle and the
/// first recovery codes.
async fn enrolled(api: &Api, token: &mut Token, name: &str) -> (String, Vec<String>) {
    user(api, name).await;
    let enroll_only = api.login(name, PASSWORD).await.1["session_token"].as_str().unwrap().to_owned();
    let (status, key, _) = api.enroll(token, &enroll_only, "first").await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let codes =
        key["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    let start = api.login(name, PASSWORD).await.1;
    (start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned(), codes)
}

/// Sends every request at once and returns the answers.
async fn all_at_once(
    api: &Api,
    requests: Vec<(&'static str, String, Option<String>, Option<Value>)>,
) -> Vec<Answer> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(method, path, bearer, body)| {
            let api = api.clone();
            tokio::spawn(async move { api.call(method, &path, bearer.as_deref(), body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn tally(answers: &[Answer]) -> std::collections::BTreeMap<(u16, String), usize> {
    let mut counts = std::collections::BTreeMap::new();
    for answer in answers {
        *counts.entry(code(answer)).or_insert(0) += 1;
    }
    counts
}

fn judged_failures(store_events: &[(String, String)], needle: &str) -> usize {
    store_events.iter().filter(|(event, detail)| event == "login_failed" && detail.contains(needle)).count()
}

async fn events(store: &Store, user: &str) -> Vec<(String, String)> {
    let filter = keygate::store::AuditFilter { user_name: Some(user), ..Default::default() };
    store.audit_entries(&filter).await.unwrap().into_iter().map(|e| (e.event, e.detail)).collect()
}

/// 40 wrong signatures on one login at once: five are judged (the limit),
/// the rest are refused before judgement; the right one afterwards too.
async fn parallel_wrong_signatures_are_judged_at_most_five_times(db: Db) {
    let api = api(&db, |_| {});
    let mut token = Token::new();
    let (handle, _) = enrolled(&api, &mut token, "alice").await;
    let start = api.login("alice", PASSWORD).await.1;
    let good = api.signed_finish(&mut token, &start, &handle);
    let signature = common::api::unb64(good["signatureData"].as_str().unwrap());
    let requests = (0..PARALLEL)
        .map(|i| {
            // The right message with a corrupted signature: each one different.
            let mut forged = signature.clone();
            let at = forged.len() - 1 - i % 16;
            forged[at] ^= u8::try_from(i / 16 + 1).unwrap();
            let mut body = good.clone();
            body["signatureData"] = json!(b64(&forged));
            ("POST", "/api/v1/login/u2f".to_owned(), None, Some(body))
        })
        .collect();
    let answers = all_at_once(&api, requests).await;
    let counts = tally(&answers);
    assert_eq!(counts.get(&(400, "bad_signature".into())), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&(429, "rate_limited".into())), Some(&(PARALLEL - 5)), "{counts:?}");
    assert!(answers.iter().filter(|a| a.0 == 429).all(|a| a.2.contains_key("retry-after")));
    let (status, _, _) = api.call("POST", "/api/v1/login/u2f", None, Some(good)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the login is spent, even for the right key");
    assert_eq!(judged_failures(&events(&db.store, "alice").await, "signature refused"), 5);
}

/// 40 wrong recovery codes at once: five judged; the right code afterwards
/// is refused and not burned.
async fn parallel_wrong_recovery_codes_are_judged_at_most_five_times(db: Db) {
    let api = api(&db, |_| {});
    let mut token = Token::new();
    let (_, codes) = enrolled(&api, &mut token, "alice").await;
    let start = api.login("alice", PASSWORD).await.1;
    let requests = (0..PARALLEL)
        .map(|i| {
            let body = json!({ "login_id": start["login_id"], "code": format!("zzzz-zzzz-{i:04}") });
            ("POST", "/api/v1/login/recovery".to_owned(), None, Some(body))
        })
        .collect();
    let counts = tally(&all_at_once(&api, requests).await);
    assert_eq!(counts.get(&(401, "bad_credentials".into())), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&(429, "rate_limited".into())), Some(&(PARALLEL - 5)), "{counts:?}");
    let right = json!({ "login_id": start["login_id"], "code": codes[0] });
    let answer = api.call("POST", "/api/v1/login/recovery", None, Some(right)).await;
    assert_eq!(code(&answer), (429, "rate_limited".into()));
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(db.store.recovery_codes_left(alice.id).await.unwrap(), 10);
}

/// Two keys, a session whose second factor is 10 minutes old, 40 parallel
/// removals (20 of each key): exactly one key goes.
async fn two_parallel_removals_cannot_take_both_last_keys(db: Db) {
    let api = api(&db, |_| {});
    let (mut blue, mut green) = (Token::new(), Token::new());
    let (blue_handle, _) = enrolled(&api, &mut blue, "alice").await;
    let session = api.full_login(&mut blue, "alice", PASSWORD, &blue_handle).await;
    assert_eq!(api.enroll(&mut green, &session, "green").await.0, StatusCode::OK);
    db.execute("UPDATE sessions SET created_at = created_at - 600, verified_at = verified_at - 600").await;
    let keys = api.call("GET", "/api/v1/keys", Some(&session), None).await.1;
    let ids: Vec<String> =
        keys["keys"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap().into()).collect();
    assert_eq!(ids.len(), 2);
    let requests = (0..PARALLEL)
        .map(|i| ("DELETE", format!("/api/v1/keys/{}", ids[i % 2]), Some(session.clone()), None))
        .collect();
    let answers = all_at_once(&api, requests).await;
    assert_eq!(answers.iter().filter(|a| a.0 == StatusCode::NO_CONTENT).count(), 1, "{:?}", tally(&answers));
    for answer in answers.iter().filter(|a| a.0 != StatusCode::NO_CONTENT) {
        assert!(
            [(403, "reauth_required".to_owned()), (404, "not_found".to_owned())].contains(&code(answer)),
            "{answer:?}"
        );
    }
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(db.store.credential_count(alice.id).await.unwrap(), 1);
}

/// An enroll-only session opens 40 enrolments with 40 keys and finishes them
/// at once: one first key, one recovery-code set.
async fn parallel_first_key_enrolments_store_one_key_and_one_code_set(db: Db) {
    let api = api(&db, |_| {});
    user(&api, "alice").await;
    let session = api.login("alice", PASSWORD).await.1["session_token"].as_str().unwrap().to_owned();
    let mut requests = Vec::new();
    for i in 0..PARALLEL {
        let start = api.call("POST", "/api/v1/keys/register/start", Some(&session), None).await.1;
        let challenge = start["registerRequests"][0]["challenge"].as_str().unwrap();
        let cd = client_data("navigator.id.finishEnrollment", challenge, "http://localhost:8080");
        let registration = Token::new().register(&cd, "localhost");
        let body = json!({ "registrationData": b64(&registration), "clientData": b64(&cd), "name": format!("k{i}") });
        requests.push(("POST", "/api/v1/keys/register/finish".to_owned(), Some(session.clone()), Some(body)));
    }
    let answers = all_at_once(&api, requests).await;
    let won: Vec<&Answer> = answers.iter().filter(|a| a.0 == StatusCode::OK).collect();
    assert_eq!(won.len(), 1, "{:?}", tally(&answers));
    assert_eq!(won[0].1["recovery_codes"].as_array().map(Vec::len), Some(10));
    assert_eq!(tally(&answers).get(&(403, "enroll_only".into())), Some(&(PARALLEL - 1)));
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(db.store.credential_count(alice.id).await.unwrap(), 1);
    let rows = db.count(&format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = {}", alice.id)).await;
    assert_eq!(rows, 10, "one code set");
}

/// A code sent for a login that was finished with the key, or that expired,
/// is refused and stays usable; and when the key and recovery codes race to
/// finish one login, a code is burned only if it was the code that won.
async fn a_recovery_code_survives_a_finished_or_expired_login(db: Db) {
    let api = api(&db, |_| {});
    let mut token = Token::new();
    let (handle, codes) = enrolled(&api, &mut token, "alice").await;
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    let start = api.login("alice", PASSWORD).await.1;
    let body = api.signed_finish(&mut token, &start, &handle);
    assert_eq!(api.call("POST", "/api/v1/login/u2f", None, Some(body)).await.0, StatusCode::OK);
    let late = json!({ "login_id": start["login_id"], "code": codes[0] });
    assert_eq!(
        code(&api.call("POST", "/api/v1/login/recovery", None, Some(late)).await),
        (409, "challenge_used".into())
    );
    let start = api.login("alice", PASSWORD).await.1;
    let id = start["login_id"].as_str().unwrap();
    db.execute(&format!("UPDATE challenges SET expires_at = 1 WHERE id = '{id}'")).await;
    let late = json!({ "login_id": id, "code": codes[0] });
    assert_eq!(
        code(&api.call("POST", "/api/v1/login/recovery", None, Some(late)).await),
        (410, "challenge_expired".into())
    );
    assert_eq!(db.store.recovery_codes_left(alice.id).await.unwrap(), 10, "no code was burned");

    // Rounds of a key and the same recovery code (four copies) racing to
    // finish one login.
    let mut recovery_won = 0;
    for (round, racing_code) in codes.iter().enumerate().take(8) {
        let start = api.login("alice", PASSWORD).await.1;
        let mut requests = vec![(
            "POST",
            "/api/v1/login/u2f".to_owned(),
            None,
            Some(api.signed_finish(&mut token, &start, &handle)),
        )];
        for _ in 0..4 {
            let body = json!({ "login_id": start["login_id"], "code": racing_code });
            requests.push(("POST", "/api/v1/login/recovery".to_owned(), None, Some(body)));
        }
        let answers = all_at_once(&api, requests).await;
        assert_eq!(answers.iter().filter(|a| a.0 == StatusCode::OK).count(), 1, "{:?}", tally(&answers));
        recovery_won += usize::from(answers[1..].iter().any(|a| a.0 == StatusCode::OK));
        let left = usize::try_from(db.store.recovery_codes_left(alice.id).await.unwrap()).unwrap();
        assert_eq!(left, 10 - recovery_won, "round {round}: a code was burned for a login it did not finish");
    }
    // A code still signs in.
    let start = api.login("alice", PASSWORD).await.1;
    let body = json!({ "login_id": start["login_id"], "code": codes[9] });
    assert_eq!(api.call("POST", "/api/v1/login/recovery", None, Some(body)).await.0, StatusCode::OK);
}

/// A session whose second factor is older than 5 minutes (a stolen cookie
/// or Bearer token) cannot add a key on either path, mint recovery codes or
/// remove the last key; a touch of a registered key (step-up) allows it for
/// 5 minutes. Another session cannot answer this session's step-up.
async fn a_stolen_session_cannot_add_keys_or_mint_codes_without_a_touch(db: Db) {
    let api = api(&db, |_| {});
    let mut token = Token::new();
    let (handle, _) = enrolled(&api, &mut token, "alice").await;
    let stolen = api.full_login(&mut token, "alice", PASSWORD, &handle).await;
    let other = api.full_login(&mut token, "alice", PASSWORD, &handle).await;
    db.execute("UPDATE sessions SET created_at = created_at - 600, verified_at = verified_at - 600").await;
    let bearer = Some(stolen.as_str());
    for (method, path) in [
        ("POST", "/api/v1/keys/register/start"),
        ("POST", "/api/v1/keys/webauthn/register/start"),
        ("POST", "/api/v1/recovery-codes"),
    ] {
        assert_eq!(
            code(&api.call(method, path, bearer, None).await),
            (403, "reauth_required".into()),
            "{path}"
        );
    }
    let keys = api.call("GET", "/api/v1/keys", bearer, None).await.1;
    let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let remove = format!("/api/v1/keys/{id}");
    assert_eq!(code(&api.call("DELETE", &remove, bearer, None).await), (403, "reauth_required".into()));
    // The attacker has no key: a wrong signature does not step up.
    let start = api.call("POST", "/api/v1/reauth", bearer, None).await.1;
    let mut forged = api.signed_finish(&mut token, &start, &handle);
    forged["clientData"] =
        json!(b64(&client_data("navigator.id.getAssertion", "guess", "http://localhost:8080")));
    assert_eq!(api.call("POST", "/api/v1/reauth/u2f", bearer, Some(forged)).await.0, StatusCode::BAD_REQUEST);
    // Another session of the same user cannot answer this session's step-up.
    let signed = api.signed_finish(&mut token, &start, &handle);
    assert_eq!(
        code(&api.call("POST", "/api/v1/reauth/u2f", Some(&other), Some(signed.clone())).await),
        (404, "unknown_login".into())
    );
    assert_eq!(code(&api.call("POST", "/api/v1/recovery-codes", bearer, None).await).0, 403);
    // The user's own touch steps the session up.
    let (status, body, _) = api.call("POST", "/api/v1/reauth/u2f", bearer, Some(signed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["verified_at"].as_i64().unwrap() >= keygate::clock::unix_now() - 5);
    let (status, body, _) = api.call("POST", "/api/v1/recovery-codes", bearer, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(api.enroll(&mut Token::new(), &stolen, "second").await.0, StatusCode::OK);
    let events = events(&db.store, "alice").await;
    assert!(events.iter().any(|(e, _)| e == "step_up"), "{events:?}");
    assert!(events.iter().any(|(e, _)| e == "step_up_failed"), "{events:?}");
    assert!(events.iter().any(|(e, _)| e == "recovery_codes_replaced"), "{events:?}");
}

/// Recovery codes are stored as MACs under the server key: the table does
/// not hold SHA-256 of any code (a leaked table tests no guess), the MAC is
/// salted by the user, and a row written before 0.2 (unsalted SHA-256)
/// still signs in once.
async fn recovery_codes_are_macs_and_old_rows_work_until_used(db: Db) {
    let api = api(&db, |_| {});
    let mut token = Token::new();
    let (_, codes) = enrolled(&api, &mut token, "alice").await;
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    for code in &codes {
        let sha: String = Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let found = match db.store.engine() {
            keygate::store::Engine::Sqlite => {
                db.count(&format!(
                    "SELECT COUNT(*) FROM recovery_codes WHERE hex(code_hash) = upper('{sha}')"
                ))
                .await
            }
            keygate::store::Engine::Postgres => {
                db.count(&format!(
                    "SELECT COUNT(*) FROM recovery_codes WHERE encode(code_hash, 'hex') = '{sha}'"
                ))
                .await
            }
        };
        assert_eq!(found, 0, "an unsalted hash of a code is in the table");
    }
    let schemes = db.count("SELECT COUNT(*) FROM recovery_codes WHERE scheme = 'hmac-sha256'").await;
    assert_eq!(schemes, 10);
    let mac = api.state.server_key.recovery_code_mac(alice.id, &codes[0]);
    assert_ne!(mac, api.state.server_key.recovery_code_mac(alice.id + 1, &codes[0]));

    // A code stored the pre-0.2 way.
    let old = "abcd-efgh-jkmn";
    let hex: String = TokenHash::of(old).as_slice().iter().map(|b| format!("{b:02x}")).collect();
    let literal = match db.store.engine() {
        keygate::store::Engine::Sqlite => format!("X'{hex}'"),
        keygate::store::Engine::Postgres => format!("decode('{hex}', 'hex')"),
    };
    db.execute(&format!(
        "INSERT INTO recovery_codes (user_id, code_hash, scheme, created_at) VALUES ({}, {literal}, 'sha256', 1)",
        alice.id
    ))
    .await;
    for expected in [StatusCode::OK, StatusCode::UNAUTHORIZED] {
        let start = api.login("alice", PASSWORD).await.1;
        let body = json!({ "login_id": start["login_id"], "code": old.to_uppercase() });
        assert_eq!(api.call("POST", "/api/v1/login/recovery", None, Some(body)).await.0, expected);
    }
}

/// Answers carrying a session token, recovery codes or a session secret are
/// `no-store`; under TLS the browser's cookies carry the `__Host-` prefix
/// and an unprefixed (planted) cookie is not a session.
async fn secrets_are_not_cacheable(db: Db) {
    let api = api(&db, |c| c.origin = "https://login.example".into());
    let mut token = Token::new();
    user(&api, "alice").await;
    let (status, body, headers) = api.login("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["session_token"].is_string());
    assert_eq!(headers["cache-control"], "no-store");
    let enroll_only = body["session_token"].as_str().unwrap().to_owned();
    let start = api.call("POST", "/api/v1/keys/register/start", Some(&enroll_only), None).await.1;
    let challenge = start["registerRequests"][0]["challenge"].as_str().unwrap();
    let cd = client_data("navigator.id.finishEnrollment", challenge, "https://login.example");
    let reg = token.register(&cd, "localhost");
    let body = json!({ "registrationData": b64(&reg), "clientData": b64(&cd), "name": "k" });
    let (status, key, headers) =
        api.call("POST", "/api/v1/keys/register/finish", Some(&enroll_only), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert!(key["recovery_codes"].is_array());
    assert_eq!(headers["cache-control"], "no-store");

    // A page's login (CSRF token sent) gets the session as a __Host- cookie.
    let start = api.login("alice", PASSWORD).await.1;
    let handle = start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned();
    let finish = api.signed_finish(&mut token, &start, &handle);
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/login/u2f")
        .header("content-type", "application/json")
        .header("cookie", "__Host-keygate_csrf=tok")
        .header("x-csrf-token", "tok")
        .body(axum::body::Body::from(finish.to_string()))
        .unwrap();
    let answer = send(&api, request).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-keygate_session=") && cookie.ends_with("; Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    for (cookie, expected) in [
        (format!("__Host-keygate_session={session}"), StatusCode::OK),
        (format!("keygate_session={session}"), StatusCode::UNAUTHORIZED),
    ] {
        let request = axum::http::Request::builder()
            .uri("/api/v1/keys")
            .header("cookie", cookie.as_str())
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(send(&api, request).await.status(), expected, "{cookie}");
    }
}

async fn send(api: &Api, mut request: axum::http::Request<axum::body::Body>) -> axum::response::Response {
    use tower::ServiceExt;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
    keygate::web::app(api.state.clone()).oneshot(request).await.unwrap()
}
