//! Sign-in for applications (§5) and the Graph token endpoints (§2)
//! in-process on SQLite and PostgreSQL: the `for` field and its refusals,
//! every endpoint with and without a version prefix, each OAuthException,
//! expiry and revocation, redirect safety, and 50 concurrent exchanges of
//! one code.

use crate::common;

use axum::http::StatusCode;
use common::api::{Api, Token};
use common::legacy::{AppOptions, TestApp, register};
use keygate::config::Config;
use keygate::oauth::{Graph, Params};
use keygate::secrets::{ServerKey, hash_password};
use keygate::store::{NewUser, Store};
use keygate::web::AppState;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://app.example/cb";

crate::on_both_engines!(
    store:
    app_sign_in_rules,
    endpoints,
    expiry_and_password_change,
    fifty_concurrent_exchanges,
    a_reused_code_revokes_every_token_it_led_to,
    graph_calls_obey_the_apps_controls,
);

struct Fixture {
    api: Api,
    app: TestApp,
    token: Token,
    handle: String,
    uid: i64,
}

async fn fixture(store: Store) -> Fixture {
    let api = Api { state: AppState::new(Config::default(), store, ServerKey::generate()) };
    let options = AppOptions { redirect_uris: vec![REDIRECT.to_owned()], ..AppOptions::default() };
    let app = register(&api.state, "graph-app", options).await;
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    let now = keygate::clock::unix_now();
    let user = api
        .state
        .store
        .create_user(&NewUser { name: "alice", display_name: Some("Alice A."), password_hash: &hash }, now)
        .await
        .unwrap();
    let mut token = Token::new();
    let (_, first, _) = api.login("alice", PASSWORD).await;
    let session = first["session_token"].as_str().unwrap().to_owned();
    let (status, key, _) = api.enroll(&mut token, &session, "key").await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let start = api.login("alice", PASSWORD).await.1;
    let handle = start["registeredKeys"][0]["keyHandle"].as_str().unwrap().to_owned();
    Fixture { api, app, token, handle, uid: user.id }
}

impl Fixture {
    fn api_key(&self) -> &str {
        &self.app.app.api_key
    }

    fn dialog(&self, state: &str) -> Value {
        json!({ "oauth": { "client_id": self.api_key(), "redirect_uri": REDIRECT, "state": state, "scope": "email" } })
    }

    /// Password + key for `for_app`; the finish answer.
    async fn sign_in_for(&mut self, for_app: Value) -> (StatusCode, Value) {
        let body = json!({ "username": "alice", "password": PASSWORD, "for": for_app });
        let (status, start, _) = self.api.call("POST", "/api/v1/login", None, Some(body)).await;
        if status != StatusCode::OK {
            return (status, start);
        }
        let finish = self.api.signed_finish(&mut self.token, &start, &self.handle.clone());
        let (status, done, _) = self.api.call("POST", "/api/v1/login/u2f", None, Some(finish)).await;
        (status, done)
    }

    /// A dialog code for REDIRECT.
    async fn code(&mut self) -> String {
        let (status, done) = self.sign_in_for(self.dialog("s")).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        let to = url::Url::parse(done["redirect_to"].as_str().unwrap()).unwrap();
        to.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let (status, body, headers) = self.api.call("GET", &format!("{path}?{query}"), None, None).await;
        if status != StatusCode::NOT_FOUND {
            assert_eq!(headers["content-type"], "application/json", "{path}");
        }
        (status, body)
    }

    async fn exchange(&self, code: &str, redirect: &str) -> (StatusCode, Value) {
        let secret = self.app.secret.clone();
        self.get(
            "/oauth/access_token",
            &[
                ("client_id", self.api_key()),
                ("client_secret", &secret),
                ("redirect_uri", redirect),
                ("code", code),
            ],
        )
        .await
    }

