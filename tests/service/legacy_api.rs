//! The legacy REST API through the real router: every method in XML, JSON and
//! JSONP, every error code, replays and hostile input, on SQLite and
//! PostgreSQL where the database matters.

use crate::common;

use common::legacy::{
    AppOptions, TestApp, assert_facebook_root, call, complete_login, form, json_error_code, parse_xml,
    register, send_raw, signed, signed_for_path, state, user, xml_error_code,
};
use keygate::store::Store;
use keygate::web::AppState;

crate::on_both_engines!(
    store:
    every_method_in_every_shape,
    every_error_code_and_hostile_input,
    a_captured_call_cannot_be_replayed_as_another_method,
    one_auth_token_gives_one_session,
);

/// Expected code, parameters, and the secret to sign with (None: unsigned).
type ErrorCase<'a> = (u16, Vec<(String, String)>, Option<&'a str>);

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn base<'a>(app: &'a TestApp, method: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("method", method), ("api_key", app.app.api_key.as_str()), ("v", "1.0")]
}

async fn create_token(state: &AppState, app: &TestApp) -> String {
    let answer =
        call(state, &[base(app, "auth.createToken"), vec![("format", "JSON")]].concat(), &app.secret).await;
    answer.json().as_str().unwrap().to_owned()
}

/// createToken, login completed, getSession: (session_key, secret).
async fn session(state: &AppState, app: &TestApp, uid: &keygate::store::User) -> (String, Option<String>) {
    let token = create_token(state, app).await;
    complete_login(&state.store, app, &token, uid).await;
    let params = [
        base(app, "auth.getSession"),
        vec![("auth_token", &token), ("format", "JSON"), ("generate_session_secret", "1")],
    ]
    .concat();
    let value = call(state, &params, &app.secret).await.json();
    (value["session_key"].as_str().unwrap().to_owned(), value["secret"].as_str().map(str::to_owned))
}

