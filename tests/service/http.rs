//! The router in-process (no port): answers and error shapes.

use crate::common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use keygate::config::Config;
use keygate::secrets::ServerKey;
use keygate::store::Store;
use keygate::web::{AppState, ClientAddr, app};
use tower::ServiceExt;

async fn state() -> (AppState, tempfile::TempDir) {
    let (store, dir) = common::db::sqlite().await;
    (AppState::new(Config::default(), store, ServerKey::generate()), dir)
}

async fn send(state: AppState, method: &str, path: &str) -> (StatusCode, String) {
    let response = app(state)
        .oneshot(Request::builder().method(method).uri(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).expect("UTF-8 body"))
}

async fn call(method: &str, path: &str) -> (StatusCode, serde_json::Value) {
    let (state, _dir) = state().await;
    let (status, body) = send(state, method, path).await;
    (status, serde_json::from_str(&body).expect("JSON body"))
}

#[tokio::test]
async fn healthz_is_ok() {
    let (status, body) = call("GET", "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn healthz_is_a_json_503_when_the_database_is_gone() {
    let (state, _dir) = state().await;
    state.store.close().await;
    let (status, body) = send(state, "GET", "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (state, _dir) = state().await;
    send(state.clone(), "GET", "/healthz").await;
    send(state.clone(), "GET", "/no/such/page").await;
    let (status, text) = send(state, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let has = |needle: &str| {
        text.lines().any(|l| l.starts_with("keygate_http_requests_total") && l.contains(needle))
    };
    assert!(has(r#"route="/healthz""#) && has(r#"status="200""#), "{text}");
    assert!(has(r#"route="unmatched""#) && has(r#"status="404""#), "{text}");
    assert!(text.contains("keygate_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("keygate_db_pool_connections"), "{text}");
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let (status, body) = call("GET", "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let (status, body) = call("DELETE", "/healthz").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

/// The client address extractor, on a route that echoes what it found.
async fn client_addr_seen(trusted: &[&str], peer: &str, forwarded: Option<&str>) -> String {
    let (store, _dir) = common::db::sqlite().await;
    let config =
        Config { trusted_proxies: trusted.iter().map(|c| c.parse().unwrap()).collect(), ..Config::default() };
    let state = AppState::new(config, store, ServerKey::generate());
    let router = axum::Router::new()
        .route("/whoami", get(|ClientAddr(ip): ClientAddr| async move { ip.to_string() }))
        .with_state(state);
    let mut request = Request::builder().uri("/whoami");
    if let Some(xff) = forwarded {
        request = request.header("x-forwarded-for", xff);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let response = router.oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn client_address_honours_only_trusted_proxies() {
    assert_eq!(client_addr_seen(&[], "192.0.2.5:4000", Some("203.0.113.1")).await, "192.0.2.5");
    assert_eq!(
        client_addr_seen(&["127.0.0.0/8"], "127.0.0.1:4000", Some("6.6.6.6, 203.0.113.1")).await,
        "203.0.113.1"
    );
    assert_eq!(client_addr_seen(&["127.0.0.0/8"], "192.0.2.5:4000", Some("203.0.113.1")).await, "192.0.2.5");
}

#[tokio::test]
async fn store_opens_in_memory_too() {
    Store::open("sqlite::memory:").await.unwrap().ping().await.unwrap();
}

/// A hostile request: method, path, content type, body, and the surface
/// whose error shape must answer it.
type Hostile = (&'static str, String, Option<&'static str>, Vec<u8>, &'static str);

/// Hostile requests at a real `keygate serve`: oversized bodies and
/// undecodable paths on every surface, 1 200 of them at once. Each answer is
/// in its surface's error shape (never the framework's plain text), none is
/// a 5xx, and the server stays healthy.
#[test]
fn hostile_requests_get_each_surfaces_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let server = common::Server::with_database(dir.path(), &database);
    let url = server.url();
    // Over every limit (64 KiB), small enough for the socket buffers to take
    // it all before the server answers early.
    let big = vec![b'a'; 70 * 1024];
    let cases: Vec<Hostile> = vec![
        ("POST", "/api/v1/login".into(), Some("application/json"), big.clone(), "api"),
        ("POST", "/api/v1/logout".into(), None, big.clone(), "api"),
        ("POST", "/api/v1/keys/register/finish".into(), Some("text/plain"), big.clone(), "api"),
        ("DELETE", "/api/v1/keys/%ff%fe".into(), None, Vec::new(), "api"),
        ("PATCH", "/api/v1/keys/%C0%AF".into(), Some("application/json"), b"{}".to_vec(), "api"),
        ("DELETE", "/api/v1/sessions/%80".into(), None, Vec::new(), "api"),
        ("POST", "/restserver.php".into(), Some("application/x-www-form-urlencoded"), big.clone(), "legacy"),
        ("GET", "/method/%ff%fe".into(), None, Vec::new(), "legacy"),
        (
            "POST",
            "/method/auth.%C0%AF".into(),
            Some("application/x-www-form-urlencoded"),
            big.clone(),
            "legacy",
        ),
        (
            "POST",
            "/oauth/access_token".into(),
            Some("application/x-www-form-urlencoded"),
            big.clone(),
            "graph",
        ),
        ("GET", "/%ff/oauth/access_token".into(), None, Vec::new(), "graph"),
        ("DELETE", "/%C0%AF/me/permissions".into(), None, Vec::new(), "graph"),
        ("POST", "/v2.8/debug_token".into(), Some("application/x-www-form-urlencoded"), big.clone(), "graph"),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answers = runtime.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let mut tasks = Vec::new();
        for round in 0..1200 / cases.len() + 1 {
            for (method, path, ct, body, surface) in &cases {
                let mut request =
                    http.request(method.parse().unwrap(), format!("{url}{path}")).body(body.clone());
                if let Some(ct) = ct {
                    request = request.header("content-type", *ct);
                }
                let (surface, path) = (*surface, path.clone());
                tasks.push(tokio::spawn(async move {
                    let answer = request.send().await.expect("an answer");
                    let status = answer.status().as_u16();
                    let ct = answer.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
                    let text = answer.text().await.unwrap_or_default();
                    (round, surface, path, status, ct.unwrap_or_default(), text)
                }));
            }
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    });
    assert!(answers.len() >= 1200);
    for (_, surface, path, status, ct, text) in &answers {
        assert!(*status < 500, "{path}: {status} {text}");
        match *surface {
            "api" => {
                assert!((400..500).contains(status), "{path}: {status}");
                let json: serde_json::Value =
                    serde_json::from_str(text).unwrap_or_else(|_| panic!("{path}: {text}"));
                assert!(
                    json["error"]["code"].is_string() && json["error"]["message"].is_string(),
                    "{path}: {text}"
                );
            }
            "legacy" => {
                assert_eq!(*status, 200, "{path}: {text}");
                assert!(ct.starts_with("text/xml"), "{path}: {ct}");
                let root = common::legacy::parse_xml(text);
                assert_eq!(root.name, "error_response", "{path}: {text}");
                assert_eq!(root.child("error_code").text, "100", "{path}: {text}");
            }
            _ => {
                assert!((400..500).contains(status), "{path}: {status}");
                let json: serde_json::Value =
                    serde_json::from_str(text).unwrap_or_else(|_| panic!("{path}: {text}"));
                assert_eq!(json["error"]["type"], "OAuthException", "{path}: {text}");
                assert_eq!(json["error"]["code"], 100, "{path}: {text}");
            }
        }
    }
    let health = reqwest::blocking::get(format!("{url}/healthz")).unwrap();
    assert_eq!(health.status(), 200);
    drop(server);
}