    async fn user_token(&mut self) -> String {
        let code = self.code().await;
        let (status, body) = self.exchange(&code, REDIRECT).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A long-lived token exchanged from `token`.
    async fn long_lived(&self, token: &str) -> String {
        let (key, secret) = (self.api_key(), self.app.secret.as_str());
        let exchange = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", key),
            ("client_secret", secret),
            ("fb_exchange_token", token),
        ];
        let (status, body) = self.get("/oauth/access_token", &exchange).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A client code bought with the long-lived token `long`.
    async fn client_code(&self, long: &str) -> String {
        let (key, secret) = (self.api_key(), self.app.secret.as_str());
        let cc = [
            ("client_id", key),
            ("client_secret", secret),
            ("redirect_uri", REDIRECT),
            ("access_token", long),
        ];
        let (status, body) = self.get("/oauth/client_code", &cc).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["code"].as_str().unwrap().to_owned()
    }

    fn graph(&self) -> Graph<'_> {
        let source = std::net::IpAddr::from([127, 0, 0, 1]);
        Graph { store: &self.api.state.store, server_key: &self.api.state.server_key, source }
    }
}

fn oauth_error(answer: &(StatusCode, Value)) -> (u16, i64, i64) {
    let e = &answer.1["error"];
    assert_eq!(e["type"], "OAuthException", "{}", answer.1);
    assert!(e["fbtrace_id"].as_str().is_some_and(|t| !t.is_empty()));
    (answer.0.as_u16(), e["code"].as_i64().unwrap_or(-1), e["error_subcode"].as_i64().unwrap_or(0))
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn app_sign_in_rules(store: Store) {
    let mut f = fixture(store).await;
    // Refused at once: unknown app, unknown token, unregistered redirect_uri.
    for bad in [
        json!({ "oauth": { "client_id": "nope", "redirect_uri": REDIRECT } }),
        json!({ "oauth": { "client_id": f.api_key(), "redirect_uri": "https://app.example/cb/" } }),
        json!({ "oauth": { "client_id": f.api_key(), "redirect_uri": "javascript:alert(1)" } }),
        json!({ "legacy": { "api_key": f.api_key(), "auth_token": "0123456789abcdef0123456789abcdef" } }),
        json!({ "oauth": { "client_id": f.api_key(), "redirect_uri": REDIRECT, "scope": "email;drop" } }),
        json!({ "other": {} }),
    ] {
        let (status, body) = f.sign_in_for(bad.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{bad}"
        );
    }
    // A user without a key cannot authorize an application.
    let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
    let now = keygate::clock::unix_now();
    let new = NewUser { name: "keyless", display_name: None, password_hash: &hash };
    f.api.state.store.create_user(&new, now).await.unwrap();
    let body = json!({ "username": "keyless", "password": PASSWORD, "for": f.dialog("s") });
    let (status, refused, _) = f.api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("enroll_only")));

    // A plain login has no redirect_to; a dialog login gets code and state back.
    let start = f.api.login("alice", PASSWORD).await.1;
    let finish = f.api.signed_finish(&mut f.token, &start, &f.handle.clone());
    let plain = f.api.call("POST", "/api/v1/login/u2f", None, Some(finish)).await.1;
    assert!(plain.get("redirect_to").is_none(), "{plain}");
    let (_, done) = f.sign_in_for(f.dialog("xyz&evil=1")).await;
    let to = url::Url::parse(done["redirect_to"].as_str().unwrap()).unwrap();
    assert_eq!(to.as_str().split('?').next(), Some(REDIRECT));
    let pairs: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    assert_eq!(pairs.iter().filter(|(k, _)| k == "state").count(), 1);
    assert!(pairs.contains(&("state".into(), "xyz&evil=1".into())), "{pairs:?}");
    assert!(pairs.iter().all(|(k, _)| k != "evil"));
    assert!(done["session_token"].is_string());
    // The scope was granted.
    assert_eq!(f.api.state.store.permissions(f.uid, f.app.app.id).await.unwrap(), ["email"]);
}