async fn every_method_in_every_shape(store: Store) {
    let state = state(store);
    let app = register(&state, "Flow", AppOptions::default()).await;
    let alice = user(&state.store, "alice").await;

    // createToken in the three shapes.
    let xml = call(&state, &base(&app, "auth.createToken"), &app.secret).await;
    assert_eq!((xml.status, xml.content_type.as_str()), (200, "text/xml; charset=utf-8"), "{}", xml.body);
    let root = parse_xml(&xml.body);
    assert_facebook_root(&root, "auth_createToken_response");
    assert!(
        root.text.len() == 32 && root.text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let jsonp = call(
        &state,
        &[base(&app, "facebook.auth.createToken"), vec![("format", "json"), ("callback", "app.done")]]
            .concat(),
        &app.secret,
    )
    .await;
    assert!(jsonp.body.starts_with("app.done(\"") && jsonp.body.ends_with("\");"), "{}", jsonp.body);
    let xml_jsonp =
        call(&state, &[base(&app, "auth.createToken"), vec![("callback", "cb")]].concat(), &app.secret).await;
    assert!(xml_jsonp.body.starts_with("cb(\"<?xml"), "{}", xml_jsonp.body);

    // getSession before the login completed: 100, and the token survives.
    let token = create_token(&state, &app).await;
    let get = [base(&app, "auth.getSession"), vec![("auth_token", token.as_str())]].concat();
    assert_eq!(xml_error_code(&call(&state, &get, &app.secret).await, None), 100);
    complete_login(&state.store, &app, &token, &alice).await;
    let answer = call(&state, &get, &app.secret).await;
    let root = parse_xml(&answer.body);
    assert_facebook_root(&root, "auth_getSession_response");
    let session_key = root.child("session_key").text.clone();
    assert_eq!(root.child("uid").text, alice.id.to_string());
    let expires: i64 = root.child("expires").text.parse().unwrap();
    assert!((expires - keygate::clock::unix_now() - 86400).abs() < 5);
    assert!(root.children.iter().all(|c| c.name != "secret"), "no secret unless asked");
    // Used once: a second exchange is refused.
    assert_eq!(xml_error_code(&call(&state, &get, &app.secret).await, None), 100);

    // users.getLoggedInUser in the three shapes, with increasing call_ids.
    let who = |call_id: &'static str, extra: Vec<(&'static str, &'static str)>| {
        [
            base(&app, "users.getLoggedInUser"),
            vec![("session_key", session_key.as_str()), ("call_id", call_id)],
            extra,
        ]
        .concat()
    };
    let root = parse_xml(&call(&state, &who("1732384512.1453", vec![]), &app.secret).await.body);
    assert_facebook_root(&root, "users_getLoggedInUser_response");
    assert_eq!(root.text, alice.id.to_string());
    let json = call(&state, &who("1732384512.1454", vec![("format", "JSON")]), &app.secret).await;
    assert_eq!(json.json(), serde_json::json!(alice.id));
    let jsonp =
        call(&state, &who("1732384513", vec![("format", "JSON"), ("callback", "cb")]), &app.secret).await;
    assert_eq!(jsonp.body, format!("cb({});", alice.id));
    assert_eq!(jsonp.content_type, "text/javascript; charset=utf-8");
    // Replayed and smaller call_ids: 103, in every shape.
    assert_eq!(xml_error_code(&call(&state, &who("1732384513", vec![]), &app.secret).await, None), 103);
    assert_eq!(
        json_error_code(&call(&state, &who("5", vec![("format", "JSON")]), &app.secret).await.json()),
        103
    );
    // Without call_id: allowed.
    let no_id = [
        base(&app, "users.getLoggedInUser"),
        vec![("session_key", session_key.as_str()), ("format", "JSON")],
    ]
    .concat();
    assert_eq!(call(&state, &no_id, &app.secret).await.json(), serde_json::json!(alice.id));

    // promoteSession gives a secret that signs ss=1 calls.
    let promote =
        [base(&app, "auth.promoteSession"), vec![("session_key", session_key.as_str()), ("format", "JSON")]]
            .concat();
    let secret = call(&state, &promote, &app.secret).await.json().as_str().unwrap().to_owned();
    let ss = [
        base(&app, "users.getLoggedInUser"),
        vec![("session_key", session_key.as_str()), ("format", "JSON"), ("ss", "1")],
    ]
    .concat();
    assert_eq!(call(&state, &ss, &secret).await.json(), serde_json::json!(alice.id));
    assert_eq!(json_error_code(&call(&state, &ss, &app.secret).await.json()), 104, "app secret with ss=1");

    // revokeExtendedPermission removes one grant.
    state.store.grant_permissions(alice.id, app.app.id, &["email", "offline_access"], 0).await.unwrap();
    let revoke = [
        base(&app, "auth.revokeExtendedPermission"),
        vec![("session_key", session_key.as_str()), ("perm", "email")],
    ]
    .concat();
    let root = parse_xml(&call(&state, &revoke, &app.secret).await.body);
    assert_facebook_root(&root, "auth_revokeExtendedPermission_response");
    assert_eq!(root.text, "1");
    assert_eq!(
        state.store.permissions(alice.id, app.app.id).await.unwrap(),
        vec!["offline_access".to_owned()]
    );

    // expireSession ends it: then 102.
    let expire =
        [base(&app, "auth.expireSession"), vec![("session_key", session_key.as_str()), ("format", "JSON")]]
            .concat();
    assert_eq!(call(&state, &expire, &app.secret).await.json(), serde_json::json!(true));
    assert_eq!(json_error_code(&call(&state, &no_id, &app.secret).await.json()), 102);

    // revokeAuthorization ends every session of the user with the app.
    let (one, _) = session(&state, &app, &alice).await;
    let (two, _) = session(&state, &app, &alice).await;
    let revoke_all =
        [base(&app, "auth.revokeAuthorization"), vec![("session_key", one.as_str()), ("format", "JSON")]]
            .concat();
    assert_eq!(call(&state, &revoke_all, &app.secret).await.json(), serde_json::json!(true));
    let on_two =
        [base(&app, "users.getLoggedInUser"), vec![("session_key", two.as_str()), ("format", "JSON")]]
            .concat();
    assert_eq!(json_error_code(&call(&state, &on_two, &app.secret).await.json()), 102);

    // Another app cannot use this app's session or token.
    let other = register(&state, "Other", AppOptions::default()).await;
    let (three, _) = session(&state, &app, &alice).await;
    let foreign =
        [base(&other, "users.getLoggedInUser"), vec![("session_key", three.as_str()), ("format", "JSON")]]
            .concat();
    assert_eq!(json_error_code(&call(&state, &foreign, &other.secret).await.json()), 102);
    let token = create_token(&state, &app).await;
    complete_login(&state.store, &app, &token, &alice).await;
    let steal =
        [base(&other, "auth.getSession"), vec![("auth_token", token.as_str()), ("format", "JSON")]].concat();
    assert_eq!(json_error_code(&call(&state, &steal, &other.secret).await.json()), 100);
    let own =
        [base(&app, "auth.getSession"), vec![("auth_token", token.as_str()), ("format", "JSON")]].concat();
    assert_eq!(call(&state, &own, &app.secret).await.json()["uid"], serde_json::json!(alice.id));
}

