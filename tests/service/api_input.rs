//! Bad input to the JSON API: every answer is a 4xx in the JSON error shape,
//! never a 500; plus rate limits and the last-key rule.

use crate::common;

use axum::http::StatusCode;
use common::api::{Answer, Api, Token, b64, unb64};
use keygate::config::Config;
use keygate::secrets::{ServerKey, hash_password};
use keygate::store::NewUser;
use keygate::web::AppState;
use serde_json::json;

const PASSWORD: &str = "hunter2hunter2";

async fn setup() -> (Api, tempfile::TempDir) {
    let (store, dir) = common::db::sqlite().await;
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    store
        .create_user(
            &NewUser { name: "erin", display_name: None, password_hash: &hash },
            keygate::clock::unix_now(),
        )
        .await
        .unwrap();
    (Api { state: AppState::new(Config::default(), store, ServerKey::generate()) }, dir)
}

fn code(answer: &Answer) -> (u16, &str) {
    (answer.0.as_u16(), answer.1["error"]["code"].as_str().unwrap_or("-"))
}

/// Enrolls a key and logs in; returns (session, token, key handle, a pending login).
async fn logged_in(api: &Api) -> (String, Token, String, serde_json::Value) {
    let (_, body, _) = api.login("erin", PASSWORD).await;
    let enroll_only = body["session_token"].as_str().unwrap().to_owned();
    let mut token = Token::new();
    assert_eq!(api.enroll(&mut token, &enroll_only, "k").await.0, StatusCode::OK);
    let (_, start, _) = api.login("erin", PASSWORD).await;
    let handle = start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned();
    let session = api.full_login(&mut token, "erin", PASSWORD, &handle).await;
    let (_, pending, _) = api.login("erin", PASSWORD).await;
    (session, token, handle, pending)
}

/// Method, path, content type, body, expected status and code.
type Case = (&'static str, &'static str, Option<&'static str>, Vec<u8>, u16, &'static str);

