//! The router in-process (no port): answers and error shapes.

mod common;

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