#[tokio::test]
async fn desktop_apps_always_get_a_session_secret() {
    let (store, _dir) = common::db::sqlite().await;
    let state = state(store);
    let app = register(&state, "Desktop", AppOptions { desktop: true, ..AppOptions::default() }).await;
    let alice = user(&state.store, "alice").await;
    let token = create_token(&state, &app).await;
    complete_login(&state.store, &app, &token, &alice).await;
    let get = [
        base(&app, "auth.getSession"),
        vec![("auth_token", token.as_str()), ("host_url", "http://example.org/")],
    ]
    .concat();
    let root = parse_xml(&call(&state, &get, &app.secret).await.body);
    let secret = root.child("secret").text.clone();
    assert_eq!(secret.len(), 32);
    let ss = [
        base(&app, "users.getLoggedInUser"),
        vec![("session_key", root.child("session_key").text.as_str()), ("ss", "1"), ("format", "JSON")],
    ]
    .concat();
    assert_eq!(call(&state, &ss, &secret).await.json(), serde_json::json!(alice.id));
}

async fn every_error_code_and_hostile_input(store: Store) {
    let state = state(store);
    let app = register(&state, "Errors", AppOptions::default()).await;
    let alice = user(&state.store, "alice").await;
    let (session_key, _) = session(&state, &app, &alice).await;
    let peer = "127.0.0.1:5000";
    let post = |body: String| send_raw(&state, "POST", "/restserver.php", FORM, body.into_bytes(), peer);

    // Each code in XML (with request_args echoed), JSON and JSONP.
    // (code, parameters, secret to sign with; None: unsigned)
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let secret = Some(app.secret.as_str());
    let cases: Vec<ErrorCase<'_>> = vec![
        (101, owned(&[("method", "auth.createToken"), ("api_key", "nope"), ("v", "1.0")]), secret),
        (104, owned(&base(&app, "auth.createToken")), Some("wrong secret")),
        (104, owned(&base(&app, "auth.createToken")), None),
        (3, owned(&base(&app, "auth.doesNotExist")), secret),
        (100, owned(&[("method", "auth.createToken"), ("api_key", &app.app.api_key)]), secret),
        (100, owned(&[("method", "auth.createToken"), ("api_key", &app.app.api_key), ("v", "2.0")]), secret),
        (
            100,
            owned(
                &[
                    base(&app, "users.getLoggedInUser"),
                    vec![("session_key", session_key.as_str()), ("call_id", "12abc")],
                ]
                .concat(),
            ),
            secret,
        ),
        (
            100,
            owned(
                &[
                    base(&app, "users.getLoggedInUser"),
                    vec![("session_key", session_key.as_str()), ("call_id", "-1")],
                ]
                .concat(),
            ),
            secret,
        ),
        (100, owned(&base(&app, "users.getLoggedInUser")), secret),
        (100, owned(&base(&app, "auth.getSession")), secret),
        (
            100,
            owned(
                &[base(&app, "auth.getSession"), vec![("auth_token", "0123456789abcdef0123456789abcdef")]]
                    .concat(),
            ),
            secret,
        ),
        (
            102,
            owned(&[base(&app, "users.getLoggedInUser"), vec![("session_key", "not-a-session")]].concat()),
            secret,
        ),
        (
            100,
            owned(
                &[base(&app, "auth.revokeExtendedPermission"), vec![("session_key", session_key.as_str())]]
                    .concat(),
            ),
            secret,
        ),
    ];
    let sign = |pairs: &[(String, String)], secret: Option<&str>| -> Vec<(String, String)> {
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match secret {
            Some(secret) => signed(&borrowed, secret),
            None => pairs.to_vec(),
        }
    };
    for (code, pairs, secret) in &cases {
        let xml_pairs = sign(pairs, *secret);
        let answer = post(form(&xml_pairs)).await;
        assert_eq!(xml_error_code(&answer, Some(&xml_pairs)), *code, "{pairs:?}: {}", answer.body);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8");
        let mut json_pairs = pairs.clone();
        json_pairs.insert(0, ("format".into(), "JSON".into()));
        let answer = post(form(&sign(&json_pairs, *secret))).await;
        assert_eq!(json_error_code(&answer.json()), *code, "{}", answer.body);
        json_pairs.insert(0, ("callback".into(), "cb".into()));
        let answer = post(form(&sign(&json_pairs, *secret))).await;
        let inner = answer.body.strip_prefix("cb(").and_then(|b| b.strip_suffix(");")).unwrap();
        assert_eq!(json_error_code(&serde_json::from_str(inner).unwrap()), *code);
    }

    // Hostile input: the documented error, never a 500.
    let key = &app.app.api_key;
    let hostile: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("duplicate", format!("method=auth.createToken&api_key={key}&v=1.0&v=2.0&sig=x").into_bytes(), FORM),
        (
            "invalid utf-8",
            format!("method=auth.createToken&api_key={key}&v=1.0&name=%FF%FE&sig=x").into_bytes(),
            FORM,
        ),
        (
            "script callback",
            format!("method=auth.createToken&api_key={key}&v=1.0&callback=alert(1)//&sig=x").into_bytes(),
            FORM,
        ),
        (
            "huge",
            format!("method=auth.createToken&api_key={key}&v=1.0&x={}&sig=x", "a".repeat(200_000))
                .into_bytes(),
            FORM,
        ),
        ("json body", br#"{"method":"auth.createToken"}"#.to_vec(), Some("application/json")),
        ("many params", (0..100).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&").into_bytes(), FORM),
        ("binary", vec![0, 159, 146, 150, b'&', b'=', b'='], FORM),
    ];
    for (what, body, content_type) in hostile {
        let answer = send_raw(&state, "POST", "/restserver.php", content_type, body, peer).await;
        assert_eq!(xml_error_code(&answer, None), 100, "{what}: {}", answer.body);
    }
    // A script callback is never echoed as code.
    let answer =
        post(format!("method=auth.createToken&api_key={key}&v=1.0&format=JSON&callback=alert(1)//&sig=x"))
            .await;
    assert!(answer.body.starts_with('{'), "{}", answer.body);
    // Query and body parameters merge; the same key with two values is 100.
    let pairs = signed(&base(&app, "auth.createToken"), &app.secret);
    let (head, tail) = pairs.split_at(2);
    let answer = send_raw(
        &state,
        "POST",
        &format!("/restserver.php?{}", form(head)),
        FORM,
        form(tail).into_bytes(),
        peer,
    )
    .await;
    assert_eq!(parse_xml(&answer.body).name, "auth_createToken_response", "{}", answer.body);
    let answer = send_raw(
        &state,
        "POST",
        &format!("/restserver.php?{}&v=1.1", form(head)),
        FORM,
        form(tail).into_bytes(),
        peer,
    )
    .await;
    assert_eq!(xml_error_code(&answer, None), 100);
    // GET and /method/{name} work too; a method parameter must agree with the path.
    let answer =
        send_raw(&state, "GET", &format!("/restserver.php?{}", form(&pairs)), None, Vec::new(), peer).await;
    assert_eq!(parse_xml(&answer.body).name, "auth_createToken_response");
    let path_pairs =
        signed_for_path(&[("api_key", key.as_str()), ("v", "1.0")], "auth.createToken", &app.secret);
    let answer = send_raw(
        &state,
        "GET",
        &format!("/method/auth.createToken?{}", form(&path_pairs)),
        None,
        Vec::new(),
        peer,
    )
    .await;
    assert_eq!(parse_xml(&answer.body).name, "auth_createToken_response", "{}", answer.body);
    // Signed without the path's method, the same call is refused.
    let unsigned_path = signed(&[("api_key", key.as_str()), ("v", "1.0")], &app.secret);
    let answer = send_raw(
        &state,
        "GET",
        &format!("/method/auth.createToken?{}", form(&unsigned_path)),
        None,
        Vec::new(),
        peer,
    )
    .await;
    assert_eq!(xml_error_code(&answer, None), 104, "{}", answer.body);
    let answer =
        send_raw(&state, "POST", "/method/auth.getSession", FORM, form(&pairs).into_bytes(), peer).await;
    assert_eq!(xml_error_code(&answer, None), 100);
}