#[tokio::test]
async fn malformed_requests_get_json_4xx() {
    let (api, _dir) = setup().await;
    let (session, mut token, handle, pending) = logged_in(&api).await;
    let json = Some("application/json");
    let cases: Vec<Case> = vec![
        ("POST", "/api/v1/login", json, b"{not json".to_vec(), 400, "invalid_request"),
        ("POST", "/api/v1/login", json, br#"{"username":1,"password":"x"}"#.to_vec(), 400, "invalid_request"),
        ("POST", "/api/v1/login", json, br#"{"username":"erin"}"#.to_vec(), 400, "invalid_request"),
        (
            "POST",
            "/api/v1/login",
            json,
            br#"{"username":"erin","password":"x","extra":true}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/v1/login",
            Some("text/plain"),
            br#"{"username":"erin","password":"x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        ("POST", "/api/v1/login", None, Vec::new(), 415, "unsupported_media_type"),
        ("POST", "/api/v1/login", json, vec![b' '; 70 * 1024], 413, "payload_too_large"),
        ("GET", "/api/v1/login", None, Vec::new(), 405, "method_not_allowed"),
        ("GET", "/api/v1/nothing", None, Vec::new(), 404, "not_found"),
    ];
    for (method, path, ct, body, status, expected) in cases {
        let answer = api.raw(method, path, None, ct, body).await;
        assert_eq!(code(&answer), (status, expected), "{method} {path}: {}", answer.1);
    }

    // Bad base64 and a truncated signatureData on a real pending login.
    let good = api.signed_finish(&mut token, &pending, &handle);
    let mut bad_b64 = good.clone();
    bad_b64["signatureData"] = json!("***");
    let mut truncated = good.clone();
    let sig = unb64(good["signatureData"].as_str().unwrap());
    truncated["signatureData"] = json!(b64(&sig[..sig.len() - 9]));
    let mut short = good.clone();
    short["signatureData"] = json!(b64(&sig[..3]));
    let mut bad_cd = good.clone();
    bad_cd["clientData"] = json!(b64(b"{\"typ\":"));
    for (body, expected) in [
        (bad_b64, "invalid_request"),
        (truncated, "bad_signature"),
        (short, "bad_signature"),
        (bad_cd, "bad_client_data"),
    ] {
        let answer = api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
        assert_eq!(code(&answer), (400, expected), "{}", answer.1);
    }
    // After those failures the good signature still works (attempts < limit).
    assert_eq!(api.call("POST", "/api/v1/login/u2f", None, Some(good)).await.0, StatusCode::OK);

    // Bogus Bearer tokens.
    for bearer in ["", "nope", &"x".repeat(5000), "é%%"] {
        let answer = api.raw("GET", "/api/v1/keys", Some(bearer), None, Vec::new()).await;
        assert_eq!(code(&answer), (401, "unauthorized"), "{bearer:?}");
    }
    let answer = api.raw("GET", "/api/v1/keys", None, None, Vec::new()).await;
    assert_eq!(code(&answer), (401, "unauthorized"));
    // Bad ids and labels.
    let answer = api.call("PATCH", "/api/v1/keys/abc", Some(&session), Some(json!({"name": "x"}))).await;
    assert_eq!(code(&answer), (404, "not_found"));
    let answer = api.call("PATCH", "/api/v1/keys/999", Some(&session), Some(json!({"name": "x"}))).await;
    assert_eq!(code(&answer), (404, "not_found"));
    let answer = api.call("DELETE", "/api/v1/keys/999", Some(&session), None).await;
    assert_eq!(code(&answer), (404, "not_found"));
    let (_, list, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    let id = list["keys"][0]["id"].as_str().unwrap();
    let answer =
        api.call("PATCH", &format!("/api/v1/keys/{id}"), Some(&session), Some(json!({"name": " "}))).await;
    assert_eq!(code(&answer), (400, "invalid_request"));
    let answer =
        api.call("PATCH", &format!("/api/v1/keys/{id}"), Some(&session), Some(json!({"name": 5}))).await;
    assert_eq!(code(&answer), (400, "invalid_request"));
}

#[tokio::test]
async fn second_factor_attempts_per_login_are_limited() {
    let (api, _dir) = setup().await;
    let (_, mut token, handle, pending) = logged_in(&api).await;
    let good = api.signed_finish(&mut token, &pending, &handle);
    let mut bad = good.clone();
    bad["signatureData"] = json!(b64(&[1, 0, 0, 0, 9]));
    for _ in 0..5 {
        assert_eq!(
            code(&api.call("POST", "/api/v1/login/u2f", None, Some(bad.clone())).await),
            (400, "bad_signature")
        );
    }
    let answer = api.call("POST", "/api/v1/login/u2f", None, Some(good)).await;
    assert_eq!(code(&answer), (429, "rate_limited"));
    assert!(answer.2.get("retry-after").is_some());
    let recovery = json!({"login_id": pending["login_id"], "code": "aaaa-bbbb-cccc"});
    assert_eq!(
        code(&api.call("POST", "/api/v1/login/recovery", None, Some(recovery)).await),
        (429, "rate_limited")
    );
}

#[tokio::test]
async fn failed_passwords_are_limited_per_account_with_retry_after() {
    let (api, _dir) = setup().await;
    for _ in 0..10 {
        assert_eq!(code(&api.login("erin", "wrong").await), (401, "bad_credentials"));
    }
    let answer = api.login("erin", PASSWORD).await;
    assert_eq!(code(&answer), (429, "rate_limited"));
    let retry: u64 = answer.2["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // Another account from the same address is not locked by erin's bucket.
    assert_eq!(code(&api.login("someone", "wrong").await), (401, "bad_credentials"));
}

#[tokio::test]
async fn the_last_key_needs_a_fresh_second_factor() {
    let (api, _dir) = setup().await;
    let (session, mut token, handle, _) = logged_in(&api).await;
    let (_, list, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    let id = list["keys"][0]["id"].as_str().unwrap().to_owned();
    // With its second factor six minutes old, the session is too old.
    let (_, sessions, _) = api.call("GET", "/api/v1/sessions", Some(&session), None).await;
    let current = sessions["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    let session_id = current["id"].as_str().unwrap().parse().unwrap();
    let six_minutes_ago = keygate::clock::unix_now() - 360;
    api.state.store.mark_session_verified(session_id, six_minutes_ago).await.unwrap();
    let answer = api.call("DELETE", &format!("/api/v1/keys/{id}"), Some(&session), None).await;
    assert_eq!(code(&answer), (403, "reauth_required"));
    // A fresh second factor (a new login) allows it.
    let (_, start, _) = api.login("erin", PASSWORD).await;
    let body = api.signed_finish(&mut token, &start, &handle);
    let (status, done, _) = api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let session = done["session_token"].as_str().unwrap().to_owned();
    let answer = api.call("DELETE", &format!("/api/v1/keys/{id}"), Some(&session), None).await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    let (_, body, _) = api.login("erin", PASSWORD).await;
    assert_eq!(body["second_factor"], "none");
}

#[tokio::test]
async fn password_change_ends_sessions() {
    let (api, _dir) = setup().await;
    let (session, ..) = logged_in(&api).await;
    let body = json!({"old": "wrong", "new": "new password"});
    assert_eq!(
        code(&api.call("POST", "/api/v1/password", Some(&session), Some(body)).await),
        (401, "bad_credentials")
    );
    let body = json!({"old": PASSWORD, "new": "new password"});
    assert_eq!(
        api.call("POST", "/api/v1/password", Some(&session), Some(body)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(code(&api.call("GET", "/api/v1/keys", Some(&session), None).await), (401, "unauthorized"));
    assert_eq!(code(&api.login("erin", PASSWORD).await), (401, "bad_credentials"));
    assert_eq!(api.login("erin", "new password").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let (api, _dir) = setup().await;
    let (status, doc, _) = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/login",
        "/api/v1/login/u2f",
        "/api/v1/login/recovery",
        "/api/v1/login/webauthn",
        "/api/v1/keys",
        "/api/v1/keys/webauthn/register/start",
        "/api/v1/keys/webauthn/register/finish",
        "/api/v1/keys/register/start",
        "/api/v1/keys/register/finish",
        "/api/v1/keys/{id}",
        "/api/v1/recovery-codes",
        "/api/v1/password",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/logout",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let login = &doc["components"]["schemas"]["U2fFinish"]["properties"];
    assert!(login.get("signatureData").is_some(), "{login}");
}

/// A state on a fresh SQLite file with `configure` applied, and erin.
async fn setup_with(configure: impl FnOnce(&mut Config)) -> (Api, tempfile::TempDir) {
    let (api, dir) = setup().await;
    let mut config = Config::default();
    configure(&mut config);
    (Api { state: AppState::new(config, api.state.store.clone(), ServerKey::generate()) }, dir)
}

/// An IPv6 client cannot dodge the per-address limit by rotating through
/// its /64: the 51st attempt from anywhere in it is refused, while another
/// /64 and another IPv4 address are not.
#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64() {
    let (api, _dir) = setup().await;
    // The per-address counter is a fixed one-minute window: a run that
    // crosses a minute boundary starts counting again halfway, so it is
    // repeated from a fresh /64 rather than judged.
    for run in 1..=3u16 {
        let minute = keygate::clock::unix_now() / 60;
        for i in 0..50u16 {
            let ip: std::net::IpAddr = format!("2001:db8:{run}:2::{:x}", i + 1).parse().unwrap();
            let answer = api.login_from(ip, &format!("u{run}-{i}"), "wrong").await;
            assert_eq!(code(&answer), (401, "bad_credentials"));
        }
        let same_64: std::net::IpAddr = format!("2001:db8:{run}:2:ffff::9").parse().unwrap();
        let refused = api.login_from(same_64, "other", "wrong").await;
        if keygate::clock::unix_now() / 60 != minute {
            continue;
        }
        assert_eq!(code(&refused), (429, "rate_limited"));
        let next_64: std::net::IpAddr = format!("2001:db8:{run}:3::1").parse().unwrap();
        assert_eq!(code(&api.login_from(next_64, "other", "wrong").await), (401, "bad_credentials"));
        let v4: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(code(&api.login_from(v4, "other", "wrong").await), (401, "bad_credentials"));
        return;
    }
    panic!("three runs in a row crossed a minute boundary");
}

/// Once the minute's failed-password budget is spent (a storm from many
/// addresses), passwords are checked only for users on a network they
/// signed in from before: the storm gets an immediate 429, erin at home
/// still signs in, and neither an unknown user nor erin on a new network
/// can tell the difference.
#[tokio::test]
async fn a_storm_spends_the_budget_but_known_networks_still_sign_in() {
    let (api, _dir) = setup_with(|c| c.password_failures_per_minute = 20).await;
    let home: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    assert_eq!(api.login_from(home, "erin", PASSWORD).await.0, StatusCode::OK, "erin's network is known now");
    // The budget is a fixed one-minute window shared by every client: a run
    // must start and end in the same minute to know what it spent, so it
    // starts early in a minute, and one that straddles two anyway is
    // repeated in a fresh minute.
    for run in 1..=3u16 {
        if run > 1 || keygate::clock::unix_now() % 60 >= 30 {
            next_minute().await;
        }
        let minute = keygate::clock::unix_now() / 60;
        let mut refused = 0;
        for i in 0..40u8 {
            let bot: std::net::IpAddr = format!("203.0.113.{i}").parse().unwrap();
            match code(&api.login_from(bot, &format!("victim{run}-{i}"), "guess").await) {
                (401, _) => {}
                (429, "rate_limited") => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        let answer = api.login_from(home, "erin", PASSWORD).await;
        let elsewhere: std::net::IpAddr = "192.0.2.200".parse().unwrap();
        let refused_known = api.login_from(elsewhere, "erin", PASSWORD).await;
        let refused_unknown = api.login_from(elsewhere, "nobody", PASSWORD).await;
        if keygate::clock::unix_now() / 60 != minute {
            continue;
        }
        assert_eq!(refused, 20, "the budget let 20 failures be checked");
        assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
        assert_eq!(code(&refused_known), (429, "rate_limited"));
        assert_eq!(code(&refused_unknown), code(&refused_known));
        assert!(refused_known.2.contains_key("retry-after"));
        return;
    }
    panic!("three runs in a row straddled a minute boundary");
}

/// Sleeps until the wall clock's minute changes.
async fn next_minute() {
    let minute = keygate::clock::unix_now() / 60;
    while keygate::clock::unix_now() / 60 == minute {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// With one hashing slot and no queue, parallel password checks beyond the
/// slot are answered 429 at once instead of waiting (bounded memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_hashing_queue_answers_429_at_once() {
    let (api, _dir) = setup_with(|c| {
        c.password_hash_concurrency = Some(1);
        c.password_hash_queue = 0;
        c.login_attempts_per_address = 1000;
        c.login_attempts_per_account = 1000;
    })
    .await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move { api.login(&format!("user{i}"), "wrong").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.1["error"]["code"], "rate_limited");
            assert!(answer.2.contains_key("retry-after"));
        }
        statuses.push(answer.0.as_u16());
    }
    assert!(statuses.contains(&401) && statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}