async fn endpoints(store: Store) {
    let mut f = fixture(store).await;
    let secret = f.app.secret.clone();
    let key = f.api_key().to_owned();
    // Code exchange, with and without version prefixes.
    let code = f.code().await;
    let (status, short) = f
        .get(
            "/v3.1/oauth/access_token",
            &[("client_id", &key), ("client_secret", &secret), ("redirect_uri", REDIRECT), ("code", &code)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{short}");
    assert_eq!((short["token_type"].as_str(), short["expires_in"].as_i64()), (Some("bearer"), Some(7200)));
    let reused = short["access_token"].as_str().unwrap().to_owned();
    assert_eq!(oauth_error(&f.exchange(&code, REDIRECT).await), (400, 100, 0), "a code works once");
    assert_eq!(
        oauth_error(&f.get("/me", &[("access_token", &reused)]).await),
        (400, 190, 467),
        "and its second use revokes the token it bought"
    );
    let short = f.user_token().await;
    assert_eq!(oauth_error(&f.exchange("made-up", REDIRECT).await), (400, 100, 0));
    let code = f.code().await;
    assert_eq!(oauth_error(&f.exchange(&code, "https://app.example/other").await), (400, 100, 36008));
    assert_eq!(f.exchange(&code, REDIRECT).await.0, StatusCode::OK, "a mismatch does not burn the code");
    let wrong_secret = f
        .get(
            "/oauth/access_token",
            &[("client_id", &key), ("client_secret", "x"), ("redirect_uri", REDIRECT), ("code", "c")],
        )
        .await;
    assert_eq!(oauth_error(&wrong_secret), (400, 1, 0));
    assert_eq!(
        oauth_error(&f.get("/oauth/access_token", &[("client_id", "nope"), ("client_secret", "x")]).await).1,
        101
    );
    assert_eq!(oauth_error(&f.get("/v25.0/oauth/access_token", &[]).await).1, 100);
    assert_eq!(f.get("/x2.8/oauth/access_token", &[]).await.0, StatusCode::NOT_FOUND);

    // Long-lived: a new token each time.
    let exchange = [
        ("grant_type", "fb_exchange_token"),
        ("client_id", &key),
        ("client_secret", &secret),
        ("fb_exchange_token", &short),
    ];
    let (status, long) = f.get("/v2.8/oauth/access_token", &exchange).await;
    assert_eq!(status, StatusCode::OK, "{long}");
    assert!((5_000_000..=5_300_000).contains(&long["expires_in"].as_i64().unwrap()));
    let again = f.get("/oauth/access_token", &exchange).await.1;
    assert_ne!(long["access_token"], again["access_token"]);
    let long = long["access_token"].as_str().unwrap().to_owned();

    // /me and debug_token.
    for path in ["/me", "/v3.1/me"] {
        let (status, me) = f.get(path, &[("access_token", &long)]).await;
        assert_eq!((status, me), (StatusCode::OK, json!({ "id": f.uid.to_string(), "name": "Alice A." })));
    }
    assert_eq!(oauth_error(&f.get("/me", &[]).await).1, 2500);
    assert_eq!(oauth_error(&f.get("/me", &[("access_token", "garbage")]).await), (400, 190, 467));
    let app_secret_token = format!("{key}|{secret}");
    let (status, info) =
        f.get("/debug_token", &[("input_token", &long), ("access_token", &app_secret_token)]).await;
    assert_eq!(status, StatusCode::OK);
    let data = &info["data"];
    assert_eq!(
        (data["is_valid"].as_bool(), data["type"].as_str(), data["app_id"].as_str()),
        (Some(true), Some("USER"), Some(key.as_str()))
    );
    assert_eq!(data["user_id"], f.uid.to_string());
    assert_eq!(data["scopes"], json!(["email"]));
    assert_eq!(data["application"], "graph-app");
    let (status, bad) =
        f.get("/v3.1/debug_token", &[("input_token", "garbage"), ("access_token", &app_secret_token)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (bad["data"]["is_valid"].as_bool(), bad["data"]["error"]["code"].as_i64()),
        (Some(false), Some(190))
    );
    let bad_app =
        f.get("/debug_token", &[("input_token", &long), ("access_token", &format!("{key}|wrong"))]).await;
    assert_eq!(oauth_error(&bad_app), (400, 190, 467));

    // App tokens: new each call, accepted by debug_token, void after rotation.
    let creds = [("grant_type", "client_credentials"), ("client_id", &key), ("client_secret", &secret)];
    let first = f.get("/oauth/access_token", &creds).await.1["access_token"].as_str().unwrap().to_owned();
    let second =
        f.get("/v3.1/oauth/access_token", &creds).await.1["access_token"].as_str().unwrap().to_owned();
    assert!(first.starts_with(&format!("{key}|")) && first != second);
    let with_app_token = f.get("/debug_token", &[("input_token", &long), ("access_token", &first)]).await;
    assert_eq!(with_app_token.1["data"]["is_valid"], true);

    // Client code → machine token; the machine id is kept when given.
    let cc = [
        ("client_id", &*key),
        ("client_secret", &secret),
        ("redirect_uri", REDIRECT),
        ("access_token", &long),
    ];
    let client_code = f.get("/oauth/client_code", &cc).await.1["code"].as_str().unwrap().to_owned();
    let (status, machine) = f
        .get(
            "/oauth/access_token",
            &[("client_id", &key), ("redirect_uri", REDIRECT), ("code", &client_code), ("machine_id", "m-1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{machine}");
    assert_eq!(machine["machine_id"], "m-1");
    let short_cc = [
        ("client_id", &*key),
        ("client_secret", &secret),
        ("redirect_uri", REDIRECT),
        ("access_token", &short),
    ];
    assert_eq!(
        oauth_error(&f.get("/v3.1/oauth/client_code", &short_cc).await).1,
        190,
        "needs a long-lived token"
    );
    let client_code = f.get("/oauth/client_code", &cc).await.1["code"].as_str().unwrap().to_owned();
    let fresh = f
        .get(
            "/oauth/access_token",
            &[("client_id", &key), ("redirect_uri", REDIRECT), ("code", &client_code)],
        )
        .await
        .1;
    assert!(fresh["machine_id"].as_str().is_some_and(|m| m.len() >= 16), "{fresh}");

    // DELETE /me/permissions revokes the app's tokens for the user.
    let (status, done, _) =
        f.api.call("DELETE", &format!("/v3.1/me/permissions?access_token={long}"), None, None).await;
    assert_eq!((status, done), (StatusCode::OK, json!({ "success": true })));
    assert_eq!(oauth_error(&f.get("/me", &[("access_token", &long)]).await), (400, 190, 467));
    assert_eq!(
        oauth_error(&f.get("/me", &[("access_token", machine["access_token"].as_str().unwrap())]).await).1,
        190
    );
    let after = f.get("/debug_token", &[("input_token", &long), ("access_token", &app_secret_token)]).await.1;
    assert_eq!(after["data"]["is_valid"], false);
    assert!(f.api.state.store.permissions(f.uid, f.app.app.id).await.unwrap().is_empty());
}

async fn expiry_and_password_change(store: Store) {
    let mut f = fixture(store).await;
    let token = f.user_token().await;
    let now = keygate::clock::unix_now();
    // Two hours and a minute later the short token has expired (463).
    let later = f.graph().me(&params(&[("access_token", &token)]), now + 7260).await.unwrap_err();
    assert_eq!(later.kind.codes(), (190, Some(463)));
    let exchange = params(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", f.api_key()),
        ("client_secret", &f.app.secret),
        ("fb_exchange_token", &token),
    ]);
    let refused = f.graph().access_token(&exchange, now + 7260).await.unwrap_err();
    assert_eq!(refused.kind.codes(), (190, Some(463)), "an expired token cannot be extended");
    let debug =
        params(&[("input_token", &token), ("access_token", &format!("{}|{}", f.api_key(), f.app.secret))]);
    let answer = f.graph().debug_token(&debug, now + 7260).await.unwrap();
    assert_eq!(
        (answer["data"]["is_valid"].as_bool(), answer["data"]["error"]["subcode"].as_i64()),
        (Some(false), Some(463))
    );

    // A password change voids every token with subcode 460.
    let session = f.api.full_login(&mut f.token, "alice", PASSWORD, &f.handle.clone()).await;
    let change = json!({ "old": PASSWORD, "new": "another long passphrase" });
    assert_eq!(
        f.api.call("POST", "/api/v1/password", Some(&session), Some(change)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(oauth_error(&f.get("/me", &[("access_token", &token)]).await), (400, 190, 460));
}

/// 50 presentations of one code at once: at most one buys a token, and as
/// the code was presented more than once, no token bought with it survives.
async fn fifty_concurrent_exchanges(store: Store) {
    let mut f = fixture(store).await;
    let code = f.code().await;
    let f = std::sync::Arc::new(f);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let f = f.clone();
            let code = code.clone();
            tokio::spawn(async move { f.exchange(&code, REDIRECT).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => tokens.push(body["access_token"].as_str().unwrap().to_owned()),
            StatusCode::BAD_REQUEST => assert_eq!(body["error"]["code"], 100, "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(tokens.len() <= 1, "{tokens:?}");
    for token in tokens {
        assert_eq!(oauth_error(&f.get("/me", &[("access_token", &token)]).await), (400, 190, 467));
    }
}

/// A dialog code's second use revokes everything that descends from it: the
/// short token, the long-lived one exchanged from it, and a machine token
/// bought with a client code of that one (RFC 6749 §4.1.2).
async fn a_reused_code_revokes_every_token_it_led_to(store: Store) {
    let mut f = fixture(store).await;
    let key = f.api_key().to_owned();
    let code = f.code().await;
    let short = f.exchange(&code, REDIRECT).await.1["access_token"].as_str().unwrap().to_owned();
    let long = f.long_lived(&short).await;
    let client_code = f.client_code(&long).await;
    let machine_exchange = [("client_id", key.as_str()), ("redirect_uri", REDIRECT), ("code", &client_code)];
    let machine =
        f.get("/oauth/access_token", &machine_exchange).await.1["access_token"].as_str().unwrap().to_owned();
    let unrelated = f.user_token().await;
    for token in [&short, &long, &machine] {
        assert_eq!(f.get("/me", &[("access_token", token)]).await.0, StatusCode::OK);
    }
    // Someone replays the dialog code (leaked from a referrer or a log).
    assert_eq!(oauth_error(&f.exchange(&code, REDIRECT).await), (400, 100, 0));
    for token in [&short, &long, &machine] {
        assert_eq!(oauth_error(&f.get("/me", &[("access_token", token)]).await), (400, 190, 467));
    }
    assert_eq!(f.get("/me", &[("access_token", &unrelated)]).await.0, StatusCode::OK, "other grants stay");
    // A client code reused revokes its machine token likewise.
    let long = f.long_lived(&unrelated).await;
    let client_code = f.client_code(&long).await;
    let machine_exchange = [("client_id", key.as_str()), ("redirect_uri", REDIRECT), ("code", &client_code)];
    let machine =
        f.get("/oauth/access_token", &machine_exchange).await.1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(oauth_error(&f.get("/oauth/access_token", &machine_exchange).await).1, 100);
    assert_eq!(oauth_error(&f.get("/me", &[("access_token", &machine)]).await), (400, 190, 467));
    assert_eq!(f.get("/me", &[("access_token", &long)]).await.0, StatusCode::OK);
    let events = f.api.state.store.audit_entries(&keygate::store::AuditFilter::default()).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event == "oauth_code_reused").count(), 2);
}

/// An app's allowed networks and rate limit hold on the Graph endpoints as
/// on the legacy API, in the Graph error shape; `/oauth/client_code` takes
/// only a registered redirect_uri.
async fn graph_calls_obey_the_apps_controls(store: Store) {
    let mut f = fixture(store).await;
    use keygate::secrets::TokenHash;
    use keygate::store::{AppTokenKind, NewAppToken};
    let now = keygate::clock::unix_now();
    // The test client is 127.0.0.1; this app only answers 10.0.0.0/8.
    let options = AppOptions {
        redirect_uris: vec![REDIRECT.to_owned()],
        allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
        ..AppOptions::default()
    };
    let fenced = register(&f.api.state, "fenced", options).await;
    let user_token = "fenced-user-token";
    let new = NewAppToken {
        kind: AppTokenKind::AccessToken,
        token_hash: &TokenHash::of(user_token),
        app_id: fenced.app.id,
        user_id: Some(f.uid),
        data: r#"{"scope":["public_profile"],"long_lived":true}"#,
        expires_at: Some(now + 3600),
        issued_from: None,
    };
    f.api.state.store.create_app_token(&new, now).await.unwrap();
    let key = fenced.app.api_key.clone();
    let app_token = format!("{key}|{}", fenced.secret);
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "/oauth/access_token",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &key),
                ("client_secret", &fenced.secret),
            ],
        ),
        (
            "/v3.1/oauth/client_code",
            vec![
                ("client_id", &key),
                ("client_secret", &fenced.secret),
                ("redirect_uri", REDIRECT),
                ("access_token", user_token),
            ],
        ),
        ("/debug_token", vec![("input_token", user_token), ("access_token", &app_token)]),
        ("/me", vec![("access_token", user_token)]),
        ("/v2.8/me", vec![("access_token", user_token)]),
    ];
    for (path, params) in &cases {
        assert_eq!(oauth_error(&f.get(path, params).await), (403, 5, 0), "{path}");
    }
    let (status, _, _) =
        f.api.call("DELETE", &format!("/me/permissions?access_token={user_token}"), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Three calls a minute: the fourth is code 4 with Retry-After, and a
    // stranger's forged calls do not use the allowance up.
    let limited = register(
        &f.api.state,
        "limited",
        AppOptions { redirect_uris: vec![REDIRECT.to_owned()], rate_limit: Some(3), ..AppOptions::default() },
    )
    .await;
    let key = limited.app.api_key.clone();
    let forged = [("grant_type", "client_credentials"), ("client_id", &*key), ("client_secret", "guess")];
    for _ in 0..5 {
        assert_eq!(oauth_error(&f.get("/oauth/access_token", &forged).await).1, 1);
    }
    let creds =
        [("grant_type", "client_credentials"), ("client_id", &*key), ("client_secret", &limited.secret)];
    for _ in 0..3 {
        assert_eq!(f.get("/oauth/access_token", &creds).await.0, StatusCode::OK);
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(creds).finish();
    let (status, body, headers) =
        f.api.call("GET", &format!("/oauth/access_token?{query}"), None, None).await;
    assert_eq!(oauth_error(&(status, body)), (429, 4, 0));
    assert!(headers.contains_key("retry-after"));

    // client_code for a redirect_uri the app never registered: 191.
    let token = f.user_token().await;
    let exchange = [
        ("grant_type", "fb_exchange_token"),
        ("client_id", f.api_key()),
        ("client_secret", &f.app.secret),
        ("fb_exchange_token", &token),
    ];
    let long = f.get("/oauth/access_token", &exchange).await.1["access_token"].as_str().unwrap().to_owned();
    let cc = [
        ("client_id", f.api_key()),
        ("client_secret", &f.app.secret),
        ("redirect_uri", "https://evil.example/cb"),
        ("access_token", &long),
    ];
    assert_eq!(oauth_error(&f.get("/oauth/client_code", &cc).await), (400, 191, 0));
}