#[tokio::test]
async fn source_networks_and_rate_limits() {
    let (store, _dir) = common::db::sqlite().await;
    let state = state(store);
    let fenced = register(
        &state,
        "Fenced",
        AppOptions { allowed_ips: vec!["10.0.0.0/8".parse().unwrap()], ..AppOptions::default() },
    )
    .await;
    let body = form(&signed(&base(&fenced, "auth.createToken"), &fenced.secret)).into_bytes();
    let from = |peer: &'static str| send_raw(&state, "POST", "/restserver.php", FORM, body.clone(), peer);
    assert_eq!(xml_error_code(&from("192.0.2.1:1").await, None), 5);
    assert_eq!(parse_xml(&from("10.1.2.3:1").await.body).name, "auth_createToken_response");

    let limited =
        register(&state, "Limited", AppOptions { rate_limit: Some(3), ..AppOptions::default() }).await;
    let params = [base(&limited, "auth.createToken"), vec![("format", "JSON")]].concat();
    // Forged calls are refused without using up the app's allowance.
    for _ in 0..5 {
        assert_eq!(json_error_code(&call(&state, &params, "forged").await.json()), 104);
    }
    for _ in 0..3 {
        assert!(call(&state, &params, &limited.secret).await.json().is_string());
    }
    assert_eq!(json_error_code(&call(&state, &params, &limited.secret).await.json()), 4);
}

/// A captured signed call to `/method/users.getLoggedInUser`, replayed by
/// whoever saw it to `/method/auth.promoteSession` (to mint a session secret)
/// and `/method/auth.expireSession` (to end the session): both 104, and the
/// session still works with no secret minted.
async fn a_captured_call_cannot_be_replayed_as_another_method(store: Store) {
    let state = state(store);
    let app = register(&state, "Captured", AppOptions::default()).await;
    let alice = user(&state.store, "alice").await;
    let (session_key, _) = session(&state, &app, &alice).await;
    let now = keygate::clock::unix_now();
    let secret_before = state.store.sessions_for_user(alice.id, now).await.unwrap()[0].secret_sealed.clone();
    let captured = signed_for_path(
        &[
            ("api_key", app.app.api_key.as_str()),
            ("v", "1.0"),
            ("session_key", &session_key),
            ("format", "JSON"),
        ],
        "users.getLoggedInUser",
        &app.secret,
    );
    let to = |method: &str| {
        let state = state.clone();
        let uri = format!("/method/{method}");
        let body = form(&captured).into_bytes();
        async move { send_raw(&state, "POST", &uri, FORM, body, "127.0.0.1:1").await.json() }
    };
    assert_eq!(to("users.getLoggedInUser").await, serde_json::json!(alice.id), "the original call works");
    for method in ["auth.promoteSession", "auth.expireSession", "facebook.auth.promoteSession"] {
        let answer = to(method).await;
        assert_eq!(json_error_code(&answer), 104, "{method}: {answer}");
    }
    // With the captured method parameter sent explicitly, the path must agree.
    let mut explicit = captured.clone();
    explicit.pop();
    explicit.push(("method".to_owned(), "users.getLoggedInUser".to_owned()));
    let pairs: Vec<(&str, &str)> = explicit.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = form(&signed(&pairs, &app.secret)).into_bytes();
    let answer = send_raw(&state, "POST", "/method/auth.expireSession", FORM, body, "127.0.0.1:1").await;
    assert_eq!(json_error_code(&answer.json()), 100, "{}", answer.body);
    assert_eq!(to("users.getLoggedInUser").await, serde_json::json!(alice.id), "the session survived");
    let sessions = state.store.sessions_for_user(alice.id, keygate::clock::unix_now()).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].secret_sealed, secret_before, "no new session secret was minted");
}

async fn one_auth_token_gives_one_session(store: Store) {
    let state = state(store);
    let app = register(&state, "Replay", AppOptions::default()).await;
    let alice = user(&state.store, "alice").await;
    let token = create_token(&state, &app).await;
    complete_login(&state.store, &app, &token, &alice).await;
    let params =
        [base(&app, "auth.getSession"), vec![("auth_token", token.as_str()), ("format", "JSON")]].concat();
    let body = form(&signed(&params, &app.secret)).into_bytes();
    let calls = (0..50).map(|_| {
        let state = state.clone();
        let body = body.clone();
        tokio::spawn(
            async move { send_raw(&state, "POST", "/restserver.php", FORM, body, "127.0.0.1:1").await },
        )
    });
    let mut won = 0;
    for handle in calls {
        let answer = handle.await.unwrap();
        assert_eq!(answer.status, 200);
        let value = answer.json();
        if value["session_key"].is_string() {
            won += 1;
        } else {
            assert_eq!(json_error_code(&value), 100, "{value}");
        }
    }
    assert_eq!(won, 1);
    assert_eq!(state.store.sessions_for_user(alice.id, keygate::clock::unix_now()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn database_outage_is_error_2() {
    let (store, _dir) = common::db::sqlite().await;
    let state = state(store);
    let app = register(&state, "Outage", AppOptions::default()).await;
    state.store.close().await;
    let answer = call(&state, &base(&app, "auth.createToken"), &app.secret).await;
    assert_eq!(xml_error_code(&answer, None), 2, "{}", answer.body);
    let answer =
        call(&state, &[base(&app, "auth.createToken"), vec![("format", "JSON")]].concat(), &app.secret).await;
    assert_eq!(json_error_code(&answer.json()), 2);
}

#[tokio::test]
async fn calls_and_outcomes_are_counted() {
    let (store, _dir) = common::db::sqlite().await;
    let state = state(store);
    let app = register(&state, "Counted", AppOptions::default()).await;
    call(&state, &base(&app, "auth.createToken"), &app.secret).await;
    call(&state, &base(&app, "auth.createToken"), "forged").await;
    let metrics = send_raw(&state, "GET", "/metrics", None, Vec::new(), "127.0.0.1:1").await.body;
    for series in [
        r#"keygate_legacy_calls_total{method="auth.createToken",outcome="ok"}"#,
        r#"keygate_legacy_calls_total{method="auth.createToken",outcome="104"}"#,
    ] {
        assert!(metrics.contains(series), "{series} missing from {metrics}");
    }
    assert!(!metrics.contains(&app.secret));
}

#[tokio::test]
async fn expired_tokens_and_sessions_are_refused() {
    use keygate::secrets::TokenHash;
    use keygate::store::{AppTokenKind, NewAppToken, NewSession, SessionKind};
    let (store, _dir) = common::db::sqlite().await;
    let state = state(store);
    let app = register(&state, "Expiry", AppOptions::default()).await;
    let alice = user(&state.store, "alice").await;
    let now = keygate::clock::unix_now();

    // A bound auth_token past its ten minutes: 100.
    let token = "00112233445566778899aabbccddeeff";
    let new = NewAppToken {
        kind: AppTokenKind::AuthToken,
        token_hash: &TokenHash::of(token),
        app_id: app.app.id,
        user_id: Some(alice.id),
        data: "{}",
        expires_at: Some(now - 1),
        issued_from: None,
    };
    state.store.create_app_token(&new, now - 601).await.unwrap();
    let get = [base(&app, "auth.getSession"), vec![("auth_token", token), ("format", "JSON")]].concat();
    assert_eq!(json_error_code(&call(&state, &get, &app.secret).await.json()), 100);

    // A legacy session past its 24 hours, and a user's own (API) session: 102.
    for (key, kind, expires_at) in
        [("old-session", SessionKind::Legacy, now - 1), ("api-session", SessionKind::Api, now + 60)]
    {
        let hash = TokenHash::of(key);
        let session = NewSession {
            app_id: if kind == SessionKind::Legacy { Some(app.app.id) } else { None },
            ..NewSession::new(&hash, alice.id, kind, expires_at)
        };
        state.store.create_session(&session, now - 86_401).await.unwrap();
        let who =
            [base(&app, "users.getLoggedInUser"), vec![("session_key", key), ("format", "JSON")]].concat();
        assert_eq!(json_error_code(&call(&state, &who, &app.secret).await.json()), 102, "{kind}");
    }
}
